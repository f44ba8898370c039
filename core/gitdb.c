/*
 * gitdb.c - a git directory's databases checked before libgit2 reads them
 * (core/gitdb.h).
 *
 * One pass of readdir(3) over the folders libgit2 reads files from: the
 * cost is one getdents per folder and no stat per entry on filesystems that
 * fill d_type (ext4, xfs, btrfs, tmpfs, overlayfs), so a packed clone costs
 * a few dozen system calls (docs/security.md has the measurements).
 */
#include "core/gitdb.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A folder the walk read, as it was before its entries were read. */
struct seen {
	char *path;
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
};

struct dbwalk {
	struct buf path;   /* of the folder being read, for messages */
	size_t entries;
	struct seen *seen;
	size_t nseen, cap;
	bool racy;         /* a folder changed too recently to trust its times */
};

/* Folders a cached walk may hold; a walk over more is not cached. */
#define SEEN_MAX 8192
/* A folder changed this recently may change again within the same
 * timestamp tick (file times are coarse, a few ms): not cached (git's
 * "racily clean" rule). */
#define RACY_SECONDS 2
#define CACHE_SLOTS 8

/* ---- walks that found nothing, per git directory, for this process ---- */

struct cached {
	char *root;
	struct seen *seen;
	size_t nseen;
	unsigned long long used;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached cache[CACHE_SLOTS];
static unsigned long long cache_clock;

static void seen_free(struct seen *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Whether an earlier clean walk of root still holds: every folder it read
 * is the same folder with the same times (an entry added, removed,
 * renamed or replaced changes its folder's times). A stale entry is
 * dropped. */
static bool cache_hit(const char *root)
{
	bool hit = false;
	size_t i, j;

	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < CACHE_SLOTS; i++) {
		struct cached *c = &cache[i];
		if (!c->root || strcmp(c->root, root))
			continue;
		for (j = 0; j < c->nseen; j++) {
			struct stat st;
			const struct seen *e = &c->seen[j];
			if (lstat(e->path, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_dev != e->dev ||
			    st.st_ino != e->ino || !same_time(&st.st_mtim, &e->mtime) ||
			    !same_time(&st.st_ctim, &e->ctime))
				break;
		}
		hit = j == c->nseen;
		if (hit) {
			c->used = ++cache_clock;
		} else {
			free(c->root);
			seen_free(c->seen, c->nseen);
			memset(c, 0, sizeof *c);
		}
		break;
	}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

/* Keeps a clean walk's folders (taken) for root. */
static void cache_put(const char *root, struct seen *seen, size_t nseen)
{
	struct cached *slot = &cache[0];
	size_t i;

	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < CACHE_SLOTS; i++) {
		if (cache[i].root && !strcmp(cache[i].root, root)) {
			slot = &cache[i];
			break;
		}
		if (!cache[i].root || cache[i].used < slot->used)
			slot = &cache[i];
		if (!slot->root)
			break;
	}
	free(slot->root);
	seen_free(slot->seen, slot->nseen);
	slot->root = xstrdup(root);
	slot->seen = seen;
	slot->nseen = nseen;
	slot->used = ++cache_clock;
	pthread_mutex_unlock(&cache_lock);
}

static int refuse(const char *what, const char *why)
{
	return ln_error_set(LN_EPERM, "untrusted repository: %s %s; libgit2 would read it when "
			    "lanser reads the repository's objects or references (docs/security.md, "
			    "\"Git configuration of the repository\"). Fix the repository, or pass "
			    "--trust if you trust it",
			    what, why);
}

/* How deep below a top-level folder of the git directory libgit2 reads
 * files: 0 not at all (the folder is not walked), else the folder levels
 * walked (`strict`: a deeper folder is refused, libgit2 would read it
 * too). */
static int top_depth(const char *name, bool *strict)
{
	*strict = false;
	if (!strcmp(name, "refs") || !strcmp(name, "logs")) {
		*strict = true;
		return LN_GITDB_MAX_DEPTH;
	}
	if (!strcmp(name, "objects"))
		return 2;   /* objects/XX/..., objects/info/..., objects/pack/... */
	if (!strcmp(name, "info"))
		return 1;
	return 0;
}

/* Walks the folder open on fd (taken) `depth` levels further; `top`: the
 * git directory itself. */
static int walk(struct dbwalk *w, int fd, int depth, bool strict, bool top)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	struct stat st;
	int error = 0;

	if (!d) {
		close(fd);
		return 0;   /* unreadable: libgit2 fails on it too */
	}
	/* before the entries are read: a change while they are, or after,
	 * moves the folder's times past these */
	if (fstat(dirfd(d), &st) == 0 && w->nseen < SEEN_MAX) {
		struct seen *rec;
		struct timespec now;
		if (w->nseen == w->cap) {
			w->cap = w->cap ? 2 * w->cap : 64;
			w->seen = xreallocarray(w->seen, w->cap, sizeof *w->seen);
		}
		rec = &w->seen[w->nseen++];
		rec->path = xstrdup(w->path.data);
		rec->dev = st.st_dev;
		rec->ino = st.st_ino;
		rec->mtime = st.st_mtim;
		rec->ctime = st.st_ctim;
		clock_gettime(CLOCK_REALTIME, &now);
		if (st.st_mtim.tv_sec >= now.tv_sec - RACY_SECONDS ||
		    st.st_ctim.tv_sec >= now.tv_sec - RACY_SECONDS)
			w->racy = true;
	} else {
		w->racy = true;
	}
	while (!error && (e = readdir(d))) {
		unsigned char type = e->d_type;
		size_t mark = w->path.len;
		int sub = depth - 1;
		bool sub_strict = strict;

		if (e->d_name[0] == '.' &&
		    (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (++w->entries > LN_GITDB_MAX_ENTRIES) {
			error = refuse(w->path.data, "holds more than 500000 files in its object and "
				       "reference folders (run `git gc` to pack them)");
			break;
		}
		if (type == DT_UNKNOWN) {
			struct stat est;
			if (fstatat(dirfd(d), e->d_name, &est, AT_SYMLINK_NOFOLLOW) < 0)
				continue;   /* vanished */
			type = IFTODT(est.st_mode);
		}
		/* open(2) on a socket fails at once (ENXIO): git's fsmonitor
		 * daemon keeps one in the git directory */
		if (type == DT_REG || type == DT_SOCK)
			continue;
		buf_addf(&w->path, "/%s", e->d_name);
		if (type == DT_LNK) {
			error = refuse(w->path.data, "is a symlink");
		} else if (type != DT_DIR) {
			error = refuse(w->path.data, "is not a regular file (a FIFO or a device)");
		} else {
			if (top)
				sub = top_depth(e->d_name, &sub_strict);
			if (sub > 0) {
				int cfd = openat(dirfd(d), e->d_name,
						 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (cfd >= 0)
					error = walk(w, cfd, sub, sub_strict, false);
				else if (errno == ELOOP || errno == ENOTDIR)
					error = refuse(w->path.data, "changed while lanser read it");
			} else if (sub == 0 && sub_strict) {
				error = refuse(w->path.data, "nests more than 32 folders deep");
			}
		}
		w->path.len = mark;
		w->path.data[mark] = '\0';
	}
	closedir(d);
	return error;
}

int ln_gitdb_vet(const char *dir)
{
	struct dbwalk w = { BUF_INIT, 0, NULL, 0, 0, false };
	struct stat st;
	int fd, error = 0;

	if (cache_hit(dir))
		goto alternates;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;   /* gone: the open fails, having read nothing */
	buf_adds(&w.path, dir);
	if ((error = walk(&w, fd, 1, false, true)) < 0)
		goto done;
	if (!w.racy && w.nseen < SEEN_MAX) {
		cache_put(dir, w.seen, w.nseen);
		w.seen = NULL;
		w.nseen = 0;
	}
alternates:
	/* libgit2 adds every folder an alternates line names as an object
	 * store (relative lines from objects/, nested up to 5 deep): another
	 * user's repository, /proc, a FIFO. None is part of this repository. */
	buf_reset(&w.path);
	buf_addf(&w.path, "%s/objects/info/alternates", dir);
	if (lstat(w.path.data, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		error = refuse(w.path.data, "names other object stores (alternates), outside the "
			       "repository");
done:
	seen_free(w.seen, w.nseen);
	buf_release(&w.path);
	return error;
}
