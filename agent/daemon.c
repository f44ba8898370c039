/*
 * daemon.c - the warm per-workspace daemon (see daemon.h); its client and
 * the wire format are in client.c.
 */
#include "agent/daemon.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/proc.h"
#include "core/state.h"
#include "sandbox/txn.h"
#include "lsp/workspace.h"
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

#define CLIENT_READ_MS 2000         /* a connected peer must send its request in this time */
#define REPLY_WRITE_MS 10000
#define STOP_TIMEOUT_MS 15000
#define MAX_CLIENTS 64
#define MAX_ARGS 256
#define MAX_LOG_BYTES (1 << 20)
#define CACHE_MAX_ENTRIES 256
#define CACHE_MAX_BYTES ((size_t)32 << 20)
#define MAX_POLL_FDS (2 + MAX_CLIENTS + 64)

/* ---- server ---- */

struct conn {
	int fd;
	struct buf in;
	long long since;
};

struct cache_entry {
	char key[LN_SHA256_HEX_SIZE];
	struct buf out, err;
	int code;
	long long used;
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
	struct cache_entry *cache;
	size_t ncache, cache_bytes;
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

static void cache_clear(struct daemon *d)
{
	size_t i;
	for (i = 0; i < d->ncache; i++) {
		buf_release(&d->cache[i].out);
		buf_release(&d->cache[i].err);
	}
	free(d->cache);
	d->cache = NULL;
	d->ncache = 0;
	d->cache_bytes = 0;
}

static struct cache_entry *cache_find(struct daemon *d, const char *key)
{
	size_t i;
	for (i = 0; i < d->ncache; i++)
		if (!strcmp(d->cache[i].key, key))
			return &d->cache[i];
	return NULL;
}

static void cache_put(struct daemon *d, const char *key, int code, const char *out, size_t olen,
		      const char *err, size_t elen)
{
	struct cache_entry *e;

	if (olen + elen > CACHE_MAX_BYTES / 4)
		return;
	e = cache_find(d, key);
	if (e) { /* a --no-cache call refreshes its entry */
		d->cache_bytes -= e->out.len + e->err.len;
		buf_reset(&e->out);
		buf_reset(&e->err);
		buf_add(&e->out, out, olen);
		buf_add(&e->err, err, elen);
		e->code = code;
		e->used = ln_now_ms();
		d->cache_bytes += olen + elen;
		return;
	}
	/* evict the least recently used until it fits */
	while (d->ncache && (d->ncache >= CACHE_MAX_ENTRIES ||
			     d->cache_bytes + olen + elen > CACHE_MAX_BYTES)) {
		size_t i, lru = 0;
		for (i = 1; i < d->ncache; i++)
			if (d->cache[i].used < d->cache[lru].used)
				lru = i;
		d->cache_bytes -= d->cache[lru].out.len + d->cache[lru].err.len;
		buf_release(&d->cache[lru].out);
		buf_release(&d->cache[lru].err);
		d->cache[lru] = d->cache[--d->ncache];
	}
	d->cache = xrealloc(d->cache, (d->ncache + 1) * sizeof *d->cache);
	e = &d->cache[d->ncache++];
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	buf_init(&e->out);
	buf_init(&e->err);
	buf_add(&e->out, out, olen);
	buf_add(&e->err, err, elen);
	e->code = code;
	e->used = ln_now_ms();
	d->cache_bytes += olen + elen;
}

/* The cache key of a run request: the command line as the client gave it
 * (minus --no-cache), where it was given from, and everything the answer
 * depends on: the workspace's content (which includes .lanser.json) and
 * the running servers (generation: any start or restart empties the
 * cache's relevance). False when the answer must not be cached. */
static bool cache_key(struct daemon *d, char key[LN_SHA256_HEX_SIZE], json_t *argv,
		      const char *cwd)
{
	const char *digest = lsp_workspace_content_digest(d->ws);
	json_t *k, *v;
	char *s;
	size_t i;

	if (!digest || lsp_workspace_has_overlays(d->ws))
		return false;
	k = json_array();
	json_array_foreach(argv, i, v)
		if (strcmp(json_string_value(v), "--no-cache"))
			json_array_append(k, v);
	k = json_pack("{s:o, s:s, s:s, s:I}", "argv", k, "cwd", cwd, "content", digest,
		      "generation", (json_int_t)lsp_workspace_generation(d->ws));
	s = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(k);
	if (!s)
		return false;
	ln_sha256_hex(s, strlen(s), key);
	free(s);
	return true;
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

/* Sets meta.volatile of a cached JSON answer to this request's values. */
static void restamp(struct buf *out, long long started)
{
	json_error_t jerr;
	json_t *b = json_loadb(out->data, out->len, 0, &jerr);
	json_t *vol = json_object_get(json_object_get(b, "meta"), "volatile");
	char *s;

	if (!json_is_object(vol)) {
		json_decref(b);
		return;
	}
	json_object_set_new(vol, "cacheHit", json_true());
	json_object_set_new(vol, "elapsedMs", json_integer(ln_now_ms() - started));
	s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(b);
	if (!s)
		return;
	buf_reset(out);
	buf_adds(out, s);
	buf_addch(out, '\n');
	free(s);
}

/* (Re)creates the warm workspace for the configuration in `cfg`. */
static int ws_setup(struct daemon *d, const struct ln_config *cfg)
{
	struct lsp_workspace_opts wo = { 0 };
	int error;

	lsp_workspace_free(d->ws);
	d->ws = NULL;
	cache_clear(d);
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

/* A run request: the same command line as in-process, against the warm
 * workspace, with its output captured. */
static void do_run(struct daemon *d, int fd, json_t *req)
{
	json_t *argv = json_object_get(req, "argv");
	const char *cwd = json_string_value(json_object_get(req, "cwd"));
	char **args = NULL, key[LN_SHA256_HEX_SIZE];
	struct exec_result res;
	struct ln_config cfg;
	long long started = ln_now_ms();
	bool keyed = false, traced, unrecovered;
	size_t i, n;
	int attempt, error;
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;

	memset(&cfg, 0, sizeof cfg);
	n = json_array_size(argv);
	if (!json_is_array(argv) || n > MAX_ARGS || !cwd || cwd[0] != '/') {
		d->malformed++;
		send_error(fd, LN_EDAEMON, "malformed run request (argv: array of at most %d "
			   "strings; cwd: absolute path)", MAX_ARGS);
		return;
	}
	args = xcalloc(n + 2, sizeof *args);
	args[0] = "lanser";
	for (i = 0; i < n; i++) {
		args[i + 1] = (char *)json_string_value(json_array_get(argv, i));
		if (!args[i + 1]) {
			d->malformed++;
			send_error(fd, LN_EDAEMON, "malformed run request: argv[%zu] is not a string", i);
			free(args);
			return;
		}
	}
	if (chdir(cwd) < 0) {
		send_error(fd, LN_EGENERIC, "the daemon cannot enter %s: %s", cwd, strerror(errno));
		free(args);
		return;
	}
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
		free(args);
		return;
	}
	/* an interrupted edit (docs/edits.md); when it cannot be undone the
	 * command still answers, with a warning (as in-process), and the
	 * answer is neither taken from nor put in the cache */
	unrecovered = sbx_txn_recover(d->c->root) < 0;
	if (unrecovered)
		dlog("transaction recovery failed: %s", ln_error_msg());
	error = lsp_workspace_refresh(d->ws);
	if (error) {
		/* the root is gone: answer, then end */
		send_error(fd, error, "%s", ln_error_msg());
		d->stopping = true;
		free(args);
		return;
	}
	/* --trace records the frames of this very request: never answered
	 * from the cache (a hit has no frames), never stored in it. */
	traced = false;
	for (i = 0; i < n; i++)
		traced |= !strcmp(args[i + 1], "--trace") || !strncmp(args[i + 1], "--trace=", 8);
	keyed = !error && !traced && !unrecovered && cache_key(d, key, argv, cwd);
	if (keyed) {
		bool no_cache = false;
		for (i = 0; i < n; i++)
			no_cache |= !strcmp(args[i + 1], "--no-cache");
		struct cache_entry *e = no_cache ? NULL : cache_find(d, key);
		if (e) {
			struct buf out = BUF_INIT;
			buf_add(&out, e->out.data, e->out.len);
			if (out.len && out.data[0] == '{')
				restamp(&out, started);
			e->used = ln_now_ms();
			d->hits++;
			send_reply(fd, e->code, out.data, out.len, e->err.data, e->err.len);
			buf_release(&out);
			free(args);
			return;
		}
	}
	for (attempt = 0; attempt < 2; attempt++) {
		unsigned long crashes = lsp_workspace_crashes(d->ws);
		FILE *out = open_memstream(&obuf, &olen), *err = open_memstream(&ebuf, &elen);
		if (!out || !err)
			ln_die_oom();
		d->c->exec((int)n + 1, args, cwd, out, err, d->ws, true, &res);
		fclose(out);
		fclose(err);
		lsp_workspace_drop_overlays(d->ws);
		/* A server that died during the request is reaped now; retry
		 * once on a fresh server (the first restart has no backoff). */
		if (lsp_workspace_reap(d->ws) > 0 || lsp_workspace_crashes(d->ws) != crashes) {
			dlog("a language server died during a request (exit %d)", res.code);
			if (res.code == ln_exit_code(LN_ECRASH) && attempt == 0) {
				free(obuf);
				free(ebuf);
				obuf = ebuf = NULL;
				lsp_workspace_refresh(d->ws);
				continue;
			}
		}
		break;
	}
	/* The generation changes when a server started during the request:
	 * the key must describe the servers that answered. */
	if (keyed && res.cacheable && res.complete &&
	    (res.code == 0 || res.code == ln_exit_code(LN_ENOTFOUND)) &&
	    cache_key(d, key, argv, cwd))
		cache_put(d, key, res.code, obuf, olen, ebuf, elen);
	send_reply(fd, res.code, obuf, olen, ebuf, elen);
	free(obuf);
	free(ebuf);
	free(args);
}

static json_t *status_json(struct daemon *d)
{
	const char *digest = d->ws ? lsp_workspace_content_digest(d->ws) : NULL;

	return json_pack("{s:{s:i, s:s, s:s, s:s, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:s*, s:s},"
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
			 "cacheEntries", (json_int_t)d->ncache,
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
		json_t *t = json_object_get(req, "timeoutMs");
		int ms = json_is_integer(t) && json_integer_value(t) >= 0 &&
			 json_integer_value(t) <= LN_TIMEOUT_MAX_MS ? (int)json_integer_value(t) : 120000;
		int ready;
		if (!d->ws) {
			send_error(fd, LN_ECONFIG, "the workspace's servers could not be set up "
				   "(see daemon.log)");
		} else {
			lsp_workspace_refresh(d->ws);
			ready = lsp_workspace_wait_all_ready(d->ws, ms);
			send_json(fd, json_pack("{s:b, s:o}", "ready", ready,
						"servers", lsp_workspace_status(d->ws)));
		}
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

static int daemon_run(struct cli *c)
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

	while (!d.stopping && !got_signal) {
		struct pollfd pfd[MAX_POLL_FDS];
		int sfd[64];
		size_t np = 0, i, ns;
		long long now = ln_now_ms(), wait;

		pfd[np++] = (struct pollfd){ .fd = d.listen_fd, .events = POLLIN };
		for (i = 0; i < d.nconns; i++)
			pfd[np++] = (struct pollfd){ .fd = d.conns[i].fd, .events = POLLIN };
		ns = d.ws ? lsp_workspace_poll_fds(d.ws, sfd, 64) : 0;
		for (i = 0; i < ns; i++)
			pfd[np++] = (struct pollfd){ .fd = sfd[i], .events = POLLIN };
		wait = d.last_active_ms + d.idle_ms - now;
		if (wait > 1000)
			wait = 1000;
		if (wait < 0)
			wait = 0;
		if (poll(pfd, (nfds_t)np, (int)wait) < 0 && errno != EINTR) {
			dlog("poll: %s", strerror(errno));
			break;
		}
		/* servers first: their notifications must not pile up */
		for (i = 1 + d.nconns; i < np; i++)
			if (pfd[i].revents) {
				if (d.ws)
					lsp_workspace_pump(d.ws);
				break;
			}
		if (d.ws && lsp_workspace_reap(d.ws) > 0)
			dlog("a language server exited: %s", ln_error_msg());
		for (i = d.nconns; i-- > 0;) {
			struct conn *cn = &d.conns[i];
			bool done = false;
			if (1 + i < np && pfd[1 + i].fd == cn->fd && pfd[1 + i].revents)
				done = conn_read(&d, cn);
			else if (ln_now_ms() - cn->since > CLIENT_READ_MS)
				done = true; /* never sent a whole request */
			if (done)
				conn_close(&d, i);
		}
		if (pfd[0].revents & POLLIN)
			accept_all(&d);
		now = ln_now_ms();
		if (now - d.last_check_ms >= 1000) {
			d.last_check_ms = now;
			if (!still_valid(&d))
				break;
		}
		if (now - d.last_active_ms >= d.idle_ms && d.nconns == 0) {
			dlog("idle for %d ms: stopping", d.idle_ms);
			break;
		}
	}
	if (got_signal)
		dlog("signal %d: stopping", (int)got_signal);
	error = 0;
done:
	while (d.nconns)
		conn_close(&d, d.nconns - 1);
	lsp_workspace_free(d.ws);
	json_decref(d.servers_cfg);
	cache_clear(&d);
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
		json_t *req = json_pack("{s:s}", "op", "stop");
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
	const char *sub = c->argc ? c->argv[0] : "";
	struct daemon_reply r;
	int error;

	if (c->argc != 1) {
		fprintf(c->err, "usage: lanser daemon start [--wait-ready]\n"
				"       lanser daemon status [--json]\n"
				"       lanser daemon stop [--all]   (--all: every daemon of this user\n"
				"                                     that runs this lanser program)\n"
				"       lanser daemon run        (foreground; what start runs)\n");
		return ln_error_set(LN_EUSAGE, "daemon takes one of start, status, stop, run");
	}
	if (!strcmp(sub, "run"))
		return daemon_run(c);
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
			error = daemon_request(c, json_pack("{s:s, s:i}", "op", "ready", "timeoutMs", c->index_ms),
				     &r, true, ln_now_ms() + c->index_ms + c->cfg.init_ms + 30000);
		else
			error = daemon_request(c, json_pack("{s:s}", "op", "status"), &r, start,
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
	fprintf(c->err, "usage: lanser daemon start|status|stop|run\n");
	return ln_error_set(LN_EUSAGE, "unknown daemon command '%s'", sub);
}
