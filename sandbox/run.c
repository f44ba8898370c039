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

/*
 * One attempt. Returns 0 (ran), ATT_ISOLATION_FAILED (note filled: the box
 * could not be built; nothing ran), or a negative LN_E* code.
 */
static int attempt(struct sbx_result *res, const struct sbx_opts *o, const char *prog,
		   bool isolated, char *note, size_t note_n)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int prep[2] = { -1, -1 }, pctl[2] = { -1, -1 }, pstat[2] = { -1, -1 };
	int seccomp_fd = -1, error = -1, e;
	struct sup s;
	struct sbx_cgroup cg = { "" };
	struct sbx_box_plan plan;
	struct sbx_quota quota;
	char *stack = NULL, status[1024] = "";
	size_t status_len = 0;
	pid_t pid = -1;
	sigset_t all, old;
	long long start = ln_now_ms(), deadline, kill_deadline = -1, drain_deadline = -1;
	long long next_quota = -1;
	size_t in_off = 0;
	bool got_status = false, killed_sent = false;
	struct report rep, final;
	size_t rep_have = 0;
	char *rep_buf = (char *)&rep;

	memset(&s, 0, sizeof s);
	memset(&final, 0, sizeof final);
	memset(&plan, 0, sizeof plan);
	memset(&quota, 0, sizeof quota);
	s.o = o;
	s.prog = prog;
	s.isolated = isolated;
	s.privileged = geteuid() == 0;
	s.cg_fd = -1;
	s.in_r = -1;
	s.seccomp_fd = -1;
	s.status_w = -1;

	if (pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC) || pipe2(prep, O_CLOEXEC) ||
	    pipe2(pctl, O_CLOEXEC) || (o->stdin_data && pipe2(pin, O_CLOEXEC)) ||
	    (isolated && pipe2(pstat, O_CLOEXEC))) {
		error = ln_error_set(LN_ESANDBOX, "sandbox: pipe: %s", strerror(errno));
		goto done;
	}
	s.in_r = pin[0];
	s.out_w = pout[1];
	s.err_w = perr[1];
	s.rep_w = prep[1];
	s.ctl_r = pctl[0];

	if (isolated) {
		struct sbx_box_opts bo;
		const void *bpf;
		size_t bpf_len;

		if (o->cwd) {
			struct stat st;
			if (stat(o->cwd, &st) < 0 || !S_ISDIR(st.st_mode)) {
				error = ln_error_set(LN_ENOTFOUND, "cannot start %s: chdir %s: %s",
						     o->argv[0], o->cwd,
						     strerror(errno ? errno : ENOTDIR));
				goto done;
			}
		}
		if ((error = sbx_seccomp_memfd(&seccomp_fd)))
			goto done;
		memset(&bo, 0, sizeof bo);
		bo.spec.root = o->writable;
		bo.spec.root_writable = true;
		bo.cwd = o->cwd;
		bo.tmp_bytes = o->limits.tmp_bytes;
		bo.seccomp_fd = seccomp_fd;
		bo.status_fd = pstat[1];
		error = sbx_box_plan_init(&plan, &bo, o->argv);
		if (error == LN_ESANDBOX) {
			snprintf(note, note_n, "%s", ln_error_msg());
			error = ATT_ISOLATION_FAILED;
			goto done;
		}
		if (error)
			goto done;
		s.plan = &plan;
		s.seccomp_fd = seccomp_fd;
		s.status_w = pstat[1];
		s.id = plan.id;
		if (simulate_refusal()) {
			if ((error = sbx_seccomp_refuse_userns(&bpf, &bpf_len)))
				goto done;
			s.refuse_userns = true;
			s.refuse.len = (unsigned short)(bpf_len / sizeof(struct sock_filter));
			s.refuse.filter = (struct sock_filter *)bpf;
		}
	}

	/* the process limit also holds for root through the pids cgroup */
	if (s.privileged) {
		e = sbx_cgroup_create(&cg, o->limits.nproc);
		if (e && !isolated)
			s.drop_uid = true; /* without a cgroup, only a real uid makes NPROC bind */
		if (!isolated)
			s.id = sbx_pick_id();
	}
	res->uid = isolated ? (s.privileged ? (long)plan.id : (long)getuid())
			    : s.drop_uid ? (long)s.id : (long)geteuid();
	memcpy(s.cg_path, cg.path, sizeof s.cg_path);
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

	stack = xmalloc(SUP_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(sbx_supervisor, stack + SUP_STACK, SIGCHLD, &s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		error = ln_error_set(LN_ESANDBOX, "sandbox: clone: %s", strerror(errno));
		goto done;
	}
	/* our copies of the supervisor's ends */
	close_fd(&pin[0]);
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	close_fd(&prep[1]);
	close_fd(&pctl[0]);
	close_fd(&pstat[1]);
	close_fd(&seccomp_fd);
	close_fd(&s.cg_fd);
	if (write(pctl[1], "g", 1) != 1) {
		error = ln_error_set(LN_ESANDBOX, "sandbox: the supervisor died at start");
		goto done;
	}

	fcntl(pout[0], F_SETFL, O_NONBLOCK);
	fcntl(perr[0], F_SETFL, O_NONBLOCK);
	fcntl(prep[0], F_SETFL, O_NONBLOCK);
	if (pstat[0] >= 0)
		fcntl(pstat[0], F_SETFL, O_NONBLOCK);
	if (pin[1] >= 0)
		fcntl(pin[1], F_SETFL, O_NONBLOCK);
	if (pin[1] >= 0 && o->stdin_len == 0)
		close_fd(&pin[1]);
	deadline = o->limits.wall_ms > 0 ? start + o->limits.wall_ms : -1;
	if (o->writable && o->limits.disk_bytes > 0) {
		sbx_quota_start(&quota, o->writable, o->limits.disk_bytes);
		next_quota = start + SBX_QUOTA_PERIOD_MS;
	}

	while (prep[0] >= 0 || pout[0] >= 0 || perr[0] >= 0) {
		struct pollfd p[5];
		int np = 0, timeout = -1, i;
		long long now = ln_now_ms();

		/* the disk quota: the file system's use, then a walk */
		if (!killed_sent && next_quota >= 0 && now >= next_quota && prep[0] >= 0) {
			if (sbx_quota_exceeded(&quota, now)) {
				res->hits |= SBX_HIT_DISK;
				if (write(pctl[1], "k", 1) != 1) { /* it is exiting anyway */ }
				killed_sent = true;
				kill_deadline = now + KILL_GRACE_MS;
			}
			next_quota = now + SBX_QUOTA_PERIOD_MS;
		}
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
		if (!killed_sent && next_quota >= 0 &&
		    (timeout < 0 || next_quota - now < timeout))
			timeout = (int)(next_quota - now);
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
		if (pstat[0] >= 0)
			p[np++] = (struct pollfd){ pstat[0], POLLIN, 0 };
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
			} else if (p[i].fd == pstat[0]) {
				ssize_t r = read(pstat[0], status + status_len,
						 sizeof status - 1 - status_len);
				if (r > 0) {
					status_len += (size_t)r;
					status[status_len] = '\0';
					if (status_len >= sizeof status - 1)
						/* keep the tail: "exit-code" comes last */
						memmove(status, status + status_len / 2,
							status_len - status_len / 2 + 1),
						status_len -= status_len / 2;
				} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					close_fd(&pstat[0]);
				}
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
						snprintf(note, note_n, "cannot build the box (%s: %s)",
							 rep.stage, strerror(rep.err));
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
	/* what is left of bwrap's status (it wrote before it exited) */
	while (pstat[0] >= 0) {
		ssize_t r = read(pstat[0], status + status_len, sizeof status - 1 - status_len);
		if (r <= 0)
			break;
		status_len += (size_t)r;
		status[status_len] = '\0';
	}
	res->exited = WIFEXITED(final.wstatus);
	res->exitcode = res->exited ? WEXITSTATUS(final.wstatus) : 0;
	res->signal = WIFSIGNALED(final.wstatus) ? WTERMSIG(final.wstatus) : 0;
	res->cpu_ms = final.cpu_ms;
	res->max_rss_kib = final.maxrss_kib;
	res->disk_added = quota.added;
	if (isolated) {
		error = box_outcome(res, o, status, killed_sent, note, note_n);
		if (error)
			goto done;
	}
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
			/* the box failed or we gave up: the supervisor is waiting or
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
	sbx_box_plan_release(&plan);
	close_fd(&s.cg_fd);
	close_fd(&seccomp_fd);
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
	close_fd(&pstat[0]);
	close_fd(&pstat[1]);
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
