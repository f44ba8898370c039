#include "core/snapshot.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 32
/* Files bigger than this are identified by their stat signature instead of
 * their bytes (still exact about "did it change", just not content-based). */
#define MAX_HASHED_BYTES ((off_t)64 << 20)
/* A file modified less than this long before the scan is re-hashed on the
 * next scan even when its signature did not change. */
#define RACY_NS 2000000000LL

struct ln_snapshot_entry {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	long long mtime_ns, ctime_ns;
	bool racy;
	bool force;         /* named by an inotify event: re-hash */
	char hash[LN_SHA256_HEX_SIZE];
};

struct ln_snapshot_watch {
	int wd;
	char *rel;   /* directory, workspace-relative ("" for the root) */
};

#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | \
		    IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | \
		    IN_DONT_FOLLOW | IN_EXCL_UNLINK)

void ln_snapshot_init(struct ln_snapshot *s, const char *root)
{
	memset(s, 0, sizeof *s);
	s->ifd = -1;
	s->full = true;
	s->root = xstrdup(root);
}

static void watches_clear(struct ln_snapshot *s)
{
	size_t i;
	for (i = 0; i < s->nw; i++)
		free(s->w[i].rel);
	free(s->w);
	s->w = NULL;
	s->nw = 0;
}

static void unwatch(struct ln_snapshot *s)
{
	watches_clear(s);
	if (s->ifd >= 0)
		close(s->ifd);
	s->ifd = -1;
}

void ln_snapshot_set_filter(struct ln_snapshot *s, ln_skip_fn skip, void *ctx)
{
	s->skip = skip;
	s->skip_ctx = ctx;
	s->full = true;
}

int ln_snapshot_watch(struct ln_snapshot *s)
{
	if (s->ifd >= 0)
		return 0;
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	s->full = true;
	return s->ifd >= 0 ? 0 : -1;
}

bool ln_snapshot_watching(const struct ln_snapshot *s)
{
	return s->ifd >= 0;
}

/* Watches a directory before it is read. Out of watches: stop watching
 * (full scans from now on). */
static void watch_dir(struct ln_snapshot *s, const char *abs, const char *rel)
{
	size_t i;
	int wd;

	if (s->ifd < 0)
		return;
	wd = inotify_add_watch(s->ifd, abs, WATCH_MASK);
	if (wd < 0) {
		unwatch(s);
		return;
	}
	for (i = 0; i < s->nw; i++)
		if (s->w[i].wd == wd) {
			if (strcmp(s->w[i].rel, rel)) {
				free(s->w[i].rel);
				s->w[i].rel = xstrdup(rel);
			}
			return;
		}
	s->w = xrealloc(s->w, (s->nw + 1) * sizeof *s->w);
	s->w[s->nw].wd = wd;
	s->w[s->nw].rel = xstrdup(rel);
	s->nw++;
}

static void entries_free(struct ln_snapshot_entry *v, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

void ln_snapshot_release(struct ln_snapshot *s)
{
	unwatch(s);
	entries_free(s->v, s->n);
	free(s->root);
	memset(s, 0, sizeof *s);
}

void ln_file_changes_free(struct ln_file_change *v, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

struct scan {
	struct ln_snapshot_entry *v;
	size_t n, cap;
	bool truncated;
};

/* Adds a file (path owned by the entry from now on); NULL when the scan is
 * full (truncated). */
static struct ln_snapshot_entry *add_entry(struct scan *sc, char *path, const struct stat *st)
{
	struct ln_snapshot_entry *en;

	if (sc->n >= LN_SNAPSHOT_MAX_FILES) {
		sc->truncated = true;
		free(path);
		return NULL;
	}
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 256;
		sc->v = xrealloc(sc->v, sc->cap * sizeof *sc->v);
	}
	en = &sc->v[sc->n++];
	memset(en, 0, sizeof *en);
	en->path = path;
	en->dev = st->st_dev;
	en->ino = st->st_ino;
	en->size = st->st_size;
	en->mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	en->ctime_ns = (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
	return en;
}

static bool skipped_dir(const char *name)
{
	return name[0] == '.' || !strcmp(name, "node_modules") || !strcmp(name, "__pycache__");
}

static void walk(struct ln_snapshot *s, struct scan *sc, const char *root, const char *rel,
		 int depth)
{
	struct buf dir = BUF_INIT, child = BUF_INIT;
	struct dirent *e;
	DIR *d;

	if (depth > MAX_DEPTH) {
		sc->truncated = true;
		return;
	}
	buf_addf(&dir, "%s%s%s", root, *rel ? "/" : "", rel);
	watch_dir(s, dir.data, rel);
	d = opendir(dir.data);
	if (!d) {
		buf_release(&dir);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		buf_reset(&child);
		buf_addf(&child, "%s/%s", dir.data, e->d_name);
		if (lstat(child.data, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			struct buf sub = BUF_INIT;
			if (skipped_dir(e->d_name))
				continue;
			buf_addf(&sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
			if (!s->skip || !s->skip(s->skip_ctx, sub.data, true))
				walk(s, sc, root, sub.data, depth + 1);
			buf_release(&sub);
		} else if (S_ISREG(st.st_mode)) {
			struct ln_snapshot_entry *en;
			if (e->d_name[0] == '.' && depth == 0 && !strcmp(e->d_name, ".lanser.json")) {
				/* the configuration is a workspace input too */
			} else if (e->d_name[0] == '.') {
				continue;
			}
			struct buf p = BUF_INIT;
			buf_addf(&p, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
			if (s->skip && s->skip(s->skip_ctx, p.data, false)) {
				buf_release(&p);
				continue;
			}
			en = add_entry(sc, buf_detach(&p, NULL), &st);
			if (!en)
				break;
		}
	}
	closedir(d);
	buf_release(&dir);
	buf_release(&child);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct ln_snapshot_entry *)a)->path,
		      ((const struct ln_snapshot_entry *)b)->path);
}

static void hash_file(const char *root, struct ln_snapshot_entry *en)
{
	struct ln_sha256_ctx c;
	struct buf p = BUF_INIT;
	char chunk[65536];
	ssize_t got;
	int fd;

	if (en->size > MAX_HASHED_BYTES) {
		char sig[128];
		snprintf(sig, sizeof sig, "stat:%llu:%llu:%lld:%lld", (unsigned long long)en->ino,
			 (unsigned long long)en->size, en->mtime_ns, en->ctime_ns);
		ln_sha256_hex(sig, strlen(sig), en->hash);
		return;
	}
	buf_addf(&p, "%s/%s", root, en->path);
	fd = open(p.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	buf_release(&p);
	ln_sha256_init(&c);
	if (fd >= 0) {
		while ((got = read(fd, chunk, sizeof chunk)) > 0)
			ln_sha256_update(&c, chunk, (size_t)got);
		close(fd);
	} else {
		/* vanished between stat and open: hash as unreadable */
		ln_sha256_update(&c, "\0unreadable", 11);
	}
	ln_sha256_final_hex(&c, en->hash);
}

static void add_change(struct ln_file_change **v, size_t *n, const char *path,
		       enum ln_change_type type)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[*n].path = xstrdup(path);
	(*v)[*n].type = type;
	(*n)++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether a file named `name` in directory `rel` is part of the snapshot. */
static bool tracked_file(const char *rel, const char *name)
{
	if (name[0] != '.')
		return true;
	return !*rel && !strcmp(name, ".lanser.json");
}

#define MAX_EVENT_PATHS 10000

/* Builds the next scan from the previous one and the pending inotify
 * events: 0 when nothing happened, 1 with *sc filled, -1 when a full walk
 * is needed (directory events, overflow, too many changes). */
static int from_events(struct ln_snapshot *s, struct scan *sc)
{
	char evbuf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	char **dirty = NULL;
	size_t ndirty = 0, i, j;
	int result = 0;

	for (;;) {
		ssize_t got = read(s->ifd, evbuf, sizeof evbuf);
		char *p;
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* EAGAIN: all read */
		for (p = evbuf; p < evbuf + got;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			const char *rel = NULL;
			p += sizeof *ev + ev->len;
			if (result < 0)
				continue; /* drain the rest */
			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF |
					IN_ISDIR)) {
				result = -1;
				continue;
			}
			for (i = 0; i < s->nw && !rel; i++)
				if (s->w[i].wd == ev->wd)
					rel = s->w[i].rel;
			if (!rel || !ev->len || !tracked_file(rel, ev->name))
				continue;
			if (ndirty >= MAX_EVENT_PATHS) {
				result = -1;
				continue;
			}
			{
				struct buf b = BUF_INIT;
				buf_addf(&b, "%s%s%s", rel, *rel ? "/" : "", ev->name);
				if (s->skip && s->skip(s->skip_ctx, b.data, false)) {
					buf_release(&b);
					continue;
				}
				dirty = xrealloc(dirty, (ndirty + 1) * sizeof *dirty);
				dirty[ndirty++] = buf_detach(&b, NULL);
			}
			result = 1;
		}
	}
	if (result <= 0)
		goto done;
	qsort(dirty, ndirty, sizeof *dirty, cmp_str);
	/* The previous files, minus the ones named in events ... */
	for (i = 0, j = 0; i < s->n; i++) {
		struct stat st;
		while (j < ndirty && strcmp(dirty[j], s->v[i].path) < 0)
			j++;
		if (j < ndirty && !strcmp(dirty[j], s->v[i].path))
			continue;
		memset(&st, 0, sizeof st);
		st.st_dev = s->v[i].dev;
		st.st_ino = s->v[i].ino;
		st.st_size = s->v[i].size;
		st.st_mtim.tv_sec = s->v[i].mtime_ns / 1000000000LL;
		st.st_mtim.tv_nsec = s->v[i].mtime_ns % 1000000000LL;
		st.st_ctim.tv_sec = s->v[i].ctime_ns / 1000000000LL;
		st.st_ctim.tv_nsec = s->v[i].ctime_ns % 1000000000LL;
		if (!add_entry(sc, xstrdup(s->v[i].path), &st)) {
			result = -1;
			goto done;
		}
	}
	/* ... and those of them that exist now, as they are now. */
	for (i = 0; i < ndirty; i++) {
		struct buf abs = BUF_INIT;
		struct stat st;
		int r;
		if (i && !strcmp(dirty[i], dirty[i - 1]))
			continue;
		buf_addf(&abs, "%s/%s", s->root, dirty[i]);
		r = lstat(abs.data, &st);
		buf_release(&abs);
		if (r == 0 && S_ISDIR(st.st_mode)) {
			result = -1;
			goto done;
		}
		if (r == 0 && S_ISREG(st.st_mode)) {
			struct ln_snapshot_entry *en = add_entry(sc, xstrdup(dirty[i]), &st);
			if (!en) {
				result = -1;
				goto done;
			}
			en->force = true;
		}
	}
done:
	for (i = 0; i < ndirty; i++)
		free(dirty[i]);
	free(dirty);
	return result;
}

int ln_snapshot_scan(struct ln_snapshot *s, struct ln_file_change **changes, size_t *nchanges)
{
	struct scan sc = { 0 };
	struct ln_file_change *ch = NULL;
	struct ln_sha256_ctx dc;
	struct timespec now;
	long long now_ns;
	size_t nch = 0, i, j;
	struct stat st;

	if (changes)
		*changes = NULL;
	if (nchanges)
		*nchanges = 0;
	if (stat(s->root, &st) < 0 || !S_ISDIR(st.st_mode))
		return ln_error_set(LN_EGENERIC, "workspace root %s: %s", s->root,
				    errno ? strerror(errno) : "not a directory");
	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
	if (s->ifd >= 0 && s->scanned && !s->full && !s->truncated) {
		int r = from_events(s, &sc);
		if (r == 0)
			return 0; /* nothing happened: nothing to do */
		if (r < 0) {
			entries_free(sc.v, sc.n);
			memset(&sc, 0, sizeof sc);
			s->full = true;
		}
	}
	if (s->full || s->ifd < 0 || !s->scanned) {
		walk(s, &sc, s->root, "", 0);
		s->full = false;
	}
	if (sc.n)
		qsort(sc.v, sc.n, sizeof *sc.v, cmp_entry);

	/* Merge with the previous scan (both sorted). */
	for (i = 0, j = 0; i < sc.n || j < s->n;) {
		int c = i >= sc.n ? 1 : j >= s->n ? -1 : strcmp(sc.v[i].path, s->v[j].path);
		if (c < 0) {
			hash_file(s->root, &sc.v[i]);
			if (s->scanned)
				add_change(&ch, &nch, sc.v[i].path, LN_FILE_CREATED);
			i++;
		} else if (c > 0) {
			add_change(&ch, &nch, s->v[j].path, LN_FILE_DELETED);
			j++;
		} else {
			struct ln_snapshot_entry *a = &sc.v[i], *b = &s->v[j];
			if (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
			    a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && !b->racy &&
			    !a->force) {
				memcpy(a->hash, b->hash, sizeof a->hash);
			} else {
				hash_file(s->root, a);
				if (strcmp(a->hash, b->hash))
					add_change(&ch, &nch, a->path, LN_FILE_CHANGED);
			}
			i++;
			j++;
		}
	}
	/* With inotify every later write is an event: no racy files. */
	for (i = 0; i < sc.n; i++) {
		sc.v[i].force = false;
		sc.v[i].racy = s->ifd < 0 && (sc.v[i].mtime_ns > now_ns - RACY_NS ||
					      sc.v[i].ctime_ns > now_ns - RACY_NS);
	}

	entries_free(s->v, s->n);
	s->v = sc.v;
	s->n = sc.n;
	s->scanned = true;
	s->truncated = sc.truncated;
	s->digest[0] = '\0';
	if (!sc.truncated) {
		char hex[LN_SHA256_HEX_SIZE];
		ln_sha256_init(&dc);
		for (i = 0; i < s->n; i++) {
			ln_sha256_update(&dc, s->v[i].path, strlen(s->v[i].path) + 1);
			ln_sha256_update(&dc, s->v[i].hash, strlen(s->v[i].hash) + 1);
		}
		ln_sha256_final_hex(&dc, hex);
		snprintf(s->digest, sizeof s->digest, "sha256:%s", hex);
	}
	if (changes)
		*changes = ch;
	else
		ln_file_changes_free(ch, nch);
	if (nchanges)
		*nchanges = nch;
	return 0;
}

const char *ln_snapshot_digest(const struct ln_snapshot *s)
{
	return s->scanned && s->digest[0] ? s->digest : NULL;
}

const char *ln_snapshot_file_hash(const struct ln_snapshot *s, const char *path)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(path, s->v[mid].path);
		if (!c)
			return s->v[mid].hash;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t ln_snapshot_count(const struct ln_snapshot *s)
{
	return s->n;
}

const char *ln_snapshot_path(const struct ln_snapshot *s, size_t i)
{
	return i < s->n ? s->v[i].path : NULL;
}

struct listing {
	json_t *out;
	bool (*keep)(const char *rel, void *ctx);
	void *ctx;
	ln_skip_fn skip;
	void *skip_ctx;
	size_t max;
};

static int list_dir(struct listing *l, const char *root, const char *rel, int depth)
{
	struct buf dir = BUF_INIT, child = BUF_INIT, abs = BUF_INIT;
	struct dirent *e;
	int error = 0;
	DIR *d;

	if (depth > MAX_DEPTH)
		return 0;
	buf_addf(&dir, "%s%s%s", root, *rel ? "/" : "", rel);
	d = opendir(dir.data);
	buf_release(&dir);
	if (!d)
		return 0;
	while (!error && (e = readdir(d)) != NULL) {
		struct stat st;
		if (skipped_dir(e->d_name)) /* also every hidden entry */
			continue;
		buf_reset(&child);
		buf_reset(&abs);
		buf_addf(&child, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		buf_addf(&abs, "%s/%s", root, child.data);
		if (lstat(abs.data, &st) < 0)
			continue;
		if ((S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) && l->skip &&
		    l->skip(l->skip_ctx, child.data, S_ISDIR(st.st_mode)))
			continue;
		if (S_ISDIR(st.st_mode))
			error = list_dir(l, root, child.data, depth + 1);
		else if (S_ISREG(st.st_mode) && (!l->keep || l->keep(child.data, l->ctx))) {
			if (json_array_size(l->out) >= l->max)
				error = ln_error_set(LN_EINPUT, "the workspace has more than %zu "
						     "source files; name the files", l->max);
			else
				json_array_append_new(l->out, json_string(child.data));
		}
	}
	closedir(d);
	buf_release(&child);
	buf_release(&abs);
	return error;
}

static int cmp_json_path(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
		      json_string_value(*(json_t *const *)b));
}

int ln_tree_files(json_t **out, const char *root, bool (*keep)(const char *rel, void *ctx),
		  void *ctx, ln_skip_fn skip, void *skip_ctx, size_t max)
{
	struct listing l = { json_array(), keep, ctx, skip, skip_ctx, max };
	json_t **v;
	size_t n, i;
	int error;

	*out = NULL;
	error = list_dir(&l, root, "", 0);
	if (error) {
		json_decref(l.out);
		return error;
	}
	n = json_array_size(l.out);
	v = xmalloc((n ? n : 1) * sizeof *v);
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(l.out, i));
	qsort(v, n, sizeof *v, cmp_json_path);
	json_array_clear(l.out);
	for (i = 0; i < n; i++)
		json_array_append_new(l.out, v[i]);
	free(v);
	*out = l.out;
	return 0;
}
