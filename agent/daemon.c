/*
 * daemon.c - the warm per-workspace daemon (see daemon.h): its life (lock,
 * socket, signals), its server loop and its connections. A whole request
 * is answered by drequest.c (daemon_int.h), the answer cache is dcache.c,
 * the `daemon` command daemoncmd.c, the client and the wire format
 * client.c.
 */
#include "agent/daemon_int.h"
#include "core/err.h"
#include "core/proc.h"
#include "core/state.h"
#include "lsp/workspace.h"

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
#include <time.h>
#include <unistd.h>

#define CLIENT_READ_MS 2000         /* a connected peer must send its request in this time */
#define MAX_LOG_BYTES (1 << 20)
#define MAX_POLL_FDS (2 + DAEMON_MAX_CLIENTS + 64)

/* ---- server ---- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

void daemon_log(const char *fmt, ...)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s [%d] ", ts, (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void conn_close(struct daemon *d, size_t i)
{
	close(d->conns[i].fd);
	buf_release(&d->conns[i].in);
	d->conns[i] = d->conns[--d->nconns];
}

/* The "busy" reply (daemon.h): the client answers in-process instead. */
static void send_busy(int fd, const char *why)
{
	unsigned char hdr[16];
	size_t n = strlen(why);

	memcpy(hdr, "LNB1", 4);
	wire_put_u32(hdr + 4, (uint32_t)ln_exit_code(LN_EDAEMON));
	wire_put_u32(hdr + 8, 0);
	wire_put_u32(hdr + 12, (uint32_t)n);
	/* a few bytes into an empty socket buffer: never blocks in practice,
	 * and a peer that does not read gets a short deadline */
	if (wire_write(fd, hdr, 16, ln_now_ms() + 100) == 0)
		wire_write(fd, why, n, ln_now_ms() + 100);
}

static bool conn_read(struct daemon *d, struct conn *cn);

/* Frees a slot for a new connection: the one that has waited longest
 * without sending a whole request goes (every connection in the table is
 * one: a complete request is answered as soon as it is read). */
static void evict_oldest(struct daemon *d)
{
	size_t i, old = 0;

	for (i = 1; i < d->nconns; i++)
		if (d->conns[i].since < d->conns[old].since)
			old = i;
	d->evicted++;
	if (d->evicted == 1 || d->evicted % 1000 == 0)
		daemon_log("%d connections without a request: evicting the oldest (%lu so far)",
		     DAEMON_MAX_CLIENTS, d->evicted);
	send_busy(d->conns[old].fd, "the daemon evicted this idle connection");
	conn_close(d, old);
}

static void accept_all(struct daemon *d)
{
	int budget = DAEMON_MAX_CLIENTS;   /* then back to the loop: servers, deadlines */

	while (budget-- > 0) {
		struct ucred cred;
		socklen_t len = sizeof cred;
		size_t at;
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    cred.uid != geteuid()) {
			d->refused++;
			daemon_log("refused a connection from uid %d pid %d", (int)cred.uid, (int)cred.pid);
			daemon_send_error(fd, LN_EDAEMON, "refused: this daemon serves uid %d only",
				   (int)geteuid());
			close(fd);
			continue;
		}
		if (d->nconns >= DAEMON_MAX_CLIENTS)
			evict_oldest(d);
		at = d->nconns++;
		d->conns[at].fd = fd;
		buf_init(&d->conns[at].in);
		d->conns[at].since = ln_now_ms();
		/* A client writes its request right after connecting: it is
		 * usually there already. Answering it now keeps a table full
		 * of idle peers from ever standing between a client and its
		 * answer. */
		if (conn_read(d, &d->conns[at]))
			conn_close(d, at);
		if (d->stopping)
			return;
	}
}

/* Reads what a connection sent; answers once a whole request is in.
 * Returns true when the connection is done (close it). */
static bool conn_read(struct daemon *d, struct conn *cn)
{
	char chunk[65536];

	for (;;) {
		ssize_t r = recv(cn->fd, chunk, sizeof chunk, MSG_DONTWAIT);
		if (r > 0) {
			buf_add(&cn->in, chunk, (size_t)r);
			if (cn->in.len >= 4) {
				uint32_t want = wire_get_u32((const unsigned char *)cn->in.data);
				if (want > DAEMON_MAX_REQUEST) {
					d->malformed++;
					daemon_send_error(cn->fd, LN_EDAEMON, "request of %u bytes refused "
						   "(at most %zu)", want, DAEMON_MAX_REQUEST);
					return true;
				}
				if (cn->in.len - 4 >= want) {
					if (cn->in.len - 4 > want) {
						d->malformed++;
						daemon_send_error(cn->fd, LN_EDAEMON, "one request per connection");
						return true;
					}
					d->last_active_ms = ln_now_ms();
					daemon_handle_request(d, cn->fd, cn->in.data + 4, want);
					d->last_active_ms = ln_now_ms();
					return true;
				}
			}
			continue;
		}
		if (r == 0)
			return true; /* gone before a whole request */
		if (errno == EINTR)
			continue;
		return errno != EAGAIN && errno != EWOULDBLOCK;
	}
}

/* Whether the workspace and our socket are still there and ours. */
static bool still_valid(struct daemon *d)
{
	struct stat st;

	if (stat(d->c->root, &st) < 0 || st.st_ino != d->root_ino || st.st_dev != d->root_dev) {
		daemon_log("workspace root %s is gone", d->c->root);
		return false;
	}
	if (lstat(d->paths.sock.data, &st) < 0 || st.st_ino != d->sock_ino) {
		daemon_log("socket %s was removed or replaced", d->paths.sock.data);
		return false;
	}
	return true;
}

static int listen_on(struct daemon *d)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, dirfd, error;

	error = ln_state_sockaddr(&sa, &dirfd, d->paths.sock.data);
	if (error)
		return error;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		if (dirfd >= 0)
			close(dirfd);
		return ln_error_set(LN_EDAEMON, "socket: %s", strerror(errno));
	}
	/* We hold daemon.lock: whatever socket is there is stale. */
	unlink(d->paths.sock.data);
	{
		mode_t old = umask(0177);
		int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
		umask(old);
		if (dirfd >= 0)
			close(dirfd);
		if (r < 0) {
			int e = errno;
			close(fd);
			return ln_error_set(LN_EDAEMON, "bind %s: %s", d->paths.sock.data, strerror(e));
		}
	}
	if (listen(fd, 128) < 0 || lstat(d->paths.sock.data, &st) < 0) {
		int e = errno;
		close(fd);
		return ln_error_set(LN_EDAEMON, "listen: %s", strerror(e));
	}
	d->sock_ino = st.st_ino;
	d->listen_fd = fd;
	return 0;
}

static void trim_log(const struct daemon_paths *p)
{
	struct stat st;

	/* our stdout/stderr are the log (O_APPEND): truncating it is safe */
	if (stat(p->log.data, &st) == 0 && st.st_size > MAX_LOG_BYTES)
		if (truncate(p->log.data, 0) == 0)
			daemon_log("log trimmed");
}

static void ready_signal(char what)
{
	const char *v = getenv("LANSER_DAEMON_READY_FD");
	int fd;

	if (!v)
		return;
	fd = atoi(v);
	unsetenv("LANSER_DAEMON_READY_FD");
	if (fd > 2) {
		ssize_t w = write(fd, &what, 1);
		(void)w;
		close(fd);
	}
}

/* The server loop: until stopped, signalled, idle, or no longer valid. */
static void serve_loop(struct daemon *d)
{
	while (!d->stopping && !got_signal) {
		struct pollfd pfd[MAX_POLL_FDS];
		int sfd[64];
		size_t np = 0, i, ns;
		long long now = ln_now_ms(), wait;

		pfd[np++] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
		for (i = 0; i < d->nconns; i++)
			pfd[np++] = (struct pollfd){ .fd = d->conns[i].fd, .events = POLLIN };
		ns = d->ws ? lsp_workspace_poll_fds(d->ws, sfd, 64) : 0;
		for (i = 0; i < ns; i++)
			pfd[np++] = (struct pollfd){ .fd = sfd[i], .events = POLLIN };
		wait = d->last_active_ms + d->idle_ms - now;
		if (wait > 1000)
			wait = 1000;
		if (wait < 0)
			wait = 0;
		if (poll(pfd, (nfds_t)np, (int)wait) < 0 && errno != EINTR) {
			daemon_log("poll: %s", strerror(errno));
			break;
		}
		/* servers first: their notifications must not pile up */
		for (i = 1 + d->nconns; i < np; i++)
			if (pfd[i].revents) {
				if (d->ws)
					lsp_workspace_pump(d->ws);
				break;
			}
		if (d->ws && lsp_workspace_reap(d->ws) > 0)
			daemon_log("a language server exited: %s", ln_error_msg());
		for (i = d->nconns; i-- > 0;) {
			struct conn *cn = &d->conns[i];
			bool done = false;
			if (1 + i < np && pfd[1 + i].fd == cn->fd && pfd[1 + i].revents)
				done = conn_read(d, cn);
			else if (ln_now_ms() - cn->since > CLIENT_READ_MS)
				done = true; /* never sent a whole request */
			if (done)
				conn_close(d, i);
		}
		if (pfd[0].revents & POLLIN)
			accept_all(d);
		now = ln_now_ms();
		if (now - d->last_check_ms >= 1000) {
			d->last_check_ms = now;
			if (!still_valid(d))
				break;
		}
		if (now - d->last_active_ms >= d->idle_ms && d->nconns == 0) {
			daemon_log("idle for %d ms: stopping", d->idle_ms);
			break;
		}
	}
}

int daemon_serve(struct cli *c)
{
	struct daemon d;
	struct sigaction sa;
	struct stat st;
	int error;

	memset(&d, 0, sizeof d);
	d.c = c;
	d.listen_fd = d.lock_fd = -1;
	d.started_ms = d.last_active_ms = d.last_check_ms = ln_now_ms();
	error = dpaths_init(&d.paths, c->root);
	if (error)
		return error;
	trim_log(&d.paths);
	d.lock_fd = open(d.paths.lock.data, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d.lock_fd < 0) {
		error = ln_error_set(LN_EDAEMON, "%s: %s", d.paths.lock.data, strerror(errno));
		goto done;
	}
	if (flock(d.lock_fd, LOCK_EX | LOCK_NB) < 0) {
		ready_signal('A');
		error = ln_error_set(LN_EDAEMON, "a daemon already runs for %s", c->root);
		goto done;
	}
	if (stat(c->root, &st) < 0) {
		error = ln_error_set(LN_EDAEMON, "%s: %s", c->root, strerror(errno));
		goto done;
	}
	d.root_ino = st.st_ino;
	d.root_dev = st.st_dev;
	error = listen_on(&d);
	if (error)
		goto done;
	{
		FILE *f = fopen(d.paths.pid.data, "we");
		if (f) {
			fprintf(f, "%d\n%s\n", (int)getpid(), c->root);
			fclose(f);
		}
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (chdir("/") < 0)
		daemon_log("chdir /: %s", strerror(errno));
	daemon_log("listening on %s for %s (lanser %s)", d.paths.sock.data, c->root, LANSER_VERSION);
	ready_signal('R');
	/* A broken configuration does not end the daemon: requests answer
	 * with its error until it is fixed. */
	if (daemon_ws_setup(&d, &c->cfg))
		daemon_log("workspace setup failed: %s", ln_error_msg());
	d.last_active_ms = ln_now_ms();

	serve_loop(&d);
	if (got_signal)
		daemon_log("signal %d: stopping", (int)got_signal);
	error = 0;
done:
	while (d.nconns)
		conn_close(&d, d.nconns - 1);
	lsp_workspace_free(d.ws);
	json_decref(d.servers_cfg);
	dcache_clear(&d.cache);
	if (d.listen_fd >= 0) {
		struct stat sst;
		close(d.listen_fd);
		/* remove the socket only if it is still ours */
		if (lstat(d.paths.sock.data, &sst) == 0 && sst.st_ino == d.sock_ino) {
			unlink(d.paths.sock.data);
			unlink(d.paths.pid.data);
		}
		daemon_log("stopped");
	}
	/* daemon.lock stays held until the process is gone (the kernel
	 * releases it at exit): `daemon stop` waits on it, so when stop
	 * returns the daemon and its servers no longer exist. */
	if (d.lock_fd >= 0 && error)
		close(d.lock_fd);
	dpaths_release(&d.paths);
	return error;
}


