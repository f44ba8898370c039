#include "core/state.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Creates (0700) or checks a private directory; never repairs one, since
 * whoever could reach it may have left something inside. */
static int private_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return ln_error_set(LN_EPERM, "cannot create %s: %s", path, strerror(errno));
	if (lstat(path, &st) < 0)
		return ln_error_set(LN_EPERM, "%s: %s", path, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return ln_error_set(LN_EPERM, "%s is a symlink, not a directory", path);
	if (!S_ISDIR(st.st_mode))
		return ln_error_set(LN_EPERM, "%s is not a directory", path);
	if (st.st_uid != geteuid())
		return ln_error_set(LN_EPERM, "%s is owned by uid %u, not by uid %u", path,
				    (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return ln_error_set(LN_EPERM, "%s is accessible by others (mode %03o)", path,
				    (unsigned)(st.st_mode & 0777));
	return 0;
}

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && h[0] == '/')
		return h;
	pw = getpwuid(geteuid());
	return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

/* The candidate bases in order (see state.h); `parent` says which ones
 * may create their parent folder. Returns how many were filled. */
static int candidates(struct buf cand[3], bool parent[3])
{
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *cache = getenv("XDG_CACHE_HOME");
	const char *home = home_dir();
	struct stat st;
	int n = 0;

	if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode)) {
		buf_addf(&cand[n], "%s/lanser", xdg);
		parent[n++] = false;
	}
	if (cache && cache[0] == '/') {
		buf_addf(&cand[n], "%s/lanser", cache);
		parent[n++] = true;
	}
	if (home && strcmp(home, "/")) {
		buf_addf(&cand[n], "%s/.cache/lanser", home);
		parent[n++] = true;
	}
	return n;
}

static void note_once(const char *used, const char *why)
{
	static bool said;

	if (said)
		return;
	said = true;
	fprintf(stderr, "lanser: note: state folder %s used instead (%s)\n", used, why);
}

/* Makes or checks one candidate base; `parent` creates its parent folder
 * (the cache directory) when missing. */
static int try_candidate(struct buf *cand, bool parent)
{
	if (parent) {
		char *slash = strrchr(cand->data, '/');
		int made;
		*slash = '\0';
		made = mkdir(cand->data, 0700) == 0 || errno == EEXIST;
		if (!made)
			ln_error_set(LN_EPERM, "cannot create %s: %s", cand->data, strerror(errno));
		*slash = '/';
		if (!made)
			return LN_EPERM;
	}
	return private_dir(cand->data);
}

int ln_state_dir(char **out)
{
	struct buf cand[3] = { BUF_INIT, BUF_INIT, BUF_INIT }, why = BUF_INIT;
	bool parent[3] = { false, false, false };
	int n, i, error = LN_EPERM;

	*out = NULL;
	n = candidates(cand, parent);
	for (i = 0; i < n; i++) {
		if (try_candidate(&cand[i], parent[i]) == 0) {
			if (why.len)
				note_once(cand[i].data, why.data);
			*out = buf_detach(&cand[i], NULL);
			error = 0;
			goto done;
		}
		buf_addf(&why, "%s%s", why.len ? "; " : "", ln_error_msg());
	}
	if (!n)
		error = ln_error_set(LN_EPERM, "no folder for lanser's state: XDG_RUNTIME_DIR, "
				     "XDG_CACHE_HOME and HOME are all unset or unusable");
	else
		error = ln_error_set(LN_EPERM, "no usable folder for lanser's state (%s); fix or "
				     "remove it, or point XDG_RUNTIME_DIR at a private folder",
				     why.data);
done:
	for (i = 0; i < 3; i++)
		buf_release(&cand[i]);
	buf_release(&why);
	return error;
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

int ln_state_sockaddr(struct sockaddr_un *sa, int *dirfd, const char *path)
{
	size_t n = strlen(path);
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, len;

	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	*dirfd = -1;
	if (n < sizeof sa->sun_path) {
		memcpy(sa->sun_path, path, n + 1);
		return 0;
	}
	if (!slash || slash == path)
		return ln_error_set(LN_EDAEMON, "socket path %s is too long", path);
	dir = xstrndup(path, (size_t)(slash - path));
	fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return ln_error_set(LN_EDAEMON, "socket folder of %s: %s", path, strerror(errno));
	len = snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d%s", fd, slash);
	if (len < 0 || (size_t)len >= sizeof sa->sun_path) {
		close(fd);
		return ln_error_set(LN_EDAEMON, "socket path %s is longer than %zu bytes even "
				    "through /proc/self/fd (set XDG_RUNTIME_DIR to a shorter "
				    "private folder)", path, sizeof sa->sun_path - 1);
	}
	*dirfd = fd;
	return 0;
}
