/*
 * daemon.c - the warm per-workspace daemon (see daemon.h): its server loop,
 * connections and requests. The answer cache is dcache.c, the `daemon`
 * command daemoncmd.c, the client and the wire format client.c.
 */
#include "agent/daemon.h"
#include "agent/dcache.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/proc.h"
#include "core/state.h"
#include "sandbox/txn.h"
#include "lsp/workspace.h"
#include "core/xalloc.h"
#include "core/xjson.h"
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

#define CLIENT_READ_MS 2000         /* a connected peer must send its request in this time */
#define REPLY_WRITE_MS 10000
#define MAX_CLIENTS 64
#define MAX_ARGS 256
#define MAX_LOG_BYTES (1 << 20)
#define MAX_POLL_FDS (2 + MAX_CLIENTS + 64)

/* ---- server ---- */

struct conn {
	int fd;
	struct buf in;
	long long since;
};

struct daemon {
	const struct cli *c;
	struct daemon_paths paths;
	struct lsp_workspace *ws;
	char cfg_digest[72];
	json_t *servers_cfg;      /* the "servers" the servers were started with */
	int listen_fd, lock_fd;
	struct conn conns[MAX_CLIENTS];
	size_t nconns;
	struct dcache cache;
	long long started_ms, last_active_ms, last_check_ms;
	int idle_ms;
	unsigned long requests, hits, refused, malformed, evicted;
	ino_t root_ino, sock_ino;
	dev_t root_dev;
	bool stopping;
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dlog(const char *fmt, ...)
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

static void send_reply(int fd, int code, const char *out, size_t olen, const char *err,
		       size_t elen)
{
	unsigned char hdr[16];
	long long deadline = ln_now_ms() + REPLY_WRITE_MS;

	memcpy(hdr, "LNR1", 4);
	wire_put_u32(hdr + 4, (uint32_t)code);
	wire_put_u32(hdr + 8, (uint32_t)olen);
	wire_put_u32(hdr + 12, (uint32_t)elen);
	if (wire_write(fd, hdr, 16, deadline) == 0 && wire_write(fd, out, olen, deadline) == 0)
		wire_write(fd, err, elen, deadline);
}

static void send_error(int fd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void send_error(int fd, int code, const char *fmt, ...)
{
	char msg[600];
	size_t n;
	va_list ap;

	n = (size_t)snprintf(msg, sizeof msg, "lanser: ");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof msg - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(msg);
	msg[n++] = '\n';
	send_reply(fd, ln_exit_code(code), "", 0, msg, n);
}

/* (Re)creates the warm workspace for the configuration in `cfg`. */
static int ws_setup(struct daemon *d, const struct ln_config *cfg)
{
	struct lsp_workspace_opts wo = { 0 };
	int error;

	lsp_workspace_free(d->ws);
	d->ws = NULL;
	dcache_clear(&d->cache);
	wo.root = d->c->root;
	wo.servers = json_object_get(cfg->json, "servers");
	wo.init_ms = cfg->init_ms;
	wo.request_ms = cfg->request_ms;
	wo.restart = true;
	wo.track_files = true;
	json_decref(d->servers_cfg);
	d->servers_cfg = NULL;
	error = lsp_workspace_new(&d->ws, &wo);
	if (error)
		return error;
	snprintf(d->cfg_digest, sizeof d->cfg_digest, "%s", cfg->digest);
	json_decref(d->servers_cfg);
	d->servers_cfg = json_deep_copy(json_object_get(cfg->json, "servers"));
	d->idle_ms = cfg->daemon_idle_ms;
	if (getenv("LANSER_DAEMON_IDLE_MS")) {
		long v = strtol(getenv("LANSER_DAEMON_IDLE_MS"), NULL, 10);
		if (v > 0 && v <= 86400000L)
			d->idle_ms = (int)v;
	}
	error = lsp_workspace_refresh(d->ws);
	if (error)
		return error;
	lsp_workspace_warm(d->ws);
	return 0;
}

/* Brings the warm workspace in line with the disk. Its only failure is a
 * root that is gone: that is answered like any command would have it
 * (the error and its exit code), and the daemon ends. */
static int refresh_or_stop(struct daemon *d, int fd)
{
	int error = lsp_workspace_refresh(d->ws);

	if (error) {
		send_error(fd, error, "%s", ln_error_msg());
		d->stopping = true;
	}
	return error;
}

/* The command line of a run request, checked: "lanser" then argv
 * (borrowed from req; free the array), or NULL after an error reply. */
static char **run_args(struct daemon *d, int fd, json_t *argv, const char *cwd)
{
	size_t i, n = json_array_size(argv);
	char **args;

	if (!json_is_array(argv) || n > MAX_ARGS || !cwd || cwd[0] != '/') {
		d->malformed++;
		send_error(fd, LN_EDAEMON, "malformed run request (argv: array of at most %d "
			   "strings; cwd: absolute path)", MAX_ARGS);
		return NULL;
	}
	args = xcalloc(n + 2, sizeof *args);
	args[0] = "lanser";
	for (i = 0; i < n; i++) {
		args[i + 1] = (char *)json_string_value(json_array_get(argv, i));
		if (!args[i + 1]) {
			d->malformed++;
			send_error(fd, LN_EDAEMON, "malformed run request: argv[%zu] is not a string", i);
			free(args);
			return NULL;
		}
	}
	return args;
}

/* Brings the daemon in line with the disk before a request: the
 * configuration (new servers when theirs changed), an interrupted edit,
 * the documents. 0, or an error already answered on fd. *unrecovered:
 * an interrupted edit could not be undone. */
static int run_prepare(struct daemon *d, int fd, bool *unrecovered)
{
	struct ln_config cfg;
	int error;

	memset(&cfg, 0, sizeof cfg);
	*unrecovered = false;
	/* The configuration may have changed since the servers started; a
	 * broken one is answered like the command would (78), and the next
	 * request tries again. */
	error = ln_config_load(&cfg, d->c->root);
	/* Only the servers' configuration needs new servers; the rest of it
	 * is read by each command. */
	if (!error && (!d->ws ||
		       (!json_equal(json_object_get(cfg.json, "servers"), d->servers_cfg) &&
			(json_object_get(cfg.json, "servers") || d->servers_cfg)))) {
		if (d->ws)
			dlog("configuration changed: restarting the servers");
		error = ws_setup(d, &cfg);
	}
	if (!error)
		snprintf(d->cfg_digest, sizeof d->cfg_digest, "%s", cfg.digest);
	ln_config_release(&cfg);
	if (error) {
		send_error(fd, error, "%s", ln_error_msg());
		return error;
	}
	/* An interrupted edit (docs/edits.md). When it cannot be undone the
	 * command itself decides, exactly as in-process: its dispatcher
	 * (agent/main.c prepare) retries the recovery, and a read-only
	 * command answers with the reason as a warning on the client's
	 * stderr while a command that writes refuses. The daemon only keeps
	 * such answers out of its cache, both ways. */
	*unrecovered = sbx_txn_recover(d->c->root) < 0;
	if (*unrecovered) {
		dlog("transaction recovery failed: %s", ln_error_msg());
		ln_error_clear();
	}
	return refresh_or_stop(d, fd);
}

/* The answer from the cache, when there is one: true when sent. */
static bool answer_cached(struct daemon *d, int fd, char **args, size_t n, const char *key,
			  long long started)
{
	struct dcache_entry *e;
	struct buf out = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(args[i + 1], "--no-cache"))
			return false;
	e = dcache_find(&d->cache, key);
	if (!e)
		return false;
	buf_add(&out, e->out.data, e->out.len);
	if (out.len && out.data[0] == '{')
		dcache_restamp(&out, started);
	e->used = ln_now_ms();
	d->hits++;
	send_reply(fd, e->code, out.data, out.len, e->err.data, e->err.len);
	buf_release(&out);
	return true;
}

/* Runs the command line against the warm workspace, its output captured
 * into *obuf / *ebuf. A server that dies during the request is reaped and
 * the request runs once more on a fresh one. 0, or the refresh's error
 * (answered on fd) when the workspace could not be brought back. */
/* Progress lines for a client that asked for them ("progress": true: its
 * stderr is a terminal): each write is one "LNP1" frame (client.c reads
 * them before the reply), written with the reply's deadline and dropped
 * on failure. */
static ssize_t progress_write(void *cookie, const char *data, size_t len)
{
	int fd = *(int *)cookie;
	unsigned char hdr[16] = "LNP1";
	long long deadline = ln_now_ms() + REPLY_WRITE_MS;
	size_t n = len > DAEMON_MAX_PROGRESS ? DAEMON_MAX_PROGRESS : len;

	wire_put_u32(hdr + 4, 0);
	wire_put_u32(hdr + 8, (uint32_t)n);
	wire_put_u32(hdr + 12, 0);
	if (wire_write(fd, hdr, 16, deadline) == 0)
		wire_write(fd, data, n, deadline);
	return (ssize_t)len;
}

static int run_captured(struct daemon *d, int fd, char **args, size_t n, const char *cwd,
			bool progress, struct exec_result *res, char **obuf, size_t *olen,
			char **ebuf, size_t *elen)
{
	int attempt, error;

	for (attempt = 0; attempt < 2; attempt++) {
		unsigned long crashes = lsp_workspace_crashes(d->ws);
		FILE *out = open_memstream(obuf, olen), *err = open_memstream(ebuf, elen);
		FILE *prog = NULL;
		if (!out || !err)
			ln_die_oom();
		if (progress) {
			cookie_io_functions_t io = { .write = progress_write };
			prog = fopencookie(&fd, "w", io);
		}
		d->c->exec((int)n + 1, args, cwd, out, err, prog, d->ws, true, res);
		if (prog)
			fclose(prog);
		fclose(out);
		fclose(err);
		lsp_workspace_drop_overlays(d->ws);
		/* A server that died during the request is reaped now; retry
		 * once on a fresh server (the first restart has no backoff). */
		if (lsp_workspace_reap(d->ws) > 0 || lsp_workspace_crashes(d->ws) != crashes) {
			dlog("a language server died during a request (exit %d)", res->code);
			if (res->code == ln_exit_code(LN_ECRASH) && attempt == 0) {
				free(*obuf);
				free(*ebuf);
				*obuf = *ebuf = NULL;
				*olen = *elen = 0;
				error = refresh_or_stop(d, fd);
				if (error)
					return error;
				continue;
			}
		}
		break;
	}
	return 0;
}

/* A run request: the same command line as in-process, against the warm
 * workspace, with its output captured. */
static void do_run(struct daemon *d, int fd, json_t *req)
{
	json_t *argv = json_object_get(req, "argv");
	const char *cwd = json_string_value(json_object_get(req, "cwd"));
	char **args, key[LN_SHA256_HEX_SIZE];
	struct exec_result res;
	long long started = ln_now_ms();
	bool keyed, traced = false, unrecovered;
	size_t i, n = json_array_size(argv);
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;

	memset(&res, 0, sizeof res);
	args = run_args(d, fd, argv, cwd);
	if (!args)
		return;
	if (chdir(cwd) < 0) {
		send_error(fd, LN_EGENERIC, "the daemon cannot enter %s: %s", cwd, strerror(errno));
		free(args);
		return;
	}
	if (run_prepare(d, fd, &unrecovered)) {
		free(args);
		return;
	}
	/* --trace records the frames of this very request: never answered
	 * from the cache (a hit has no frames), never stored in it. */
	for (i = 0; i < n; i++)
		traced |= !strcmp(args[i + 1], "--trace") || !strncmp(args[i + 1], "--trace=", 8);
	keyed = !traced && !unrecovered && dcache_key(key, d->ws, argv, cwd);
	if (keyed && answer_cached(d, fd, args, n, key, started)) {
		free(args);
		return;
	}
	if (run_captured(d, fd, args, n, cwd, json_is_true(json_object_get(req, "progress")), &res,
			 &obuf, &olen, &ebuf, &elen) == 0) {
		/* The generation changes when a server started during the
		 * request: the key must describe the servers that answered. */
		if (keyed && res.cacheable && res.complete &&
		    (res.code == 0 || res.code == ln_exit_code(LN_ENOTFOUND)) &&
		    dcache_key(key, d->ws, argv, cwd))
			dcache_put(&d->cache, key, res.code, obuf, olen, ebuf, elen);
		send_reply(fd, res.code, obuf, olen, ebuf, elen);
	}
	free(obuf);
	free(ebuf);
	free(args);
}

static json_t *status_json(struct daemon *d)
{
	const char *digest = d->ws ? lsp_workspace_content_digest(d->ws) : NULL;

	return xjson_pack("{s:{s:i, s:s, s:s, s:s, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:s*, s:s},"
			 " s:o}",
			 "daemon",
			 "pid", (int)getpid(),
			 "root", d->c->root,
			 "stateDir", d->paths.dir,
			 "version", LANSER_VERSION,
			 "uptimeMs", (json_int_t)(ln_now_ms() - d->started_ms),
			 "rssKiB", (json_int_t)ln_proc_rss_kib(0),
			 "idleTimeoutMs", d->idle_ms,
			 "idleForMs", (json_int_t)(ln_now_ms() - d->last_active_ms),
			 "requests", (json_int_t)d->requests,
			 "cacheHits", (json_int_t)d->hits,
			 "cacheEntries", (json_int_t)d->cache.n,
			 "refusedPeers", (json_int_t)d->refused,
			 "evictedIdle", (json_int_t)d->evicted,
			 "contentDigest", digest,
			 "configDigest", d->cfg_digest,
			 "servers", d->ws ? lsp_workspace_status(d->ws) : json_array());
}

static void send_json(int fd, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	struct buf b = BUF_INIT;

	json_decref(v);
	buf_adds(&b, s ? s : "{}");
	buf_addch(&b, '\n');
	free(s);
	send_reply(fd, 0, b.data, b.len, "", 0);
	buf_release(&b);
}

/* {"op":"ready","timeoutMs":N}: waits until every server is ready (N ms
 * at most; 120000 when absent). A timeoutMs that is not an integer from 0
 * to LN_TIMEOUT_MAX_MS is a malformed request. */
static void do_ready(struct daemon *d, int fd, json_t *req)
{
	json_t *t = json_object_get(req, "timeoutMs");
	int ms = 120000, ready;

	if (t && (!json_is_integer(t) || json_integer_value(t) < 0 ||
		  json_integer_value(t) > LN_TIMEOUT_MAX_MS)) {
		d->malformed++;
		send_error(fd, LN_EDAEMON, "malformed ready request: timeoutMs must be an integer "
			   "from 0 to %d", LN_TIMEOUT_MAX_MS);
		return;
	}
	if (t)
		ms = (int)json_integer_value(t);
	if (!d->ws) {
		send_error(fd, LN_ECONFIG, "the workspace's servers could not be set up "
			   "(see daemon.log)");
		return;
	}
	if (refresh_or_stop(d, fd))
		return;
	ready = lsp_workspace_wait_all_ready(d->ws, ms);
	send_json(fd, xjson_pack("{s:b, s:o}", "ready", ready, "servers",
				 lsp_workspace_status(d->ws)));
}

static void handle_request(struct daemon *d, int fd, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *op = json_string_value(json_object_get(req, "op"));

	if (!json_is_object(req) || !op) {
		d->malformed++;
		send_error(fd, LN_EDAEMON, "malformed request: %s",
			   req ? "expected an object with \"op\"" : jerr.text);
	} else if (!strcmp(op, "run")) {
		d->requests++;
		do_run(d, fd, req);
	} else if (!strcmp(op, "status")) {
		if (d->ws)
			lsp_workspace_pump(d->ws);
		send_json(fd, status_json(d));
	} else if (!strcmp(op, "ready")) {
		do_ready(d, fd, req);
	} else if (!strcmp(op, "stop")) {
		send_reply(fd, 0, "", 0, "", 0);
		d->stopping = true;
		dlog("stop requested");
	} else {
		d->malformed++;
		send_error(fd, LN_EDAEMON, "unknown request op '%.40s'", op);
	}
	json_decref(req);
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
		dlog("%d connections without a request: evicting the oldest (%lu so far)",
		     MAX_CLIENTS, d->evicted);
	send_busy(d->conns[old].fd, "the daemon evicted this idle connection");
	conn_close(d, old);
}

static void accept_all(struct daemon *d)
{
	int budget = MAX_CLIENTS;   /* then back to the loop: servers, deadlines */

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
			dlog("refused a connection from uid %d pid %d", (int)cred.uid, (int)cred.pid);
			send_error(fd, LN_EDAEMON, "refused: this daemon serves uid %d only",
				   (int)geteuid());
			close(fd);
			continue;
		}
		if (d->nconns >= MAX_CLIENTS)
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
					send_error(cn->fd, LN_EDAEMON, "request of %u bytes refused "
						   "(at most %zu)", want, DAEMON_MAX_REQUEST);
					return true;
				}
				if (cn->in.len - 4 >= want) {
					if (cn->in.len - 4 > want) {
						d->malformed++;
						send_error(cn->fd, LN_EDAEMON, "one request per connection");
						return true;
					}
					d->last_active_ms = ln_now_ms();
					handle_request(d, cn->fd, cn->in.data + 4, want);
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
		dlog("workspace root %s is gone", d->c->root);
		return false;
	}
	if (lstat(d->paths.sock.data, &st) < 0 || st.st_ino != d->sock_ino) {
		dlog("socket %s was removed or replaced", d->paths.sock.data);
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
			dlog("log trimmed");
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
			dlog("poll: %s", strerror(errno));
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
			dlog("a language server exited: %s", ln_error_msg());
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
			dlog("idle for %d ms: stopping", d->idle_ms);
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
		dlog("chdir /: %s", strerror(errno));
	dlog("listening on %s for %s (lanser %s)", d.paths.sock.data, c->root, LANSER_VERSION);
	ready_signal('R');
	/* A broken configuration does not end the daemon: requests answer
	 * with its error until it is fixed. */
	if (ws_setup(&d, &c->cfg))
		dlog("workspace setup failed: %s", ln_error_msg());
	d.last_active_ms = ln_now_ms();

	serve_loop(&d);
	if (got_signal)
		dlog("signal %d: stopping", (int)got_signal);
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
		dlog("stopped");
	}
	/* daemon.lock stays held until the process is gone (the kernel
	 * releases it at exit): `daemon stop` waits on it, so when stop
	 * returns the daemon and its servers no longer exist. */
	if (d.lock_fd >= 0 && error)
		close(d.lock_fd);
	dpaths_release(&d.paths);
	return error;
}

