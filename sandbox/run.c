#include "sandbox/run.h"
#include "sandbox/box.h"
#include "sandbox/isolate.h"
#include "sandbox/quota.h"
#include "sandbox/supervise.h"
#include "sandbox/sysfilter.h"

#include "core/err.h"
#include "core/proc.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUP_STACK (256 * 1024)
/* How long the supervisor gets to kill the tree and report before it is
 * SIGKILLed itself, and how long leftover pipe writers may keep pipes open
 * after it is gone (only possible without a pid namespace). */
#define KILL_GRACE_MS 5000
#define DRAIN_GRACE_MS 2000

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

/* argv[0] through the PATH of the sandbox's environment. *out is malloc'd. */
static int resolve_prog(char **out, const char *argv0, const char *const *env)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin", *p;
	size_t i;

	if (strchr(argv0, '/')) {
		*out = xstrdup(argv0);
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
				*out = xstrdup(cand);
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

/* The first line of bwrap's own complaint ("bwrap: ...") in what the box
 * wrote to stderr, into out (empty when none). */
static void bwrap_message(const struct buf *err, char *out, size_t n)
{
	const char *p = err->data, *end;
	size_t len;

	out[0] = '\0';
	if (err->len < 7 || strncmp(p, "bwrap: ", 7) != 0)
		return;
	end = memchr(p, '\n', err->len);
	len = end ? (size_t)(end - p) : err->len;
	/* its first sentence: the rest is a pointer to its README */
	end = memmem(p, len, ". ", 2);
	if (end)
		len = (size_t)(end - p);
	snprintf(out, n, "%.*s", (int)len, p);
}

/* The outcome of an isolated run, from bwrap's status and stderr. bwrap
 * reports {"exit-code": N} on the status pipe only when the command ran;
 * without it, exit 1 is bwrap's own failure (setup or exec), and its
 * message is the first line of stderr. A command killed by signal S comes
 * back as exit 128 + S. */
static int box_outcome(struct sbx_result *res, const struct sbx_opts *o, const char *status,
		       bool killed, char *note, size_t note_n)
{
	const char *ec = strstr(status, "\"exit-code\"");
	char msg[240];

	if (!ec && !killed && res->exited && res->exitcode == 1) {
		bwrap_message(&res->err, msg, sizeof msg);
		if (!strncmp(msg, "bwrap: execvp ", 14))
			return ln_error_set(LN_ENOTFOUND, "cannot execute %s in the sandbox: %s",
					    o->argv[0], msg + 7);
		if (!strncmp(msg, "bwrap: Can't chdir", 18))
			return ln_error_set(LN_ENOTFOUND, "cannot start %s: %s", o->argv[0], msg + 7);
		snprintf(note, note_n, "bubblewrap could not build the box (%s)",
			 msg[0] ? msg : "exit 1 without a message");
		return ATT_ISOLATION_FAILED;
	}
	if (res->exited && res->exitcode > 128 && res->exitcode < 128 + NSIG) {
		res->exited = false;
		res->signal = res->exitcode - 128;
		res->exitcode = 0;
	}
	return 0;
}

/* One attempt in progress: what its steps share. */
struct att {
	struct sbx_result *res;
	const struct sbx_opts *o;
	bool isolated;
	char *note;
	size_t note_n;
	int pin[2], pout[2], perr[2], prep[2], pctl[2], pstat[2];
	int seccomp_fd;
	struct sup s;
	struct sbx_cgroup cg;
	struct sbx_box_plan plan;
	struct sbx_quota quota;
	char *stack;
	char status[1024];          /* bwrap's --json-status-fd, its tail */
	size_t status_len;
	pid_t pid;
	long long start, deadline, kill_deadline, drain_deadline, next_quota;
	size_t in_off;
	bool got_status, killed_sent;
	struct report rep, final;
	size_t rep_have;
};

static void att_init(struct att *a, struct sbx_result *res, const struct sbx_opts *o,
		     const char *prog, bool isolated, char *note, size_t note_n)
{
	int i;

	memset(a, 0, sizeof *a);
	for (i = 0; i < 2; i++)
		a->pin[i] = a->pout[i] = a->perr[i] = a->prep[i] = a->pctl[i] = a->pstat[i] = -1;
	a->res = res;
	a->o = o;
	a->isolated = isolated;
	a->note = note;
	a->note_n = note_n;
	a->seccomp_fd = -1;
	a->pid = -1;
	a->start = ln_now_ms();
	a->kill_deadline = a->drain_deadline = a->next_quota = -1;
	a->s.o = o;
	a->s.prog = prog;
	a->s.isolated = isolated;
	a->s.privileged = geteuid() == 0;
	a->s.cg_fd = -1;
	a->s.in_r = -1;
	a->s.seccomp_fd = -1;
	a->s.status_w = -1;
}

/* The box: its working folder checked, the seccomp filter, the bwrap plan,
 * the refusal hook. ATT_ISOLATION_FAILED (note filled) when bwrap is
 * missing or refuses. */
static int att_box(struct att *a)
{
	const struct sbx_opts *o = a->o;
	struct sbx_box_opts bo;
	const void *bpf;
	size_t bpf_len;
	int error;

	if (o->cwd) {
		struct stat st;
		if (stat(o->cwd, &st) < 0 || !S_ISDIR(st.st_mode))
			return ln_error_set(LN_ENOTFOUND, "cannot start %s: chdir %s: %s",
					    o->argv[0], o->cwd, strerror(errno ? errno : ENOTDIR));
	}
	if ((error = sbx_seccomp_memfd(&a->seccomp_fd)))
		return error;
	memset(&bo, 0, sizeof bo);
	bo.spec.root = o->writable;
	bo.spec.root_writable = true;
	bo.spec.ro_binds = o->ro_binds;
	bo.cwd = o->cwd;
	bo.tmp_bytes = o->limits.tmp_bytes;
	bo.seccomp_fd = a->seccomp_fd;
	bo.status_fd = a->pstat[1];
	error = sbx_box_plan_init(&a->plan, &bo, o->argv);
	if (error == LN_ESANDBOX) {
		snprintf(a->note, a->note_n, "%s", ln_error_msg());
		return ATT_ISOLATION_FAILED;
	}
	if (error)
		return error;
	a->s.plan = &a->plan;
	a->s.seccomp_fd = a->seccomp_fd;
	a->s.status_w = a->pstat[1];
	a->s.id = a->plan.id;
	if (simulate_refusal()) {
		if ((error = sbx_seccomp_refuse_userns(&bpf, &bpf_len)))
			return error;
		a->s.refuse_userns = true;
		a->s.refuse.len = (unsigned short)(bpf_len / sizeof(struct sock_filter));
		a->s.refuse.filter = (struct sock_filter *)bpf;
	}
	return 0;
}

/* The pipes, the box, the pids cgroup and the uid the run gets. */
static int att_prepare(struct att *a)
{
	const struct sbx_opts *o = a->o;
	int error, e;

	if (pipe2(a->pout, O_CLOEXEC) || pipe2(a->perr, O_CLOEXEC) || pipe2(a->prep, O_CLOEXEC) ||
	    pipe2(a->pctl, O_CLOEXEC) || (o->stdin_data && pipe2(a->pin, O_CLOEXEC)) ||
	    (a->isolated && pipe2(a->pstat, O_CLOEXEC)))
		return ln_error_set(LN_ESANDBOX, "sandbox: pipe: %s", strerror(errno));
	a->s.in_r = a->pin[0];
	a->s.out_w = a->pout[1];
	a->s.err_w = a->perr[1];
	a->s.rep_w = a->prep[1];
	a->s.ctl_r = a->pctl[0];
	if (a->isolated && (error = att_box(a)))
		return error;
	/* the process limit also holds for root through the pids cgroup */
	if (a->s.privileged) {
		e = sbx_cgroup_create(&a->cg, o->limits.nproc);
		if (e && !a->isolated)
			a->s.drop_uid = true; /* without a cgroup, only a real uid makes NPROC bind */
		if (!a->isolated)
			a->s.id = sbx_pick_id();
	}
	a->res->uid = a->isolated ? (a->s.privileged ? (long)a->plan.id : (long)getuid())
				  : a->s.drop_uid ? (long)a->s.id : (long)geteuid();
	memcpy(a->s.cg_path, a->cg.path, sizeof a->s.cg_path);
	if (a->cg.path[0]) {
		char tasks[260];
		snprintf(tasks, sizeof tasks, "%s/tasks", a->cg.path);
		a->s.cg_fd = open(tasks, O_WRONLY | O_CLOEXEC);
		if (a->s.cg_fd < 0)
			return ln_error_set(LN_ESANDBOX, "sandbox: cannot open the pids cgroup: %s",
					    strerror(errno));
	}
	return 0;
}

/* Clones the supervisor, keeps our ends of the pipes (non-blocking), lets
 * it go, and starts the clocks. */
static int att_start(struct att *a)
{
	const struct sbx_opts *o = a->o;
	sigset_t all, old;

	a->stack = xmalloc(SUP_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	a->pid = clone(sbx_supervisor, a->stack + SUP_STACK, SIGCHLD, &a->s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (a->pid < 0)
		return ln_error_set(LN_ESANDBOX, "sandbox: clone: %s", strerror(errno));
	/* our copies of the supervisor's ends */
	close_fd(&a->pin[0]);
	close_fd(&a->pout[1]);
	close_fd(&a->perr[1]);
	close_fd(&a->prep[1]);
	close_fd(&a->pctl[0]);
	close_fd(&a->pstat[1]);
	close_fd(&a->seccomp_fd);
	close_fd(&a->s.cg_fd);
	if (write(a->pctl[1], "g", 1) != 1)
		return ln_error_set(LN_ESANDBOX, "sandbox: the supervisor died at start");
	fcntl(a->pout[0], F_SETFL, O_NONBLOCK);
	fcntl(a->perr[0], F_SETFL, O_NONBLOCK);
	fcntl(a->prep[0], F_SETFL, O_NONBLOCK);
	if (a->pstat[0] >= 0)
		fcntl(a->pstat[0], F_SETFL, O_NONBLOCK);
	if (a->pin[1] >= 0)
		fcntl(a->pin[1], F_SETFL, O_NONBLOCK);
	if (a->pin[1] >= 0 && o->stdin_len == 0)
		close_fd(&a->pin[1]);
	a->deadline = o->limits.wall_ms > 0 ? a->start + o->limits.wall_ms : -1;
	if (o->writable && o->limits.disk_bytes > 0) {
		sbx_quota_start(&a->quota, o->writable, o->limits.disk_bytes);
		a->next_quota = a->start + SBX_QUOTA_PERIOD_MS;
	}
	return 0;
}

/* The clocks of one round: the disk quota, the wall clock and cancel (ask
 * the supervisor to kill the tree), the kill's grace, the drain's grace.
 * False once the drain's grace has passed (a writer escaped the kill). */
static bool att_clocks(struct att *a, long long now)
{
	const struct sbx_opts *o = a->o;

	/* the disk quota: the file system's use, then a walk */
	if (!a->killed_sent && a->next_quota >= 0 && now >= a->next_quota && a->prep[0] >= 0) {
		if (sbx_quota_exceeded(&a->quota, now)) {
			a->res->hits |= SBX_HIT_DISK;
			if (write(a->pctl[1], "k", 1) != 1) { /* it is exiting anyway */ }
			a->killed_sent = true;
			a->kill_deadline = now + KILL_GRACE_MS;
		}
		a->next_quota = now + SBX_QUOTA_PERIOD_MS;
	}
	/* timeout or cancel: ask the supervisor to kill the tree */
	if (!a->killed_sent && a->prep[0] >= 0 &&
	    ((a->deadline >= 0 && now >= a->deadline) || (o->cancel && *o->cancel))) {
		if (a->deadline >= 0 && now >= a->deadline)
			a->res->timed_out = true;
		else
			a->res->cancelled = true;
		if (write(a->pctl[1], "k", 1) != 1) { /* it is exiting anyway */ }
		a->killed_sent = true;
		a->kill_deadline = now + KILL_GRACE_MS;
	}
	if (a->kill_deadline >= 0 && now >= a->kill_deadline && a->pid > 0) {
		kill(a->pid, SIGKILL); /* it did not finish in time */
		sbx_cgroup_kill(&a->cg);
		a->kill_deadline = -1;
	}
	if (a->prep[0] < 0 && a->drain_deadline < 0)
		a->drain_deadline = now + DRAIN_GRACE_MS;
	return !(a->drain_deadline >= 0 && now >= a->drain_deadline);
}

/* How long the next poll may wait: until the nearest clock. */
static int att_timeout(const struct att *a, long long now)
{
	int timeout = -1;

	if (!a->killed_sent && a->deadline >= 0)
		timeout = (int)(a->deadline - now);
	if (!a->killed_sent && a->o->cancel && (timeout < 0 || timeout > 100))
		timeout = 100;
	if (!a->killed_sent && a->next_quota >= 0 &&
	    (timeout < 0 || a->next_quota - now < timeout))
		timeout = (int)(a->next_quota - now);
	if (a->kill_deadline >= 0 && (timeout < 0 || a->kill_deadline - now < timeout))
		timeout = (int)(a->kill_deadline - now);
	if (a->drain_deadline >= 0 && (timeout < 0 || a->drain_deadline - now < timeout))
		timeout = (int)(a->drain_deadline - now);
	if (timeout < 0 && timeout != -1)
		timeout = 0;
	return timeout;
}

/* Reads what bwrap's status pipe holds, keeping the tail. */
static void att_read_status(struct att *a)
{
	ssize_t r = read(a->pstat[0], a->status + a->status_len,
			 sizeof a->status - 1 - a->status_len);

	if (r > 0) {
		a->status_len += (size_t)r;
		a->status[a->status_len] = '\0';
		if (a->status_len >= sizeof a->status - 1)
			/* keep the tail: "exit-code" comes last */
			memmove(a->status, a->status + a->status_len / 2,
				a->status_len - a->status_len / 2 + 1),
			a->status_len -= a->status_len / 2;
	} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
		close_fd(&a->pstat[0]);
	}
}

/* One whole report of the supervisor: its final status, or why nothing ran. */
static int att_report(struct att *a)
{
	const struct sbx_opts *o = a->o;
	const struct report *rep = &a->rep;

	if (rep->kind == REP_STATUS) {
		a->final = *rep;
		a->got_status = true;
	} else if (rep->kind == REP_SETUP && a->isolated && !a->got_status) {
		snprintf(a->note, a->note_n, "cannot build the box (%s: %s)", rep->stage,
			 strerror(rep->err));
		return ATT_ISOLATION_FAILED;
	} else if (rep->kind == REP_CGROUP) {
		return ln_error_set(LN_ESANDBOX, "sandbox: cannot join the pids cgroup: %s",
				    strerror(rep->err));
	} else if (rep->kind == REP_SETUP) {
		return ln_error_set(LN_ESANDBOX, "sandbox: %s: %s", rep->stage, strerror(rep->err));
	} else if (rep->kind == REP_CHDIR) {
		return ln_error_set(LN_ENOTFOUND, "cannot start %s: chdir %s: %s", o->argv[0],
				    o->cwd, strerror(rep->err));
	} else if (rep->kind == REP_EXEC) {
		return ln_error_set(LN_ENOTFOUND, "cannot execute %s: %s", o->argv[0],
				    strerror(rep->err));
	}
	return 0;
}

/* Reads the supervisor's reports until the pipe is empty or closed. */
static int att_read_reports(struct att *a)
{
	char *rep_buf = (char *)&a->rep;
	int error;

	for (;;) {
		ssize_t r = read(a->prep[0], rep_buf + a->rep_have, sizeof a->rep - a->rep_have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r <= 0) {
			close_fd(&a->prep[0]);
			close_fd(&a->pin[1]);
			return 0;
		}
		a->rep_have += (size_t)r;
		if (a->rep_have < sizeof a->rep)
			continue;
		a->rep_have = 0;
		if ((error = att_report(a)))
			return error;
	}
}

/* Pumps output, input, bwrap's status and the reports until the
 * supervisor is done (or the drain's grace passed). */
static int att_pump(struct att *a)
{
	const struct sbx_opts *o = a->o;
	int error;

	while (a->prep[0] >= 0 || a->pout[0] >= 0 || a->perr[0] >= 0) {
		struct pollfd p[5];
		int np = 0, i;
		long long now = ln_now_ms();

		if (!att_clocks(a, now))
			break; /* a writer escaped the kill: give up on its output */
		if (a->pout[0] >= 0)
			p[np++] = (struct pollfd){ a->pout[0], POLLIN, 0 };
		if (a->perr[0] >= 0)
			p[np++] = (struct pollfd){ a->perr[0], POLLIN, 0 };
		if (a->prep[0] >= 0)
			p[np++] = (struct pollfd){ a->prep[0], POLLIN, 0 };
		if (a->pstat[0] >= 0)
			p[np++] = (struct pollfd){ a->pstat[0], POLLIN, 0 };
		if (a->pin[1] >= 0)
			p[np++] = (struct pollfd){ a->pin[1], POLLOUT, 0 };
		if (poll(p, (nfds_t)np, att_timeout(a, now)) < 0 && errno != EINTR)
			return ln_error_set(LN_ESANDBOX, "sandbox: poll: %s", strerror(errno));
		for (i = 0; i < np; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == a->pout[0]) {
				read_into(&a->pout[0], &a->res->out, o->limits.out_bytes,
					  &a->res->truncated);
			} else if (p[i].fd == a->perr[0]) {
				read_into(&a->perr[0], &a->res->err, o->limits.out_bytes,
					  &a->res->truncated);
			} else if (p[i].fd == a->pstat[0]) {
				att_read_status(a);
			} else if (p[i].fd == a->pin[1]) {
				ssize_t w = write(a->pin[1], o->stdin_data + a->in_off,
						  o->stdin_len - a->in_off);
				if (w > 0)
					a->in_off += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
				    a->in_off >= o->stdin_len || (p[i].revents & (POLLERR | POLLHUP)))
					close_fd(&a->pin[1]);
			} else if (p[i].fd == a->prep[0]) {
				if ((error = att_read_reports(a)))
					return error;
			}
		}
	}
	return 0;
}

/* The result from the supervisor's final report: status, resources and
 * which limits were hit. */
static int att_finish(struct att *a)
{
	struct sbx_result *res = a->res;
	const struct sbx_opts *o = a->o;
	int error;

	if (!a->got_status)
		return ln_error_set(LN_ESANDBOX, "sandbox: the supervisor exited without a report");
	/* what is left of bwrap's status (it wrote before it exited) */
	while (a->pstat[0] >= 0) {
		ssize_t r = read(a->pstat[0], a->status + a->status_len,
				 sizeof a->status - 1 - a->status_len);
		if (r <= 0)
			break;
		a->status_len += (size_t)r;
		a->status[a->status_len] = '\0';
	}
	res->exited = WIFEXITED(a->final.wstatus);
	res->exitcode = res->exited ? WEXITSTATUS(a->final.wstatus) : 0;
	res->signal = WIFSIGNALED(a->final.wstatus) ? WTERMSIG(a->final.wstatus) : 0;
	res->cpu_ms = a->final.cpu_ms;
	res->max_rss_kib = a->final.maxrss_kib;
	res->disk_added = a->quota.added;
	if (a->isolated) {
		error = box_outcome(res, o, a->status, a->killed_sent, a->note, a->note_n);
		if (error)
			return error;
	}
	if (res->timed_out)
		res->hits |= SBX_HIT_WALL;
	if ((a->final.flags & REPF_XCPU) || (!res->exited && res->signal == SIGXCPU) ||
	    (!res->exited && res->signal == SIGKILL && !a->killed_sent && o->limits.cpu_s > 0 &&
	     res->cpu_ms >= (long long)o->limits.cpu_s * 1000))
		res->hits |= SBX_HIT_CPU;
	if ((a->final.flags & REPF_XFSZ) || (!res->exited && res->signal == SIGXFSZ))
		res->hits |= SBX_HIT_FSIZE;
	if (res->truncated)
		res->hits |= SBX_HIT_OUTPUT;
	if (o->limits.mem_bytes > 0 && !(res->exited && res->exitcode == 0) &&
	    (long long)res->max_rss_kib * 1024 * 4 >= o->limits.mem_bytes * 3)
		res->hits |= SBX_HIT_MEMORY;
	res->pids_max_events = sbx_cgroup_max_events(&a->cg);
	if (res->pids_max_events > 0)
		res->hits |= SBX_HIT_PROCS;
	return 0;
}

/* Reaps the supervisor (killing what is left after an error) and frees
 * everything the attempt holds. */
static void att_release(struct att *a, int error)
{
	int st, i;

	if (a->pid > 0) {
		if (error) {
			/* the box failed or we gave up: the supervisor is waiting or
			 * running; whatever it started dies with it */
			if (a->pctl[1] >= 0 && write(a->pctl[1], "k", 1) != 1) { /* gone */ }
			close_fd(&a->pctl[1]);
			if (!ln_proc_wait(&(struct ln_proc){ .pid = a->pid }, KILL_GRACE_MS))
				kill(a->pid, SIGKILL);
		}
		close_fd(&a->pctl[1]);
		while (waitpid(a->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	sbx_cgroup_destroy(&a->cg);
	sbx_box_plan_release(&a->plan);
	close_fd(&a->s.cg_fd);
	close_fd(&a->seccomp_fd);
	for (i = 0; i < 2; i++) {
		close_fd(&a->pin[i]);
		close_fd(&a->pout[i]);
		close_fd(&a->perr[i]);
		close_fd(&a->prep[i]);
		close_fd(&a->pctl[i]);
		close_fd(&a->pstat[i]);
	}
	free(a->stack);
	a->res->wall_ms = ln_now_ms() - a->start;
}

/*
 * One attempt. Returns 0 (ran), ATT_ISOLATION_FAILED (note filled: the box
 * could not be built; nothing ran), or a negative LN_E* code.
 */
static int attempt(struct sbx_result *res, const struct sbx_opts *o, const char *prog,
		   bool isolated, char *note, size_t note_n)
{
	struct att *a = xmalloc(sizeof *a);
	int error;

	att_init(a, res, o, prog, isolated, note, note_n);
	if (!(error = att_prepare(a)) && !(error = att_start(a)) && !(error = att_pump(a)))
		error = att_finish(a);
	att_release(a, error);
	free(a);
	return error;
}

int sbx_run(struct sbx_result *res, const struct sbx_opts *o)
{
	char *prog = NULL, note[512] = "";
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
		/* fail closed: nothing ran, and nothing runs without the box
		 * unless the user said so on the command line */
		buf_reset(&res->out);
		buf_reset(&res->err);
		res->truncated = res->timed_out = res->cancelled = false;
		res->isolated = false;
		snprintf(res->iso_note, sizeof res->iso_note, "%s", note);
		error = ln_error_set(LN_ESANDBOX, "the sandbox is unavailable: %s; nothing ran (pass "
				     "--no-isolation on the command line to run with resource "
				     "limits only)", note);
		goto done;
	}
	snprintf(res->iso_note, sizeof res->iso_note, "isolation switched off (--no-isolation)");
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
