/*
 * mcp.c - `lanser mcp`: every lanser tool over the Model Context Protocol
 * (docs/mcp.md), on stdio, JSON-RPC 2.0, one message per line.
 *
 * This half is the protocol: framing and its errors, the session
 * (initialize with version negotiation, notifications/initialized, ping,
 * logging/setLevel), cancellation and progress of the running call. Tools
 * and resources are agent/mcp_tools.c, which takes them from agent/tools.h
 * (the command table): there is no second description of a command here.
 *
 * Everything read is untrusted: a line is capped before it is stored
 * (core/jsonl.h), malformed JSON, a batch array, an oversized line or a
 * request before initialize is a JSON-RPC error, and the server keeps
 * serving. Protocol output goes to a private copy of stdout; fd 1 is
 * pointed at stderr so that nothing else (a command, a child) can write
 * into the protocol stream, and fd 0 at /dev/null so that no child reads
 * the client's messages.
 */
#include "agent/cli.h"
#include "agent/mcp_int.h"
#include "core/err.h"
#include "core/jsonl.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LANSER_VERSION
#define LANSER_VERSION "dev"
#endif

/* Newest first: the answer when the client asks for one we do not speak.
 * 2025-11-25 is the current revision, 2025-06-18 the previous one (both
 * have structuredContent and outputSchema); 2025-03-26 clients still get
 * every tool, and ignore what they do not know. */
static const char *const versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", NULL };

static const char *const level_names[] = { "debug", "info", "notice", "warning", "error",
					   "critical", "alert", "emergency", NULL };

#define TICK_MS 1000  /* progress notifications of a running call, at most this often */

/*
 * Cancelling a running call. Commands that run code (test, eval) stop
 * their process trees on SIGINT, as on a Ctrl-C in a terminal: they
 * install their own handler while they run and put ours back after. So a
 * cancellation marks the call and sends SIGINT to the thread running it.
 * Our handler (SA_RESTART: the other commands' system calls go on) takes
 * a signal that this process sent to one of its threads (SI_TKILL from
 * our own pid) as "cancel" and leaves it at that; any other SIGINT (a
 * Ctrl-C, a kill from elsewhere) does what it does to any program.
 *
 * The origin is read from the signal itself, not from a "we sent one"
 * flag: when test's or eval's handler caught our signal, such a flag
 * stayed set and the next real Ctrl-C to the idle server was taken for a
 * cancel and ignored. A call may also start running code after the
 * signal came (test installs its handler only once its settings are
 * loaded): the reader thread sends it again every RESIGNAL_MS until the
 * cancelled call has ended.
 */
#define RESIGNAL_MS 500

static volatile sig_atomic_t *sig_cancel;

static void on_sigint(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	if (info && info->si_code == SI_TKILL && info->si_pid == getpid()) {
		if (sig_cancel)
			*sig_cancel = 1;
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Interrupts the running call (m->lock held). */
static void interrupt(struct mcp *m)
{
	m->call_cancelled = true;
	m->cancel = 1;
	m->last_signal = ln_now_ms();
	pthread_kill(m->main_thread, SIGINT);
}

void mcp_send(struct mcp *m, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (!s)
		ln_die_oom();
	pthread_mutex_lock(&m->out_lock);
	/* compact JSON escapes every newline in strings: one message, one line */
	if (!m->out_broken &&
	    (ln_write_all(m->out_fd, s, strlen(s)) < 0 || ln_write_all(m->out_fd, "\n", 1) < 0))
		m->out_broken = true;
	pthread_mutex_unlock(&m->out_lock);
	free(s);
}

static void send_result(struct mcp *m, const json_t *id, json_t *result)
{
	mcp_send(m, xjson_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

/* An error answer; `id` NULL answers with "id": null (the request's id
 * could not be read). */
static void send_error(struct mcp *m, const json_t *id, int code, json_t *data, const char *fmt,
		       ...) __attribute__((format(printf, 5, 6)));
static void send_error(struct mcp *m, const json_t *id, int code, json_t *data, const char *fmt,
		       ...)
{
	json_t *err;
	va_list ap;
	char msg[600];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err = xjson_pack("{s:i,s:o}", "code", code, "message", xjson_string_lossy(msg));
	if (data)
		json_object_set_new(err, "data", data);
	mcp_send(m, xjson_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(),
			       "error", err));
}

json_t *mcp_fail(struct mcp_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->code = code;
	return NULL;
}

void mcp_log(struct mcp *m, enum mcp_level level, const char *fmt, ...)
{
	bool on;
	va_list ap;
	char msg[1024];

	pthread_mutex_lock(&m->lock);
	on = m->initialized && level >= m->level;
	pthread_mutex_unlock(&m->lock);
	if (!on)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	mcp_send(m, xjson_pack("{s:s,s:s,s:{s:s,s:s,s:o}}", "jsonrpc", "2.0", "method",
			       "notifications/message", "params", "level", level_names[level],
			       "logger", "lanser", "data", xjson_string_lossy(msg)));
}

/* ---- the reader thread ---- */

/* A progress notification for the running call when it asked for them
 * (_meta.progressToken) and the last one is TICK_MS old. The progress is
 * the seconds it has run: it increases with each notification, and no
 * total is known. */
static void tick(struct mcp *m)
{
	json_t *note = NULL;
	long long now = ln_now_ms();

	pthread_mutex_lock(&m->lock);
	if (m->call_id && m->call_cancelled && now - m->last_signal >= RESIGNAL_MS)
		interrupt(m); /* still running: it may not have been listening yet */
	if (m->call_id && m->call_token && !m->call_cancelled && now - m->last_progress >= TICK_MS) {
		long long secs = (now - m->call_start) / 1000;
		char msg[128];

		snprintf(msg, sizeof msg, "%s: running for %lld s", m->call_name, secs);
		m->last_progress = now;
		note = xjson_pack("{s:s,s:s,s:{s:O,s:I,s:s}}", "jsonrpc", "2.0", "method",
				  "notifications/progress", "params", "progressToken", m->call_token,
				  "progress", (json_int_t)secs, "message", msg);
	}
	pthread_mutex_unlock(&m->lock);
	if (note)
		mcp_send(m, note);
}

/* notifications/cancelled: stops the running call (its answer is not
 * sent, as the specification asks) or drops a queued request. An unknown
 * or finished id is ignored. */
static void cancel(struct mcp *m, const json_t *params)
{
	const json_t *rid = json_object_get(params, "requestId");
	struct mcp_msg **p, *q = NULL;

	if (!rid)
		return;
	pthread_mutex_lock(&m->lock);
	if (m->call_id && json_equal(m->call_id, rid)) {
		if (!m->call_cancelled) /* once: a second cancel sends no second signal */
			interrupt(m);
	} else {
		for (p = &m->head; *p; p = &(*p)->next)
			if (json_equal(json_object_get((*p)->msg, "id"), rid)) {
				q = *p;
				*p = q->next;
				if (m->tail == q) {
					m->tail = NULL;
					for (struct mcp_msg *t = m->head; t; t = t->next)
						m->tail = t;
				}
				m->queued--;
				m->queued_bytes -= q->bytes;
				break;
			}
	}
	pthread_mutex_unlock(&m->lock);
	if (q) {
		json_decref(q->msg);
		free(q);
	}
}

static bool valid_id(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id);
}

/* One line from the client: framing errors are answered here; ping and
 * cancellation are handled here (so they work while a call runs); the
 * rest is queued for the main thread. */
static void take_line(struct mcp *m, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg, *id, *method, *params;
	struct mcp_msg *q;
	size_t i = 0;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len)
		return; /* blank lines are not messages */
	msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!msg) {
		send_error(m, NULL, MCP_EPARSE, NULL, "Parse error: %s (column %d)", jerr.text,
			   jerr.column);
		return;
	}
	if (json_is_array(msg)) {
		send_error(m, NULL, MCP_EREQUEST, NULL, "Invalid Request: JSON-RPC batches are not "
			   "supported (MCP 2025-06-18 removed them); send one message per line");
		goto done;
	}
	if (!json_is_object(msg)) {
		send_error(m, NULL, MCP_EREQUEST, NULL, "Invalid Request: a message is a JSON object");
		goto done;
	}
	id = json_object_get(msg, "id");
	method = json_object_get(msg, "method");
	params = json_object_get(msg, "params");
	if (id && !valid_id(id)) {
		send_error(m, NULL, MCP_EREQUEST, NULL, "Invalid Request: \"id\" must be a string "
			   "or an integer");
		goto done;
	}
	if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0")) {
		send_error(m, id, MCP_EREQUEST, NULL, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
		goto done;
	}
	if (!method && id && (json_object_get(msg, "result") || json_object_get(msg, "error")))
		goto done; /* an answer to a request of ours: we send none */
	if (!json_is_string(method)) {
		send_error(m, id, MCP_EREQUEST, NULL, "Invalid Request: \"method\" must be a string");
		goto done;
	}
	if (params && !json_is_object(params)) {
		if (id)
			send_error(m, id, MCP_EPARAMS, NULL, "Invalid params: \"params\" must be an "
				   "object");
		goto done;
	}
	if (!strcmp(json_string_value(method), "notifications/cancelled")) {
		cancel(m, params);
		goto done;
	}
	if (id && !strcmp(json_string_value(method), "ping")) {
		send_result(m, id, json_object());
		goto done;
	}
	pthread_mutex_lock(&m->lock);
	if (m->queued >= MCP_MAX_QUEUED || m->queued_bytes + len > MCP_MAX_QUEUED_BYTES) {
		pthread_mutex_unlock(&m->lock);
		if (id)
			send_error(m, id, MCP_EINTERNAL, NULL, "too many requests are waiting (at "
				   "most %d, %zu MiB); wait for answers before sending more",
				   MCP_MAX_QUEUED, MCP_MAX_QUEUED_BYTES >> 20);
		goto done;
	}
	q = xcalloc(1, sizeof *q);
	q->msg = json_incref(msg);
	q->bytes = len;
	m->queued_bytes += len;
	if (m->tail)
		m->tail->next = q;
	else
		m->head = q;
	m->tail = q;
	m->queued++;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
done:
	json_decref(msg);
}

static void *reader_main(void *arg)
{
	struct mcp *m = arg;
	struct ln_jsonl r;
	const char *line;
	size_t len;
	int k;

	ln_jsonl_init_fd(&r, m->in_fd, MCP_MAX_LINE);
	for (;;) {
		if (r.pos >= r.len && !r.eof) {
			/* nothing buffered: wait for input, and tick meanwhile */
			struct pollfd p = { .fd = m->in_fd, .events = POLLIN };
			int n = poll(&p, 1, TICK_MS / 2);
			if (n == 0 || (n < 0 && errno == EINTR)) {
				tick(m);
				continue;
			}
		}
		k = ln_jsonl_next(&r, &line, &len);
		if (k == 0 || k == LN_EGENERIC)
			break;
		if (k == 1)
			take_line(m, line, len);
		else /* over the cap, or a NUL byte: the line is skipped, not stored */
			send_error(m, NULL, MCP_EREQUEST, NULL, "Invalid Request: %s", ln_error_msg());
		tick(m);
	}
	ln_jsonl_release(&r);
	/* end of input: what the client sent before is still answered (a
	 * script may write its requests and close); then the main loop ends.
	 * A client that wants a running call stopped cancels it, or sends
	 * SIGTERM, which test and eval take as Ctrl-C; servers and boxes we
	 * started die with us (PR_SET_PDEATHSIG). */
	pthread_mutex_lock(&m->lock);
	m->eof = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- the session (main thread) ---- */

static json_t *initialize(struct mcp *m, const json_t *params, struct mcp_err *e)
{
	const char *want = json_string_value(json_object_get(params, "protocolVersion"));
	const char *v = versions[0];
	bool again;
	size_t i;

	if (!want)
		return mcp_fail(e, MCP_EPARAMS, "Invalid params: initialize needs "
				"\"protocolVersion\" (a string)");
	for (i = 0; versions[i]; i++)
		if (!strcmp(want, versions[i]))
			v = versions[i];
	pthread_mutex_lock(&m->lock);
	again = m->initialized;
	m->initialized = true;
	pthread_mutex_unlock(&m->lock);
	if (again)
		return mcp_fail(e, MCP_EREQUEST, "Invalid Request: the session is already "
				"initialized");
	return xjson_pack("{s:s,s:{s:{s:b},s:{s:b,s:b},s:{}},s:{s:s,s:s,s:s},s:s}",
			  "protocolVersion", v,
			  "capabilities", "tools", "listChanged", 0, "resources", "subscribe", 0,
			  "listChanged", 0, "logging",
			  "serverInfo", "name", "lanser", "title", "lanser: code facts from language "
			  "servers", "version", LANSER_VERSION,
			  "instructions",
			  "Positions are selectors (lanser's docs/selectors.md), files relative to the "
			  "workspace root, lines and columns 1-based: src/a.c@L12:C5 (a position), "
			  "src/a.c@R(12,1->14,1) (a range), c://src/a.c#func, c://#func (in any file), "
			  "py://pkg.mod#Class.method, ts://src/a.ts#Class.method (a symbol; add :body, "
			  ":sig, :doc or :name for that part of it). Every answer is an Analysis "
			  "Bundle (structuredContent): facts, whether the server said it was complete, "
			  "and a bundleId. Tools that change files (rename, actions, patch, edit) "
			  "preview a diff unless called with \"apply\": true.");
}

static json_t *set_level(struct mcp *m, const json_t *params, struct mcp_err *e)
{
	const char *want = json_string_value(json_object_get(params, "level"));
	int i;

	for (i = 0; want && level_names[i]; i++)
		if (!strcmp(want, level_names[i])) {
			pthread_mutex_lock(&m->lock);
			m->level = (enum mcp_level)i;
			pthread_mutex_unlock(&m->lock);
			return json_object();
		}
	return mcp_fail(e, MCP_EPARAMS, "Invalid params: \"level\" must be one of debug, info, "
			"notice, warning, error, critical, alert, emergency");
}

static json_t *ping(struct mcp *m, const json_t *params, struct mcp_err *e)
{
	(void)m;
	(void)params;
	(void)e;
	return json_object();
}

struct method {
	const char *name;
	json_t *(*fn)(struct mcp *m, const json_t *params, struct mcp_err *e);
};

static const struct method methods[] = {
	{ "ping", ping },
	{ "logging/setLevel", set_level },
	{ "tools/list", mcp_tools_list },
	{ "resources/list", mcp_resources_list },
	{ "resources/read", mcp_resources_read },
	{ "resources/templates/list", mcp_resource_templates },
	{ NULL, NULL },
};

static void dispatch(struct mcp *m, json_t *msg)
{
	const json_t *id = json_object_get(msg, "id");
	const char *method = json_string_value(json_object_get(msg, "method"));
	const json_t *params = json_object_get(msg, "params");
	struct mcp_err e = { 0 };
	json_t *result = NULL;
	const struct method *mt;
	bool ready;

	pthread_mutex_lock(&m->lock);
	ready = m->initialized;
	pthread_mutex_unlock(&m->lock);
	if (!id) {
		/* notifications: initialized needs nothing more from us; unknown
		 * ones are ignored, as JSON-RPC asks */
		return;
	}
	if (!params)
		params = json_object(); /* "params" may be left out: an empty object */
	else
		json_incref((json_t *)params);
	if (!strcmp(method, "initialize")) {
		result = initialize(m, params, &e);
	} else if (!ready) {
		mcp_fail(&e, MCP_EREQUEST, "Invalid Request: the session is not initialized "
			 "(send initialize first)");
	} else if (!strcmp(method, "tools/call")) {
		result = mcp_tools_call(m, id, params, &e);
	} else {
		for (mt = methods; mt->name; mt++)
			if (!strcmp(method, mt->name))
				break;
		if (mt->name)
			result = mt->fn(m, params, &e);
		else
			mcp_fail(&e, MCP_EMETHOD, "Method not found: %s", method);
	}
	json_decref((json_t *)params);
	if (result)
		send_result(m, id, result);
	else if (e.code)
		send_error(m, id, e.code, e.data, "%s", e.msg);
	else
		json_decref(e.data); /* cancelled: no answer */
}

/* The next queued message, or NULL at the end of input. */
static json_t *next_message(struct mcp *m)
{
	struct mcp_msg *q;
	json_t *msg = NULL;

	pthread_mutex_lock(&m->lock);
	while (!m->head && !m->eof)
		pthread_cond_wait(&m->cond, &m->lock);
	if (m->head) {
		q = m->head;
		m->head = q->next;
		if (!m->head)
			m->tail = NULL;
		m->queued--;
		m->queued_bytes -= q->bytes;
		msg = q->msg;
		free(q);
	}
	pthread_mutex_unlock(&m->lock);
	return msg;
}

/* Keeps the protocol streams for ourselves (see the top of the file). */
static int take_stdio(struct mcp *m)
{
	int devnull;

	fflush(stdout);
	m->out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	m->in_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (m->out_fd < 0 || m->in_fd < 0 || devnull < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0 ||
	    dup2(devnull, STDIN_FILENO) < 0) {
		int e = errno;
		if (devnull >= 0)
			close(devnull);
		return ln_error_set(LN_EGENERIC, "mcp: cannot set up stdio: %s", strerror(e));
	}
	close(devnull);
	return 0;
}

int cmd_mcp(struct cli *c)
{
	struct mcp m;
	pthread_t reader;
	struct sigaction sa, old_int;
	const json_t *ro = json_object_get(c->cfg.json, "readOnly");
	json_t *msg;
	int error;

	if (c->argc) {
		fprintf(c->err, "usage: lanser mcp [--read-only] [--root DIR]\n");
		return ln_error_set(LN_EUSAGE, "mcp takes no arguments");
	}
	if (ro && !json_is_boolean(ro))
		return ln_error_set(LN_ECONFIG, "%s: \"readOnly\" must be true or false",
				    c->cfg.source ? c->cfg.source : ".lanser.json");
	/* an MCP client starts us anywhere; a tool call names files relative
	 * to the workspace (agent/tools.h), and commands open them from the
	 * current directory */
	memset(&m, 0, sizeof m);
	if (c->trace_path)
		m.trace_path = c->trace_path[0] == '/' || !c->cwd ? xstrdup(c->trace_path) :
			       xasprintf("%s/%s", c->cwd, c->trace_path);
	if (chdir(c->root) < 0) {
		free(m.trace_path);
		return ln_error_set(LN_EPERM, "mcp: cannot enter %s: %s", c->root, strerror(errno));
	}
	m.c = c;
	m.read_only = c->read_only || json_is_true(ro);
	m.level = MCP_INFO;
	m.out_fd = m.in_fd = -1;
	pthread_mutex_init(&m.out_lock, NULL);
	pthread_mutex_init(&m.lock, NULL);
	pthread_cond_init(&m.cond, NULL);
	signal(SIGPIPE, SIG_IGN); /* a client gone is a write error, not a death */
	m.main_thread = pthread_self();
	sig_cancel = &m.cancel;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigint;
	sa.sa_flags = SA_RESTART | SA_SIGINFO;
	sigaction(SIGINT, &sa, &old_int);
	if ((error = take_stdio(&m)))
		goto done;
	if (pthread_create(&reader, NULL, reader_main, &m)) {
		error = ln_error_set(LN_EGENERIC, "mcp: cannot start the reader thread");
		goto done;
	}
	while ((msg = next_message(&m))) {
		dispatch(&m, msg);
		json_decref(msg);
	}
	pthread_join(reader, NULL);
	while (m.head) {
		struct mcp_msg *q = m.head;
		m.head = q->next;
		json_decref(q->msg);
		free(q);
	}
done:
	sigaction(SIGINT, &old_int, NULL);
	sig_cancel = NULL;
	mcp_tools_release(&m); /* stops in-process servers; the daemon stays, as for the CLI */
	if (m.out_fd >= 0)
		close(m.out_fd);
	if (m.in_fd >= 0)
		close(m.in_fd);
	pthread_cond_destroy(&m.cond);
	pthread_mutex_destroy(&m.lock);
	pthread_mutex_destroy(&m.out_lock);
	free(m.trace_path);
	return error;
}
