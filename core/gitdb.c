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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dbwalk {
	struct buf path;   /* of the folder being read, for messages */
	size_t entries;
};

static int refuse(const char *what, const char *why)
{
	return ln_error_set(LN_EPERM, "untrusted repository: %s %s; libgit2 would read it when "
			    "lanser reads the repository's objects or references (docs/security.md, "
			    "\"Git configuration of the repository\"). Fix the repository, or pass "
			    "--trust if you trust it",
			    what, why);
}

/* How deep below a top-level entry of the git directory libgit2 reads
 * files: -1 not at all, else the folder levels walked (`strict`: a deeper
 * folder is refused, libgit2 would read it too). */
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
	int error = 0;

	if (!d) {
		close(fd);
		return 0;   /* unreadable: libgit2 fails on it too */
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
			struct stat st;
			if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;   /* vanished */
			type = IFTODT(st.st_mode);
		}
		if (type == DT_REG)
			continue;
		buf_addf(&w->path, "/%s", e->d_name);
		if (type == DT_LNK) {
			error = refuse(w->path.data, "is a symlink");
		} else if (type != DT_DIR) {
			error = refuse(w->path.data, "is not a regular file (a FIFO, a device or a "
				       "socket)");
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
	struct dbwalk w = { BUF_INIT, 0 };
	struct stat st;
	int fd, error = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;   /* gone: the open fails, having read nothing */
	buf_adds(&w.path, dir);
	if ((error = walk(&w, fd, 1, false, true)) < 0)
		goto done;
	/* libgit2 adds every folder an alternates line names as an object
	 * store (relative lines from objects/, nested up to 5 deep): another
	 * user's repository, /proc, a FIFO. None is part of this repository. */
	buf_reset(&w.path);
	buf_addf(&w.path, "%s/objects/info/alternates", dir);
	if (lstat(w.path.data, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		error = refuse(w.path.data, "names other object stores (alternates), outside the "
			       "repository");
done:
	buf_release(&w.path);
	return error;
}
