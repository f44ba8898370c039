/*
 * state.h - lanser's per-user runtime directory.
 *
 * State never lives in the user's tree. The base is $XDG_RUNTIME_DIR/lanser
 * when XDG_RUNTIME_DIR is set and usable, else /tmp/lanser-<uid>; it is
 * created mode 0700 and refused (LN_EPERM) when it exists but is a symlink,
 * not a directory, not owned by us, or accessible by others. Per-workspace
 * state goes in <base>/ws-<first 16 hex of sha256(root)>.
 */
#ifndef LANSER_STATE_H
#define LANSER_STATE_H

/* *out is a malloc'd absolute path to the (existing, checked) base dir. */
int ln_state_dir(char **out);
/* *out is the workspace's state folder, created if needed. */
int ln_state_workspace_dir(char **out, const char *root);

#endif
