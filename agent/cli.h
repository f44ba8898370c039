/*
 * cli.h - what every command receives from the dispatcher.
 *
 * The dispatcher (agent/main.c) parses the command line with the command
 * table (agent/command.h: each option lands in the field it names), finds
 * the workspace root and loads the configuration; a command reads its own
 * positional arguments from argv and returns an LN_E* code (0 on success).
 * Commands print their answer on c->out and notes/usage on c->err (never
 * directly on stdout/stderr: under the daemon both are buffers sent back
 * to the client); the dispatcher prints the error message and turns the
 * code into the exit status.
 *
 * c->ws is the warm workspace when the command runs inside the daemon
 * (borrowed; the command must not free it), NULL in-process: commands
 * then start their own servers and stop them before returning.
 */
#ifndef LANSER_AGENT_CLI_H
#define LANSER_AGENT_CLI_H

#include <stdbool.h>

#include "core/config.h"
#include "core/text.h"

#include <stdio.h>

struct lsp_workspace;
struct agent_command;

/* What running one command line produced, besides its output. */
struct exec_result {
	int code;              /* exit status */
	bool cacheable, complete, no_cache;
};

struct cli {
	int argc;              /* positional arguments after the command name */
	char **argv;
	char *root;            /* canonical workspace root */
	char *cwd;
	struct ln_config cfg;
	bool json;             /* print the bundle */
	enum ln_enc index_io;  /* column unit for input and output */
	int timeout_ms;        /* per request */
	int index_ms;          /* how long to wait for readiness */
	bool no_wait;          /* do not wait for readiness at all */
	bool workspace;        /* symbols/diag over the whole workspace */
	bool no_decl;          /* refs: exclude the declaration */
	bool explicit_root;
	const char *root_opt;  /* --root as given (c->root is the canonical one) */
	bool timeout_set, index_set; /* --timeout / --wait-index given (else .lanser.json's) */
	bool no_daemon;        /* --no-daemon */
	bool no_cache;         /* --no-cache: do not answer from the daemon's cache */
	bool wait_ready;       /* daemon start --wait-ready */
	bool all;              /* daemon stop --all */
	const char *in_path, *out_path;   /* batch --in / --out */
	int help_or_version;   /* 'h' / 'V' when asked */
	const struct agent_command *help_cmd; /* `lanser CMD --help`: CMD (agent/command.h) */
	FILE *out, *err;       /* where the command writes (see above) */
	/* A terminal that shows what a query waits for (one line rewritten in
	 * place with \r, cleared at the end): stderr when it is a terminal (and
	 * --json was not given: cmdctx_wait_ready). NULL: nothing is shown. */
	FILE *progress;
	struct lsp_workspace *ws; /* warm workspace (daemon) or NULL */
	/* Set by query commands for the daemon's answer cache: the answer is a
	 * pure function of (request, workspace content, servers, config)
	 * (cacheable) and the servers said it was complete. */
	bool cacheable, complete;
	/* Runs another command line in this process (batch, daemon); `progress`
	 * becomes its `progress` (may be NULL). */
	int (*exec)(int argc, char **argv, const char *cwd, FILE *out, FILE *err, FILE *progress,
		    struct lsp_workspace *ws, bool in_daemon, struct exec_result *res);
	bool in_daemon;        /* running inside the daemon (meta.volatile.daemon) */
	const char *at;        /* locate --at <git-rev>: the snapshot a selector was written against */
	/* --verify of the edit commands: "diagnostics" (the only mode; a bare
	 * --verify means it too). NULL when absent. */
	const char *verify;
	/* edit commands (issue 5) */
	bool apply;            /* --apply: write the change (default: preview) */
	bool allow_dirty;      /* --allow-dirty */
	const char *commit_msg; /* --commit MSG */
	int pick;              /* actions --pick N (1-based; 0: list) */
	int max_new_errors;    /* --max-new-errors N (verify threshold; default 0) */
	bool max_new_errors_set; /* given on the command line (else .lanser.json verify.maxNewErrors) */
	/* sandbox commands (issue 6) */
	const char *task_path;     /* test --task FILE */
	const char *patches[64];   /* test --patch FILE (repeatable) */
	int npatches;
	const char *base;          /* test --base REV */
	const char *tests;         /* test --tests id,... (FAIL_TO_PASS) */
	bool no_isolation;         /* test --no-isolation: the forced fallback */
	int jobs;                  /* test --jobs N: candidates run at once */
	/* reward and trace commands (issue 7) */
	const char *trace_path;   /* --trace FILE: append a JSONL trace (docs/trace.md) */
	const char *mode;         /* reward --episode, advantages/group --advantage (old spelling of both: --mode) */
	const char *preset;       /* advantages --preset trl|verl|openrlhf */
	const char *functional;   /* reward --functional paper|delta|bounded */
	const char *format;       /* trace export --format */
	const char *event_kind;   /* trace list/show --event KIND */
	const char *eps;          /* advantages --eps X (overrides the preset's) */
	bool explain;             /* reward --explain */
	void *trace;              /* the open trace of this run (agent/trace.c) or NULL */
	void *replay;             /* set while `trace replay` re-runs this command */
	bool replay_verify;       /* trace replay --verify */
	const char *sarif_path;   /* eval --sarif FILE: the new diagnostics as SARIF 2.1.0 */
	const char *episode_mode; /* eval, group --episode M: the episode reward mode */
	/* workspace trust (core/trust.h, docs/security.md) */
	bool trust;               /* --trust: trust the workspace's configuration for this run */
	char *config_path;        /* --config FILE (absolute; malloc'd): replaces .lanser.json */
	bool revoke, list;        /* trust --revoke / --list */
};

int cmd_def(struct cli *c);
int cmd_refs(struct cli *c);
int cmd_hover(struct cli *c);
int cmd_symbols(struct cli *c);
int cmd_diag(struct cli *c);
int cmd_doctor(struct cli *c);
int cmd_batch(struct cli *c);
int cmd_daemon(struct cli *c);
int cmd_schema(struct cli *c);
int cmd_outline(struct cli *c);
int cmd_locate(struct cli *c);
/* edit commands (issue 5) */
int cmd_prepare_rename(struct cli *c);
int cmd_rename(struct cli *c);
int cmd_actions(struct cli *c);
int cmd_patch(struct cli *c);
/* sandbox commands (issue 6) */
int cmd_test(struct cli *c);
/* reward and trace commands (issue 7) */
int cmd_reward(struct cli *c);
int cmd_advantages(struct cli *c);
int cmd_trace(struct cli *c);
int cmd_eval(struct cli *c);   /* agent/eval.c (docs/eval.md) */
int cmd_group(struct cli *c);
int cmd_trust(struct cli *c);  /* agent/trustcmd.c */

#endif
