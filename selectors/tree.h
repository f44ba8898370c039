/*
 * tree.h - tree-sitter parsing with a bounded, process-global tree cache.
 *
 * Grammars: C (.c .h), Python (.py .pyi), TypeScript (.ts .mts .cts),
 * TSX (.tsx) and JavaScript (.js .jsx .mjs .cjs), compiled from the pinned
 * sources in deps/ (see the Makefile). A parsed document (struct sel_doc)
 * owns its text and its own TSTree copy, so it stays valid however the
 * cache evicts.
 *
 * Cache: keyed by (SHA-256 of the content, grammar); at most
 * SEL_TREE_CACHE_ENTRIES trees and SEL_TREE_CACHE_BYTES bytes of source,
 * least recently used evicted first. When the content of a key (a path) is
 * not cached but an earlier version of the same key is, the old tree is
 * edited (ts_tree_edit over the changed byte span: common prefix and
 * suffix) and reparsed incrementally. Thread-safe (one mutex); the daemon
 * keeps it for its lifetime.
 */
#ifndef LANSER_SEL_TREE_H
#define LANSER_SEL_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tree_sitter/api.h>

#define SEL_TREE_CACHE_ENTRIES 64
#define SEL_TREE_CACHE_BYTES ((size_t)64 << 20)

enum sel_grammar { SEL_GRAMMAR_NONE, SEL_GRAMMAR_C, SEL_GRAMMAR_PYTHON, SEL_GRAMMAR_TS,
		   SEL_GRAMMAR_TSX, SEL_GRAMMAR_JS };

/* The grammar for a path, by extension; SEL_GRAMMAR_NONE when none. */
enum sel_grammar sel_grammar_for_path(const char *path);

struct sel_doc {
	enum sel_grammar grammar;
	char *text;               /* owned, NUL-terminated */
	size_t len;
	bool latin1;              /* not UTF-8, no NUL: parsed as Latin-1, one byte
				   * one character (docs/bundle.md); offsets are
				   * bytes of text either way */
	TSTree *tree;             /* owned copy */
	char digest[65];          /* hex SHA-256 of text */
};

/*
 * Parses `text` (len bytes) with `g`, through the cache. `key` names the
 * document (a workspace-relative path; may be NULL) for incremental
 * reparsing of its next version. A text that is not UTF-8 (and has no NUL
 * byte) is parsed as Latin-1 ((*out)->latin1). *out is owned by the caller
 * (sel_doc_free). Returns 0, LN_EUNSUPPORTED for SEL_GRAMMAR_NONE, or
 * LN_EINPUT for a document larger than LN_FILE_MAX_BYTES (core/limits.h).
 */
int sel_doc_parse(struct sel_doc **out, const char *key, const char *text, size_t len,
		  enum sel_grammar g);
void sel_doc_free(struct sel_doc *doc);

TSNode sel_doc_root(const struct sel_doc *doc);

/* Counters since process start (for tests and meta.volatile). */
struct sel_tree_stats {
	unsigned long hits, incremental, full, evictions;
	size_t entries, bytes;
};
void sel_tree_stats(struct sel_tree_stats *out);
/* Drops every cached tree (tests). */
void sel_tree_cache_clear(void);

#endif
