/*
 * session.h - one running language server and the client side of LSP.
 *
 * A session owns the server process, its pipes and the protocol state:
 * pending requests matched by id, server-to-client requests answered
 * (workspace/configuration, client/registerCapability,
 * window/workDoneProgress/create, workspace/workspaceFolders — servers stall
 * without these answers), notifications recorded (publishDiagnostics per
 * document and version, $/progress per token), and the open documents.
 *
 * All I/O is non-blocking and pumped with poll(); the blocking helpers
 * (lsp_session_request, lsp_session_wait_*) pump until their condition
 * holds or their deadline passes. Single-threaded: a session must be used
 * from one thread at a time.
 *
 * Failures are sticky: once the server crashed, hung past a deadline in a
 * way that desynchronises the stream, or sent a malformed frame, the session
 * is dead and every later call returns the same code (LN_ECRASH or
 * LN_ETIMEOUT) with the original message.
 *
 * Writing to a server that has exited raises SIGPIPE: the program must
 * ignore SIGPIPE (agent/main.c does) so that it surfaces as LN_ECRASH.
 *
 * Positions inside a session are LSP positions in the negotiated encoding
 * (lsp_session_encoding()); converting to and from the user's encoding is
 * the caller's job (core/text.h).
 */
#ifndef LANSER_LSP_SESSION_H
#define LANSER_LSP_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/text.h"

struct lsp_session;

/* Called for every frame body sent ('>') or received ('<'), before it is
 * interpreted; used to record traces. Two more kinds of record let a trace
 * replay the client's decisions exactly (docs/trace.md):
 *   'p'  the end of one lsp_session_pump() call on a live session; body is
 *        {"n": frames dispatched} plus "error"/"message" when the pump
 *        left the session dead;
 *   'd'  a wait (request, diagnostics, readiness) gave up at its deadline;
 *        body is "{}".
 * Recorders that only want frames ignore every other dir. */
typedef void (*lsp_record_fn)(void *ctx, char dir, const char *body, size_t len);

struct lsp_session_opts {
	const char *name;            /* for messages, e.g. "clangd" */
	const char *const *argv;     /* server command line */
	const char *root;            /* absolute workspace root */
	const char *const *env;      /* NULL: inherit */
	json_t *init_options;        /* borrowed; may be NULL */
	json_t *settings;            /* borrowed; answers workspace/configuration */
	int init_timeout_ms;         /* 0: 30000 */
	size_t max_frame;            /* 0: LSP_DEFAULT_MAX_BODY */
	int stderr_fd;               /* server stderr is copied here; -1: discarded */
	lsp_record_fn record;
	void *record_ctx;
	bool no_process_id;          /* initialize with "processId": null: a server in
					a pid namespace of its own cannot see our pid
					(it would exit, taking us for dead) */
	bool pull_diagnostics;       /* declare pull diagnostics (textDocument.diagnostic,
					dynamic registration) and take diagnostics
					only by asking (lsp_session_wait_diagnostics) */
};

/* Starts the server and performs initialize/initialized. On success *out
 * owns the session. Errors: LN_ENOSERVER (cannot execute), LN_ETIMEOUT (no
 * initialize answer in time), LN_ECRASH (died or spoke garbage). */
int lsp_session_start(struct lsp_session **out, const struct lsp_session_opts *o);

/* shutdown + exit with short deadlines, then kill and reap whatever is left.
 * Never leaves a zombie. NULL is allowed. */
void lsp_session_free(struct lsp_session *s);

/* Sends a request and waits for its answer. Takes ownership of params
 * (may be NULL). On success *out is a new reference to the result (json
 * null is returned as json_null()). Errors: LN_ETIMEOUT (a $/cancelRequest
 * is sent; the session stays usable), LN_ECRASH, LN_ECANCELLED,
 * LN_EMODIFIED, LN_EUNSUPPORTED (method not found), LN_EGENERIC (other
 * error responses; message carries the server's). */
int lsp_session_request(struct lsp_session *s, json_t **out, const char *method,
			json_t *params, int timeout_ms);

/* Sends a notification; takes ownership of params. */
int lsp_session_notify(struct lsp_session *s, const char *method, json_t *params);

/* Processes I/O for up to timeout_ms (0: only what is ready). Returns 0 or
 * the session's sticky error. */
int lsp_session_pump(struct lsp_session *s, int timeout_ms);

/* Makes the server's view of `uri` equal `text`: didOpen the first time,
 * didChange (full text) when the content differs, nothing otherwise.
 * *version_out (may be NULL) receives the document version now current. */
int lsp_session_sync_doc(struct lsp_session *s, int *version_out, const char *uri,
			 const char *language_id, const char *text, size_t len);
int lsp_session_close_doc(struct lsp_session *s, const char *uri);
/* The documents this session has seen: lsp_session_open_uri(s, i) for
 * i < lsp_session_open_count(s) is the URI of the i-th, or NULL when it is
 * closed (borrowed; valid until the next sync/close). */
size_t lsp_session_open_count(const struct lsp_session *s);
/* The version of an open document, 0 when it is not open. */
int lsp_session_doc_version(const struct lsp_session *s, const char *uri);
const char *lsp_session_open_uri(const struct lsp_session *s, size_t i);

/* Waits until the server published diagnostics for `uri` at `version` (or,
 * for servers that omit versions, after the last sync of that document).
 * A session started with pull_diagnostics asks instead (LSP 3.17
 * textDocument/diagnostic) once the server has offered the provider
 * (statically, or by registering it: pyright does so after `initialized`);
 * the answer describes the text last synced, and published diagnostics are
 * never taken for it. A server that cancels the request (ServerCancelled,
 * content modified) is asked again until the deadline.
 * A server that offers tsserver's synchronous diagnostics (the
 * "typescript.tsserverRequest" command of typescript-language-server, whose
 * published diagnostics carry no version and arrive in pieces) is asked
 * for them instead: syntactic, semantic and suggestion diagnostics of the
 * text last synced, converted to LSP diagnostics. *out is a new reference
 * to the diagnostics array. LN_ETIMEOUT when none came in time. */
int lsp_session_wait_diagnostics(struct lsp_session *s, json_t **out, const char *uri,
				 int version, int timeout_ms);
/* Whether lsp_session_wait_diagnostics asks the server (pull diagnostics,
 * or tsserver's synchronous diagnostics) instead of waiting for what it
 * publishes: then there is nothing to wait for after a sync. */
bool lsp_session_pulls_diagnostics(const struct lsp_session *s);

/* Progress ($/progress) for readiness decisions. A token matches `needle`
 * when its token string or its title contains it; NULL matches every token.
 * _active: a matching token has begun and not ended. _ended: a matching
 * token has ended at least once (e.g. clangd's "backgroundIndexProgress"). */
bool lsp_session_progress_active(const struct lsp_session *s, const char *needle);
bool lsp_session_progress_ended(const struct lsp_session *s, const char *needle);
/* The first active token matching `needle` (NULL: any): its title (or its
 * token when it has none; borrowed, valid until the next pump) and, in
 * *percentage, the last percentage its begin/report gave (0..100; -1 when
 * none). NULL (and -1) when no matching token is active. For display only:
 * no decision depends on it, so snapshots do not keep it. */
const char *lsp_session_progress_now(const struct lsp_session *s, const char *needle,
				     int *percentage);
/* True when a window/logMessage seen so far contains `needle` (the first
 * 256 KiB of log text are kept). pyright, for one, announces the end of
 * its workspace discovery only there ("Found 6 source files"). */
bool lsp_session_log_seen(const struct lsp_session *s, const char *needle);

/* The initialize result's capabilities (borrowed), the negotiated encoding,
 * the server's self-reported name (serverInfo; may be NULL). */
const json_t *lsp_session_capabilities(const struct lsp_session *s);
enum ln_enc lsp_session_encoding(const struct lsp_session *s);
const char *lsp_session_server_name(const struct lsp_session *s);
/* True when the server advertises `cap` (e.g. "definitionProvider") with a
 * value other than false/null. */
bool lsp_session_has_capability(const struct lsp_session *s, const char *cap);
/* 0 while usable; the sticky LN_E* code otherwise. */
int lsp_session_error(const struct lsp_session *s);
/* The server's pid (0 once it has been reaped), the descriptors to poll
 * for its output (-1 when closed; both may be -1), and how many requests
 * this client has sent it (initialize and shutdown included). */
int lsp_session_pid(const struct lsp_session *s);
void lsp_session_poll_fds(const struct lsp_session *s, int *out_fd, int *err_fd);
long long lsp_session_requests_sent(const struct lsp_session *s);

/* ---- traces and replay (docs/trace.md) ---- */

/* Installs (fn non-NULL) or removes the recorder of a running session; a
 * warm session gets one for the duration of a traced request. */
void lsp_session_set_recorder(struct lsp_session *s, lsp_record_fn fn, void *ctx);

/* Everything about a session's protocol state that decides what the
 * client does next: capabilities, encoding, server info, the next request
 * id, the open documents (versions, text hashes, last diagnostics), the
 * progress tokens, the log text readiness looks for, the settings, the
 * sticky error. New reference. */
json_t *lsp_session_snapshot(const struct lsp_session *s);

/* One recorded item a replaying session consumes: '>' a frame the client
 * must send (compared byte for byte), '<' a frame to dispatch, 'p' the end
 * of a pump call, 'd' a deadline. `line` names it in messages. */
struct lsp_replay_item {
	char dir;
	const char *body;
	size_t len;
	long line;
};
struct lsp_replay {
	/* 1 and *out when there is a next item (borrowed until advance), 0 at
	 * the end of the recording. */
	int (*peek)(void *ctx, struct lsp_replay_item *out);
	void (*advance)(void *ctx);
	void *ctx;
};

/*
 * A session with no server behind it, in the state `snapshot` describes,
 * that replays `src` in lockstep: every message it sends must be the next
 * recorded '>' frame, every pump dispatches the recorded '<' frames up to
 * the next 'p', every wait ends where a 'd' was recorded (never by the
 * clock). A divergence kills the session with LN_EREPLAY and a message
 * naming the trace line. Errors: LN_ETRACE when the snapshot is malformed.
 * `src` is copied; its ctx must outlive the session.
 */
int lsp_session_replay_new(struct lsp_session **out, const json_t *snapshot,
			   const struct lsp_replay *src);

/* The deadline decision of a wait loop: live, returns `passed` (recording
 * a 'd' when true); replaying, returns whether the recording has a 'd'
 * next (consuming it) and ignores `passed`. */
bool lsp_session_deadline(struct lsp_session *s, bool passed);

#endif
