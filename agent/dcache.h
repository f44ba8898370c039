/*
 * dcache.h - the daemon's answer cache (docs/daemon.md): whole replies
 * (exit status, stdout, stderr) of query commands, keyed by the command
 * line, where it was given from, the workspace's content and the servers'
 * generation. Bounded: at most 256 entries and 32 MiB, least recently used
 * first out; a reply over a quarter of that is never kept.
 */
#ifndef LANSER_AGENT_DCACHE_H
#define LANSER_AGENT_DCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/hash.h"

struct lsp_workspace;

struct dcache_entry {
	char key[LN_SHA256_HEX_SIZE];
	struct buf out, err;
	int code;
	long long used;
};

struct dcache {
	struct dcache_entry *v;
	size_t n, bytes;
};

/* Empties the cache (and frees its memory; a zeroed struct is empty). */
void dcache_clear(struct dcache *dc);
struct dcache_entry *dcache_find(struct dcache *dc, const char *key);
/* Stores a reply (copied) under `key`, replacing an entry of that key. */
void dcache_put(struct dcache *dc, const char *key, int code, const char *out, size_t olen,
		const char *err, size_t elen);

/* The key of a run request (argv: JSON strings, "--no-cache" left out)
 * from `cwd` against `ws`. False when the answer must not be cached (no
 * content digest, unsaved overlays). */
bool dcache_key(char key[LN_SHA256_HEX_SIZE], struct lsp_workspace *ws, json_t *argv,
		const char *cwd);

/* Sets meta.volatile of a cached JSON answer (one line) to this request's
 * values: cacheHit true, elapsedMs since `started`. Leaves anything else
 * as it is. */
void dcache_restamp(struct buf *out, long long started);

#endif
