/*
 * workspace_impl.h - internal to the workspace (lsp/workspace.c,
 * workspace_docs.c, workspace_warm.c): its state and the helpers the files
 * share. Callers outside use workspace.h.
 */
#ifndef LANSER_LSP_WORKSPACE_IMPL_H
#define LANSER_LSP_WORKSPACE_IMPL_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/snapshot.h"
#include "core/text.h"
#include "lsp/workspace.h"

/* Documents kept in the cache beyond the open ones (daemon). */
/* Texts of files kept between requests (beyond the open documents): a
 * refresh past either bound drops those no server has open. A refs answer
 * on a large tree converts positions in every file it names (1,200 files
 * for one function of bench/large_tree.sh): below that, each call read
 * them all again. */
#define MAX_CACHED_TEXTS 8192
#define MAX_CACHED_TEXT_BYTES ((size_t)64 << 20)
/* Changed files synced into their server per refresh; beyond that the
 * server only gets the watched-files notification. */
#define MAX_SYNC_PER_REFRESH 64
/* A server that ran this long without crashing starts its backoff afresh. */
#define CRASH_FORGET_MS 60000
#define MAX_BACKOFF_MS 30000
/* How long a refresh waits for the servers to catch up with changed files. */
#define REFRESH_WAIT_MS 10000

struct cached_text {
	char *path;
	struct ln_text text;
	char digest[LN_SHA256_HEX_SIZE];
	bool overlay;
	/* stat signature when read from disk */
	dev_t dev;
	ino_t ino;
	off_t size;
	long long mtime_ns, ctime_ns;
	bool racy;
};

/* A profile's server slot: `info.session` is NULL while it is down. */
struct server_slot {
	struct lsp_server_info info;   /* first: callers hold &slot->info */
	int crashes;                   /* consecutive, for the backoff */
	unsigned long total_crashes;
	int restarts;
	long long started_ms, next_start_ms;
	char last_error[256];
	struct lsp_workspace *ws;      /* back pointer for the trace recorder */
	bool traced;                   /* its state was recorded in this request */
};

struct ln_ignore;

struct lsp_workspace {
	char *root;
	struct lsp_profiles profiles;
	struct server_slot **servers;
	size_t nservers;
	struct cached_text **texts;
	size_t ntexts;
	size_t text_bytes;          /* of texts[], their line tables included */
	json_t *text_index;         /* path -> the cached_text's address (an integer) */
	int init_ms, request_ms;
	lsp_record_fn record;
	void *record_ctx;
	bool restart, track_files;
	struct ln_snapshot snap;
	struct ln_ignore *ignore;   /* .gitignore and "exclude" (NULL in replay) */
	unsigned long generation, crashes;
	struct lsp_recorder rec;       /* valid while `recording` */
	bool recording, cdb_recorded;
	struct lsp_replayer rep;       /* valid while `replaying` */
	bool replaying;
	lsp_wait_fn wait_fn;           /* lsp_workspace_set_wait_hook */
	void *wait_ctx;
	int (*wrap)(void *ctx, const char *const *argv, char ***out);  /* opts.wrap */
	void *wrap_ctx;
};

/* Frees a cached text and what it owns. */
void lsp_workspace_text_free(struct cached_text *ct);
/* Drops the i-th cached text (freed). */
void lsp_workspace_text_remove(struct lsp_workspace *ws, size_t i);
/* Whether the file behind a cached text may differ from it now. */
bool lsp_workspace_text_stale(const struct lsp_workspace *ws, const struct cached_text *ct);
/* Records the death of a slot's session and frees it (reaping the process). */
void lsp_workspace_slot_down(struct lsp_workspace *ws, struct server_slot *sl);
/* 1 ready, 0 not yet, -1 never (no index will come: no compilation database). */
int lsp_workspace_ready_state(struct lsp_workspace *ws, struct lsp_server_info *srv,
			      bool need_index);

#endif
