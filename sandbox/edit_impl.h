/*
 * edit_impl.h - internal to the edit module (sandbox/edit.c, patch.c,
 * patch_apply.c, wsedit.c): the parsed form of a unified diff and the
 * helpers the files share. Callers outside the module use edit.h.
 */
#ifndef LANSER_SBX_EDIT_IMPL_H
#define LANSER_SBX_EDIT_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/edit.h"

struct sbx_hline {
	char kind;            /* ' ', '-', '+' */
	const char *s;        /* content without the '\n' */
	size_t len;
	bool eol;             /* false when "\ No newline at end of file" follows */
};

struct sbx_hunk {
	long os, ol, ns, nl;  /* from the header */
	const char *hdr;
	size_t hdr_len;
	struct sbx_hline *v;
	size_t n, cap;
};

struct sbx_pfile {
	char *old_path, *new_path;   /* NULL for /dev/null */
	char *rename_from, *rename_to, *copy_from, *copy_to;
	unsigned old_mode, new_mode, new_file_mode, deleted_mode;
	bool is_new, is_deleted, git;
	char *dg_a, *dg_b;           /* from the "diff --git" line */
	struct sbx_hunk *h;
	size_t nh, caph;
};

struct sbx_patch {
	struct sbx_pfile *v;
	size_t n, cap;
};

/* Parses the unified diff `diff` (len bytes) into `pt` (zeroed by the
 * caller); hunk lines point into `diff`, which must outlive `pt`. Returns 0
 * or LN_EINPUT with the last error set naming the line; release `pt`
 * either way. */
int sbx_patch_parse(struct sbx_patch *pt, const char *diff, size_t len);
void sbx_patch_release(struct sbx_patch *p);

/* Frees what `f` owns (not `f`). */
void sbx_file_release(struct sbx_file *f);
/* Appends a zeroed file to the set (never NULL). */
struct sbx_file *sbx_edits_add_file(struct sbx_edits *e);
/* The file of the set at `path` (or renamed from it), else NULL. */
struct sbx_file *sbx_edits_find_file(struct sbx_edits *e, const char *path);

#endif
