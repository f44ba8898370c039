/*
 * box.h - the box: bubblewrap plus a seccomp filter (docs/sandbox.md).
 *
 * One way to build a box, for sbx_run (tests and builds, run.h) and for
 * long-lived programs such as language servers that read untrusted content
 * (sbx_box_command). Inside a box:
 *   - uid/gid SBX_BOX_UID (not 0), no capabilities (bounding set empty),
 *     no_new_privs, the seccomp filter of seccomp.h, no new user namespaces
 *     (--disable-userns);
 *   - outside, the processes run as an unprivileged id: when lanser is
 *     root, a fresh id from [SBX_UID_BASE, SBX_UID_BASE + 65536)
 *     (sbx_pick_id), so that they are nobody on the host even if every
 *     other layer failed; otherwise lanser's own uid;
 *   - the file system: /usr, /etc, /opt read-only, the merged-usr links
 *     (/bin, /sbin, /lib, /lib64, ...) as on the host, a fresh /proc, a
 *     minimal /dev, a private size-limited tmpfs on /tmp, `root` at its own
 *     path (writable or not), the extra read-only paths and tmpfs mounts
 *     the caller names; nothing else (no /home, no /root, no /run, no
 *     /var, no daemon socket);
 *   - new pid, network (loopback only), ipc, uts ("lanser-sandbox"),
 *     cgroup namespaces; a new session; the box dies with its parent.
 *
 * When lanser is root, `root` is handed to the box through an idmapped
 * clone of its mount (open_tree + mount_setattr(MOUNT_ATTR_IDMAP)): files
 * owned by root's owner are the box's, files the box creates belong to
 * root's owner on the host. The clones are attached under a private tmpfs
 * (a "stage") in a private mount namespace of the process that execs
 * bwrap, before it drops to the unprivileged id: the stage is searchable
 * by that id even when an ancestor of `root` is not (a 0700 state folder).
 */
#ifndef LANSER_SANDBOX_BOX_H
#define LANSER_SANDBOX_BOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SBX_BOX_UID 1000          /* uid and gid inside the box */
#define SBX_BOX_MAX_BINDS 32      /* root + ro_paths (staged when root) */

struct sbx_box_spec {
	const char *root;                 /* absolute dir bound at its own path (may be NULL
	                                   * for sbx_run without a writable tree) */
	bool root_writable;               /* false for language servers */
	const char *const *ro_paths;      /* extra read-only absolute paths, NULL-terminated,
	                                   * may be NULL */
	const char *const *tmpfs_paths;   /* writable size-limited tmpfs at these absolute
	                                   * paths (e.g. <root>/.cache), may be NULL */
	const char *const *ro_binds;      /* pairs SOURCE, DEST of absolute paths: SOURCE
	                                   * read-only at DEST (after root, so DEST may lie
	                                   * inside it: bubblewrap makes the mount point,
	                                   * on the host when root is writable);
	                                   * NULL-terminated, may be NULL; sbx_run only */
};

/*
 * *out: a NULL-terminated malloc'd argv that runs `argv` boxed. The caller
 * spawns it (core/proc.c: explicit argv, stdio pipes); the first element is
 * this program (/proc/self/exe) with the hidden subcommand "__box", which
 * builds the box in the spawned process (stage, idmap and privilege drop
 * when lanser is root), then execs bwrap. The boxed program gets a clean
 * environment (PATH of the system, HOME=TMPDIR=/tmp, LANG=C.UTF-8), starts
 * in `root`, and sees /tmp and each tmpfs path as a 256 MiB tmpfs. A
 * missing tmpfs path is created on the host first (mkdir -p, 0755) since a
 * read-only root cannot get a new mount point inside the box.
 * Returns 0, LN_EUSAGE (a path not absolute, too many paths), or
 * LN_ESANDBOX when bubblewrap is missing (message names it). Free with
 * sbx_argv_free. Thread-safe.
 */
int sbx_box_command(char ***out, const struct sbx_box_spec *spec, const char *const *argv);
void sbx_argv_free(char **argv);

/* The hidden trampoline: `<exe> __box [--rw] [--root DIR] [--ro PATH]...
 * [--tmpfs PATH]... -- PROGRAM ARGS...` (argv[1] is "__box"). Only returns
 * on failure, with an exit code (2: malformed arguments, 83: the box could
 * not be built); the message is on stderr. Programs that embed the sandbox
 * (lanser-engine, the unit-test runner) call it first thing when argv[1] is
 * "__box"; it is not a user command and appears in no help text. */
int sbx_box_main(int argc, char **argv);


/* --- for run.c: a box planned in the parent, entered in the child --- */

struct sbx_box_opts {
	struct sbx_box_spec spec;
	const char *cwd;          /* where the command starts (NULL: root, else /) */
	long long tmp_bytes;      /* size of /tmp and of each tmpfs path */
	int seccomp_fd;           /* the descriptor number the exec'ing process holds */
	int status_fd;            /* --json-status-fd number, -1: none */
};

struct sbx_box_bind {
	char *src;                /* host path */
	char *staged;             /* where it is attached in the stage (privileged) */
	bool idmap;
};

struct sbx_box_plan {
	char **argv;              /* bwrap, options, "--", the command (malloc'd) */
	bool privileged;          /* lanser is root: stage, idmap and drop in the child */
	unsigned id;              /* the outside id (privileged) */
	unsigned owner_uid, owner_gid;   /* of root, idmapped to id */
	const char *stage;        /* an existing directory covered by the stage's tmpfs */
	size_t nbinds;
	struct sbx_box_bind binds[SBX_BOX_MAX_BINDS];
};

/* Plans a box for `argv` (argv[0] is exec'd by bwrap inside, through the
 * box's PATH when it has no '/'). 0, LN_EUSAGE or LN_ESANDBOX. Release with
 * sbx_box_plan_release (also after a failure). */
int sbx_box_plan_init(struct sbx_box_plan *p, const struct sbx_box_opts *o,
		      const char *const *argv);
void sbx_box_plan_release(struct sbx_box_plan *p);

/* In the process about to exec p->argv (async-signal-safe: raw system
 * calls, no allocation; safe after a clone from a multi-threaded process).
 * Privileged plans: a private mount namespace, the idmapped clones in the
 * stage, then the drop to p->id (groups cleared). Unprivileged: nothing.
 * Returns 0 or an errno value, *stage naming the step. */
int sbx_box_child_enter(const struct sbx_box_plan *p, const char **stage);

#endif
