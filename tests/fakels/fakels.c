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
#include "tests/fakels/fakels.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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


/* Everything the server remembers between messages (fakels.h). */
struct fk_state fk;

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
	fk_send_notification_new(
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
		fk_send_msg_new(json_pack("{s:s, s:i, s:s, s:{s:[{s:s, s:s, s:{s:b}}]}}",
			"jsonrpc", "2.0", "id", 100 + i, "method", "client/registerCapability",
			"params", "registrations", "id", ids[i], "method", "textDocument/diagnostic",
			"registerOptions", "interFileDependencies", 1));
	fk_send_msg_new(json_pack("{s:s, s:i, s:s, s:{s:[{s:s, s:s}]}}", "jsonrpc", "2.0",
		"id", 102, "method", "client/unregisterCapability", "params",
		"unregisterations", "id", "pull-a", "method", "textDocument/diagnostic"));
}

static void two_phase_publish(json_t *params)
{
	const char *uri = doc_uri(params);
	json_t *version = json_object_get(json_object_get(params, "textDocument"), "version");

	if (!uri || fk.client_pull)
		return;
	fk_send_notification_new("textDocument/publishDiagnostics",
		json_pack("{s:s, s:O, s:[]}", "uri", uri, "version", version ? version : json_null(),
			  "diagnostics"));
	json_decref(fk.final);
	fk.final = json_pack("{s:s, s:O, s:o}", "uri", uri, "version",
			    version ? version : json_null(), "diagnostics", two_errors());
}

/* ---- slow-index mode --------------------------------------------------- */

static void slow_index(void)
{
	long ms = getenv("FAKELS_DELAY_MS") ? fk.delay_ms : 400;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int pct;

	fk_send_notification_new("$/progress", json_pack("{s:s, s:{s:s, s:s, s:i}}", "token",
		"fakeindex", "value", "kind", "begin", "title", "fake indexing", "percentage", 0));
	for (pct = 25; pct <= 75; pct += 25) {
		nanosleep(&ts, NULL);
		fk_send_notification_new("$/progress", json_pack("{s:s, s:{s:s, s:i}}", "token",
			"fakeindex", "value", "kind", "report", "percentage", pct));
	}
	nanosleep(&ts, NULL);
	fk_send_notification_new("$/progress", json_pack("{s:s, s:{s:s}}", "token", "fakeindex",
		"value", "kind", "end"));
}

/* Answers a request the way `ok` does. */
static void answer(const char *method, json_t *id, json_t *params)
{
	if (strcmp(method, "initialize") == 0) {
		fk.client_pull = json_is_true(json_object_get(json_object_get(json_object_get(
			json_object_get(params, "capabilities"), "textDocument"), "diagnostic"),
			"dynamicRegistration"));
		fk.initialized = 1;
		fk_send_result_new(id, initialize_result());
	} else if (strcmp(method, "shutdown") == 0) {
		fk_send_result_new(id, json_null());
	} else if (strcmp(method, "textDocument/definition") == 0) {
		const char *uri = doc_uri(params);
		if (!uri) {
			fk_send_error(id, RPC_INVALID_PARAMS, "missing textDocument.uri");
			return;
		}
		fk_send_result_new(id, json_pack("{s:s, s:{s:{s:i, s:i}, s:{s:i, s:i}}}",
					      "uri", uri, "range", "start", "line", 0,
					      "character", 0, "end", "line", 0,
					      "character", 0));
	} else if (strcmp(method, "textDocument/hover") == 0) {
		fk_send_result_new(id, json_pack("{s:{s:s, s:s}}", "contents", "kind",
					      "markdown", "value", "fake hover"));
	} else if (strcmp(method, "textDocument/references") == 0 ||
		   strcmp(method, "textDocument/documentSymbol") == 0 ||
		   strcmp(method, "workspace/symbol") == 0) {
		fk_send_result_new(id, json_array());
	} else {
		fk_send_error(id, RPC_METHOD_NOT_FOUND, "method not found");
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
	fk_write_all(frame, sizeof(frame) - 1);
	fk_write_all(junk, sizeof(junk));
}

static void emit_oversized(void)
{
	static const char head[] = "Content-Length: 2000000000\r\n\r\n";
	static char chunk[64 * 1024];
	memset(chunk, 'x', sizeof(chunk));
	fk_write_all(head, sizeof(head) - 1);
	/* 64 MiB from one small buffer; write_all leaves quietly on EPIPE. */
	for (int i = 0; i < 1024; i++)
		fk_write_all(chunk, sizeof(chunk));
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
 * the meantime are queued in fk.pending; a cancellation of `id` ends the wait.
 * Returns 1 if the request was cancelled. */
static int slow_wait(json_t *id)
{
	size_t i;
	json_t *m;
	json_array_foreach(fk.pending, i, m) {
		if (is_cancel_of(m, id)) {
			fk_log("$/cancelRequest");
			json_array_remove(fk.pending, i);
			return 1;
		}
	}
	long long deadline = now_ms() + fk.delay_ms;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		if (fk_input_idle()) {
			struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
			int r = poll(&p, 1, (int)left);
			if (r == 0)
				return 0;
			if (r < 0)
				continue; /* EINTR: recompute what is left */
		}
		m = fk_read_msg();
		if (!m)
			return 0; /* the client hung up: answer into the void */
		if (is_cancel_of(m, id)) {
			fk_log("$/cancelRequest");
			json_decref(m);
			return 1;
		}
		json_array_append_new(fk.pending, m); /* logged when handled */
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
		fk.asks[i].id = i + 1;
		fk.asks[i].method = methods[i];
		fk_send_msg_new(json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id",
				       (json_int_t)(i + 1), "method", methods[i],
				       "params", params[i]));
	}
	fk.asks_sent = 1;
}

static int all_answered(void)
{
	if (!fk.asks_sent)
		return 0;
	for (int i = 0; i < 3; i++)
		if (!fk.asks[i].answered)
			return 0;
	return 1;
}

/* Called for every response the client sends us. */
static void on_response(json_t *msg)
{
	json_t *id = json_object_get(msg, "id");
	int failed = json_object_get(msg, "error") != NULL;
	for (int i = 0; i < 3 && fk.asks_sent; i++) {
		if (json_is_integer(id) && json_integer_value(id) == fk.asks[i].id &&
		    !fk.asks[i].answered) {
			fk.asks[i].answered = 1;
			fk.asks[i].failed = failed;
			fk_log("response %s%s", fk.asks[i].method, failed ? " error" : "");
			if (!all_answered())
				return;
			fk_log("server-requests answered");
			/* Progress only on a token the client accepted. */
			if (!fk.asks[2].failed) {
				fk_send_notification_new("$/progress",
					json_pack("{s:s, s:{s:s, s:s, s:i}}", "token", "tok1",
						  "value", "kind", "begin", "title",
						  "fakels indexing", "percentage", 0));
				fk_send_notification_new("$/progress",
					json_pack("{s:s, s:{s:s, s:s}}", "token", "tok1",
						  "value", "kind", "end", "message", "done"));
			}
			size_t j;
			json_t *req;
			json_array_foreach(fk.deferred, j, req) {
				answer(json_string_value(json_object_get(req, "method")),
				       json_object_get(req, "id"),
				       json_object_get(req, "params"));
			}
			json_array_clear(fk.deferred);
			return;
		}
	}
	fk_log("response (unexpected id)");
}

/* ---- dispatch --------------------------------------------------------------- */

static void handle(json_t *msg)
{
	if (json_is_null(msg)) {
		fk_log("(not json)");
		if (fk.mode != MODE_NO_INIT && fk.mode != MODE_HANG && !fk.tripped)
			fk_send_error(NULL, RPC_PARSE_ERROR, "parse error");
		return;
	}
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *id = json_object_get(msg, "id");
	json_t *params = json_object_get(msg, "params");

	if (!method) {
		if (fk.mode == MODE_SERVER_REQUESTS)
			on_response(msg);
		else
			fk_log("response (unexpected id)");
		return;
	}
	fk_log("%s", method);

	if (fk.final) {   /* two-phase-diags: the final set after the partial one */
		fk_send_notification_new("textDocument/publishDiagnostics", fk.final);
		fk.final = NULL;
	}
	if (fk.mode == MODE_NO_INIT)
		return;
	if (strcmp(method, "initialize") == 0) {
		if (id && !fk.initialized)
			answer(method, id, params);
		else if (id && fk.mode != MODE_HANG && !fk.tripped)
			fk_send_error(id, RPC_INVALID_REQUEST, "initialize sent twice");
		return;
	}
	if (fk.mode == MODE_HANG || fk.tripped)
		return; /* deaf from now on */

	if (!id) { /* notifications */
		if (strcmp(method, "exit") == 0)
			exit(0);
		if (strcmp(method, "initialized") == 0) {
			if (fk.mode == MODE_EXIT_AFTER_INIT)
				exit(0);
			if (fk.mode == MODE_SERVER_REQUESTS && !fk.asks_sent)
				ask_client();
			if (fk.mode == MODE_TWO_PHASE && fk.client_pull)
				two_phase_register();
			if (fk.mode == MODE_SLOW_INDEX)
				slow_index();
		} else if (strcmp(method, "textDocument/didOpen") == 0 ||
			   strcmp(method, "textDocument/didChange") == 0) {
			if (fk.mode == MODE_TWO_PHASE)
				two_phase_publish(params);
			else
				publish_diagnostics(params);
		}
		return; /* $/cancelRequest and the rest: nothing to do */
	}

	switch (fk.mode) {
	case MODE_CRASH:
		fprintf(stderr, "fakels: crashing on %s as asked\n", method);
		_exit(3);
	case MODE_SEGV:
		segfault();
		break;
	case MODE_GARBAGE:
	case MODE_BAD_HEADER:
	case MODE_OVERSIZED:
		fk.tripped = 1;
		if (fk.mode == MODE_GARBAGE)
			emit_garbage();
		else if (fk.mode == MODE_BAD_HEADER)
			fk_write_all("Content-Length: abc\r\n\r\n", 23);
		else
			emit_oversized();
		return;
	case MODE_SLOW:
		if (strcmp(method, "shutdown") != 0 && slow_wait(id)) {
			fk_send_error(id, LSP_REQUEST_CANCELLED, "request cancelled");
			return;
		}
		break;
	case MODE_TWO_PHASE:
		if (strcmp(method, "textDocument/diagnostic") == 0) {
			fk_send_result_new(id, json_pack("{s:s, s:s, s:o}", "kind", "full",
						      "resultId", "1", "items", two_errors()));
			return;
		}
		break;
	case MODE_SERVER_REQUESTS:
		if (strncmp(method, "textDocument/", 13) == 0 && !all_answered()) {
			json_array_append(fk.deferred, msg);
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

	fk.mode = MODE_OK;
	if (mode && *mode) {
		size_t i, n = sizeof(modes) / sizeof(modes[0]);
		for (i = 0; i < n && strcmp(modes[i].name, mode) != 0; i++)
			;
		if (i == n) {
			fprintf(stderr, "fakels: unknown mode '%s'\n", mode);
			usage(stderr);
			return 64;
		}
		fk.mode = modes[i].mode;
	}
	fk.delay_ms = 3000;
	if (delay && *delay) {
		char *end;
		long v = strtol(delay, &end, 10);
		if (*end || v < 0 || v > 3600 * 1000) {
			fprintf(stderr, "fakels: bad FAKELS_DELAY_MS '%s'\n", delay);
			return 64;
		}
		fk.delay_ms = v;
	}
	if (log && *log && !(fk.log = fopen(log, "a"))) {
		fprintf(stderr, "fakels: cannot open log '%s': %s\n", log, strerror(errno));
		return 64;
	}

	/* A vanished client shows up as EPIPE from write(), handled there. */
	signal(SIGPIPE, SIG_IGN);
	if (ignore_term)
		signal(SIGTERM, SIG_IGN);
	fk.pending = json_array();
	fk.deferred = json_array();

	for (;;) {
		json_t *msg;
		if (json_array_size(fk.pending) > 0) {
			msg = json_incref(json_array_get(fk.pending, 0));
			json_array_remove(fk.pending, 0);
		} else if (!(msg = fk_read_msg())) {
			break;
		}
		handle(msg);
		json_decref(msg);
	}
	fk_on_eof(0);
	return 0;
}
