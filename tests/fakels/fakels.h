/*
 * fakels.h - what the fake language server's two halves share (see
 * fakels.c for what the fake does and how it is run): fakels.c holds the
 * scripted behaviours (modes, answers, faults, dispatch, main); fakels_io.c
 * the base protocol (Content-Length framing on stdin/stdout) and the log.
 *
 * Test scaffolding: every function here exits the process where that is
 * the simplest correct thing (a vanished client, a refused frame).
 */
#ifndef LANSER_TESTS_FAKELS_H
#define LANSER_TESTS_FAKELS_H

#include <stdio.h>

#include <jansson.h>

#define FAKELS_VERSION "1.0"

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

/* JSON-RPC / LSP error codes we answer with. */
#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_INVALID_PARAMS -32602
#define RPC_METHOD_NOT_FOUND -32601
#define LSP_REQUEST_CANCELLED -32800

/* Everything the server remembers between messages. */
struct fk_state {
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
};
extern struct fk_state fk;

/* ---- output (fakels_io.c) ---- */

/* Writes len bytes to stdout; a client that is gone (EPIPE) ends the
 * process with status 0. */
void fk_write_all(const void *data, size_t len);
/* Frames one message (owned) and writes it. */
void fk_send_msg_new(json_t *msg);
/* A response to request `id` (borrowed) with `result` (owned). */
void fk_send_result_new(json_t *id, json_t *result);
/* An error response to `id` (borrowed; NULL: null). */
void fk_send_error(json_t *id, int code, const char *message);
/* A notification with `params` (owned). */
void fk_send_notification_new(const char *method, json_t *params);
/* One line on --log (nothing without it), flushed at once. */
void fk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- input (fakels_io.c) ---- */

/* Reads one framed message: the parsed JSON object, json_null() for a
 * body that is not a JSON object (the caller answers ParseError), or NULL
 * at end of input. A frame it refuses (bad header, body over 64 MiB,
 * truncated) ends the process with status 2 (see fk_on_eof). */
json_t *fk_read_msg(void);
/* True when no input byte is buffered and stdin has not ended: the next
 * fk_read_msg would block on the descriptor (poll it first). */
int fk_input_idle(void);
/* End of input: exits with `status`, except in modes that never exit by
 * themselves (hang, no-init), which wait to be killed. */
void fk_on_eof(int status) __attribute__((noreturn));

#endif
