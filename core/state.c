#include "state.h"
#include "buf.h"
#include "err.h"
#include "hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates (0700) or checks a private directory. */
static int private_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return ln_error_set(LN_EPERM, "cannot create %s: %s", path, strerror(errno));
	if (lstat(path, &st) < 0)
		return ln_error_set(LN_EPERM, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ln_error_set(LN_EPERM, "%s is not a directory (refusing to use it)", path);
	if (st.st_uid != geteuid())
		return ln_error_set(LN_EPERM, "%s is owned by uid %u, not by us (refusing to use it)",
				    path, (unsigned)st.st_uid);
	if (st.st_mode & 077) {
		if (chmod(path, 0700) < 0)
			return ln_error_set(LN_EPERM, "%s is accessible by others: %s", path,
					    strerror(errno));
	}
	return 0;
}

int ln_state_dir(char **out)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct buf p = BUF_INIT;
	struct stat st;
	int error;

	*out = NULL;
	if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) &&
	    access(xdg, W_OK) == 0)
		buf_addf(&p, "%s/lanser", xdg);
	else
		buf_addf(&p, "/tmp/lanser-%u", (unsigned)geteuid());
	error = private_dir(p.data);
	if (error) {
		buf_release(&p);
		return error;
	}
	*out = buf_detach(&p, NULL);
	return 0;
}

int ln_state_workspace_dir(char **out, const char *root)
{
	char *base = NULL, hex[LN_SHA256_HEX_SIZE];
	struct buf p = BUF_INIT;
	int error;

	*out = NULL;
	error = ln_state_dir(&base);
	if (error)
		return error;
	ln_sha256_hex(root, strlen(root), hex);
	buf_addf(&p, "%s/ws-%.16s", base, hex);
	free(base);
	error = private_dir(p.data);
	if (error) {
		buf_release(&p);
		return error;
	}
	*out = buf_detach(&p, NULL);
	return 0;
}
