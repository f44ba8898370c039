/*
 * drequest.c - the daemon's requests (daemon.h, "Wire format"): one whole
 * request read by the server loop (daemon.c) is answered here: run (the
 * command line against the warm workspace, through the answer cache of
 * dcache.c), status, ready and stop. See daemon_int.h.
 */
#include "agent/daemon_int.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/proc.h"
#include "sandbox/txn.h"
#include "lsp/workspace.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "core/limits.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLY_WRITE_MS 10000
#define MAX_ARGS 256

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

void daemon_send_error(int fd, int code, const char *fmt, ...)
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
int daemon_ws_setup(struct daemon *d, const struct ln_config *cfg)
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
		daemon_send_error(fd, error, "%s", ln_error_msg());
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
		daemon_send_error(fd, LN_EDAEMON, "malformed run request (argv: array of at most %d "
			   "strings; cwd: absolute path)", MAX_ARGS);
		return NULL;
	}
	args = xcalloc(n + 2, sizeof *args);
	args[0] = "lanser";
	for (i = 0; i < n; i++) {
		args[i + 1] = (char *)json_string_value(json_array_get(argv, i));
		if (!args[i + 1]) {
			d->malformed++;
			daemon_send_error(fd, LN_EDAEMON, "malformed run request: argv[%zu] is not a string", i);
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
			daemon_log("configuration changed: restarting the servers");
		error = daemon_ws_setup(d, &cfg);
	}
	if (!error)
		snprintf(d->cfg_digest, sizeof d->cfg_digest, "%s", cfg.digest);
	ln_config_release(&cfg);
	if (error) {
		daemon_send_error(fd, error, "%s", ln_error_msg());
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
		daemon_log("transaction recovery failed: %s", ln_error_msg());
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

/* Runs the command line against the warm workspace, its output captured
 * into *obuf / *ebuf. A server that dies during the request is reaped and
 * the request runs once more on a fresh one. 0, or the refresh's error
 * (answered on fd) when the workspace could not be brought back. */
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
			daemon_log("a language server died during a request (exit %d)", res->code);
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
		daemon_send_error(fd, LN_EGENERIC, "the daemon cannot enter %s: %s", cwd, strerror(errno));
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
		daemon_send_error(fd, LN_EDAEMON, "malformed ready request: timeoutMs must be an integer "
			   "from 0 to %d", LN_TIMEOUT_MAX_MS);
		return;
	}
	if (t)
		ms = (int)json_integer_value(t);
	if (!d->ws) {
		daemon_send_error(fd, LN_ECONFIG, "the workspace's servers could not be set up "
			   "(see daemon.log)");
		return;
	}
	if (refresh_or_stop(d, fd))
		return;
	ready = lsp_workspace_wait_all_ready(d->ws, ms);
	send_json(fd, xjson_pack("{s:b, s:o}", "ready", ready, "servers",
				 lsp_workspace_status(d->ws)));
}

void daemon_handle_request(struct daemon *d, int fd, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *op = json_string_value(json_object_get(req, "op"));

	if (!json_is_object(req) || !op) {
		d->malformed++;
		daemon_send_error(fd, LN_EDAEMON, "malformed request: %s",
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
		daemon_log("stop requested");
	} else {
		d->malformed++;
		daemon_send_error(fd, LN_EDAEMON, "unknown request op '%.40s'", op);
	}
	json_decref(req);
}
