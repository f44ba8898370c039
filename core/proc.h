/*
 * proc.h - the one child-process API.
 *
 * Explicit argv (no shell), each of stdin/stdout/stderr either a pipe, the
 * null device, or inherited; the child gets its own process group so that
 * the whole tree can be signalled; exec failures are reported to the parent
 * over a CLOEXEC pipe as a real error (never a silent exit 127). Only
 * async-signal-safe calls run between fork and exec.
 *
 * The caller pumps the pipes (poll()) and must reap the child with
 * ln_proc_wait(); ln_proc_release() kills and reaps whatever is left, so
 * no zombie survives it.
 */
#ifndef LANSER_PROC_H
#define LANSER_PROC_H

#include <stdbool.h>
#include <sys/types.h>

enum ln_stdio { LN_STDIO_NULL = 0, LN_STDIO_PIPE, LN_STDIO_INHERIT };

struct ln_proc_opts {
	const char *const *argv;  /* argv[0] is looked up in PATH when it has no '/' */
	const char *cwd;          /* NULL: inherit */
	const char *const *env;   /* NULL: inherit the environment; else exactly this */
	enum ln_stdio in, out, err;
	bool new_pgrp;            /* put the child in its own process group */
	bool die_with_parent;     /* SIGKILL the child when this process dies
	                           * (PR_SET_PDEATHSIG): a killed daemon never
	                           * leaves its language servers behind */
};

struct ln_proc_status {
	bool exited;     /* true: exitcode is valid; false: signal is valid */
	int exitcode;
	int signal;
};

struct ln_proc {
	pid_t pid;       /* 0 once reaped */
	pid_t pgid;      /* process group to signal (0: none) */
	int in_fd, out_fd, err_fd;   /* -1 unless LN_STDIO_PIPE; non-blocking, CLOEXEC */
	bool pgrp;
	struct ln_proc_status status;
};

/* Starts a child. Returns 0, or LN_ENOTFOUND when the program does not
 * exist / cannot be executed (the message names it and errno), LN_EGENERIC
 * on other failures. On failure nothing is left running. */
int ln_proc_spawn(struct ln_proc *p, const struct ln_proc_opts *opts);

/* Sends `sig` to the child's process group (or the child alone). */
void ln_proc_kill(struct ln_proc *p, int sig);

/* Waits up to timeout_ms (-1 forever) for the child to exit. 1 if reaped,
 * 0 on timeout. */
int ln_proc_wait(struct ln_proc *p, int timeout_ms);

/* Closes pipes; if the child still runs, SIGTERM then (after grace_ms)
 * SIGKILL to its group, and reaps it. */
void ln_proc_release(struct ln_proc *p, int grace_ms);

/* Formats "exited with status N" / "killed by signal N (SIGSEGV)". */
void ln_proc_status_str(const struct ln_proc_status *st, char *out, size_t n);

/* Resident memory of a process in KiB (VmRSS; pid 0: this process), or -1
 * when it cannot be read. */
long ln_proc_rss_kib(int pid);

/* Monotonic milliseconds. */
long long ln_now_ms(void);

#endif
