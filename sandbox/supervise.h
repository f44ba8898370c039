/*
 * supervise.h - the supervisor of a run (internal to sandbox/run.c).
 *
 * lanser clones sbx_supervisor() (no exec, a small stack) for each run. It
 * joins the pids cgroup, waits for lanser's 'g' on the control pipe, forks
 * the command (through the box: sbx_box_child_enter, then bwrap; or, with
 * --no-isolation, the command itself), reaps every process re-parented to
 * it (child subreaper) and, when the command exits or lanser says 'k' or
 * dies (control pipe EOF, PR_SET_PDEATHSIG), kills the whole tree. It
 * reports over the report pipe with fixed-size struct report messages.
 *
 * Everything here runs after a clone from a multi-threaded process:
 * async-signal-safe calls and raw system calls only.
 */
#ifndef LANSER_SANDBOX_SUPERVISE_H
#define LANSER_SANDBOX_SUPERVISE_H

#include <linux/filter.h>
#include <stdbool.h>

#include "sandbox/box.h"
#include "sandbox/run.h"

/* What the supervisor tells the parent, one fixed-size message per write
 * (smaller than PIPE_BUF, so never split). */
enum { REP_SETUP = 1, REP_CHDIR, REP_EXEC, REP_STATUS, REP_CGROUP };
enum { REPF_XCPU = 1, REPF_XFSZ = 2, REPF_KILLED = 4 };
struct report {
	int kind;
	int err;              /* errno (setup, chdir, exec) */
	int wstatus;          /* of the command (REP_STATUS) */
	int flags;            /* REPF_* seen among all reaped processes */
	long long cpu_ms;
	long maxrss_kib;
	char stage[64];       /* which setup step failed */
};

/* Everything the supervisor needs; it gets a copy with the address space. */
struct sup {
	const struct sbx_opts *o;
	const char *prog;        /* resolved argv[0] (runs without the box) */
	const struct sbx_box_plan *plan;   /* the box (isolated runs) */
	int in_r, out_w, err_w, rep_w, ctl_r;
	int cg_fd;               /* the cgroup's "tasks" file, opened by lanser */
	int seccomp_fd;          /* the box's filter, for bwrap --seccomp */
	int status_w;            /* bwrap --json-status-fd */
	bool isolated, privileged, drop_uid, refuse_userns;
	unsigned id;
	char cg_path[200];
	struct sock_fprog refuse; /* LANSER_SANDBOX_SIMULATE_REFUSAL */
};

/* The supervisor's entry point for clone(2); `arg` is a struct sup. */
int sbx_supervisor(void *arg);

#endif
