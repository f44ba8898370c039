#include "sandbox/supervise.h"
#include "sandbox/isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/seccomp.h>
#include <unistd.h>

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
	if (s->isolated) {
		const char *stage = "";
		int e = sbx_box_child_enter(s->plan, &stage);
		if (e)
			sup_fail(s, REP_SETUP, e, stage);
	}
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
	/* no setuid/file-capability escalation, with or without the box */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (s->isolated) {
		/* bwrap starts as the unprivileged id, holding the filter and
		 * the status pipe; it changes into the cwd itself */
		if (s->refuse_userns &&
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &s->refuse) < 0)
			sup_fail(s, REP_SETUP, errno, "install the refusal filter");
		fcntl(s->seccomp_fd, F_SETFD, 0);
		fcntl(s->status_w, F_SETFD, 0);
		execve(s->plan->argv[0], s->plan->argv,
		       (char *const *)(s->o->env ? s->o->env : empty_env));
		sup_fail(s, REP_SETUP, errno, "execute bwrap");
	}
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

	/* bwrap's monitor is the command: when it dies, its pid 1 dies
	 * (--die-with-parent) and with it everything in the box's pid
	 * namespace. The command's group: only while the command is alive or a zombie
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

/* Signals to their defaults (the interrupting ones ignored: lanser alone
 * decides when we stop, through the control pipe, so a Ctrl-C meant for
 * lanser, or a stray TERM, never orphans the tree), our own group, every
 * descriptor but ours closed, and the pids cgroup joined before anything
 * can fork. */
SBX_CHILD_CODE static void sup_settle(struct sup *s)
{
	int keep[9], nk = 0, sig;

	/* the parent blocked every signal around clone: default actions first */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	keep[nk++] = s->out_w;
	keep[nk++] = s->err_w;
	keep[nk++] = s->rep_w;
	keep[nk++] = s->ctl_r;
	if (s->in_r >= 0)
		keep[nk++] = s->in_r;
	if (s->seccomp_fd >= 0)
		keep[nk++] = s->seccomp_fd;
	if (s->status_w >= 0)
		keep[nk++] = s->status_w;
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
}

/* Waits for the command (reaping every orphan it leaves to us) or for
 * lanser's kill ('k', or EOF when lanser died); returns the command's
 * wait status. */
SBX_CHILD_CODE static int sup_wait(struct sup *s, pid_t cmd, const sigset_t *waitmask,
				   int *flags)
{
	int st = 0, ws = 0;
	char go;

	for (;;) {
		struct pollfd p = { s->ctl_r, POLLIN, 0 };
		bool done = false;
		siginfo_t si;
		pid_t r;

		/* the command exited: its group dies before it is reaped */
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)cmd, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == cmd)
			kill(-cmd, SIGKILL);
		while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
				*flags |= REPF_XCPU;
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ)
				*flags |= REPF_XFSZ;
			if (r == cmd) {
				ws = st;
				done = true;
			}
		}
		if (done)
			return ws;
		if (ppoll(&p, 1, NULL, waitmask) > 0) {
			/* 'k' (timeout, cancel) or EOF (lanser died) */
			if (read(s->ctl_r, &go, 1) <= 0 || go == 'k') {
				*flags |= REPF_KILLED;
				kill_tree(s, cmd, true, flags);
				/* the command was among them */
				return SIGKILL; /* as if WIFSIGNALED(SIGKILL) */
			}
		}
	}
}

SBX_CHILD_CODE int sbx_supervisor(void *arg)
{
	struct sup *s = arg;
	struct report rep;
	struct rusage ru;
	sigset_t orig, chld, waitmask;
	struct sigaction sa;
	int flags = 0, ws;
	pid_t cmd;
	char go;
	ssize_t n;

	sup_settle(s);
	sigemptyset(&orig);

	/* wait until lanser says go */
	do
		n = read(s->ctl_r, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || go != 'g')
		_exit(126);

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (s->drop_uid) {
		/* raw system calls: glibc's set*id() would wait for the other
		 * threads of the lanser we were cloned from */
		if (syscall(SYS_setgroups, 0, NULL) < 0 ||
		    syscall(SYS_setresgid, s->id, s->id, s->id) < 0 ||
		    syscall(SYS_setresuid, s->id, s->id, s->id) < 0)
			sup_fail(s, REP_SETUP, errno, "drop to an unprivileged uid");
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
	if (s->seccomp_fd >= 0)
		close(s->seccomp_fd);
	if (s->status_w >= 0)
		close(s->status_w);

	ws = sup_wait(s, cmd, &waitmask, &flags);
	kill_tree(s, cmd, false, &flags);
	memset(&rep, 0, sizeof rep);
	rep.wstatus = ws;
	getrusage(RUSAGE_CHILDREN, &ru);
	rep.kind = REP_STATUS;
	rep.flags = flags;
	rep.cpu_ms = (long long)ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 +
		     (long long)ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
	rep.maxrss_kib = ru.ru_maxrss;
	send_report(s->rep_w, &rep);
	_exit(0);
}
