#include "sandbox/box.h"
#include "sandbox/isolate.h"
#include "sandbox/sysfilter.h"

#include "core/err.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The system PATH inside a box (the same as base_env of agent/testcmd.c). */
#define BOX_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define BOX_TMP_BYTES (256LL << 20)

void sbx_argv_free(char **argv)
{
	size_t i;

	if (!argv)
		return;
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* A growable argv. */
struct vec {
	char **v;
	size_t n, cap;
};

static void vec_push_own(struct vec *a, char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void vec_push(struct vec *a, const char *s)
{
	vec_push_own(a, xstrdup(s));
}

/* The bwrap binary (LANSER_BWRAP, else /usr/bin/bwrap, /usr/local/bin/bwrap)
 * into *out (static storage): 0, or LN_ESANDBOX naming what is missing
 * and the --no-isolation flag. */
static int sbx_box_bwrap(const char **out)
{
	static const char *const cands[] = { "/usr/bin/bwrap", "/usr/local/bin/bwrap" };
	const char *env = getenv("LANSER_BWRAP");
	size_t i;

	if (env && env[0]) {
		if (access(env, X_OK) == 0) {
			*out = env;
			return 0;
		}
		return ln_error_set(LN_ESANDBOX, "sandbox: bubblewrap (LANSER_BWRAP=%s) cannot be "
				    "executed: %s; install bubblewrap (make deps), or pass "
				    "--no-isolation to run without the sandbox", env, strerror(errno));
	}
	for (i = 0; i < sizeof cands / sizeof cands[0]; i++)
		if (access(cands[i], X_OK) == 0) {
			*out = cands[i];
			return 0;
		}
	return ln_error_set(LN_ESANDBOX, "sandbox: bubblewrap (bwrap) is not installed (looked in "
			    "/usr/bin and /usr/local/bin); install it (make deps: Debian package "
			    "bubblewrap), or pass --no-isolation to run without the sandbox");
}

static bool path_ok(const char *p)
{
	return p && p[0] == '/' && strlen(p) < PATH_MAX && !strstr(p, "/../") &&
	       strcmp(p + strlen(p) - (strlen(p) >= 3 ? 3 : 0), "/..") != 0 &&
	       !strchr(p, '\n');
}

/* An existing directory the stage's tmpfs can cover in the private mount
 * namespace: bwrap never needs what is under it (we bind nothing from
 * there: every source was cloned before the stage covers it). */
static const char *pick_stage(void)
{
	static const char *const cands[] = { "/run", "/mnt", "/media", "/srv" };
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof cands / sizeof cands[0]; i++)
		if (lstat(cands[i], &st) == 0 && S_ISDIR(st.st_mode))
			return cands[i];
	return NULL;
}

static void add_bind(struct sbx_box_plan *p, struct vec *a, const char *kind, const char *src,
		     const char *dest, bool idmap)
{
	struct sbx_box_bind *b = &p->binds[p->nbinds];

	b->src = xstrdup(src);
	b->idmap = idmap;
	if (p->privileged)
		b->staged = xasprintf("%s/b%zu", p->stage, p->nbinds);
	p->nbinds++;
	vec_push(a, kind);
	vec_push(a, p->privileged ? b->staged : src);
	vec_push(a, dest);
}

/* The box's fixed part: namespaces and ids, the system read-only
 * (/usr, /etc, /opt, the /bin and /lib links or folders), a private /proc,
 * /dev and a size-limited /tmp. */
static void push_system(struct vec *a, long long tmp_bytes)
{
	static const char *const links[] = { "/bin", "/sbin", "/lib", "/lib64", "/lib32",
					     "/libx32" };
	struct stat st;
	size_t i;

	vec_push(a, "--unshare-all");
	vec_push(a, "--unshare-user");
	vec_push(a, "--disable-userns");
	vec_push(a, "--uid");
	vec_push_own(a, xasprintf("%d", SBX_BOX_UID));
	vec_push(a, "--gid");
	vec_push_own(a, xasprintf("%d", SBX_BOX_UID));
	vec_push(a, "--hostname");
	vec_push(a, SBX_HOSTNAME);
	vec_push(a, "--die-with-parent");
	vec_push(a, "--new-session");
	vec_push(a, "--ro-bind");
	vec_push(a, "/usr");
	vec_push(a, "/usr");
	vec_push(a, "--ro-bind");
	vec_push(a, "/etc");
	vec_push(a, "/etc");
	if (stat("/opt", &st) == 0 && S_ISDIR(st.st_mode)) {
		vec_push(a, "--ro-bind");
		vec_push(a, "/opt");
		vec_push(a, "/opt");
	}
	for (i = 0; i < sizeof links / sizeof links[0]; i++) {
		char target[PATH_MAX];
		ssize_t n;

		if (lstat(links[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			n = readlink(links[i], target, sizeof target - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			vec_push(a, "--symlink");
			vec_push(a, target);
			vec_push(a, links[i]);
		} else if (S_ISDIR(st.st_mode)) {
			vec_push(a, "--ro-bind");
			vec_push(a, links[i]);
			vec_push(a, links[i]);
		}
	}
	vec_push(a, "--proc");
	vec_push(a, "/proc");
	vec_push(a, "--dev");
	vec_push(a, "/dev");
	vec_push(a, "--size");
	vec_push_own(a, xasprintf("%lld", tmp_bytes > 0 ? tmp_bytes : BOX_TMP_BYTES));
	vec_push(a, "--tmpfs");
	vec_push(a, "/tmp");
}

int sbx_box_plan_init(struct sbx_box_plan *p, const struct sbx_box_opts *o,
		      const char *const *argv)
{
	const struct sbx_box_spec *s = &o->spec;
	struct vec a = { NULL, 0, 0 };
	const char *bwrap;
	struct stat st;
	size_t i;
	int error;

	memset(p, 0, sizeof *p);
	if ((error = sbx_box_bwrap(&bwrap)))
		return error;
	p->privileged = geteuid() == 0;
	if (p->privileged) {
		p->id = sbx_pick_id();
		p->stage = pick_stage();
		if (!p->stage)
			return ln_error_set(LN_ESANDBOX, "sandbox: no directory to stage the box's "
					    "mounts in (/run, /mnt, /media, /srv)");
	}
	if (s->root && !path_ok(s->root))
		return ln_error_set(LN_EUSAGE, "sandbox: the box's root must be an absolute path: %s",
				    s->root);
	if (s->root) {
		if (stat(s->root, &st) < 0 || !S_ISDIR(st.st_mode))
			return ln_error_set(LN_ENOTFOUND, "sandbox: %s is not a directory", s->root);
		p->owner_uid = (unsigned)st.st_uid;
		p->owner_gid = (unsigned)st.st_gid;
	}

	vec_push(&a, bwrap);
	push_system(&a, o->tmp_bytes);
	if (s->root) {
		add_bind(p, &a, s->root_writable ? "--bind" : "--ro-bind", s->root, s->root, true);
		/* A writable root that is a repository's top (tests run in place):
		 * its .git stays read-only, or the tests could plant hooks or
		 * config that the user's next git command runs outside the box. A
		 * linked worktree's .git is a file naming a folder that is not in
		 * the box at all. */
		if (s->root_writable) {
			char *git = xasprintf("%s/.git", s->root);
			if (lstat(git, &st) == 0 && S_ISDIR(st.st_mode))
				add_bind(p, &a, "--ro-bind", git, git, true);
			free(git);
		}
	}
	for (i = 0; s->ro_paths && s->ro_paths[i]; i++) {
		if (!path_ok(s->ro_paths[i])) {
			error = ln_error_set(LN_EUSAGE, "sandbox: not an absolute path: %s",
					     s->ro_paths[i]);
			goto done;
		}
		if (p->nbinds >= SBX_BOX_MAX_BINDS) {
			error = ln_error_set(LN_EUSAGE, "sandbox: more than %d paths for one box",
					     SBX_BOX_MAX_BINDS);
			goto done;
		}
		add_bind(p, &a, "--ro-bind", s->ro_paths[i], s->ro_paths[i], true);
	}
	for (i = 0; s->ro_binds && s->ro_binds[i] && s->ro_binds[i + 1]; i += 2) {
		if (!path_ok(s->ro_binds[i]) || !path_ok(s->ro_binds[i + 1])) {
			error = ln_error_set(LN_EUSAGE, "sandbox: not an absolute path: %s -> %s",
					     s->ro_binds[i], s->ro_binds[i + 1]);
			goto done;
		}
		if (p->nbinds >= SBX_BOX_MAX_BINDS) {
			error = ln_error_set(LN_EUSAGE, "sandbox: more than %d paths for one box",
					     SBX_BOX_MAX_BINDS);
			goto done;
		}
		add_bind(p, &a, "--ro-bind", s->ro_binds[i], s->ro_binds[i + 1], true);
	}
	for (i = 0; s->tmpfs_paths && s->tmpfs_paths[i]; i++) {
		if (!path_ok(s->tmpfs_paths[i])) {
			error = ln_error_set(LN_EUSAGE, "sandbox: not an absolute path: %s",
					     s->tmpfs_paths[i]);
			goto done;
		}
		vec_push(&a, "--size");
		vec_push_own(&a, xasprintf("%lld", o->tmp_bytes > 0 ? o->tmp_bytes : BOX_TMP_BYTES));
		vec_push(&a, "--tmpfs");
		vec_push(&a, s->tmpfs_paths[i]);
	}
	vec_push(&a, "--seccomp");
	vec_push_own(&a, xasprintf("%d", o->seccomp_fd));
	if (o->status_fd >= 0) {
		vec_push(&a, "--json-status-fd");
		vec_push_own(&a, xasprintf("%d", o->status_fd));
	}
	vec_push(&a, "--chdir");
	vec_push(&a, o->cwd ? o->cwd : s->root ? s->root : "/");
	vec_push(&a, "--");
	for (i = 0; argv[i]; i++)
		vec_push(&a, argv[i]);
	p->argv = a.v;
	a.v = NULL;
	error = 0;
done:
	sbx_argv_free(a.v);
	return error;
}

void sbx_box_plan_release(struct sbx_box_plan *p)
{
	size_t i;

	sbx_argv_free(p->argv);
	for (i = 0; i < p->nbinds; i++) {
		free(p->binds[i].src);
		free(p->binds[i].staged);
	}
	memset(p, 0, sizeof *p);
}

/* --- the child side: async-signal-safe only --- */

SBX_CHILD_CODE static size_t c_len(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* "<a><number><b>" into out (no snprintf between clone and exec). */
SBX_CHILD_CODE static void c_fmt(char *out, size_t cap, const char *a, unsigned long v,
				 const char *b)
{
	char d[24];
	size_t n = 0, al = c_len(a), bl = c_len(b), o = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof d);
	if (al + n + bl + 1 > cap) {
		out[0] = '\0';
		return;
	}
	memcpy(out, a, al);
	o = al;
	while (n)
		out[o++] = d[--n];
	memcpy(out + o, b, bl + 1);
}

SBX_CHILD_CODE static int c_write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), e = 0;
	ssize_t n = (ssize_t)c_len(data);

	if (fd < 0)
		return errno;
	if (write(fd, data, (size_t)n) != n)
		e = errno ? errno : EIO;
	close(fd);
	return e;
}

/* A user namespace whose map sends the root's owner to p->id: the
 * idmapping of the clones. A child is created in it only to hold it while
 * its maps are written and its descriptor is opened. */
SBX_CHILD_CODE static int helper_userns(const struct sbx_box_plan *p, int *out)
{
	char path[64], map[64];
	int pp[2], e = 0, st;
	pid_t c;

	*out = -1;
	if (pipe2(pp, O_CLOEXEC) < 0)
		return errno;
	c = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0UL, NULL, NULL, 0UL);
	if (c < 0) {
		e = errno;
		close(pp[0]);
		close(pp[1]);
		return e;
	}
	if (c == 0) {
		char b;
		close(pp[1]);
		while (read(pp[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(pp[0]);
	c_fmt(path, sizeof path, "/proc/", (unsigned long)c, "/uid_map");
	c_fmt(map, sizeof map, "", p->owner_uid, " ");
	c_fmt(map + c_len(map), sizeof map - c_len(map), "", p->id, " 1\n");
	e = c_write_file(path, map);
	if (!e) {
		c_fmt(path, sizeof path, "/proc/", (unsigned long)c, "/gid_map");
		c_fmt(map, sizeof map, "", p->owner_gid, " ");
		c_fmt(map + c_len(map), sizeof map - c_len(map), "", p->id, " 1\n");
		e = c_write_file(path, map);
	}
	if (!e) {
		c_fmt(path, sizeof path, "/proc/", (unsigned long)c, "/ns/user");
		*out = open(path, O_RDONLY | O_CLOEXEC);
		if (*out < 0)
			e = errno;
	}
	close(pp[1]);
	while (waitpid(c, &st, __WALL) < 0 && errno == EINTR)
		;
	return e;
}

SBX_CHILD_CODE int sbx_box_child_enter(const struct sbx_box_plan *p, const char **stage)
{
	int tfd[SBX_BOX_MAX_BINDS], ufd = -1, e = 0;
	size_t i, n = 0;
	struct mount_attr a;

	if (!p->privileged)
		return 0;
	if (p->nbinds == 0)
		goto drop; /* nothing to hand over: no stage, no idmap */
	*stage = "create the idmapping user namespace";
	if ((e = helper_userns(p, &ufd)))
		goto done;
	*stage = "enter a private mount namespace";
	if (syscall(SYS_unshare, CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		e = errno;
		goto done;
	}
	for (n = 0; n < p->nbinds; n++) {
		*stage = "clone a mount for the box (open_tree)";
		tfd[n] = (int)syscall(SYS_open_tree, AT_FDCWD, p->binds[n].src,
				      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (tfd[n] < 0) {
			e = errno;
			goto done;
		}
		if (!p->binds[n].idmap)
			continue;
		*stage = "idmap the box's root for the sandbox id (mount_setattr)";
		memset(&a, 0, sizeof a);
		a.attr_set = MOUNT_ATTR_IDMAP;
		a.userns_fd = (unsigned long long)ufd;
		if (syscall(SYS_mount_setattr, tfd[n], "", AT_EMPTY_PATH | AT_RECURSIVE, &a,
			    sizeof a) < 0 && n == 0) {
			/* the root must be idmapped (it is the box's, and what
			 * the box writes must be lanser's); an extra read-only
			 * path on a file system without idmaps stays as it is */
			e = errno;
			n++;
			goto done;
		}
	}
	*stage = "mount the stage";
	if (mount("tmpfs", p->stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0) {
		e = errno;
		goto done;
	}
	for (i = 0; i < n; i++) {
		*stage = "attach a mount in the stage";
		if (mkdir(p->binds[i].staged, 0755) < 0 ||
		    syscall(SYS_move_mount, tfd[i], "", AT_FDCWD, p->binds[i].staged,
			    MOVE_MOUNT_F_EMPTY_PATH) < 0) {
			e = errno;
			goto done;
		}
	}
drop:
	/* raw system calls: glibc's set*id() would wait for the other threads
	 * of the lanser process we may have been cloned from */
	*stage = "drop to the sandbox's unprivileged id";
	if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, p->id, p->id, p->id) < 0 ||
	    syscall(SYS_setresuid, p->id, p->id, p->id) < 0) {
		e = errno;
		goto done;
	}
	/* a change of credentials clears the parent-death signal */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	e = 0;
done:
	for (i = 0; i < n; i++)
		if (tfd[i] >= 0)
			close(tfd[i]);
	if (ufd >= 0)
		close(ufd);
	return e;
}

/* --- sbx_box_command and its trampoline --- */

static void mkdir_p(const char *path)
{
	char p[PATH_MAX];
	size_t n = strlen(path), i;

	if (n == 0 || n >= sizeof p)
		return;
	memcpy(p, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return;
		p[i] = path[i];
	}
}

int sbx_box_command(char ***out, const struct sbx_box_spec *spec, const char *const *argv)
{
	struct vec a = { NULL, 0, 0 };
	char exe[PATH_MAX];
	const char *bwrap;
	ssize_t n;
	size_t i;
	int error;

	*out = NULL;
	if (!argv || !argv[0])
		return ln_error_set(LN_EUSAGE, "sandbox: empty command for a box");
	if (!spec->root || !path_ok(spec->root))
		return ln_error_set(LN_EUSAGE, "sandbox: the box's root must be an absolute path");
	if ((error = sbx_box_bwrap(&bwrap)))
		return error;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return ln_error_set(LN_ESANDBOX, "sandbox: cannot read /proc/self/exe: %s",
				    strerror(errno));
	exe[n] = '\0';
	vec_push(&a, exe);
	vec_push(&a, "__box");
	if (spec->root_writable)
		vec_push(&a, "--rw");
	vec_push(&a, "--root");
	vec_push(&a, spec->root);
	for (i = 0; spec->ro_paths && spec->ro_paths[i]; i++) {
		if (!path_ok(spec->ro_paths[i])) {
			error = ln_error_set(LN_EUSAGE, "sandbox: not an absolute path: %s",
					     spec->ro_paths[i]);
			goto done;
		}
		vec_push(&a, "--ro");
		vec_push(&a, spec->ro_paths[i]);
	}
	for (i = 0; spec->tmpfs_paths && spec->tmpfs_paths[i]; i++) {
		if (!path_ok(spec->tmpfs_paths[i])) {
			error = ln_error_set(LN_EUSAGE, "sandbox: not an absolute path: %s",
					     spec->tmpfs_paths[i]);
			goto done;
		}
		mkdir_p(spec->tmpfs_paths[i]);
		vec_push(&a, "--tmpfs");
		vec_push(&a, spec->tmpfs_paths[i]);
	}
	vec_push(&a, "--");
	for (i = 0; argv[i]; i++)
		vec_push(&a, argv[i]);
	*out = a.v;
	a.v = NULL;
	error = 0;
done:
	sbx_argv_free(a.v);
	return error;
}

static int box_usage(const char *why)
{
	fprintf(stderr, "lanser: __box is an internal command of the sandbox; refusing to run: %s\n",
		why);
	return 2;
}

int sbx_box_main(int argc, char **argv)
{
	const char *ro[SBX_BOX_MAX_BINDS + 1], *tmpfs[SBX_BOX_MAX_BINDS + 1];
	static const char *const env[] = { "PATH=" BOX_PATH, "HOME=/tmp", "TMPDIR=/tmp",
					   "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TERM=dumb", NULL };
	struct sbx_box_opts o;
	struct sbx_box_plan p;
	size_t nro = 0, ntmp = 0;
	const char *stage = "";
	int i, e, fd = -1;

	memset(&o, 0, sizeof o);
	if (argc < 2 || strcmp(argv[1], "__box") != 0)
		return box_usage("not called as __box");
	for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (!strcmp(argv[i], "--rw")) {
			o.spec.root_writable = true;
		} else if (!strcmp(argv[i], "--root") && i + 1 < argc && !o.spec.root) {
			o.spec.root = argv[++i];
		} else if (!strcmp(argv[i], "--ro") && i + 1 < argc && nro < SBX_BOX_MAX_BINDS - 1) {
			ro[nro++] = argv[++i];
		} else if (!strcmp(argv[i], "--tmpfs") && i + 1 < argc &&
			   ntmp < SBX_BOX_MAX_BINDS) {
			tmpfs[ntmp++] = argv[++i];
		} else {
			return box_usage("unknown or repeated option");
		}
	}
	if (i >= argc - 1)
		return box_usage("no program after --");
	if (!o.spec.root || !path_ok(o.spec.root))
		return box_usage("--root must be an absolute directory");
	ro[nro] = NULL;
	tmpfs[ntmp] = NULL;
	for (size_t k = 0; k < nro; k++)
		if (!path_ok(ro[k]))
			return box_usage("--ro must be an absolute path");
	for (size_t k = 0; k < ntmp; k++) {
		if (!path_ok(tmpfs[k]))
			return box_usage("--tmpfs must be an absolute path");
		mkdir_p(tmpfs[k]); /* a read-only root cannot get it inside */
	}
	o.spec.ro_paths = ro;
	o.spec.tmpfs_paths = tmpfs;
	o.tmp_bytes = BOX_TMP_BYTES;
	o.status_fd = -1;
	if (sbx_seccomp_memfd(&fd)) {
		fprintf(stderr, "lanser: %s\n", ln_error_msg());
		return 83;
	}
	o.seccomp_fd = fd;
	if (sbx_box_plan_init(&p, &o, (const char *const *)argv + i + 1)) {
		fprintf(stderr, "lanser: %s\n", ln_error_msg());
		sbx_box_plan_release(&p);
		return 83;
	}
	if ((e = sbx_box_child_enter(&p, &stage))) {
		fprintf(stderr, "lanser: sandbox: cannot build the box (%s: %s)\n", stage, strerror(e));
		sbx_box_plan_release(&p);
		return 83;
	}
	/* nothing of the caller but stdio and the filter reaches the box */
	if (fd > 3)
		close_range(3, (unsigned)fd - 1, 0);
	close_range((unsigned)fd + 1, ~0U, 0);
	fcntl(fd, F_SETFD, 0);
	execve(p.argv[0], p.argv, (char *const *)env);
	fprintf(stderr, "lanser: sandbox: cannot execute %s: %s\n", p.argv[0], strerror(errno));
	sbx_box_plan_release(&p);
	return 83;
}
