/*
 * fakels - a deliberately misbehaving language server for lanser's fault tests.
 *
 * It speaks LSP's base protocol (Content-Length framed JSON-RPC) on stdin and
 * stdout, and misbehaves in the way `--mode MODE` (or $FAKELS_MODE) asks:
 *
 *   ok                a minimal well-behaved server (the reference behaviour)
 *   crash-on-request  like ok until the first request other than initialize,
 *                     then _exit(3) without answering it
 *   segv-on-request   the same, but dies of SIGSEGV
 *   hang              answers initialize, then ignores everything (including
 *                     shutdown, exit and the end of stdin): it must be killed
 *   no-init           never answers anything and never exits by itself
 *   garbage           answers initialize; on the first request writes a frame
 *                     whose body is not JSON, followed by junk bytes
 *   bad-header        answers initialize; on the first request writes
 *                     "Content-Length: abc"
 *   oversized         answers initialize; on the first request announces a
 *                     2 GB body and streams 64 MiB of 'x', then goes quiet
 *   slow              like ok, but waits $FAKELS_DELAY_MS (default 3000)
 *                     before each answer other than initialize/shutdown; a
 *                     $/cancelRequest that arrives meanwhile is answered with
 *                     RequestCancelled (-32800), as a real server would
 *   server-requests   like ok, but after `initialized` asks the client
 *                     workspace/configuration, client/registerCapability and
 *                     window/workDoneProgress/create (as pyright does) and
 *                     holds every textDocument request until all three are
 *                     answered; then reports $/progress begin/end for "tok1"
 *   exit-after-init   answers initialize, exits 0 on `initialized`
 *   slow-index        like ok, but on `initialized` reports $/progress
 *                     "fake indexing" (token "fakeindex"): begin at 0%,
 *                     reports 25, 50 and 75 every $FAKELS_DELAY_MS
 *                     (default 400) ms, then end; nothing is read meanwhile
 *   two-phase-diags   like pyright under load: publishes a version's
 *                     diagnostics twice, first a partial (empty) set, then
 *                     the final one (two errors) when the next message
 *                     arrives. A client that declared pull diagnostics
 *                     (textDocument.diagnostic.dynamicRegistration) gets
 *                     the provider registered after `initialized` (as
 *                     "pull-a", then "pull-b" with "pull-a" dropped, as
 *                     pyright does), nothing published, and the final set
 *                     from textDocument/diagnostic
 *
 * Other options:
 *   --log FILE        append one line per received message: the method name,
 *                     or "response METHOD [error]" for an answer to one of our
 *                     own requests (also $FAKELS_LOG)
 *   --ignore-term     ignore SIGTERM, so that a client has to escalate to
 *                     SIGKILL (pairs well with hang / no-init)
 *   --version         print "fakels 1.0"
 *
 * Exit status: 0 on `exit` or end of input, 2 on a frame the fake refuses
 * (bad header, body over 64 MiB, truncated body), 3 in crash-on-request,
 * 64 on a bad command line.
 *
 * This is test scaffolding, not product code: it uses a plain blocking read
 * loop and exits wherever that is the simplest correct thing to do.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define FAKELS_VERSION "1.0"
#define MAX_FRAME (64u * 1024 * 1024) /* larger bodies are refused (exit 2) */
#define MAX_HEADER_LINE 1024
#define MAX_HEADERS 32

enum mode {
	MODE_OK,
	MODE_CRASH,
	MODE_SEGV,
	MODE_HANG,
	MODE_NO_INIT,
	MODE_GARBAGE,
	MODE_BAD_HEADER,
	MODE_OVERSIZED,
	MODE_SLOW,
	MODE_SERVER_REQUESTS,
	MODE_EXIT_AFTER_INIT,
	MODE_TWO_PHASE,
	MODE_SLOW_INDEX,
};

static const struct {
	const char *name;
	enum mode mode;
} modes[] = {
	{"ok", MODE_OK},
	{"crash-on-request", MODE_CRASH},
	{"segv-on-request", MODE_SEGV},
	{"hang", MODE_HANG},
	{"no-init", MODE_NO_INIT},
	{"garbage", MODE_GARBAGE},
	{"bad-header", MODE_BAD_HEADER},
	{"oversized", MODE_OVERSIZED},
	{"slow", MODE_SLOW},
	{"server-requests", MODE_SERVER_REQUESTS},
	{"exit-after-init", MODE_EXIT_AFTER_INIT},
	{"two-phase-diags", MODE_TWO_PHASE},
	{"slow-index", MODE_SLOW_INDEX},
};

/* JSON-RPC / LSP error codes we answer with. */
#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_INVALID_PARAMS -32602
#define RPC_METHOD_NOT_FOUND -32601
#define LSP_REQUEST_CANCELLED -32800

/* Everything the server remembers between messages. */
static struct {
	enum mode mode;
	FILE *log;
	long delay_ms;
	int initialized;  /* `initialize` was answered */
	int tripped;      /* garbage/bad-header/oversized: the fault was emitted */
	json_t *pending;  /* messages read ahead while waiting (slow mode) */
	json_t *deferred; /* textDocument requests held back (server-requests) */
	/* server-requests: our own requests to the client and their fate */
	struct {
		json_int_t id;
		const char *method;
		int answered;
		int failed;
	} asks[3];
	int asks_sent;
	int client_pull;  /* two-phase-diags: the client declared pull diagnostics */
	json_t *final;    /* two-phase-diags: the publication still owed */
} S;

/* ---- output --------------------------------------------------------------- */

static void write_all(const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			_exit(0); /* EPIPE: the client is gone; leave quietly */
		p += n;
		len -= (size_t)n;
	}
}

/* Frames one message. Content-Length counts bytes of the UTF-8 encoding:
 * jansson emits non-ASCII text raw (no JSON_ENSURE_ASCII), so strlen() of
 * the dump is exactly the number of bytes that follow the header. */
static void send_msg_new(json_t *msg)
{
	char *body = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!body) {
		fprintf(stderr, "fakels: out of memory\n");
		_exit(1);
	}
	size_t len = strlen(body);
	char head[64];
	int hl = snprintf(head, sizeof(head), "Content-Length: %zu\r\n\r\n", len);
	write_all(head, (size_t)hl);
	write_all(body, len);
	free(body);
}

static void send_result_new(json_t *id, json_t *result)
{
	send_msg_new(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
			       "result", result));
}

static void send_error(json_t *id, int code, const char *message)
{
	send_msg_new(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
			       id ? id : json_null(), "error", "code", code,
			       "message", message));
}

static void send_notification_new(const char *method, json_t *params)
{
	send_msg_new(json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method",
			       method, "params", params));
}

static void logf_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_line(const char *fmt, ...)
{
	if (!S.log)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(S.log, fmt, ap);
	va_end(ap);
	fputc('\n', S.log);
	fflush(S.log); /* tests read the log while we are still running */
}

/* ---- input ---------------------------------------------------------------- */

/* A small buffered reader on fd 0. We do not use stdio for it because slow
 * mode must know whether a whole message may already sit in our buffer
 * before it poll()s the descriptor. */
static struct {
	char buf[64 * 1024];
	size_t pos, len;
	int eof;
} in;

static int in_fill(void)
{
	if (in.pos < in.len)
		return 1;
	if (in.eof)
		return 0;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, in.buf, sizeof(in.buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			in.eof = 1;
			return 0;
		}
		in.pos = 0;
		in.len = (size_t)n;
		return 1;
	}
}

static int in_getc(void)
{
	return in_fill() ? (unsigned char)in.buf[in.pos++] : -1;
}

/* End of input. Modes that "never exit by themselves" wait to be killed,
 * so that a client cannot get away with merely closing the pipe. */
static void on_eof(int status)
{
	if (S.mode == MODE_HANG || S.mode == MODE_NO_INIT)
		for (;;)
			pause();
	exit(status);
}

static void refuse(const char *why)
{
	fprintf(stderr, "fakels: %s\n", why);
	on_eof(2);
}

/* Reads one header line without its CRLF into line[MAX_HEADER_LINE].
 * Returns its length, or -1 at end of input before any byte of it. */
static int read_header_line(char *line)
{
	size_t n = 0;
	for (;;) {
		int c = in_getc();
		if (c < 0) {
			if (n == 0)
				return -1;
			refuse("end of input inside a header");
		}
		if (c == '\n') {
			if (n == 0 || line[n - 1] != '\r')
				refuse("header line not terminated by CRLF");
			line[--n] = '\0';
			return (int)n;
		}
		if (n + 1 >= MAX_HEADER_LINE)
			refuse("header line too long");
		line[n++] = (char)c;
	}
}

/* Parses the value of a Content-Length header: digits, optional blanks. */
static long long parse_length(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	if (!isdigit((unsigned char)*v))
		return -1;
	long long n = 0;
	while (isdigit((unsigned char)*v)) {
		n = n * 10 + (*v++ - '0');
		if (n > (long long)MAX_FRAME + 1)
			n = (long long)MAX_FRAME + 1; /* saturate; refused below */
	}
	while (*v == ' ' || *v == '\t')
		v++;
	return *v ? -1 : n;
}

/* Reads one framed message. Returns the parsed JSON, json_null() for a body
 * that is not JSON (the caller answers ParseError), or NULL at end of input. */
static json_t *read_msg(void)
{
	char line[MAX_HEADER_LINE];
	long long length = -1;
	int headers = 0, n;

	while ((n = read_header_line(line)) != 0) {
		if (n < 0) {
			if (headers == 0)
				return NULL;
			refuse("end of input inside a header");
		}
		if (++headers > MAX_HEADERS)
			refuse("too many header lines");
		if (strncasecmp(line, "Content-Length:", 15) == 0) {
			length = parse_length(line + 15);
			if (length < 0)
				refuse("malformed Content-Length");
		}
	}
	if (length < 0)
		refuse("frame without Content-Length");
	if (length > MAX_FRAME)
		refuse("frame larger than 64 MiB");

	char *body = malloc((size_t)length + 1);
	if (!body)
		refuse("out of memory");
	for (long long got = 0; got < length;) {
		if (!in_fill()) {
			free(body);
			refuse("end of input inside a body");
		}
		size_t take = in.len - in.pos;
		if ((long long)take > length - got)
			take = (size_t)(length - got);
		memcpy(body + got, in.buf + in.pos, take);
		in.pos += take;
		got += (long long)take;
	}

	json_error_t err;
	json_t *msg = json_loadb(body, (size_t)length, 0, &err);
	free(body);
	if (!msg || !json_is_object(msg)) {
		json_decref(msg);
		return json_null();
	}
	return msg;
}

/* ---- answers of the well-behaved server ------------------------------------ */

static json_t *initialize_result(void)
{
	return json_pack("{s:{s:b, s:b, s:b, s:b, s:b, s:i}, s:{s:s, s:s}}",
			 "capabilities", "definitionProvider", 1,
			 "referencesProvider", 1, "hoverProvider", 1,
			 "documentSymbolProvider", 1, "workspaceSymbolProvider", 1,
			 "textDocumentSync", 1, "serverInfo", "name", "fakels",
			 "version", FAKELS_VERSION);
}

static const char *doc_uri(json_t *params)
{
	return json_string_value(
		json_object_get(json_object_get(params, "textDocument"), "uri"));
}

/* One diagnostic with non-ASCII text, so that a client which counts
 * characters instead of bytes in Content-Length loses the next message. */
static void publish_diagnostics(json_t *params)
{
	json_t *doc = json_object_get(params, "textDocument");
	const char *uri = doc_uri(params);
	json_t *version = json_object_get(doc, "version");
	if (!uri)
		return;
	send_notification_new(
		"textDocument/publishDiagnostics",
		json_pack("{s:s, s:O, s:[{s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:i, s:s, s:s}]}",
			  "uri", uri, "version", version ? version : json_null(),
			  "diagnostics", "range", "start", "line", 0, "character", 0,
			  "end", "line", 0, "character", 1, "severity", 1, "source",
			  "fakels", "message", "fake error \u2014 non-ASCII \u2713"));
}

/* ---- two-phase-diags mode ------------------------------------------------- */

static json_t *two_errors(void)
{
	return json_pack("[{s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:i, s:s, s:s},"
			 " {s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:i, s:s, s:s}]",
			 "range", "start", "line", 0, "character", 0, "end", "line", 0,
			 "character", 1, "severity", 1, "source", "fakels", "message",
			 "checker error 1",
			 "range", "start", "line", 0, "character", 0, "end", "line", 0,
			 "character", 1, "severity", 1, "source", "fakels", "message",
			 "checker error 2");
}

static void two_phase_register(void)
{
	static const char *const ids[2] = { "pull-a", "pull-b" };
	int i;

	for (i = 0; i < 2; i++)
		send_msg_new(json_pack("{s:s, s:i, s:s, s:{s:[{s:s, s:s, s:{s:b}}]}}",
			"jsonrpc", "2.0", "id", 100 + i, "method", "client/registerCapability",
			"params", "registrations", "id", ids[i], "method", "textDocument/diagnostic",
			"registerOptions", "interFileDependencies", 1));
	send_msg_new(json_pack("{s:s, s:i, s:s, s:{s:[{s:s, s:s}]}}", "jsonrpc", "2.0",
		"id", 102, "method", "client/unregisterCapability", "params",
		"unregisterations", "id", "pull-a", "method", "textDocument/diagnostic"));
}

static void two_phase_publish(json_t *params)
{
	const char *uri = doc_uri(params);
	json_t *version = json_object_get(json_object_get(params, "textDocument"), "version");

	if (!uri || S.client_pull)
		return;
	send_notification_new("textDocument/publishDiagnostics",
		json_pack("{s:s, s:O, s:[]}", "uri", uri, "version", version ? version : json_null(),
			  "diagnostics"));
	json_decref(S.final);
	S.final = json_pack("{s:s, s:O, s:o}", "uri", uri, "version",
			    version ? version : json_null(), "diagnostics", two_errors());
}

/* ---- slow-index mode --------------------------------------------------- */

static void slow_index(void)
{
	long ms = getenv("FAKELS_DELAY_MS") ? S.delay_ms : 400;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int pct;

	send_notification_new("$/progress", json_pack("{s:s, s:{s:s, s:s, s:i}}", "token",
		"fakeindex", "value", "kind", "begin", "title", "fake indexing", "percentage", 0));
	for (pct = 25; pct <= 75; pct += 25) {
		nanosleep(&ts, NULL);
		send_notification_new("$/progress", json_pack("{s:s, s:{s:s, s:i}}", "token",
			"fakeindex", "value", "kind", "report", "percentage", pct));
	}
	nanosleep(&ts, NULL);
	send_notification_new("$/progress", json_pack("{s:s, s:{s:s}}", "token", "fakeindex",
		"value", "kind", "end"));
}

/* Answers a request the way `ok` does. */
static void answer(const char *method, json_t *id, json_t *params)
{
	if (strcmp(method, "initialize") == 0) {
		S.client_pull = json_is_true(json_object_get(json_object_get(json_object_get(
			json_object_get(params, "capabilities"), "textDocument"), "diagnostic"),
			"dynamicRegistration"));
		S.initialized = 1;
		send_result_new(id, initialize_result());
	} else if (strcmp(method, "shutdown") == 0) {
		send_result_new(id, json_null());
	} else if (strcmp(method, "textDocument/definition") == 0) {
		const char *uri = doc_uri(params);
		if (!uri) {
			send_error(id, RPC_INVALID_PARAMS, "missing textDocument.uri");
			return;
		}
		send_result_new(id, json_pack("{s:s, s:{s:{s:i, s:i}, s:{s:i, s:i}}}",
					      "uri", uri, "range", "start", "line", 0,
					      "character", 0, "end", "line", 0,
					      "character", 0));
	} else if (strcmp(method, "textDocument/hover") == 0) {
		send_result_new(id, json_pack("{s:{s:s, s:s}}", "contents", "kind",
					      "markdown", "value", "fake hover"));
	} else if (strcmp(method, "textDocument/references") == 0 ||
		   strcmp(method, "textDocument/documentSymbol") == 0 ||
		   strcmp(method, "workspace/symbol") == 0) {
		send_result_new(id, json_array());
	} else {
		send_error(id, RPC_METHOD_NOT_FOUND, "method not found");
	}
}

/* ---- faults --------------------------------------------------------------- */

static void emit_garbage(void)
{
	static const char frame[] = "Content-Length: 12\r\n\r\n{not json!!}";
	unsigned char junk[4096];
	/* A fixed-seed LCG: junk that is the same in every run, including
	 * NULs, CR/LF, stray braces and invalid UTF-8. */
	uint32_t x = 0x2545F491u;
	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1664525u + 1013904223u;
		junk[i] = (unsigned char)(x >> 24);
	}
	write_all(frame, sizeof(frame) - 1);
	write_all(junk, sizeof(junk));
}

static void emit_oversized(void)
{
	static const char head[] = "Content-Length: 2000000000\r\n\r\n";
	static char chunk[64 * 1024];
	memset(chunk, 'x', sizeof(chunk));
	write_all(head, sizeof(head) - 1);
	/* 64 MiB from one small buffer; write_all leaves quietly on EPIPE. */
	for (int i = 0; i < 1024; i++)
		write_all(chunk, sizeof(chunk));
}

static void segfault(void)
{
	/* No core file in the test's scratch directory. */
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none);
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
	_exit(139);
}

/* ---- slow mode: delays that a cancellation can cut short ------------------- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_cancel_of(json_t *msg, json_t *id)
{
	const char *m = json_string_value(json_object_get(msg, "method"));
	return m && strcmp(m, "$/cancelRequest") == 0 &&
	       json_equal(json_object_get(json_object_get(msg, "params"), "id"), id);
}

/* Waits delay_ms before request `id` is answered. Messages that arrive in
 * the meantime are queued in S.pending; a cancellation of `id` ends the wait.
 * Returns 1 if the request was cancelled. */
static int slow_wait(json_t *id)
{
	size_t i;
	json_t *m;
	json_array_foreach(S.pending, i, m) {
		if (is_cancel_of(m, id)) {
			logf_line("$/cancelRequest");
			json_array_remove(S.pending, i);
			return 1;
		}
	}
	long long deadline = now_ms() + S.delay_ms;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		if (in.pos == in.len && !in.eof) {
			struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
			int r = poll(&p, 1, (int)left);
			if (r == 0)
				return 0;
			if (r < 0)
				continue; /* EINTR: recompute what is left */
		}
		m = read_msg();
		if (!m)
			return 0; /* the client hung up: answer into the void */
		if (is_cancel_of(m, id)) {
			logf_line("$/cancelRequest");
			json_decref(m);
			return 1;
		}
		json_array_append_new(S.pending, m); /* logged when handled */
	}
}

/* ---- server-requests mode --------------------------------------------------- */

static void ask_client(void)
{
	static const char *methods[3] = {
		"workspace/configuration",
		"client/registerCapability",
		"window/workDoneProgress/create",
	};
	/* Registration ids are chosen at random by real servers; lanser must
	 * keep them out of anything it hashes. */
	char reg_id[40];
	snprintf(reg_id, sizeof(reg_id), "fakels-reg-%08lx%04x",
		 (unsigned long)now_ms() & 0xfffffffful, (unsigned)getpid() & 0xffff);
	json_t *params[3] = {
		json_pack("{s:[{s:s}]}", "items", "section", "python"),
		json_pack("{s:[{s:s, s:s, s:{s:[{s:s}]}}]}", "registrations", "id", reg_id,
			  "method", "workspace/didChangeWatchedFiles",
			  "registerOptions", "watchers", "globPattern", "**/*"),
		json_pack("{s:s}", "token", "tok1"),
	};
	for (int i = 0; i < 3; i++) {
		S.asks[i].id = i + 1;
		S.asks[i].method = methods[i];
		send_msg_new(json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id",
				       (json_int_t)(i + 1), "method", methods[i],
				       "params", params[i]));
	}
	S.asks_sent = 1;
}

static int all_answered(void)
{
	if (!S.asks_sent)
		return 0;
	for (int i = 0; i < 3; i++)
		if (!S.asks[i].answered)
			return 0;
	return 1;
}

/* Called for every response the client sends us. */
static void on_response(json_t *msg)
{
	json_t *id = json_object_get(msg, "id");
	int failed = json_object_get(msg, "error") != NULL;
	for (int i = 0; i < 3 && S.asks_sent; i++) {
		if (json_is_integer(id) && json_integer_value(id) == S.asks[i].id &&
		    !S.asks[i].answered) {
			S.asks[i].answered = 1;
			S.asks[i].failed = failed;
			logf_line("response %s%s", S.asks[i].method, failed ? " error" : "");
			if (!all_answered())
				return;
			logf_line("server-requests answered");
			/* Progress only on a token the client accepted. */
			if (!S.asks[2].failed) {
				send_notification_new("$/progress",
					json_pack("{s:s, s:{s:s, s:s, s:i}}", "token", "tok1",
						  "value", "kind", "begin", "title",
						  "fakels indexing", "percentage", 0));
				send_notification_new("$/progress",
					json_pack("{s:s, s:{s:s, s:s}}", "token", "tok1",
						  "value", "kind", "end", "message", "done"));
			}
			size_t j;
			json_t *req;
			json_array_foreach(S.deferred, j, req) {
				answer(json_string_value(json_object_get(req, "method")),
				       json_object_get(req, "id"),
				       json_object_get(req, "params"));
			}
			json_array_clear(S.deferred);
			return;
		}
	}
	logf_line("response (unexpected id)");
}

/* ---- dispatch --------------------------------------------------------------- */

static void handle(json_t *msg)
{
	if (json_is_null(msg)) {
		logf_line("(not json)");
		if (S.mode != MODE_NO_INIT && S.mode != MODE_HANG && !S.tripped)
			send_error(NULL, RPC_PARSE_ERROR, "parse error");
		return;
	}
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *id = json_object_get(msg, "id");
	json_t *params = json_object_get(msg, "params");

	if (!method) {
		if (S.mode == MODE_SERVER_REQUESTS)
			on_response(msg);
		else
			logf_line("response (unexpected id)");
		return;
	}
	logf_line("%s", method);

	if (S.final) {   /* two-phase-diags: the final set after the partial one */
		send_notification_new("textDocument/publishDiagnostics", S.final);
		S.final = NULL;
	}
	if (S.mode == MODE_NO_INIT)
		return;
	if (strcmp(method, "initialize") == 0) {
		if (id && !S.initialized)
			answer(method, id, params);
		else if (id && S.mode != MODE_HANG && !S.tripped)
			send_error(id, RPC_INVALID_REQUEST, "initialize sent twice");
		return;
	}
	if (S.mode == MODE_HANG || S.tripped)
		return; /* deaf from now on */

	if (!id) { /* notifications */
		if (strcmp(method, "exit") == 0)
			exit(0);
		if (strcmp(method, "initialized") == 0) {
			if (S.mode == MODE_EXIT_AFTER_INIT)
				exit(0);
			if (S.mode == MODE_SERVER_REQUESTS && !S.asks_sent)
				ask_client();
			if (S.mode == MODE_TWO_PHASE && S.client_pull)
				two_phase_register();
			if (S.mode == MODE_SLOW_INDEX)
				slow_index();
		} else if (strcmp(method, "textDocument/didOpen") == 0 ||
			   strcmp(method, "textDocument/didChange") == 0) {
			if (S.mode == MODE_TWO_PHASE)
				two_phase_publish(params);
			else
				publish_diagnostics(params);
		}
		return; /* $/cancelRequest and the rest: nothing to do */
	}

	switch (S.mode) {
	case MODE_CRASH:
		fprintf(stderr, "fakels: crashing on %s as asked\n", method);
		_exit(3);
	case MODE_SEGV:
		segfault();
		break;
	case MODE_GARBAGE:
	case MODE_BAD_HEADER:
	case MODE_OVERSIZED:
		S.tripped = 1;
		if (S.mode == MODE_GARBAGE)
			emit_garbage();
		else if (S.mode == MODE_BAD_HEADER)
			write_all("Content-Length: abc\r\n\r\n", 23);
		else
			emit_oversized();
		return;
	case MODE_SLOW:
		if (strcmp(method, "shutdown") != 0 && slow_wait(id)) {
			send_error(id, LSP_REQUEST_CANCELLED, "request cancelled");
			return;
		}
		break;
	case MODE_TWO_PHASE:
		if (strcmp(method, "textDocument/diagnostic") == 0) {
			send_result_new(id, json_pack("{s:s, s:s, s:o}", "kind", "full",
						      "resultId", "1", "items", two_errors()));
			return;
		}
		break;
	case MODE_SERVER_REQUESTS:
		if (strncmp(method, "textDocument/", 13) == 0 && !all_answered()) {
			json_array_append(S.deferred, msg);
			return;
		}
		break;
	default:
		break;
	}
	answer(method, id, params);
}

/* ---- main ----------------------------------------------------------------- */

static void usage(FILE *to)
{
	fprintf(to, "usage: fakels [--mode MODE] [--log FILE] [--ignore-term] [--version]\n"
		    "modes:");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(to, " %s", modes[i].name);
	fputc('\n', to);
}

int main(int argc, char **argv)
{
	const char *mode = getenv("FAKELS_MODE");
	const char *log = getenv("FAKELS_LOG");
	const char *delay = getenv("FAKELS_DELAY_MS");
	int ignore_term = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("fakels " FAKELS_VERSION "\n");
			return 0;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			mode = argv[++i];
		} else if (strncmp(argv[i], "--mode=", 7) == 0) {
			mode = argv[i] + 7;
		} else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
			log = argv[++i];
		} else if (strncmp(argv[i], "--log=", 6) == 0) {
			log = argv[i] + 6;
		} else if (strcmp(argv[i], "--ignore-term") == 0) {
			ignore_term = 1;
		} else if (strcmp(argv[i], "--stdio") == 0) {
			/* accepted for profiles written for real servers */
		} else {
			fprintf(stderr, "fakels: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 64;
		}
	}

	S.mode = MODE_OK;
	if (mode && *mode) {
		size_t i, n = sizeof(modes) / sizeof(modes[0]);
		for (i = 0; i < n && strcmp(modes[i].name, mode) != 0; i++)
			;
		if (i == n) {
			fprintf(stderr, "fakels: unknown mode '%s'\n", mode);
			usage(stderr);
			return 64;
		}
		S.mode = modes[i].mode;
	}
	S.delay_ms = 3000;
	if (delay && *delay) {
		char *end;
		long v = strtol(delay, &end, 10);
		if (*end || v < 0 || v > 3600 * 1000) {
			fprintf(stderr, "fakels: bad FAKELS_DELAY_MS '%s'\n", delay);
			return 64;
		}
		S.delay_ms = v;
	}
	if (log && *log && !(S.log = fopen(log, "a"))) {
		fprintf(stderr, "fakels: cannot open log '%s': %s\n", log, strerror(errno));
		return 64;
	}

	/* A vanished client shows up as EPIPE from write(), handled there. */
	signal(SIGPIPE, SIG_IGN);
	if (ignore_term)
		signal(SIGTERM, SIG_IGN);
	S.pending = json_array();
	S.deferred = json_array();

	for (;;) {
		json_t *msg;
		if (json_array_size(S.pending) > 0) {
			msg = json_incref(json_array_get(S.pending, 0));
			json_array_remove(S.pending, 0);
		} else if (!(msg = read_msg())) {
			break;
		}
		handle(msg);
		json_decref(msg);
	}
	on_eof(0);
	return 0;
}
