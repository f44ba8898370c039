/*
 * tree.c - grammars and the tree cache (see tree.h).
 */
#include "selectors/tree.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/xalloc.h"
#include "core/limits.h"
#include "core/text.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const TSLanguage *tree_sitter_c(void);
const TSLanguage *tree_sitter_python(void);
const TSLanguage *tree_sitter_typescript(void);
const TSLanguage *tree_sitter_tsx(void);
const TSLanguage *tree_sitter_javascript(void);


struct entry {
	char digest[65];
	enum sel_grammar grammar;
	char *key;              /* may be NULL */
	char *text;
	size_t len;
	TSTree *tree;
	bool latin1;            /* parsed as Latin-1 (no reuse across readings) */
	unsigned long used;     /* LRU clock */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry cache[SEL_TREE_CACHE_ENTRIES];
static size_t ncache, cache_bytes;
static unsigned long clock_;
static struct sel_tree_stats stats;

enum sel_grammar sel_grammar_for_path(const char *path)
{
	const char *dot = path ? strrchr(path, '.') : NULL;

	if (!dot || strchr(dot, '/'))
		return SEL_GRAMMAR_NONE;
	if (!strcmp(dot, ".c") || !strcmp(dot, ".h"))
		return SEL_GRAMMAR_C;
	if (!strcmp(dot, ".py") || !strcmp(dot, ".pyi"))
		return SEL_GRAMMAR_PYTHON;
	if (!strcmp(dot, ".ts") || !strcmp(dot, ".mts") || !strcmp(dot, ".cts"))
		return SEL_GRAMMAR_TS;
	if (!strcmp(dot, ".tsx"))
		return SEL_GRAMMAR_TSX;
	if (!strcmp(dot, ".js") || !strcmp(dot, ".jsx") || !strcmp(dot, ".mjs") ||
	    !strcmp(dot, ".cjs"))
		return SEL_GRAMMAR_JS;   /* the JavaScript grammar parses JSX */
	return SEL_GRAMMAR_NONE;
}

static const TSLanguage *language(enum sel_grammar g)
{
	switch (g) {
	case SEL_GRAMMAR_C: return tree_sitter_c();
	case SEL_GRAMMAR_TS: return tree_sitter_typescript();
	case SEL_GRAMMAR_TSX: return tree_sitter_tsx();
	case SEL_GRAMMAR_JS: return tree_sitter_javascript();
	default: return tree_sitter_python();
	}
}

static void entry_release(struct entry *e)
{
	free(e->key);
	free(e->text);
	ts_tree_delete(e->tree);
	memset(e, 0, sizeof *e);
}

static void evict_one(void)
{
	size_t i, victim = 0;

	for (i = 1; i < ncache; i++)
		if (cache[i].used < cache[victim].used)
			victim = i;
	cache_bytes -= cache[victim].len;
	entry_release(&cache[victim]);
	cache[victim] = cache[--ncache];
	memset(&cache[ncache], 0, sizeof cache[ncache]);
	stats.evictions++;
}

static TSPoint point_at(const char *text, size_t off)
{
	TSPoint p = { 0, 0 };
	size_t i, line_start = 0;

	for (i = 0; i < off; i++)
		if (text[i] == '\n') {
			p.row++;
			line_start = i + 1;
		}
	p.column = (uint32_t)(off - line_start);
	return p;
}

/* An edited copy of `old`'s tree describing the change old -> new text. */
static TSTree *edited_tree(const struct entry *old, const char *text, size_t len)
{
	size_t pre = 0, suf = 0, max_suf;
	TSInputEdit e;
	TSTree *t;

	while (pre < old->len && pre < len && old->text[pre] == text[pre])
		pre++;
	max_suf = (old->len < len ? old->len : len) - pre;
	while (suf < max_suf && old->text[old->len - 1 - suf] == text[len - 1 - suf])
		suf++;
	e.start_byte = (uint32_t)pre;
	e.old_end_byte = (uint32_t)(old->len - suf);
	e.new_end_byte = (uint32_t)(len - suf);
	e.start_point = point_at(text, pre);
	e.old_end_point = point_at(old->text, old->len - suf);
	e.new_end_point = point_at(text, len - suf);
	t = ts_tree_copy(old->tree);
	ts_tree_edit(t, &e);
	return t;
}

/* A document that is not UTF-8 and holds no NUL byte is Latin-1
 * (docs/bundle.md, "Files that are not UTF-8"): tree-sitter reads its
 * bytes through this decoder, one byte one character, so a name such as
 * caf\xE9 stays whole and every offset stays a byte of the file. */
static uint32_t decode_latin1(const uint8_t *s, uint32_t len, int32_t *cp)
{
	if (len == 0) {
		*cp = 0;
		return 0;
	}
	*cp = s[0];
	return 1;
}

struct span {
	const char *text;
	size_t len;
};

static const char *read_span(void *payload, uint32_t at, TSPoint pos, uint32_t *n)
{
	const struct span *sp = payload;

	(void)pos;
	if (at >= sp->len) {
		*n = 0;
		return "";
	}
	*n = (uint32_t)(sp->len - at);
	return sp->text + at;
}

static TSTree *parse(TSParser *parser, const TSTree *old, const char *text, size_t len,
		     bool latin1)
{
	struct span sp = { text, len };
	TSInput in;

	if (!latin1)
		return ts_parser_parse_string(parser, old, text, (uint32_t)len);
	memset(&in, 0, sizeof in);
	in.payload = &sp;
	in.read = read_span;
	in.encoding = TSInputEncodingCustom;
	in.decode = decode_latin1;
	return ts_parser_parse(parser, old, in);
}

int sel_doc_parse(struct sel_doc **out, const char *key, const char *text, size_t len,
		  enum sel_grammar g)
{
	bool latin1 = !ln_utf8_valid(text, len) && !memchr(text, '\0', len);
	struct sel_doc *doc;
	char digest[65];
	size_t i;
	struct entry *hit = NULL, *prev = NULL;
	TSTree *tree = NULL;

	*out = NULL;
	if (g == SEL_GRAMMAR_NONE)
		return ln_error_set(LN_EUNSUPPORTED, "no tree-sitter grammar for %s "
				    "(supported: .c .h .py .pyi)", key ? key : "this file");
	if (len > LN_FILE_MAX_BYTES)
		return ln_error_set(LN_EINPUT, "%s is larger than %zu MiB", key ? key : "document",
				    LN_FILE_MAX_BYTES >> 20);
	ln_sha256_hex(text, len, digest);
	pthread_mutex_lock(&lock);
	for (i = 0; i < ncache; i++) {
		if (cache[i].grammar == g && !strcmp(cache[i].digest, digest)) {
			hit = &cache[i];
			break;
		}
		if (key && cache[i].key && cache[i].grammar == g && !strcmp(cache[i].key, key) &&
		    cache[i].latin1 == latin1 && (!prev || cache[i].used > prev->used))
			prev = &cache[i];
	}
	if (hit) {
		hit->used = ++clock_;
		tree = ts_tree_copy(hit->tree);
		stats.hits++;
	} else {
		TSParser *parser = ts_parser_new();
		TSTree *old = prev ? edited_tree(prev, text, len) : NULL;
		ts_parser_set_language(parser, language(g));
		tree = parse(parser, old, text, len, latin1);
		ts_parser_delete(parser);
		ts_tree_delete(old);
		if (prev)
			stats.incremental++;
		else
			stats.full++;
		if (tree && len <= SEL_TREE_CACHE_BYTES) {
			struct entry *e;
			while (ncache && (ncache >= SEL_TREE_CACHE_ENTRIES ||
					  cache_bytes + len > SEL_TREE_CACHE_BYTES))
				evict_one();
			e = &cache[ncache++];
			memcpy(e->digest, digest, sizeof digest);
			e->grammar = g;
			e->key = key ? xstrdup(key) : NULL;
			e->text = xmalloc(len + 1);
			memcpy(e->text, text, len);
			e->text[len] = '\0';
			e->len = len;
			e->tree = ts_tree_copy(tree);
			e->latin1 = latin1;
			e->used = ++clock_;
			cache_bytes += len;
		}
	}
	pthread_mutex_unlock(&lock);
	if (!tree)
		return ln_error_set(LN_EGENERIC, "tree-sitter could not parse %s", key ? key : "the document");
	doc = xcalloc(1, sizeof *doc);
	doc->grammar = g;
	doc->text = xmalloc(len + 1);
	memcpy(doc->text, text, len);
	doc->text[len] = '\0';
	doc->len = len;
	doc->latin1 = latin1;
	doc->tree = tree;
	memcpy(doc->digest, digest, sizeof digest);
	*out = doc;
	return 0;
}

void sel_doc_free(struct sel_doc *doc)
{
	if (!doc)
		return;
	ts_tree_delete(doc->tree);
	free(doc->text);
	free(doc);
}

TSNode sel_doc_root(const struct sel_doc *doc)
{
	return ts_tree_root_node(doc->tree);
}

void sel_tree_stats(struct sel_tree_stats *out)
{
	pthread_mutex_lock(&lock);
	*out = stats;
	out->entries = ncache;
	out->bytes = cache_bytes;
	pthread_mutex_unlock(&lock);
}

void sel_tree_cache_clear(void)
{
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < ncache; i++)
		entry_release(&cache[i]);
	ncache = 0;
	cache_bytes = 0;
	pthread_mutex_unlock(&lock);
}
