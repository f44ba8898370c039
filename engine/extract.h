/*
 * extract.h - a model's completion turned into a unified diff for the
 * engine (docs/eval.md, "Completions"): used by `lanser group --in` and by
 * the reward server (`lanser serve`).
 *
 * A completion is untrusted text. Recognised, in this order (the first that
 * is present decides):
 *   1. ```diff / ```patch fences: their contents, concatenated;
 *   2. search/replace blocks (a file name line, then <<<<<<< SEARCH /
 *      ======= / >>>>>>> REPLACE), applied to the base's files in order;
 *   3. fenced code blocks naming a file, either in the info string
 *      (```c src/util.c, or ```src/util.c) or on the line before the fence
 *      (`src/util.c`, **src/util.c**, path: src/util.c, File: src/util.c):
 *      the block is the whole new content of that file;
 *   4. a bare unified diff: from its first `diff --git` line, or `--- ` line
 *      followed by `+++ `, to the end.
 * Formats 2 and 3 are turned into a diff against the base revision's files
 * (read through eng_base_reader). Whatever does not parse (no such block, an
 * unterminated fence or block, a SEARCH text not in the file, a file name
 * outside the workspace, a NUL byte, too large) gives no patch and a note
 * saying why: the candidate scores R_format 0. Never an error of the call.
 *
 * Bounds: a completion of at most SBX_PATCH_MAX_BYTES, at most
 * ENG_EXTRACT_MAX_FILES files and ENG_EXTRACT_MAX_BLOCKS blocks, a base file
 * of at most ENG_EXTRACT_MAX_FILE_BYTES, a diff of at most SBX_PATCH_MAX_BYTES.
 *
 * Threads: eng_extract_patch() is reentrant; one eng_base_reader is used by
 * one thread at a time (each has its own libgit2 repository handle).
 */
#ifndef LANSER_ENGINE_EXTRACT_H
#define LANSER_ENGINE_EXTRACT_H

#include <stddef.h>

#include "core/buf.h"

#define ENG_EXTRACT_MAX_FILES 64
#define ENG_EXTRACT_MAX_BLOCKS 256
#define ENG_EXTRACT_MAX_FILE_BYTES ((size_t)8 << 20)

enum eng_extract_format {
	ENG_EXTRACT_NONE,            /* nothing usable: see note */
	ENG_EXTRACT_DIFF,            /* a unified diff, fenced or bare */
	ENG_EXTRACT_SEARCH_REPLACE,  /* search/replace blocks */
	ENG_EXTRACT_FILES,           /* whole-file fenced blocks naming a file */
};

/* "none", "diff", "search-replace", "files". */
const char *eng_extract_format_name(enum eng_extract_format f);

/* The base revision's files. Reads `path` (relative to the repository top,
 * already checked by the caller) into `out` (appended): 0, LN_ENOTFOUND
 * when the base has no such file, another LN_E* code otherwise. */
typedef int (*eng_base_read_fn)(void *ctx, const char *path, struct buf *out);

struct eng_extract {
	enum eng_extract_format format;
	char *patch;                 /* the diff (malloc'd, NUL-terminated), or NULL */
	size_t len;
	char note[200];              /* why there is no patch ("" when there is one) */
};

/*
 * Extracts the diff of completion `text` (`len` bytes, may hold anything).
 * `read` may be NULL when no base is at hand (formats 2 and 3 are then
 * unusable, with a note). `out` is filled either way: release it.
 */
void eng_extract_patch(struct eng_extract *out, const char *text, size_t len,
		       eng_base_read_fn read, void *read_ctx);
void eng_extract_release(struct eng_extract *x);

/* 1 when `path` (n bytes) is a plain relative path inside a workspace: no
 * leading '/', no empty, "." or ".." component, no ".git" component, no
 * backslash or control byte, at most 4096 bytes. */
int eng_extract_path_ok(const char *path, size_t n);

/* Reads files of one commit of a repository (libgit2). */
struct eng_base_reader;
/* Opens the repository at `root` on revision `rev`: LN_EINPUT (no
 * repository), LN_ENOTFOUND (no such revision). *out is the caller's. */
int eng_base_reader_open(struct eng_base_reader **out, const char *root, const char *rev);
void eng_base_reader_free(struct eng_base_reader *r);
/* An eng_base_read_fn: ctx is the reader. Files over
 * ENG_EXTRACT_MAX_FILE_BYTES and non-files are LN_EINPUT. */
int eng_base_reader_read(void *ctx, const char *path, struct buf *out);

#endif
