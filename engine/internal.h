/*
 * internal.h - what the files of engine/ share: the engine object and a
 * candidate in the making. Not for front ends (they see engine/engine.h).
 *
 *   engine.c     open/close, one call: diffs, tests thread, the two
 *                diagnostics passes, results
 *   base.c       the base worktree and its (boxed) language servers
 *   diag.c       diagnostics of a file, before/after a candidate, taking
 *                the base back after it
 *   relevance.c  the relevant files of a candidate (engine/relevance.h)
 *   score.c      rewards, the policy verdict, the eval bundle
 *   settings.c   configuration, task, options (eng_settings_load)
 *   testrun.c    the sandboxed tests (engine/testrun.h); testtail.c the last
 *                lines of a failed run
 */
#ifndef LANSER_ENGINE_INTERNAL_H
#define LANSER_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "sandbox/edit.h"

#include <pthread.h>

struct lsp_workspace;
struct sbx_wtset;

struct eng_cand {
	struct eng_result r;     /* what the caller gets */
	const char *patch;       /* the diff (borrowed from the caller; NULL: none) */
	size_t len;
	char *patch_file;        /* the same bytes in the call's folder, for the tests */
	struct sbx_edits e;      /* the diff applied in memory to the base */
	json_t *before;          /* diagnostic facts at the base (relevant files) */
	json_t *after;           /* ... with the candidate's texts */
	int diag_code;           /* LN_E* of the diagnostics; diag_msg says why */
	char diag_msg[300];
	bool removed;            /* files taken out of the base worktree (eng_restore_base) */
	/* streaming (engine.c): under eng.lock, the tests thread hands over
	 * the record (arrived, tested); the caller's thread scores */
	json_t *arrived;
	bool tested, diag_done, scored;
	struct rwd_outcome oc;   /* the outcome record, read */
};

struct eng {
	struct eng_opts o;
	const struct eng_settings *s;
	struct sbx_wtset *wts;
	struct sbx_wtset *test_wts;  /* the tests' worktrees, kept between calls */
	char *wt;                 /* canonical path of the diagnostics worktree */
	char base_oid[41];
	struct lsp_workspace *ws;
	json_t *servers_cfg;      /* the servers' settings (clangd's command completed) */
	json_t *servers_env;      /* environment.servers */
	json_t *before_cache;     /* path -> facts at the base */
	json_t *after_hash;       /* path -> SHA-256 of the text last diagnosed after (clangd) */
	json_t *private_cache;    /* path -> whether no other file includes it (incscan.c) */
	json_t *refs_cache;       /* "lo:hi:path" -> files referencing what those base lines hold
				     (relevance.c) */
	/* non-empty: the base worktree could not be put back after a
	 * candidate; every later candidate is unscorable with this reason */
	char broken[300];
	/* the current call */
	struct eng_cand *v;
	size_t n;
	char *tmpdir;
	json_t *records;          /* outcome records of the usable candidates */
	size_t *test_map;         /* tests' candidate index -> index in v */
	size_t ntests;
	pthread_mutex_t lock;     /* cand.arrived/tested, tests_over */
	pthread_cond_t cond;      /* a record arrived, or the tests are over */
	bool tests_over;
	int tests_code;
	char tests_msg[300];
	bool no_tests;            /* eng_diagnose: this call runs no tests */
	long long started, t_diag_ms, t_tests_ms;
};

/* A note through opts.note (printf-like). */
void eng_note(const struct eng *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool eng_cancelled(const struct eng *e);

/* base.c: the worktree of the base and its servers. */
int eng_base_setup(struct eng *e);

/* diag.c */
int eng_diag_before(struct eng *e, struct eng_cand *cd);
int eng_diag_after(struct eng *e, struct eng_cand *cd);
/* Takes the candidate's changes back out of the base worktree and the
 * servers; an error (and e->broken) when a file could not be put back. */
int eng_restore_base(struct eng *e, struct eng_cand *cd);
bool eng_exists_in_wt(const struct eng *e, const char *rel);

/* incscan.c: whether `rel` (of the base worktree) is a C-family source
 * file (.c, .cc, .cpp, .cxx, .c++, .m, .mm) that no file of the base
 * worktree names in an #include/#import (by its file name) and no
 * compilation database or flag file force-includes: then no translation
 * unit but its own sees it. An #include of a macro, a file that cannot be
 * read, or a tree past the scan's bounds (20000 files, 64 MiB) make the
 * answer false. Cached per path for the engine's life (its base). */
bool eng_source_private(struct eng *e, const char *rel);

/* relevance.c: cd->r.relevant. */
int eng_relevance_compute(struct eng *e, struct eng_cand *cd);

/* score.c */
void eng_score(struct eng *e, struct eng_cand *cd);
void eng_judge(struct eng *e, struct eng_cand *cd);
void eng_make_bundle(struct eng *e, struct eng_cand *cd);
void eng_trace_candidate(struct eng *e, const struct eng_cand *cd);

#endif
