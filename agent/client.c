/*
 * client.c - the daemon's client side and its wire format (see daemon.h).
 *
 * Linked into both binaries: the thin `lanser` front end (which needs
 * nothing but this, the core and the command table) and the engine.
 */
#include "agent/daemon.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/proc.h"
#include "core/state.h"
#include "core/xalloc.h"
#include "core/limits.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 15000      /* daemon start, as seen by a client */
#define MAX_ARGS 256

/* ---- the workspace's state files ---- */

void dpaths_release(struct daemon_paths *p)
{
	free(p->dir);
	buf_release(&p->sock);
	buf_release(&p->lock);
	buf_release(&p->start);
	buf_release(&p->pid);
	buf_release(&p->log);
}

void dpaths_zero(struct daemon_paths *p)
{
	p->dir = NULL;
	buf_init(&p->sock);
	buf_init(&p->lock);
	buf_init(&p->start);
	buf_init(&p->pid);
	buf_init(&p->log);
}

int dpaths_init(struct daemon_paths *p, const char *root)
{
	int error;

	dpaths_zero(p);
	error = ln_state_workspace_dir(&p->dir, root);
	if (error)
		return error;
	buf_addf(&p->sock, "%s/sock", p->dir);
	buf_addf(&p->lock, "%s/daemon.lock", p->dir);
	buf_addf(&p->start, "%s/start.lock", p->dir);
	buf_addf(&p->pid, "%s/daemon.pid", p->dir);
	buf_addf(&p->log, "%s/daemon.log", p->dir);
	return 0;
}

const char *lanser_engine_path = "/proc/self/exe";

bool daemon_disabled(void)
{
	const char *v = getenv("LANSER_NO_DAEMON");
	return v && *v && strcmp(v, "0");
}

/* ---- byte I/O with deadlines ---- */

void wire_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

uint32_t wire_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Waits for `events` on fd until the deadline (-1: none). 1 ready, 0 timeout. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		long long left = deadline < 0 ? -1 : deadline - ln_now_ms();
		int r;
		if (deadline >= 0 && left <= 0)
			return 0;
		r = poll(&pfd, 1, left < 0 ? -1 : (int)(left > 1000000 ? 1000000 : left));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1; /* let the read/write report it */
	}
}

int wire_write(int fd, const void *data, size_t len, long long deadline)
{
	const char *p = data;

	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!wait_fd(fd, POLLOUT, deadline))
				return ln_error_set(LN_EDAEMON, "timed out writing to the socket");
			continue;
		}
		return ln_error_set(LN_EDAEMON, "socket write: %s", strerror(errno));
	}
	return 0;
}

/* Reads exactly len bytes. LN_EDAEMON on EOF, error or deadline. */
int wire_read(int fd, void *data, size_t len, long long deadline)
{
	char *p = data;

	while (len) {
		ssize_t r = recv(fd, p, len, MSG_DONTWAIT);
		if (r > 0) {
			p += r;
			len -= (size_t)r;
			continue;
		}
		if (r == 0)
			return ln_error_set(LN_EDAEMON, "the daemon closed the connection "
					    "before answering");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!wait_fd(fd, POLLIN, deadline))
				return ln_error_set(LN_EDAEMON, "timed out waiting for the daemon");
			continue;
		}
		return ln_error_set(LN_EDAEMON, "socket read: %s", strerror(errno));
	}
	return 0;
}

/* ---- client ---- */

/* Connects to the daemon's socket after checking that it, and the peer
 * behind it, belong to us. 0 connected; 1 nobody is listening (no socket,
 * or a stale one); an LN_E* code when something is wrong. */
int daemon_connect(const struct daemon_paths *p, int *fd_out)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct stat st;
	int fd, dirfd, r;

	*fd_out = -1;
	if (lstat(p->sock.data, &st) < 0)
		return errno == ENOENT ? 1 : ln_error_set(LN_EDAEMON, "%s: %s", p->sock.data,
							   strerror(errno));
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
		return ln_error_set(LN_EPERM, "%s is not a socket owned by uid %d: refusing to "
				    "use it", p->sock.data, (int)geteuid());
	r = ln_state_sockaddr(&sa, &dirfd, p->sock.data);
	if (r)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		if (dirfd >= 0)
			close(dirfd);
		return ln_error_set(LN_EDAEMON, "socket: %s", strerror(errno));
	}
	r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	if (dirfd >= 0)
		close(dirfd);
	if (r < 0) {
		int e = errno;
		close(fd);
		if (e == ECONNREFUSED || e == ENOENT)
			return 1;
		return ln_error_set(LN_EDAEMON, "connect %s: %s", p->sock.data, strerror(e));
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		close(fd);
		return ln_error_set(LN_EPERM, "the process behind %s is not ours: refusing it",
				    p->sock.data);
	}
	*fd_out = fd;
	return 0;
}

/* The last line of the daemon's log, for error messages. */
static void log_tail(const struct daemon_paths *p, char *out, size_t n)
{
	struct buf b = BUF_INIT;
	char *end, *start;

	out[0] = '\0';
	if (buf_read_file(&b, p->log.data, LN_FILE_MAX_BYTES) || !b.len) {
		buf_release(&b);
		return;
	}
	end = b.data + b.len;
	while (end > b.data && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	*end = '\0';
	start = strrchr(b.data, '\n');
	snprintf(out, n, "%s", start ? start + 1 : b.data);
	buf_release(&b);
}

/* Starts the daemon (double fork, setsid) and waits until it listens or
 * says why it could not. Called with start.lock held. */
static int spawn_daemon(const struct cli *c, const struct daemon_paths *p)
{
	int ready[2], logfd, devnull;
	pid_t pid;
	char buf[8];
	ssize_t n;
	long long deadline;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return ln_error_set(LN_EDAEMON, "pipe: %s", strerror(errno));
	logfd = open(p->log.data, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (logfd < 0 || devnull < 0) {
		int e = errno;
		close(ready[0]);
		close(ready[1]);
		if (logfd >= 0)
			close(logfd);
		if (devnull >= 0)
			close(devnull);
		return ln_error_set(LN_EDAEMON, "%s: %s", p->log.data, strerror(e));
	}
	pid = fork();
	if (pid == 0) {
		/* intermediate child: new session, then the daemon as a
		 * grandchild, so it is nobody's child and has no terminal */
		char fdbuf[16];
		int fd;
		setsid();
		if (fork() != 0)
			_exit(0);
		dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		dup2(ready[1], 3); /* dup2 clears CLOEXEC on 3 */
		for (fd = 4; fd < 4096; fd++)
			close(fd);
		snprintf(fdbuf, sizeof fdbuf, "3");
		setenv("LANSER_DAEMON_READY_FD", fdbuf, 1);
		signal(SIGPIPE, SIG_IGN);
		execl(lanser_engine_path, "lanser", "--root", c->root, "daemon", "run", (char *)NULL);
		dprintf(2, "lanser daemon: cannot execute %s: %s\n", lanser_engine_path,
			strerror(errno));
		_exit(127);
	}
	close(ready[1]);
	close(logfd);
	close(devnull);
	if (pid < 0) {
		close(ready[0]);
		return ln_error_set(LN_EDAEMON, "fork: %s", strerror(errno));
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	deadline = ln_now_ms() + START_TIMEOUT_MS;
	n = 0;
	if (wait_fd(ready[0], POLLIN, deadline))
		do
			n = read(ready[0], buf, sizeof buf);
		while (n < 0 && errno == EINTR);
	close(ready[0]);
	if (n > 0 && (buf[0] == 'R' || buf[0] == 'A'))
		return 0; /* listening (R), or another daemon already is (A) */
	{
		char tail[300];
		log_tail(p, tail, sizeof tail);
		return ln_error_set(LN_EDAEMON, "the daemon did not start%s%s", tail[0] ? ": " : "",
				    tail);
	}
}

/* Connects, starting the daemon first when none listens (exactly one
 * daemon even when several clients race: start.lock + daemon.lock). */
static int connect_or_start(const struct cli *c, const struct daemon_paths *p, int *fd, bool autostart)
{
	long long deadline;
	int r, lockfd;

	r = daemon_connect(p, fd);
	if (r <= 0 || !autostart)
		return r < 0 ? r : r == 1 ? ln_error_set(LN_ENOTFOUND, "no daemon runs for %s",
							  c->root) : 0;
	lockfd = open(p->start.data, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lockfd < 0)
		return ln_error_set(LN_EDAEMON, "%s: %s", p->start.data, strerror(errno));
	deadline = ln_now_ms() + START_TIMEOUT_MS;
	while (flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(lockfd);
			return ln_error_set(LN_EDAEMON, "flock %s: %s", p->start.data, strerror(errno));
		}
		if (ln_now_ms() > deadline) {
			close(lockfd);
			return ln_error_set(LN_EDAEMON, "another client has been starting the daemon "
					    "for %d ms", START_TIMEOUT_MS);
		}
		usleep(2000);
	}
	/* Someone may have started it while we waited for the lock. */
	r = daemon_connect(p, fd);
	if (r == 1) {
		r = spawn_daemon(c, p);
		if (!r) {
			r = daemon_connect(p, fd);
			if (r == 1)
				r = ln_error_set(LN_EDAEMON, "the daemon started but does not listen");
		}
	}
	close(lockfd); /* releases the lock */
	return r;
}

int daemon_roundtrip(int fd, json_t *req, struct daemon_reply *r, long long deadline)
{
	unsigned char hdr[16];
	char *body = json_dumps(req, JSON_COMPACT);
	size_t len = body ? strlen(body) : 0;
	uint32_t olen, elen;
	int error;

	if (!body)
		return ln_error_set(LN_EDAEMON, "cannot encode the request");
	if (len > DAEMON_MAX_REQUEST) {
		free(body);
		return ln_error_set(LN_EUSAGE, "the request is larger than %zu bytes",
				    DAEMON_MAX_REQUEST);
	}
	wire_put_u32(hdr, (uint32_t)len);
	error = wire_write(fd, hdr, 4, deadline);
	if (!error)
		error = wire_write(fd, body, len, deadline);
	free(body);
	if (error) {
		/* The daemon may have answered before reading (busy, a refused
		 * peer) and closed: its reply is still there to read. */
		char *msg = xstrdup(ln_error_msg());
		long long soon = ln_now_ms() + 1000;

		if (wire_read(fd, hdr, 16, deadline >= 0 && deadline < soon ? deadline : soon) == 0 &&
		    (!memcmp(hdr, "LNR1", 4) || !memcmp(hdr, "LNB1", 4)))
			error = 0;
		else
			ln_error_set(error, "%s", msg);
		free(msg);
	} else {
		error = wire_read(fd, hdr, 16, deadline);
		/* progress frames (asked for by a terminal) come before the reply */
		while (!error && !memcmp(hdr, "LNP1", 4)) {
			char text[DAEMON_MAX_PROGRESS];
			uint32_t plen = wire_get_u32(hdr + 8);
			if (plen > sizeof text)
				return ln_error_set(LN_EDAEMON, "the daemon sent a malformed reply");
			error = wire_read(fd, text, plen, deadline);
			if (!error) {
				fwrite(text, 1, plen, stderr);
				fflush(stderr);
				error = wire_read(fd, hdr, 16, deadline);
			}
		}
	}
	if (error)
		return error;
	if (memcmp(hdr, "LNR1", 4) && memcmp(hdr, "LNB1", 4))
		return ln_error_set(LN_EDAEMON, "the daemon sent a malformed reply");
	r->busy = !memcmp(hdr, "LNB1", 4);
	r->code = (int)wire_get_u32(hdr + 4);
	olen = wire_get_u32(hdr + 8);
	elen = wire_get_u32(hdr + 12);
	if (olen > DAEMON_MAX_REPLY || elen > DAEMON_MAX_REPLY || r->code > 255)
		return ln_error_set(LN_EDAEMON, "the daemon sent a malformed reply");
	buf_grow(&r->out, olen + 1);
	buf_grow(&r->err, elen + 1);
	error = wire_read(fd, r->out.data, olen, deadline);
	if (!error)
		error = wire_read(fd, r->err.data, elen, deadline);
	if (error)
		return error;
	r->out.len = olen;
	r->out.data[olen] = '\0';
	r->err.len = elen;
	r->err.data[elen] = '\0';
	if (r->busy) {
		while (r->err.len && r->err.data[r->err.len - 1] == '\n')
			r->err.data[--r->err.len] = '\0';
		return ln_error_set(LN_EDAEMON, "the daemon is busy (%s)",
				    ln_printable(r->err.data));
	}
	return 0;
}

void daemon_reply_init(struct daemon_reply *r)
{
	r->code = 0;
	r->busy = false;
	buf_init(&r->out);
	buf_init(&r->err);
}

void daemon_reply_release(struct daemon_reply *r)
{
	buf_release(&r->out);
	buf_release(&r->err);
}

/* Sends one request; autostart says whether to start a daemon if none runs. */
int daemon_request(const struct cli *c, json_t *req, struct daemon_reply *r, bool autostart,
		long long deadline)
{
	struct daemon_paths p;
	int fd, error;

	daemon_reply_init(r);
	error = dpaths_init(&p, c->root);
	if (error) {
		json_decref(req);
		return error;
	}
	error = connect_or_start(c, &p, &fd, autostart);
	if (!error) {
		error = daemon_roundtrip(fd, req, r, deadline);
		close(fd);
	}
	json_decref(req);
	dpaths_release(&p);
	return error;
}

static long long call_deadline(const struct cli *c)
{
	/* generous: readiness wait + request + diagnostics + server start */
	return ln_now_ms() + (long long)c->index_ms + c->timeout_ms + c->cfg.diagnostics_ms +
	       c->cfg.init_ms + 30000;
}

int daemon_call(const struct cli *c, int argc, char *const *argv, struct daemon_reply *reply)
{
	json_t *args = json_array(), *req;
	int i;

	if (argc > MAX_ARGS) {
		json_decref(args);
		daemon_reply_init(reply);
		return ln_error_set(LN_EUSAGE, "more than %d arguments", MAX_ARGS);
	}
	for (i = 0; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	if ((size_t)argc != json_array_size(args)) {
		json_decref(args);
		daemon_reply_init(reply);
		return ln_error_set(LN_EUSAGE, "arguments must be valid UTF-8");
	}
	req = json_pack("{s:s, s:o, s:s}", "op", "run", "argv", args, "cwd", c->cwd);
	/* a terminal sees what the query waits for (cli.h, `progress`) */
	if (req && c->progress && !c->json)
		json_object_set_new(req, "progress", json_true());
	if (!req) { /* the request travels as JSON: a cwd that is not UTF-8 cannot */
		daemon_reply_init(reply);
		return ln_error_set(LN_EDAEMON, "the current directory is not valid UTF-8");
	}
	return daemon_request(c, req, reply, true, call_deadline(c));
}

int daemon_forward(const struct cli *c, int argc, char *const *argv, int *code)
{
	struct daemon_reply r;
	int error, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		error = daemon_call(c, argc, argv, &r);
		if (!error)
			break;
		daemon_reply_release(&r);
		/* only a daemon that died mid-request is worth a second try;
		 * a busy one is answered in-process by the caller */
		if (error != LN_EDAEMON || r.busy)
			return error;
	}
	if (error)
		return error;
	fwrite(r.out.data, 1, r.out.len, stdout);
	fwrite(r.err.data, 1, r.err.len, stderr);
	*code = r.code;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "lanser: error writing to standard output\n");
		if (!*code)
			*code = ln_exit_code(LN_EGENERIC);
	}
	daemon_reply_release(&r);
	return 0;
}

