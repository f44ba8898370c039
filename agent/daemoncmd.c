/*
 * daemoncmd.c - the `daemon` command: start [--wait-ready], status,
 * stop [--all], run (the server itself: daemon.c). See daemon.h.
 */
#include "agent/cli.h"
#include "agent/daemon.h"
#include "core/err.h"
#include "core/proc.h"
#include "core/state.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#define STOP_TIMEOUT_MS 15000

/* ---- the `daemon` command ---- */

static void print_status(FILE *out, json_t *st)
{
	json_t *dm = json_object_get(st, "daemon"), *s;
	size_t i;

	fprintf(out, "daemon   pid %lld, up %.1f s, %.1f MB RSS, %lld requests (%lld from cache), "
		"idle timeout %lld s\n",
		(long long)json_integer_value(json_object_get(dm, "pid")),
		(double)json_integer_value(json_object_get(dm, "uptimeMs")) / 1000.0,
		(double)json_integer_value(json_object_get(dm, "rssKiB")) / 1024.0,
		(long long)json_integer_value(json_object_get(dm, "requests")),
		(long long)json_integer_value(json_object_get(dm, "cacheHits")),
		(long long)json_integer_value(json_object_get(dm, "idleTimeoutMs")) / 1000);
	fprintf(out, "root     %s\n", json_string_value(json_object_get(dm, "root")));
	if (!json_array_size(json_object_get(st, "servers")))
		fprintf(out, "servers  (none started)\n");
	json_array_foreach(json_object_get(st, "servers"), i, s) {
		const char *state = json_string_value(json_object_get(s, "state"));
		if (!strcmp(state, "running"))
			fprintf(out, "%-10s running  pid %-7lld %-9s %-8s %6.1f MB  %lld open  "
				"restarts %lld\n",
				json_string_value(json_object_get(s, "profile")),
				(long long)json_integer_value(json_object_get(s, "pid")),
				json_string_value(json_object_get(s, "readiness")),
				json_string_value(json_object_get(s, "version")) ?
					json_string_value(json_object_get(s, "version")) : "?",
				(double)json_integer_value(json_object_get(s, "rssKiB")) / 1024.0,
				(long long)json_integer_value(json_object_get(s, "openDocuments")),
				(long long)json_integer_value(json_object_get(s, "restarts")));
		else
			fprintf(out, "%-10s crashed  %s\n",
				json_string_value(json_object_get(s, "profile")),
				json_string_value(json_object_get(s, "lastError")) ?
					json_string_value(json_object_get(s, "lastError")) : "");
	}
}

/* Waits until no daemon holds daemon.lock (it has exited and reaped its
 * servers). 1 gone, 0 still there at the deadline. */
static int wait_gone(const struct daemon_paths *p, int timeout_ms)
{
	long long deadline = ln_now_ms() + timeout_ms;
	int fd = open(p->lock.data, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	int gone = 0;

	if (fd < 0)
		return 1;
	while (!(gone = flock(fd, LOCK_EX | LOCK_NB) == 0) && ln_now_ms() < deadline)
		usleep(5000);
	close(fd);
	return gone;
}

static int stop_one(const struct cli *c, const struct daemon_paths *p, bool *was_running)
{
	struct daemon_reply r;
	int fd, error;

	*was_running = false;
	daemon_reply_init(&r);
	error = daemon_connect(p, &fd);
	if (error == 1)
		return 0;
	if (error < 0)
		return error;
	{
		json_t *req = xjson_pack("{s:s}", "op", "stop");
		error = daemon_roundtrip(fd, req, &r, ln_now_ms() + STOP_TIMEOUT_MS);
		json_decref(req);
	}
	close(fd);
	daemon_reply_release(&r);
	*was_running = true;
	if (error)
		return error;
	if (!wait_gone(p, STOP_TIMEOUT_MS)) {
		/* it acknowledged but hangs on shutdown: end it */
		struct buf b = BUF_INIT;
		if (buf_read_file(&b, p->pid.data, 4096) == 0 && atoi(b.data) > 1)
			kill(atoi(b.data), SIGKILL);
		buf_release(&b);
		wait_gone(p, 2000);
	}
	(void)c;
	return 0;
}

/* The program file a process runs, without the " (deleted)" the kernel
 * adds once it was rebuilt; "" when it cannot be read. */
static void exe_of(pid_t pid, char *out, size_t n)
{
	char link[64];
	ssize_t len;

	snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
	len = readlink(link, out, n - 1);
	if (len < 0)
		len = 0;
	out[len] = '\0';
	if (len > 10 && !strcmp(out + len - 10, " (deleted)"))
		out[len - 10] = '\0';
}

/* One ws-* folder of `daemon stop --all`: stops its daemon when it runs
 * `mine`, else names it and leaves it. */
static void stop_listed(struct cli *c, const char *dir, const char *mine, int *stopped,
			int *left)
{
	struct daemon_paths p;
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct buf info = BUF_INIT;
	char *root = "?", theirs[4096];
	bool was;
	int fd, r;

	dpaths_zero(&p);
	buf_addf(&p.sock, "%s/sock", dir);
	buf_addf(&p.lock, "%s/daemon.lock", dir);
	buf_addf(&p.pid, "%s/daemon.pid", dir);
	if (buf_read_file(&info, p.pid.data, 8192) == 0 && strchr(info.data, '\n')) {
		char *nl;
		root = strchr(info.data, '\n') + 1;   /* "<pid>\n<root>\n" */
		if ((nl = strchr(root, '\n')))
			*nl = '\0';
	}
	ln_error_clear();
	r = daemon_connect(&p, &fd);
	if (r == 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			cred.pid = 0;
		close(fd);
		exe_of(cred.pid, theirs, sizeof theirs);
		if (!mine[0] || strcmp(mine, theirs)) {
			fprintf(c->out, "left alone: the daemon for %s (pid %d) runs %s, not this "
				"lanser (%s)\n", ln_printable(root), (int)cred.pid,
				theirs[0] ? ln_printable(theirs) : "an unknown program",
				ln_printable(mine));
			(*left)++;
		} else if (stop_one(c, &p, &was) == 0 && was) {
			fprintf(c->out, "stopped the daemon for %s (pid %d)\n", ln_printable(root),
				(int)cred.pid);
			(*stopped)++;
		}
	} else if (r < 0) {
		fprintf(c->err, "lanser: note: %s\n", ln_printable(ln_error_msg()));
		ln_error_clear();
	}
	dpaths_release(&p);
	buf_release(&info);
}

/* `daemon stop --all`: the daemons in this user's state folder (so: of
 * this uid, which the socket and SO_PEERCRED checks confirm) that run this
 * very lanser program (same path: this checkout or installation, an older
 * build of it included). Daemons of other lanser copies sharing the state
 * folder are listed and left alone. */
static int stop_all(struct cli *c)
{
	char *base = NULL, mine[4096];
	struct dirent **ents = NULL;
	struct buf dir = BUF_INIT;
	int n, i, error, stopped = 0, left = 0;

	error = ln_state_dir(&base);
	if (error)
		return error;
	exe_of(getpid(), mine, sizeof mine);
	n = scandir(base, &ents, NULL, alphasort);
	for (i = 0; i < n; i++) {
		if (!strncmp(ents[i]->d_name, "ws-", 3)) {
			buf_reset(&dir);
			buf_addf(&dir, "%s/%s", base, ents[i]->d_name);
			stop_listed(c, dir.data, mine, &stopped, &left);
		}
		free(ents[i]);
	}
	free(ents);
	free(base);
	buf_release(&dir);
	fprintf(c->out, "stopped %d daemon%s of this lanser for uid %d", stopped,
		stopped == 1 ? "" : "s", (int)geteuid());
	if (left)
		fprintf(c->out, "; left %d of other lanser programs", left);
	fputc('\n', c->out);
	return 0;
}

int cmd_daemon(struct cli *c)
{
	const char *sub = c->argv[0];   /* one argument: the table's count */
	struct daemon_reply r;
	int error;

	if (!strcmp(sub, "run"))
		return daemon_serve(c);
	if (!strcmp(sub, "stop")) {
		struct daemon_paths p;
		bool was;
		if (c->all)
			return stop_all(c);
		error = dpaths_init(&p, c->root);
		if (error)
			return error;
		error = stop_one(c, &p, &was);
		dpaths_release(&p);
		if (!error)
			fprintf(c->out, was ? "stopped the daemon for %s\n" : "no daemon runs for %s\n",
				c->root);
		return error;
	}
	if (!strcmp(sub, "status") || !strcmp(sub, "start")) {
		bool start = !strcmp(sub, "start");
		json_t *st;
		json_error_t jerr;
		if (start && c->wait_ready)
			error = daemon_request(c, xjson_pack("{s:s, s:i}", "op", "ready", "timeoutMs", c->index_ms),
				     &r, true, ln_now_ms() + c->index_ms + c->cfg.init_ms + 30000);
		else
			error = daemon_request(c, xjson_pack("{s:s}", "op", "status"), &r, start,
				     ln_now_ms() + c->cfg.init_ms + 30000);
		if (error) {
			daemon_reply_release(&r);
			return error;
		}
		st = json_loadb(r.out.data, r.out.len, 0, &jerr);
		if (!json_is_object(st)) {
			json_decref(st);
			daemon_reply_release(&r);
			return ln_error_set(LN_EDAEMON, "the daemon sent a malformed status");
		}
		if (c->json) {
			fwrite(r.out.data, 1, r.out.len, c->out);
		} else if (start) {
			json_t *s;
			size_t i;
			fprintf(c->out, "daemon running for %s\n", c->root);
			json_array_foreach(json_object_get(st, "servers"), i, s)
				fprintf(c->out, "%-10s %s\n",
					json_string_value(json_object_get(s, "profile")),
					json_string_value(json_object_get(s, "readiness")) ?
						json_string_value(json_object_get(s, "readiness")) :
						json_string_value(json_object_get(s, "state")));
		} else {
			print_status(c->out, st);
		}
		error = 0;
		if (start && c->wait_ready && !json_is_true(json_object_get(st, "ready")))
			error = ln_error_set(LN_ETIMEOUT, "the servers were not ready within %d ms "
					     "(see --wait-index)", c->index_ms);
		json_decref(st);
		daemon_reply_release(&r);
		return error;
	}
	return ln_error_set(LN_EUSAGE, "unknown daemon command '%s' (start, status, stop or run; "
			    "see lanser help daemon)", sub);
}
