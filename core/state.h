/*
 * state.h - lanser's per-user state directory.
 *
 * State never lives in the user's tree. The base is the first usable of:
 *   1. $XDG_RUNTIME_DIR/lanser   (XDG_RUNTIME_DIR set, absolute, a folder)
 *   2. $XDG_CACHE_HOME/lanser    (XDG_CACHE_HOME set and absolute)
 *   3. $HOME/.cache/lanser       (HOME, else the password database)
 * never a predictable name in a shared folder such as /tmp. A missing base
 * is created mode 0700 (and, for 2 and 3, its parent folder 0700). An
 * existing one is used only when it is a real directory (not a symlink),
 * owned by the effective uid and not accessible by group or others (mode
 * & 077 == 0); otherwise that candidate is skipped - nothing is chmod'ed
 * or removed, since someone else may have had access to what is inside -
 * and a note saying why is printed once per process on stderr. Only when
 * no candidate is usable is it an error (LN_EPERM, naming every reason).
 * The trust store's folder (core/trust.h) follows the same rule.
 *
 * Per-workspace state goes in <base>/ws-<first 16 hex of sha256(root)>,
 * created and checked by the same rules (LN_EPERM when it fails them).
 *
 * Unix-socket paths are limited to 107 bytes (sun_path); a base may be
 * longer (a deep HOME): ln_state_sockaddr() reaches such a socket through
 * /proc/self/fd of its folder instead of its full path.
 *
 * Not thread-safe (reads the environment; the note flag is static).
 */
#ifndef LANSER_STATE_H
#define LANSER_STATE_H

#include <stddef.h>

struct sockaddr_un;

/* *out is a malloc'd absolute path to the (existing, checked) base dir. */
int ln_state_dir(char **out);
/* *out is the workspace's state folder, created if needed. */
int ln_state_workspace_dir(char **out, const char *root);

/* Fills *sa for the unix socket at `path` (absolute). When the path fits
 * in sun_path, *dirfd is -1; otherwise *dirfd is an O_PATH descriptor of
 * the socket's folder (opened without following a symlink) and sun_path
 * is "/proc/self/fd/<dirfd>/<name>": keep *dirfd open until bind() or
 * connect() returned, then close it. LN_EDAEMON when neither form fits. */
int ln_state_sockaddr(struct sockaddr_un *sa, int *dirfd, const char *path);

#endif
