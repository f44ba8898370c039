#include "run.h"
#include "isolate.h"

#include "err.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | \
		  CLONE_NEWUTS)
#define SUP_STACK (256 * 1024)
/* How long the supervisor gets to kill the tree and report before it is
 * SIGKILLed itself, and how long leftover pipe writers may keep pipes open
 * after it is gone (only possible without a pid namespace). */
#define KILL_GRACE_MS 5000
#define DRAIN_GRACE_MS 2000

void sbx_limits_default(struct sbx_limits *l)
{
	l->wall_ms = 600000;
	l->cpu_s = 300;
	l->mem_bytes = 2LL << 30;
	l->nproc = 256;
	l->nofile = 1024;
	l->fsize_bytes = 1LL << 30;
	l->out_bytes = 1 << 20;
	l->tmp_bytes = 256LL << 20;
}

void sbx_result_init(struct sbx_result *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->out);
	buf_init(&r->err);
	r->pids_max_events = -1;
}

void sbx_result_release(struct sbx_result *r)
{
	buf_release(&r->out);
	buf_release(&r->err);
}

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
	const char *prog;        /* resolved argv[0] */
	int in_r, out_w, err_w, rep_w, ctl_r, tree_fd;
	int cg_fd;               /* the cgroup's "tasks" file, opened by lanser */
	bool isolated, privileged, drop_uid;
	unsigned id;
	char cg_path[200];
	char hide[4096];
};

SBX_CHILD_CODE static void send_report(int fd, const struct report *r)
{
	ssize_t n;
	do
		n = write(fd, r, sizeof *r);
	while (n < 0 && errno == EINTR);
}

SBX_CHILD_CODE static void copy_stage(char *dst, const char *s)
{
	size_t i;
	for (i = 0; s[i] && i < 63; i++)
		dst[i] = s[i];
	dst[i] = '\0';
}

SBX_CHILD_CODE static void sup_fail(const struct sup *s, int kind, int err, const char *stage)
{
	struct report r;
	memset(&r, 0, sizeof r);
	r.kind = kind;
	r.err = err;
	copy_stage(r.stage, stage);
	send_report(s->rep_w, &r);
	_exit(127);
}

/* Closes every descriptor but those in keep[] (sorted here). */
SBX_CHILD_CODE static void close_others(int *keep, int n)
{
	int i, j, lo = 3;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (keep[i] < lo)
			continue;
		if (keep[i] > lo)
			close_range((unsigned)lo, (unsigned)keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	close_range((unsigned)lo, ~0U, 0);
}

SBX_CHILD_CODE static void set_limit(int res, long long soft, long long hard)
{
	struct rlimit rl;
	if (soft <= 0)
		return;
	rl.rlim_cur = (rlim_t)soft;
	rl.rlim_max = (rlim_t)hard;
	setrlimit(res, &rl);
}

SBX_CHILD_CODE static void on_sigchld(int sig)
{
	(void)sig;
}

/* The command: stdio, limits, cwd, exec. */
SBX_CHILD_CODE static void run_command(const struct sup *s, const sigset_t *orig)
{
	const struct sbx_limits *l = &s->o->limits;
	const char *const empty_env[] = { NULL };
	int devnull;

	setpgid(0, 0);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	sigprocmask(SIG_SETMASK, orig, NULL);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	dup2(s->in_r >= 0 ? s->in_r : devnull, 0);
	dup2(s->out_w, 1);
	dup2(s->err_w, 2);
	set_limit(RLIMIT_CPU, l->cpu_s, (long long)l->cpu_s + 1);
	set_limit(RLIMIT_AS, l->mem_bytes, l->mem_bytes);
	/* the pids cgroup (when there is one) counts exactly and reports
	 * refusals; the per-uid rlimit is the backstop, with room for the
	 * supervisor so that the cgroup is the one that bites */
	set_limit(RLIMIT_NPROC, l->nproc ? l->nproc + 16 : 0, l->nproc ? l->nproc + 16 : 0);
	set_limit(RLIMIT_NOFILE, l->nofile, l->nofile);
	set_limit(RLIMIT_FSIZE, l->fsize_bytes, l->fsize_bytes);
	{
		struct rlimit core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &core);
	}
	/* no setuid/file-capability escalation, with or without namespaces */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (s->o->cwd && chdir(s->o->cwd) < 0)
		sup_fail(s, REP_CHDIR, errno, "chdir");
	execve(s->prog, (char *const *)s->o->argv,
	       (char *const *)(s->o->env ? s->o->env : empty_env));
	sup_fail(s, REP_EXEC, errno, "exec");
}

/* Kills everything the supervisor is responsible for and reaps it. */
SBX_CHILD_CODE static void kill_tree(const struct sup *s, pid_t cmd, bool cmd_unreaped, int *flags)
{
	/* orphans are re-parented to us (child subreaper): list them here */
	const char *path = "/proc/thread-self/children";
	int st, round;

	if (s->isolated) {
		/* pid 1 of the namespace: -1 is every other process in it */
		for (round = 0; round < 100000; round++) {
			kill(-1, SIGKILL);
			if (waitpid(-1, &st, 0) < 0 && errno == ECHILD)
				return;
		}
		return;
	}
	/* the command's group: only while the command is alive or a zombie
	 * (its pid, hence the group id, cannot have been reused) */
	if (cmd > 0 && cmd_unreaped)
		kill(-cmd, SIGKILL);
	for (round = 0; round < 100000; round++) {
		char text[4096];
		ssize_t n, i;
		long pid = 0;
		bool num = false;
		int fd;
		pid_t r;

		if (s->cg_path[0])
			sbx_child_cgroup_kill(s->cg_path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			while ((n = read(fd, text, sizeof text)) > 0)
				for (i = 0; i < n; i++) {
					if (text[i] >= '0' && text[i] <= '9') {
						pid = pid * 10 + text[i] - '0';
						num = true;
					} else if (num) {
						kill((pid_t)pid, SIGKILL);
						kill(-(pid_t)pid, SIGKILL);
						pid = 0;
						num = false;
					}
				}
			close(fd);
		}
		r = waitpid(-1, &st, 0);
		if (r < 0 && errno == ECHILD)
			return;
		if (r > 0 && WIFSIGNALED(st)) {
			if (WTERMSIG(st) == SIGXCPU)
				*flags |= REPF_XCPU;
			if (WTERMSIG(st) == SIGXFSZ)
				*flags |= REPF_XFSZ;
		}
	}
}

SBX_CHILD_CODE static int supervisor(void *arg)
{
	struct sup *s = arg;
	struct report rep;
	struct rusage ru;
	sigset_t orig, chld, waitmask;
	struct sigaction sa;
	int keep[7], nk = 0, st = 0, flags = 0, sig;
	pid_t cmd;
	char go;
	ssize_t n;

	/* the parent blocked every signal around clone: default actions first;
	 * lanser alone decides when we stop (control pipe), so a Ctrl-C meant
	 * for lanser, or a stray TERM, never orphans the tree */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	setpgid(0, 0);
	sigemptyset(&orig);
	if (s->isolated)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	keep[nk++] = s->out_w;
	keep[nk++] = s->err_w;
	keep[nk++] = s->rep_w;
	keep[nk++] = s->ctl_r;
	if (s->in_r >= 0)
		keep[nk++] = s->in_r;
	if (s->tree_fd >= 0)
		keep[nk++] = s->tree_fd;
	if (s->cg_fd >= 0)
		keep[nk++] = s->cg_fd;
	close_others(keep, nk);

	/* Join the pids cgroup first, before anything can fork. Writing "0"
	 * (this thread) to "tasks" takes the kernel's fast path (no global
	 * threadgroup lock, no RCU grace period: ~0 ms instead of ~14 ms when
	 * lanser writes our pid into cgroup.procs), and the permission check
	 * uses the credentials of whoever opened the file: lanser, as root. */
	if (s->cg_fd >= 0) {
		if (write(s->cg_fd, "0", 1) != 1)
			sup_fail(s, REP_CGROUP, errno, "join the pids cgroup");
		close(s->cg_fd);
	}

	/* wait until lanser has written our uid/gid maps and idmapped the
	 * worktree */
	do
		n = read(s->ctl_r, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || go != 'g')
		_exit(126);

	if (s->isolated) {
		const char *stage = "";
		int e = sbx_child_setup(s->o->writable, s->hide, s->tree_fd,
					s->o->limits.tmp_bytes, s->privileged, &stage);
		if (e)
			sup_fail(s, REP_SETUP, e, stage);
		if (s->tree_fd >= 0)
			close(s->tree_fd);
	} else {
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		if (s->drop_uid) {
			/* raw system calls: see sbx_child_setup */
			if (syscall(SYS_setgroups, 0, NULL) < 0 ||
			    syscall(SYS_setresgid, s->id, s->id, s->id) < 0 ||
			    syscall(SYS_setresuid, s->id, s->id, s->id) < 0)
				sup_fail(s, REP_SETUP, errno, "drop to an unprivileged uid");
		}
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigchld;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &waitmask);
	sigdelset(&waitmask, SIGCHLD);

	/* fork(2) without glibc's fork: that one takes the malloc and stdio
	 * locks, which another thread of lanser may have held at the moment
	 * we were cloned, and would wait for them forever */
	cmd = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, NULL, NULL, 0UL);
	if (cmd < 0)
		sup_fail(s, REP_SETUP, errno, "fork the command");
	if (cmd == 0)
		run_command(s, &orig);
	if (s->in_r >= 0)
		close(s->in_r);
	close(s->out_w);
	close(s->err_w);

	for (;;) {
		struct pollfd p = { s->ctl_r, POLLIN, 0 };
		pid_t r;
		bool done = false;

		siginfo_t si;

		/* the command exited: its group dies before it is reaped */
		memset(&si, 0, sizeof si);
		if (!s->isolated &&
		    waitid(P_PID, (id_t)cmd, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == cmd)
			kill(-cmd, SIGKILL);
		while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
				flags |= REPF_XCPU;
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ)
				flags |= REPF_XFSZ;
			if (r == cmd) {
				rep.wstatus = st;
				done = true;
			}
		}
		if (done)
			break;
		if (ppoll(&p, 1, NULL, &waitmask) > 0) {
			/* 'k' (timeout, cancel) or EOF (lanser died) */
			if (read(s->ctl_r, &go, 1) <= 0 || go == 'k') {
				flags |= REPF_KILLED;
				kill_tree(s, cmd, true, &flags);
				/* the command was among them */
				rep.wstatus = SIGKILL; /* as if WIFSIGNALED(SIGKILL) */
				break;
			}
		}
	}
	{
		int ws = rep.wstatus;
		kill_tree(s, cmd, false, &flags);
		memset(&rep, 0, sizeof rep);
		rep.wstatus = ws;
	}
	getrusage(RUSAGE_CHILDREN, &ru);
	rep.kind = REP_STATUS;
	rep.flags = flags;
	rep.cpu_ms = (long long)ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 +
		     (long long)ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
	rep.maxrss_kib = ru.ru_maxrss;
	send_report(s->rep_w, &rep);
	_exit(0);
}

/* argv[0] through the PATH of the sandbox's environment. *out is malloc'd. */
static int resolve_prog(char **out, const char *argv0, const char *const *env)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin", *p;
	size_t i;

	if (strchr(argv0, '/')) {
		*out = strdup(argv0);
		if (!*out)
			abort();
		return 0;
	}
	for (i = 0; env && env[i]; i++)
		if (!strncmp(env[i], "PATH=", 5))
			path = env[i] + 5;
	for (p = path; *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct stat st;
		char cand[4096];

		if (len > 0 && len + strlen(argv0) + 2 < sizeof cand && p[0] == '/') {
			memcpy(cand, p, len);
			cand[len] = '/';
			memcpy(cand + len + 1, argv0, strlen(argv0) + 1);
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
				*out = strdup(cand);
				if (!*out)
					abort();
				return 0;
			}
		}
		if (!end)
			break;
		p = end + 1;
	}
	return ln_error_set(LN_ENOTFOUND, "cannot execute %s: not found in the sandbox's PATH (%s)",
			    argv0, path);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void read_into(int *fd, struct buf *b, size_t cap, bool *truncated)
{
	char chunk[65536];
	ssize_t n;

	for (;;) {
		n = read(*fd, chunk, sizeof chunk);
		if (n > 0) {
			size_t room = b->len < cap ? cap - b->len : 0;
			size_t take = (size_t)n < room ? (size_t)n : room;
			if (take)
				buf_add(b, chunk, take);
			if (take < (size_t)n)
				*truncated = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		close_fd(fd); /* EOF or error */
		return;
	}
}

enum attempt { ATT_OK = 0, ATT_ISOLATION_FAILED = 1 };

static bool simulate_refusal(void)
{
	const char *v = getenv("LANSER_SANDBOX_SIMULATE_REFUSAL");
	return v && !strcmp(v, "1");
}

/*
 * One attempt. Returns 0 (ran), ATT_ISOLATION_FAILED (note filled: the
 * namespaces were refused; nothing ran), or a negative LN_E* code.
 */
static int attempt(struct sbx_result *res, const struct sbx_opts *o, const char *prog,
		   bool isolated, char *note, size_t note_n)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int prep[2] = { -1, -1 }, pctl[2] = { -1, -1 };
	int tree_fd = -1, error = -1, e;
	struct sup s;
	struct sbx_cgroup cg = { "" };
	char *stack = NULL;
	pid_t pid = -1;
	sigset_t all, old;
	long long start = ln_now_ms(), deadline, kill_deadline = -1, drain_deadline = -1;
	size_t in_off = 0;
	bool got_status = false, killed_sent = false;
	struct report rep, final;
	size_t rep_have = 0;
	char *rep_buf = (char *)&rep;
	const char *what = "";

	memset(&s, 0, sizeof s);
	memset(&final, 0, sizeof final);
	s.o = o;
	s.prog = prog;
	s.isolated = isolated;
	s.privileged = geteuid() == 0;
	s.tree_fd = -1;
	s.cg_fd = -1;
	s.in_r = -1;

	if (pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC) || pipe2(prep, O_CLOEXEC) ||
	    pipe2(pctl, O_CLOEXEC) || (o->stdin_data && pipe2(pin, O_CLOEXEC))) {
		error = ln_error_set(LN_ESANDBOX, "sandbox: pipe: %s", strerror(errno));
		goto done;
	}
	s.in_r = pin[0];
	s.out_w = pout[1];
	s.err_w = perr[1];
	s.rep_w = prep[1];
	s.ctl_r = pctl[0];

	/* the process limit also holds for root through the pids cgroup */
	if (s.privileged) {
		e = sbx_cgroup_create(&cg, o->limits.nproc);
		if (e && !isolated)
			s.drop_uid = true; /* without a cgroup, only a real uid makes NPROC bind */
	}
	if (s.privileged)
		s.id = sbx_pick_id();
	res->uid = s.drop_uid ? (long)s.id : isolated ? (s.privileged ? (long)s.id : (long)getuid())
						     : (long)geteuid();
	memcpy(s.cg_path, cg.path, sizeof s.cg_path);
	s.cg_fd = -1;
	if (cg.path[0]) {
		char tasks[260];
		snprintf(tasks, sizeof tasks, "%s/tasks", cg.path);
		s.cg_fd = open(tasks, O_WRONLY | O_CLOEXEC);
		if (s.cg_fd < 0) {
			error = ln_error_set(LN_ESANDBOX, "sandbox: cannot open the pids cgroup: %s",
					     strerror(errno));
			goto done;
		}
	}

	if (isolated && o->writable && s.privileged) {
		tree_fd = open_tree(AT_FDCWD, o->writable,
				    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (tree_fd < 0) {
			snprintf(note, note_n, "open_tree(%s): %s", "worktree", strerror(errno));
			error = ATT_ISOLATION_FAILED;
			goto done;
		}
		s.tree_fd = tree_fd;
		if (s.privileged)
			sbx_hide_for(o->writable, s.hide, sizeof s.hide);
	}

	stack = malloc(SUP_STACK);
	if (!stack)
		abort();
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* LANSER_SANDBOX_SIMULATE_REFUSAL=1 (tests): ask for an impossible
	 * combination (a new user namespace sharing our fs_struct), so that the
	 * kernel really refuses the clone, as one without user namespaces does */
	pid = clone(supervisor, stack + SUP_STACK,
		    (isolated ? NS_FLAGS | (simulate_refusal() ? CLONE_FS : 0) : 0) | SIGCHLD, &s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		e = errno;
		if (isolated) {
			snprintf(note, note_n, "the kernel refused new namespaces "
				 "(clone user+mount+pid+net+ipc+uts: %s)", strerror(e));
			error = ATT_ISOLATION_FAILED;
		} else {
			error = ln_error_set(LN_ESANDBOX, "sandbox: clone: %s", strerror(e));
		}
		goto done;
	}
	/* our copies of the supervisor's ends */
	close_fd(&pin[0]);
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	close_fd(&prep[1]);
	close_fd(&pctl[0]);

	if (isolated) {
		e = sbx_write_maps(pid, s.privileged, s.id, &what);
		if (e) {
			snprintf(note, note_n, "cannot map the sandbox's uid (%s: %s)", what,
				 strerror(e));
			error = ATT_ISOLATION_FAILED;
			goto done;
		}
		if (tree_fd >= 0 && s.privileged) {
			e = sbx_idmap_tree(tree_fd, pid);
			if (e) {
				snprintf(note, note_n, "cannot idmap the worktree for the sandbox's "
					 "uid (mount_setattr: %s)", strerror(e));
				error = ATT_ISOLATION_FAILED;
				goto done;
			}
		}
	}
	close_fd(&tree_fd);
	close_fd(&s.cg_fd);
	if (write(pctl[1], "g", 1) != 1) {
		error = ln_error_set(LN_ESANDBOX, "sandbox: the supervisor died at start");
		goto done;
	}

	fcntl(pout[0], F_SETFL, O_NONBLOCK);
	fcntl(perr[0], F_SETFL, O_NONBLOCK);
	fcntl(prep[0], F_SETFL, O_NONBLOCK);
	if (pin[1] >= 0)
		fcntl(pin[1], F_SETFL, O_NONBLOCK);
	if (pin[1] >= 0 && o->stdin_len == 0)
		close_fd(&pin[1]);
	deadline = o->limits.wall_ms > 0 ? start + o->limits.wall_ms : -1;

	while (prep[0] >= 0 || pout[0] >= 0 || perr[0] >= 0) {
		struct pollfd p[4];
		int np = 0, timeout = -1, i;
		long long now = ln_now_ms();

		/* timeout or cancel: ask the supervisor to kill the tree */
		if (!killed_sent && prep[0] >= 0 &&
		    ((deadline >= 0 && now >= deadline) || (o->cancel && *o->cancel))) {
			if (deadline >= 0 && now >= deadline)
				res->timed_out = true;
			else
				res->cancelled = true;
			if (write(pctl[1], "k", 1) != 1) { /* it is exiting anyway */ }
			killed_sent = true;
			kill_deadline = now + KILL_GRACE_MS;
		}
		if (kill_deadline >= 0 && now >= kill_deadline && pid > 0) {
			kill(pid, SIGKILL); /* it did not finish in time */
			sbx_cgroup_kill(&cg);
			kill_deadline = -1;
		}
		if (prep[0] < 0 && drain_deadline < 0)
			drain_deadline = now + DRAIN_GRACE_MS;
		if (drain_deadline >= 0 && now >= drain_deadline)
			break; /* a writer escaped the kill: give up on its output */

		if (!killed_sent && deadline >= 0)
			timeout = (int)(deadline - now);
		if (!killed_sent && o->cancel && (timeout < 0 || timeout > 100))
			timeout = 100;
		if (kill_deadline >= 0 && (timeout < 0 || kill_deadline - now < timeout))
			timeout = (int)(kill_deadline - now);
		if (drain_deadline >= 0 && (timeout < 0 || drain_deadline - now < timeout))
			timeout = (int)(drain_deadline - now);
		if (timeout < 0 && timeout != -1)
			timeout = 0;

		if (pout[0] >= 0)
			p[np++] = (struct pollfd){ pout[0], POLLIN, 0 };
		if (perr[0] >= 0)
			p[np++] = (struct pollfd){ perr[0], POLLIN, 0 };
		if (prep[0] >= 0)
			p[np++] = (struct pollfd){ prep[0], POLLIN, 0 };
		if (pin[1] >= 0)
			p[np++] = (struct pollfd){ pin[1], POLLOUT, 0 };
		if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR) {
			error = ln_error_set(LN_ESANDBOX, "sandbox: poll: %s", strerror(errno));
			goto done;
		}
		for (i = 0; i < np; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == pout[0]) {
				read_into(&pout[0], &res->out, o->limits.out_bytes, &res->truncated);
			} else if (p[i].fd == perr[0]) {
				read_into(&perr[0], &res->err, o->limits.out_bytes, &res->truncated);
			} else if (p[i].fd == pin[1]) {
				ssize_t w = write(pin[1], o->stdin_data + in_off, o->stdin_len - in_off);
				if (w > 0)
					in_off += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
				    in_off >= o->stdin_len || (p[i].revents & (POLLERR | POLLHUP)))
					close_fd(&pin[1]);
			} else if (p[i].fd == prep[0]) {
				for (;;) {
					ssize_t r = read(prep[0], rep_buf + rep_have,
							 sizeof rep - rep_have);
					if (r < 0 && errno == EINTR)
						continue;
					if (r < 0 && errno == EAGAIN)
						break;
					if (r <= 0) {
						close_fd(&prep[0]);
						close_fd(&pin[1]);
						break;
					}
					rep_have += (size_t)r;
					if (rep_have < sizeof rep)
						continue;
					rep_have = 0;
					if (rep.kind == REP_STATUS) {
						final = rep;
						got_status = true;
					} else if (rep.kind == REP_SETUP && isolated &&
						   !got_status) {
						snprintf(note, note_n, "cannot set up the "
							 "namespaces (%s: %s)", rep.stage,
							 strerror(rep.err));
						error = ATT_ISOLATION_FAILED;
						goto done;
					} else if (rep.kind == REP_CGROUP) {
						error = ln_error_set(LN_ESANDBOX, "sandbox: cannot join "
								     "the pids cgroup: %s",
								     strerror(rep.err));
						goto done;
					} else if (rep.kind == REP_SETUP) {
						error = ln_error_set(LN_ESANDBOX, "sandbox: %s: %s",
								     rep.stage, strerror(rep.err));
						goto done;
					} else if (rep.kind == REP_CHDIR) {
						error = ln_error_set(LN_ENOTFOUND, "cannot start %s: "
								     "chdir %s: %s", o->argv[0],
								     o->cwd, strerror(rep.err));
						goto done;
					} else if (rep.kind == REP_EXEC) {
						error = ln_error_set(LN_ENOTFOUND, "cannot execute %s: %s",
								     o->argv[0], strerror(rep.err));
						goto done;
					}
				}
			}
		}
	}
	if (!got_status) {
		error = ln_error_set(LN_ESANDBOX, "sandbox: the supervisor exited without a report");
		goto done;
	}
	res->exited = WIFEXITED(final.wstatus);
	res->exitcode = res->exited ? WEXITSTATUS(final.wstatus) : 0;
	res->signal = WIFSIGNALED(final.wstatus) ? WTERMSIG(final.wstatus) : 0;
	res->cpu_ms = final.cpu_ms;
	res->max_rss_kib = final.maxrss_kib;
	if (res->timed_out)
		res->hits |= SBX_HIT_WALL;
	if ((final.flags & REPF_XCPU) || (!res->exited && res->signal == SIGXCPU) ||
	    (!res->exited && res->signal == SIGKILL && !killed_sent && o->limits.cpu_s > 0 &&
	     res->cpu_ms >= (long long)o->limits.cpu_s * 1000))
		res->hits |= SBX_HIT_CPU;
	if ((final.flags & REPF_XFSZ) || (!res->exited && res->signal == SIGXFSZ))
		res->hits |= SBX_HIT_FSIZE;
	if (res->truncated)
		res->hits |= SBX_HIT_OUTPUT;
	if (o->limits.mem_bytes > 0 && !(res->exited && res->exitcode == 0) &&
	    (long long)res->max_rss_kib * 1024 * 4 >= o->limits.mem_bytes * 3)
		res->hits |= SBX_HIT_MEMORY;
	res->pids_max_events = sbx_cgroup_max_events(&cg);
	if (res->pids_max_events > 0)
		res->hits |= SBX_HIT_PROCS;
	error = 0;
done:
	if (pid > 0) {
		int st;
		if (error) {
			/* isolation failed or gave up: the supervisor is waiting or
			 * running; whatever it started dies with it */
			if (pctl[1] >= 0 && write(pctl[1], "k", 1) != 1) { /* gone */ }
			close_fd(&pctl[1]);
			if (!ln_proc_wait(&(struct ln_proc){ .pid = pid }, KILL_GRACE_MS))
				kill(pid, SIGKILL);
		}
		close_fd(&pctl[1]);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	sbx_cgroup_destroy(&cg);
	close_fd(&s.cg_fd);
	close_fd(&tree_fd);
	close_fd(&pin[0]);
	close_fd(&pin[1]);
	close_fd(&pout[0]);
	close_fd(&pout[1]);
	close_fd(&perr[0]);
	close_fd(&perr[1]);
	close_fd(&prep[0]);
	close_fd(&prep[1]);
	close_fd(&pctl[0]);
	close_fd(&pctl[1]);
	free(stack);
	res->wall_ms = ln_now_ms() - start;
	return error;
}

int sbx_run(struct sbx_result *res, const struct sbx_opts *o)
{
	char *prog = NULL, note[240] = "";
	int error;

	if (!o->argv || !o->argv[0] || !o->argv[0][0])
		return ln_error_set(LN_EUSAGE, "sandbox: empty command");
	error = resolve_prog(&prog, o->argv[0], o->env);
	if (error)
		return error;
	if (o->iso != SBX_ISO_NONE) {
		error = attempt(res, o, prog, true, note, sizeof note);
		if (error != ATT_ISOLATION_FAILED) {
			res->isolated = error == 0;
			goto done;
		}
		/* nothing ran: start over without namespaces, or refuse */
		buf_reset(&res->out);
		buf_reset(&res->err);
		res->truncated = res->timed_out = res->cancelled = false;
		if (o->iso == SBX_ISO_REQUIRED) {
			error = ln_error_set(LN_ESANDBOX, "isolation required but unavailable: %s",
					     note);
			snprintf(res->iso_note, sizeof res->iso_note, "%s", note);
			goto done;
		}
		snprintf(res->iso_note, sizeof res->iso_note, "%s", note);
	} else {
		snprintf(res->iso_note, sizeof res->iso_note, "isolation switched off (--no-isolation)");
	}
	res->isolated = false;
	error = attempt(res, o, prog, false, note, sizeof note);
	if (error == ATT_ISOLATION_FAILED)
		error = ln_error_set(LN_ESANDBOX, "sandbox: %s", note);
	if (!error && res->uid == 0) {
		size_t len = strlen(res->iso_note);
		snprintf(res->iso_note + len, sizeof res->iso_note - len,
			 "; the tests ran as root (the workspace in place is not handed to another "
			 "uid), bounded by the pids cgroup");
	}
done:
	free(prog);
	return error;
}

void sbx_result_status_str(const struct sbx_result *r, char *out, size_t n)
{
	struct ln_proc_status st = { r->exited, r->exitcode, r->signal };
	ln_proc_status_str(&st, out, n);
}

json_t *sbx_hits_json(unsigned hits)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ SBX_HIT_WALL, "wall" }, { SBX_HIT_CPU, "cpu" }, { SBX_HIT_MEMORY, "memory" },
		{ SBX_HIT_PROCS, "processes" }, { SBX_HIT_FSIZE, "fileSize" },
		{ SBX_HIT_OUTPUT, "output" },
	};
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (hits & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

/* The members of a "limits" object: name, field, unit, lower and upper bound. */
enum lim_field { L_WALL, L_CPU, L_MEM, L_PROCS, L_FILES, L_FSIZE, L_OUT, L_TMP };
static const struct {
	const char *name;
	enum lim_field f;
	long long unit, lo, hi;
} lim_members[] = {
	{ "wallMs", L_WALL, 1, 100, 24LL * 3600 * 1000 },
	{ "cpuSeconds", L_CPU, 1, 1, 24 * 3600 },
	{ "memoryMiB", L_MEM, 1 << 20, 16, 1 << 20 },
	{ "processes", L_PROCS, 1, 4, 1 << 20 },
	{ "openFiles", L_FILES, 1, 16, 1 << 20 },
	{ "fileSizeMiB", L_FSIZE, 1 << 20, 1, 1 << 20 },
	{ "outputKiB", L_OUT, 1024, 1, 1 << 20 },
	{ "tmpMiB", L_TMP, 1 << 20, 1, 1 << 20 },
};

static long long lim_get(const struct sbx_limits *l, enum lim_field f)
{
	switch (f) {
	case L_WALL: return l->wall_ms;
	case L_CPU: return l->cpu_s;
	case L_MEM: return l->mem_bytes;
	case L_PROCS: return l->nproc;
	case L_FILES: return l->nofile;
	case L_FSIZE: return l->fsize_bytes;
	case L_OUT: return (long long)l->out_bytes;
	case L_TMP: return l->tmp_bytes;
	}
	return 0;
}

static void lim_set(struct sbx_limits *l, enum lim_field f, long long v)
{
	switch (f) {
	case L_WALL: l->wall_ms = v; break;
	case L_CPU: l->cpu_s = (int)v; break;
	case L_MEM: l->mem_bytes = v; break;
	case L_PROCS: l->nproc = (int)v; break;
	case L_FILES: l->nofile = (int)v; break;
	case L_FSIZE: l->fsize_bytes = v; break;
	case L_OUT: l->out_bytes = (size_t)v; break;
	case L_TMP: l->tmp_bytes = v; break;
	}
}

json_t *sbx_limits_json(const struct sbx_limits *l)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < sizeof lim_members / sizeof lim_members[0]; i++)
		json_object_set_new(o, lim_members[i].name,
				    json_integer(lim_get(l, lim_members[i].f) / lim_members[i].unit));
	return o;
}

int sbx_limits_parse(struct sbx_limits *l, const json_t *obj, const char *what)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return ln_error_set(LN_ECONFIG, "%s: \"limits\" must be an object", what);
	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; i < sizeof lim_members / sizeof lim_members[0]; i++)
			if (!strcmp(key, lim_members[i].name))
				break;
		if (i == sizeof lim_members / sizeof lim_members[0])
			return ln_error_set(LN_ECONFIG, "%s: unknown member \"limits.%s\"", what, key);
		if (!json_is_integer(v) || json_integer_value(v) < lim_members[i].lo ||
		    json_integer_value(v) > lim_members[i].hi)
			return ln_error_set(LN_ECONFIG, "%s: \"limits.%s\" must be an integer from "
					    "%lld to %lld", what, key, lim_members[i].lo,
					    lim_members[i].hi);
		lim_set(l, lim_members[i].f, (long long)json_integer_value(v) * lim_members[i].unit);
	}
	return 0;
}
