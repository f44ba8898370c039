/*
 * session_impl.h - internal to the LSP session (lsp/session.c,
 * session_live.c, session_replay.c): the session's state and the transport
 * interface behind it (session_diag.c: diagnostics). Callers outside use
 * session.h.
 *
 * A session talks to the other side through one small interface: a live
 * server over pipes (session_live.c) or a recorded trace replayed in
 * lockstep (session_replay.c). The protocol logic of session.c (requests,
 * documents, diagnostics, progress, answers to server requests) does not
 * know which.
 */
#ifndef LANSER_LSP_SESSION_IMPL_H
#define LANSER_LSP_SESSION_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/proc.h"
#include "core/text.h"
#include "lsp/jsonrpc.h"
#include "lsp/session.h"

struct lsp_transport {
	/* Hands one encoded message to the other side; takes `body` (malloc'd,
	 * `len` bytes) and frees it. 0, or the session's sticky error. */
	int (*send)(struct lsp_session *s, char *body, size_t len);
	/* One round of I/O: dispatches what arrived (lsp_session_pump). */
	int (*pump)(struct lsp_session *s, int timeout_ms);
	/* The deadline decision of a wait loop (lsp_session_deadline). */
	bool (*deadline)(struct lsp_session *s, bool passed);
	/* Stops the other side once the session has failed; may be NULL. */
	void (*stop)(struct lsp_session *s);
	/* Ends the conversation before the session is freed; may be NULL. */
	void (*close)(struct lsp_session *s);
};

extern const struct lsp_transport lsp_transport_live;    /* session_live.c */
extern const struct lsp_transport lsp_transport_replay;  /* session_replay.c */

#define STDERR_TAIL 2048

#define LOG_CAP (256 * 1024)

#define LSP_PULL_IDS_MAX 16

struct pending {
	long long id;
	json_t *response;   /* the whole response message once it arrived */
};

struct doc {
	char *uri;
	int version;
	char hash[65];
	long long synced_seq;   /* message sequence number at the last sync */
	json_t *diags;          /* last published diagnostics */
	int diag_version;       /* -1: the server sent no version */
	long long diag_seq;     /* sequence number when they arrived */
	bool has_diags;
	bool open;
};

struct progress {
	char *token;
	char *title;
	int percentage;         /* the last one reported, 0..100; -1: none */
	bool active;
	bool ended;
};

struct lsp_session {
	char *name;
	char *root;
	struct ln_proc proc;
	struct lsp_reader reader;
	struct buf outq;
	struct buf frame;
	json_t *settings;
	json_t *caps;
	char *server_name, *server_version;
	enum ln_enc enc;
	long long next_id;
	long long seq;          /* counts frames received */
	struct pending *pend;
	size_t npend, cappend;
	struct doc *docs;
	size_t ndocs, capdocs;
	struct progress *prog;
	size_t nprog, capprog;
	struct buf logs;        /* window/logMessage texts, capped */
	int stderr_fd;
	char errtail[STDERR_TAIL];
	size_t errtail_len;
	int error;              /* sticky */
	bool unresponsive;      /* a request timed out: skip the polite shutdown */
	bool versioned_diags;   /* the server puts versions on its diagnostics */
	bool pull_declared;     /* the client declared pull diagnostics */
	/* the ids of the server's live textDocument/diagnostic registrations
	 * (pyright registers anew and then drops the older ones) */
	char *pull_ids[LSP_PULL_IDS_MAX];
	size_t npull_ids;
	char errmsg[512];
	lsp_record_fn record;
	void *record_ctx;
	long long dispatched;   /* frames dispatched so far (pump records) */
	const struct lsp_transport *tr;  /* a live server or a replayer */
	struct lsp_replay replay;          /* what the replayer replays */
};

/* A new session with its buffers ready, no descriptors and no transport. */
struct lsp_session *lsp_session_alloc(size_t max_frame);

/* Marks the session dead with a sticky error (the first one wins), stops
 * the other side, and returns the error with the last error set. */
int lsp_session_fail(struct lsp_session *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The sticky error again, as the last error. */
int lsp_session_sticky(struct lsp_session *s);
/* Encodes `msg` (taken) and sends it through the transport. */
int lsp_session_send(struct lsp_session *s, json_t *msg);
/* Interprets one frame body from the other side: 0, or the sticky error. */
int lsp_session_dispatch(struct lsp_session *s, const char *body, size_t len);

/* The document `uri`, or NULL when the session never saw it. */
struct doc *lsp_session_find_doc(struct lsp_session *s, const char *uri);
/* The document `uri` (added, not open, when missing); never NULL. */
struct doc *lsp_session_get_doc(struct lsp_session *s, const char *uri);
/* Records (add) or drops the pull-diagnostics registration `id`; at most
 * LSP_PULL_IDS_MAX are kept. */
void lsp_session_pull_id(struct lsp_session *s, const char *id, bool add);
/* The progress record of `token` (added when missing); NULL past the cap. */
struct progress *lsp_session_get_progress(struct lsp_session *s, const char *token);

#endif
