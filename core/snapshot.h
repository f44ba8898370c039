/*
 * snapshot.h - what the files of a workspace contain, kept up to date by
 * rescanning.
 *
 * A snapshot lists the workspace's regular files (workspace-relative
 * paths, sorted; hidden directories, node_modules and __pycache__ are
 * skipped, symbolic links are not followed, and what the filter leaves out,
 * ln_snapshot_set_filter, is not listed) with each file's SHA-256. A
 * rescan stats every file and re-hashes only those whose stat signature
 * (device, inode, size, mtime, ctime) changed, or whose mtime is so recent
 * that a second write in the same timestamp tick could hide behind it (the
 * "racy clean" case: file times have a granularity of a few milliseconds).
 *
 * The content digest is the SHA-256 over every (path, file hash) pair in
 * path order: two snapshots have the same digest exactly when they have the
 * same paths with the same bytes. It is what answer caches key on.
 *
 * Watching (ln_snapshot_watch): with inotify, a rescan reads the kernel's
 * change events and re-examines only the files named in them, so a warm
 * daemon's per-request check costs microseconds however big the tree is.
 * Every directory is watched before it is read, so no change can fall
 * between the listing and the watch. A new, removed or moved directory, a
 * queue overflow or running out of watches falls back to a full scan (the
 * latter for good, said by ln_snapshot_watching()).
 *
 * Bounded: at most LN_SNAPSHOT_MAX_FILES files and 32 directory levels; a
 * bigger tree still scans (changes are still reported for the files seen)
 * but has no digest (ln_snapshot_digest() returns NULL), so nothing may be
 * cached against it.
 */
#ifndef LANSER_SNAPSHOT_H
#define LANSER_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define LN_SNAPSHOT_MAX_FILES 20000

enum ln_change_type { LN_FILE_CREATED = 1, LN_FILE_CHANGED = 2, LN_FILE_DELETED = 3 };

struct ln_file_change {
	char *path;                 /* workspace-relative */
	enum ln_change_type type;   /* numbered as LSP's FileChangeType */
};

struct ln_snapshot_entry;
struct ln_snapshot_watch;

/* Leaves a path out of a scan or listing when it returns true: `rel` is
 * workspace-relative, a folder (not entered) when is_dir. ln_ignore_skip
 * (core/ignore.h: .gitignore and "exclude") is the one lanser uses. */
typedef bool (*ln_skip_fn)(void *ctx, const char *rel, bool is_dir);

struct ln_snapshot {
	char *root;
	struct ln_snapshot_entry *v;
	size_t n;
	int ifd;                    /* inotify descriptor, -1 when not watching */
	struct ln_snapshot_watch *w;  /* watch descriptor -> directory */
	size_t nw;
	bool full;                  /* the next scan must walk the tree */
	bool scanned;               /* at least one scan done */
	bool truncated;             /* the last scan hit a bound */
	char digest[72];            /* "sha256:<hex>", or "" when truncated */
	ln_skip_fn skip;            /* may be NULL */
	void *skip_ctx;
};

void ln_snapshot_init(struct ln_snapshot *s, const char *root);
void ln_snapshot_release(struct ln_snapshot *s);

/* Leaves out what `skip` accepts from every later scan (set it before the
 * first one); ctx is borrowed and must outlive the snapshot. */
void ln_snapshot_set_filter(struct ln_snapshot *s, ln_skip_fn skip, void *ctx);

/* Turns on inotify watching (before the first scan). Returns 0, or -1 when
 * inotify is unavailable (scans then walk the tree every time). */
int ln_snapshot_watch(struct ln_snapshot *s);
/* Whether scans are driven by inotify now. */
bool ln_snapshot_watching(const struct ln_snapshot *s);

/* Rescans the tree. *changes (may be NULL) receives what differs from the
 * previous scan, sorted by path (empty on the first scan); free it with
 * ln_file_changes_free(). Returns 0, or LN_EGENERIC when the root itself
 * cannot be read. */
int ln_snapshot_scan(struct ln_snapshot *s, struct ln_file_change **changes, size_t *nchanges);

/* "sha256:<hex>" of the last scan, or NULL when it was truncated or no
 * scan happened yet. */
const char *ln_snapshot_digest(const struct ln_snapshot *s);

/* The files of the last scan, sorted by path (bytewise). */
size_t ln_snapshot_count(const struct ln_snapshot *s);
const char *ln_snapshot_path(const struct ln_snapshot *s, size_t i);

/* The hex SHA-256 of `path` as of the last scan, or NULL. */
const char *ln_snapshot_file_hash(const struct ln_snapshot *s, const char *path);

void ln_file_changes_free(struct ln_file_change *v, size_t n);

/* Lists the workspace's regular files that `keep` accepts (NULL: all) and
 * `skip` (NULL: none) does not leave out, by the snapshot's rules (hidden
 * entries, node_modules and __pycache__ skipped, symlinks not followed, 32
 * levels), sorted bytewise, as a JSON array of relative paths; no hashing.
 * LN_EINPUT when more than `max` files are kept ("..., name the files"). */
int ln_tree_files(json_t **out, const char *root, bool (*keep)(const char *rel, void *ctx),
		  void *ctx, ln_skip_fn skip, void *skip_ctx, size_t max);

#endif
