/*
 * run.h - the sandboxed process runner (docs/sandbox.md).
 *
 * sbx_run() runs one untrusted command (a build or a test suite) and returns
 * when it and everything it started are gone:
 *   - explicit argv (a shell only when the caller puts one in argv);
 *   - stdin fed from a buffer (or /dev/null), stdout and stderr pumped with
 *     poll() into buffers capped at limits.out_bytes each (the rest is read
 *     and dropped: result.truncated);
 *   - a wall-clock timeout, rlimits (CPU, address space, processes, open
 *     files, file size, no core files), a pids cgroup when one is writable;
 *   - a supervisor process between lanser and the command reaps every
 *     descendant and, when the command exits, the run times out, lanser asks
 *     or lanser dies, kills the whole tree (pid namespace, else the
 *     process group, the cgroup and every orphan it adopted as a child
 *     subreaper): nothing is left running, nothing is left a zombie;
 *   - exec failures come back as LN_ENOTFOUND with the program and errno,
 *     never as a silent exit 127; no descriptor of lanser leaks into the
 *     command (close_range in the supervisor).
 *
 * Isolation (box.h): by default (SBX_ISO_REQUIRED) the command runs in a
 * bubblewrap box: an unprivileged uid outside (a fresh one when lanser is
 * root), uid SBX_BOX_UID without capabilities inside, the seccomp filter of
 * sysfilter.h, the read-only system, `writable` the only writable place
 * besides a private size-limited /tmp, loopback-only network, new pid, ipc,
 * uts and cgroup namespaces. When the box cannot be built (bubblewrap
 * missing, the kernel refuses user namespaces, ...) nothing runs: the
 * result is LN_ESANDBOX and result.iso_note says why. SBX_ISO_NONE (only
 * from --no-isolation on the command line) runs with limits only:
 * result.isolated is false and result.iso_note is "isolation switched off
 * (--no-isolation)"; callers record "isolation": "none".
 *
 * Test hook: LANSER_SANDBOX_SIMULATE_REFUSAL=1 in lanser's environment
 * installs a seccomp filter refusing new user namespaces before bubblewrap
 * starts, so that the kernel really refuses as one without unprivileged
 * user namespaces does.
 *
 * The disk quota (quota.h): limits.disk_bytes of blocks added under
 * `writable`, watched every SBX_QUOTA_PERIOD_MS; over it, the tree is
 * killed and SBX_HIT_DISK set.
 *
 * Why not ln_proc_spawn (core/proc.h): the supervisor is cloned (a small
 * stack, raw system calls) so that runs may start from several threads;
 * the status types and clocks of proc.h are reused.
 *
 * Thread-safe: several runs may go on at once in different threads (the
 * candidate runner does this); between clone and exec only
 * async-signal-safe calls are made.
 */
#ifndef LANSER_SANDBOX_RUN_H
#define LANSER_SANDBOX_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"

struct sbx_limits {
	long long wall_ms;      /* wall clock for the whole run; 0: none */
	int cpu_s;              /* RLIMIT_CPU of every process (seconds); 0: none */
	long long mem_bytes;    /* RLIMIT_AS of every process; 0: none */
	int nproc;              /* RLIMIT_NPROC of the sandbox uid and pids.max; 0: none */
	int nofile;             /* RLIMIT_NOFILE; 0: none */
	long long fsize_bytes;  /* RLIMIT_FSIZE; 0: none */
	size_t out_bytes;       /* cap of captured stdout and of stderr, each */
	long long tmp_bytes;    /* size of the private /tmp (isolated runs) */
	long long disk_bytes;   /* blocks the run may add under `writable`; 0: none */
};

/* Defaults (docs/sandbox.md): 10 min wall, 300 s CPU, 2 GiB address space,
 * 256 processes, 1024 files, 1 GiB file size, 1 MiB output, 256 MiB /tmp,
 * 1 GiB disk. */
void sbx_limits_default(struct sbx_limits *l);

enum sbx_iso {
	SBX_ISO_REQUIRED = 0,   /* the box or LN_ESANDBOX (the default: fail closed) */
	SBX_ISO_NONE,           /* limits only: --no-isolation on the command line, nothing else */
};

/* Which limits a run ran into (bits of sbx_result.hits). */
enum {
	SBX_HIT_WALL = 1,       /* killed at the wall-clock timeout */
	SBX_HIT_CPU = 2,        /* a process died of SIGXCPU (or SIGKILL past the CPU limit) */
	SBX_HIT_MEMORY = 4,     /* the tree's peak RSS reached 3/4 of the address-space limit
	                         * and the command failed (RLIMIT_AS failures are silent) */
	SBX_HIT_PROCS = 8,      /* the pids cgroup refused a fork */
	SBX_HIT_FSIZE = 16,     /* a process died of SIGXFSZ */
	SBX_HIT_OUTPUT = 32,    /* stdout or stderr went past limits.out_bytes */
	SBX_HIT_DISK = 64,      /* the run added more than limits.disk_bytes under `writable` */
};

struct sbx_opts {
	const char *const *argv;   /* argv[0] without '/' is looked up in the PATH of env */
	const char *cwd;           /* where the command starts (absolute) */
	const char *const *env;    /* exactly this environment (NULL: an empty one) */
	const char *writable;      /* absolute directory left writable (the worktree);
	                            * NULL: nothing but the private /tmp */
	const char *const *ro_binds; /* pairs SOURCE, DEST read-only in the box
	                            * (sbx_box_spec.ro_binds); ignored without one */
	const char *stdin_data;    /* NULL: /dev/null */
	size_t stdin_len;
	struct sbx_limits limits;
	enum sbx_iso iso;
	/* Set to non-zero (from another thread or a signal handler) to stop the
	 * run: the tree is killed and result.cancelled is set. May be NULL. */
	const volatile sig_atomic_t *cancel;
};

struct sbx_result {
	bool exited;            /* true: exitcode valid; false: signal valid */
	int exitcode;
	int signal;
	bool timed_out, truncated, cancelled;
	struct buf out, err;    /* captured output (capped) */
	long long wall_ms;      /* volatile: elapsed */
	long long cpu_ms;       /* user + system time of the whole tree */
	long max_rss_kib;       /* largest resident set of any process of the tree */
	unsigned hits;          /* SBX_HIT_* */
	bool isolated;          /* the box was used */
	long uid;               /* the uid outside the sandbox the tests ran as */
	char iso_note[256];     /* why not (empty when isolated) */
	long long disk_added;   /* bytes the quota's last walk found (0: no walk) */
	long pids_max_events;   /* forks refused by the pids cgroup (-1: no cgroup) */
};

void sbx_result_init(struct sbx_result *r);
void sbx_result_release(struct sbx_result *r);

/*
 * Runs the command. Returns 0 when it ran (whatever its status: see
 * *res), LN_ENOTFOUND when it could not be executed (cwd missing, program
 * not found or not executable: the message names it), LN_ESANDBOX when
 * the box could not be built (bubblewrap missing, user namespaces refused:
 * the message names the cause and --no-isolation), or the runner failed.
 * *res (initialised by the caller with sbx_result_init) is filled in every
 * case as far as the run got; the caller releases it.
 */
int sbx_run(struct sbx_result *res, const struct sbx_opts *o);

/* "exited 0", "killed by SIGKILL", ... into out. */
void sbx_result_status_str(const struct sbx_result *r, char *out, size_t n);

/* The hits as a JSON array of names (new reference): ["wall", "cpu", ...]. */
json_t *sbx_hits_json(unsigned hits);

/* The limits as a JSON object (new reference), the form of task files. */
json_t *sbx_limits_json(const struct sbx_limits *l);

/*
 * Reads a "limits" object (task file or .lanser.json) over *l:
 * {"wallMs", "cpuSeconds", "memoryMiB", "processes", "openFiles",
 *  "fileSizeMiB", "outputKiB", "tmpMiB", "diskMiB"}, each a positive integer within
 * documented bounds. LN_ECONFIG (message names `what` and the member) on a
 * wrong type, an unknown member or a value out of range.
 */
int sbx_limits_parse(struct sbx_limits *l, const json_t *obj, const char *what);

#endif
