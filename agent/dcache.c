/*
 * dcache.c - the daemon's answer cache (see dcache.h).
 */
#include "agent/dcache.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DCACHE_MAX_ENTRIES 256
#define DCACHE_MAX_BYTES ((size_t)32 << 20)

void dcache_clear(struct dcache *dc)
{
	size_t i;
	for (i = 0; i < dc->n; i++) {
		buf_release(&dc->v[i].out);
		buf_release(&dc->v[i].err);
	}
	free(dc->v);
	dc->v = NULL;
	dc->n = 0;
	dc->bytes = 0;
}

struct dcache_entry *dcache_find(struct dcache *dc, const char *key)
{
	size_t i;
	for (i = 0; i < dc->n; i++)
		if (!strcmp(dc->v[i].key, key))
			return &dc->v[i];
	return NULL;
}

void dcache_put(struct dcache *dc, const char *key, int code, const char *out, size_t olen,
		const char *err, size_t elen)
{
	struct dcache_entry *e;

	if (olen + elen > DCACHE_MAX_BYTES / 4)
		return;
	e = dcache_find(dc, key);
	if (e) { /* a --no-cache call refreshes its entry */
		dc->bytes -= e->out.len + e->err.len;
		buf_reset(&e->out);
		buf_reset(&e->err);
		buf_add(&e->out, out, olen);
		buf_add(&e->err, err, elen);
		e->code = code;
		e->used = ln_now_ms();
		dc->bytes += olen + elen;
		return;
	}
	/* evict the least recently used until it fits */
	while (dc->n && (dc->n >= DCACHE_MAX_ENTRIES ||
			     dc->bytes + olen + elen > DCACHE_MAX_BYTES)) {
		size_t i, lru = 0;
		for (i = 1; i < dc->n; i++)
			if (dc->v[i].used < dc->v[lru].used)
				lru = i;
		dc->bytes -= dc->v[lru].out.len + dc->v[lru].err.len;
		buf_release(&dc->v[lru].out);
		buf_release(&dc->v[lru].err);
		dc->v[lru] = dc->v[--dc->n];
	}
	dc->v = xrealloc(dc->v, (dc->n + 1) * sizeof *dc->v);
	e = &dc->v[dc->n++];
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	buf_init(&e->out);
	buf_init(&e->err);
	buf_add(&e->out, out, olen);
	buf_add(&e->err, err, elen);
	e->code = code;
	e->used = ln_now_ms();
	dc->bytes += olen + elen;
}

/* The cache key of a run request: the command line as the client gave it
 * (minus --no-cache), where it was given from, and everything the answer
 * depends on: the workspace's content (which includes .lanser.json) and
 * the running servers (generation: any start or restart empties the
 * cache's relevance). False when the answer must not be cached. */
bool dcache_key(char key[LN_SHA256_HEX_SIZE], struct lsp_workspace *ws, json_t *argv,
		const char *cwd)
{
	const char *digest = lsp_workspace_content_digest(ws);
	json_t *k, *v;
	char *s;
	size_t i;

	if (!digest || lsp_workspace_has_overlays(ws))
		return false;
	k = json_array();
	json_array_foreach(argv, i, v)
		if (strcmp(json_string_value(v), "--no-cache"))
			json_array_append(k, v);
	k = xjson_pack("{s:o, s:s, s:s, s:I}", "argv", k, "cwd", cwd, "content", digest,
		      "generation", (json_int_t)lsp_workspace_generation(ws));
	s = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(k);
	if (!s)
		return false;
	ln_sha256_hex(s, strlen(s), key);
	free(s);
	return true;
}

/* Sets meta.volatile of a cached JSON answer to this request's values. */
void dcache_restamp(struct buf *out, long long started)
{
	json_error_t jerr;
	json_t *b = json_loadb(out->data, out->len, 0, &jerr);
	json_t *vol = json_object_get(json_object_get(b, "meta"), "volatile");
	char *s;

	if (!json_is_object(vol)) {
		json_decref(b);
		return;
	}
	json_object_set_new(vol, "cacheHit", json_true());
	json_object_set_new(vol, "elapsedMs", json_integer(ln_now_ms() - started));
	s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(b);
	if (!s)
		return;
	buf_reset(out);
	buf_adds(out, s);
	buf_addch(out, '\n');
	free(s);
}

