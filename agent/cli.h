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
	const char *test_files[64]; /* test/eval/group --test-files GLOB (repeatable) */
	int ntest_files;
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
	bool jsonl;               /* group --jsonl: a line per candidate as it finishes */
	/* workspace trust (core/trust.h, docs/security.md) */
	bool trust;               /* --trust: trust the workspace's configuration for this run */
	char *config_path;        /* --config FILE (absolute; malloc'd): replaces .lanser.json */
	bool revoke, list;        /* trust --revoke / --list */
	bool read_only;           /* mcp --read-only: no mutating tools */
	/* the agent loop (issue 15, docs/agent.md) */
	const char *agent_tasks;  /* agent --tasks FILE (JSONL) */
	int samples;              /* agent --samples K */
	int agent_steps;          /* agent --steps N (0: the task's, else 30) */
	int agent_tokens;         /* agent --tokens N (0: the task's, else none) */
	int agent_wall_ms;        /* agent --wall MS (0: the task's, else none) */
	const char *llm_base_url; /* agent --model-url URL */
	const char *llm_model;    /* agent --model NAME */
	const char *llm_key_env;  /* agent --api-key-env VAR */
	const char *temperature;  /* agent --temperature X */
	int seed;                 /* agent --seed N */
	bool seed_set;
	int max_tokens;           /* agent --max-tokens N (per reply) */
	bool stream;              /* agent --stream */
	bool yes;                 /* agent --yes: apply edits without asking (interactive) */
	const char *sample_id;    /* agent --sample ID (batch workers) */
	/* tool commands (issues 15, 17): read, search, edit */
	const char *lines;        /* read --lines A-B */
	const char *glob;         /* search --glob PATTERN */
	int max_matches;          /* search --max N (0: the default) */
	const char *edit_text;    /* edit --text STR */
	const char *edit_with;    /* edit --with FILE|- */
	const char *diff_text;    /* patch --diff TEXT: the diff itself (tools cannot name stdin) */
	/* the reward server (issue 16, docs/serve.md) */
	const char *listen;       /* serve --listen HOST:PORT */
	const char *tasks_path;   /* serve --tasks FILE (JSONL) */
	const char *token_file;   /* serve --token-file FILE */
	const char *port_file;    /* serve --port-file FILE */
	bool allow_remote;        /* serve --allow-remote */
	int workers;              /* serve --workers N (0: the CPUs) */
	int queue_max;            /* serve --queue N (0: 64) */
	int engines_per_task;     /* serve --engines-per-task N (0: from the CPUs) */
	int max_body;             /* serve --max-body BYTES (0: 16 MiB) */
	int deadline_ms;          /* serve --deadline MS (0: 300000) */
	int sample_timeout_ms;    /* serve --sample-timeout MS (0: the task's wallMs) */
	int idle_timeout_ms;      /* serve --idle-timeout MS (0: 10000) */
	int max_conns;            /* serve --max-connections N (0: 256) */
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
int cmd_mcp(struct cli *c);    /* agent/mcp.c (docs/mcp.md) */
int cmd_agent(struct cli *c);  /* agent/agentcmd.c (docs/agent.md) */
/* tool commands (issues 15, 17; docs/commands.md) */
int cmd_read(struct cli *c);   /* agent/readcmd.c */
int cmd_search(struct cli *c); /* agent/searchcmd.c */
int cmd_edit(struct cli *c);   /* agent/editsel.c */
int cmd_serve(struct cli *c);  /* agent/serve.c (docs/serve.md) */

#endif
