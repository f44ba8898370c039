#include "core/proc.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

long long ln_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_pair(int fd[2])
{
	if (fd[0] >= 0)
		close(fd[0]);
	if (fd[1] >= 0)
		close(fd[1]);
	fd[0] = fd[1] = -1;
}

static int make_pipe(int fd[2], enum ln_stdio mode)
{
	fd[0] = fd[1] = -1;
	if (mode != LN_STDIO_PIPE)
		return 0;
	return pipe2(fd, O_CLOEXEC);
}

/* In the child: only async-signal-safe calls. */
static void child_setup_fd(int target, enum ln_stdio mode, int pipe_end, int devnull)
{
	if (mode == LN_STDIO_PIPE)
		dup2(pipe_end, target);
	else if (mode == LN_STDIO_NULL)
		dup2(devnull, target);
}

static void child_fail(int errpipe, int stage)
{
	int e[2] = { stage, errno };
	if (write(errpipe, e, sizeof e) < 0) { /* parent will see EOF */ }
	_exit(127);
}

int ln_proc_spawn(struct ln_proc *p, const struct ln_proc_opts *o)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int ep[2] = { -1, -1 }, devnull = -1, error = -1;
	int report[2];
	ssize_t n;
	pid_t pid, parent;
	sigset_t all, old;

	memset(p, 0, sizeof *p);
	p->in_fd = p->out_fd = p->err_fd = -1;
	if (!o->argv || !o->argv[0])
		return ln_error_set(LN_EGENERIC, "spawn: empty argv");

	if (make_pipe(pin, o->in) || make_pipe(pout, o->out) || make_pipe(perr, o->err) ||
	    pipe2(ep, O_CLOEXEC)) {
		error = ln_error_set(LN_EGENERIC, "spawn %s: pipe: %s", o->argv[0], strerror(errno));
		goto done;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		error = ln_error_set(LN_EGENERIC, "spawn: /dev/null: %s", strerror(errno));
		goto done;
	}

	/* Block signals across fork so the child cannot run our handlers. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	parent = getpid();
	pid = fork();
	if (pid == 0) {
		int sig;
		for (sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		if (o->die_with_parent) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent) /* the parent died before prctl */
				_exit(127);
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (o->new_pgrp)
			setpgid(0, 0);
		child_setup_fd(0, o->in, pin[0], devnull);
		child_setup_fd(1, o->out, pout[1], devnull);
		child_setup_fd(2, o->err, perr[1], devnull);
		if (o->cwd && chdir(o->cwd) < 0)
			child_fail(ep[1], 1);
		if (o->env)
			execvpe(o->argv[0], (char *const *)o->argv, (char *const *)o->env);
		else
			execvp(o->argv[0], (char *const *)o->argv);
		child_fail(ep[1], 2);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		error = ln_error_set(LN_EGENERIC, "spawn %s: fork: %s", o->argv[0], strerror(errno));
		goto done;
	}
	if (o->new_pgrp)
		setpgid(pid, pid); /* also from the parent, to win the race */
	close(ep[1]);
	ep[1] = -1;
	do
		n = read(ep[0], report, sizeof report);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof report) {
		int st;
		waitpid(pid, &st, 0);
		if (report[0] == 1)
			error = ln_error_set(LN_ENOTFOUND, "cannot start %s: chdir %s: %s",
					     o->argv[0], o->cwd, strerror(report[1]));
		else
			error = ln_error_set(LN_ENOTFOUND, "cannot execute %s: %s",
					     o->argv[0], strerror(report[1]));
		goto done;
	}
	p->pid = pid;
	p->pgrp = o->new_pgrp;
	p->pgid = o->new_pgrp ? pid : 0;
	p->in_fd = pin[1], pin[1] = -1;
	p->out_fd = pout[0], pout[0] = -1;
	p->err_fd = perr[0], perr[0] = -1;
	if (p->in_fd >= 0)
		fcntl(p->in_fd, F_SETFL, fcntl(p->in_fd, F_GETFL) | O_NONBLOCK);
	if (p->out_fd >= 0)
		fcntl(p->out_fd, F_SETFL, fcntl(p->out_fd, F_GETFL) | O_NONBLOCK);
	if (p->err_fd >= 0)
		fcntl(p->err_fd, F_SETFL, fcntl(p->err_fd, F_GETFL) | O_NONBLOCK);
	error = 0;
done:
	close_pair(pin);
	close_pair(pout);
	close_pair(perr);
	close_pair(ep);
	if (devnull >= 0)
		close(devnull);
	return error;
}

void ln_proc_kill(struct ln_proc *p, int sig)
{
	if (p->pgid > 0)
		kill(-p->pgid, sig);
	if (p->pid > 0)
		kill(p->pid, sig);
}

static void set_status(struct ln_proc *p, int st)
{
	if (WIFEXITED(st)) {
		p->status.exited = true;
		p->status.exitcode = WEXITSTATUS(st);
	} else {
		p->status.exited = false;
		p->status.signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	}
}

/* Non-blocking reap: 1 when the child has exited (status filled), 0 when it
 * still runs. */
static int ln_proc_reap(struct ln_proc *p)
{
	int st;
	pid_t r;

	if (p->pid <= 0)
		return 1;
	do
		r = waitpid(p->pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r == p->pid)
		set_status(p, st);
	p->pid = 0;
	return 1;
}

int ln_proc_wait(struct ln_proc *p, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : ln_now_ms() + timeout_ms;
	int delay_us = 200;

	for (;;) {
		if (ln_proc_reap(p))
			return 1;
		if (deadline >= 0 && ln_now_ms() >= deadline)
			return 0;
		usleep(delay_us);
		if (delay_us < 20000)
			delay_us *= 2;
	}
}

void ln_proc_release(struct ln_proc *p, int grace_ms)
{
	if (p->in_fd >= 0)
		close(p->in_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	p->in_fd = p->out_fd = p->err_fd = -1;
	if (p->pid > 0 && !ln_proc_reap(p)) {
		ln_proc_kill(p, SIGTERM);
		if (!ln_proc_wait(p, grace_ms)) {
			ln_proc_kill(p, SIGKILL);
			ln_proc_wait(p, -1);
		}
	}
	/* Whatever the child left in its group (workers, grandchildren) dies
	 * with it; the group id cannot be reused while members remain. */
	if (p->pgid > 0)
		kill(-p->pgid, SIGKILL);
	p->pgid = 0;
}

void ln_proc_status_str(const struct ln_proc_status *st, char *out, size_t n)
{
	if (st->exited)
		snprintf(out, n, "exited with status %d", st->exitcode);
	else
		snprintf(out, n, "killed by signal %d (%s)", st->signal, strsignal(st->signal));
}

long ln_proc_rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof path, "/proc/%d/status", pid);
	else
		snprintf(path, sizeof path, "/proc/self/status");
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6)) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}
