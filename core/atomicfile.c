/*
 * atomicfile.c - whole-file replacement through a temporary beside the
 * target (atomicfile.h).
 */
#include "core/atomicfile.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const struct ln_atomic_opts *o, const char *what, const char *name)
{
	int code = o->code;

	if (!code)
		code = errno == EACCES || errno == EPERM ? LN_EPERM : LN_EGENERIC;
	return ln_error_set(code, "cannot %s %s: %s", what, name, strerror(errno));
}

int ln_atomic_write_at(int dirfd, const char *leaf, const void *data, size_t len,
		       const struct ln_atomic_opts *o)
{
	static const struct ln_atomic_opts none = { 0 };
	const char *name;
	char *tmpname = NULL;
	int fd, error = 0;

	if (!o)
		o = &none;
	name = o->name ? o->name : leaf;
	tmpname = o->tmpname ? xstrdup(o->tmpname) : xasprintf("%s.%d.tmp", leaf, (int)getpid());
	unlinkat(dirfd, tmpname, 0);   /* a leftover of a killed writer with our name */
	fd = openat(dirfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || ln_write_all(fd, data, len) < 0 ||
	    fchmod(fd, (mode_t)((o->mode ? o->mode : 0600) & 07777)) < 0 || fsync(fd) < 0) {
		error = fail(o, "write", name);
		if (fd >= 0)
			close(fd);
		unlinkat(dirfd, tmpname, 0);
		goto done;
	}
	if (close(fd) < 0) {
		error = fail(o, "write", name);
		unlinkat(dirfd, tmpname, 0);
		goto done;
	}
	if (o->step)
		o->step();
	if (renameat(dirfd, tmpname, dirfd, leaf) < 0) {
		error = fail(o, "replace", name);
		unlinkat(dirfd, tmpname, 0);
		goto done;
	}
	fsync(dirfd);
done:
	free(tmpname);
	return error;
}

int ln_atomic_write(const char *path, const void *data, size_t len,
		    const struct ln_atomic_opts *o)
{
	struct ln_atomic_opts opts = { 0 };
	const char *slash = strrchr(path, '/');
	char *dir;
	int dfd, error;

	if (o)
		opts = *o;
	if (!opts.name)
		opts.name = path;
	dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		error = ln_error_set(opts.code ? opts.code : errno == EACCES ? LN_EPERM : LN_EGENERIC,
				     "cannot write %s: %s", opts.name, strerror(errno));
		free(dir);
		return error;
	}
	error = ln_atomic_write_at(dfd, slash ? slash + 1 : path, data, len, &opts);
	close(dfd);
	free(dir);
	return error;
}

void ln_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}
