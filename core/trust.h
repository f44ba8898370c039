/*
 * trust.h - workspace trust (docs/security.md).
 *
 * A repository is untrusted until the user says otherwise. Trust is the
 * pair (canonical workspace root, config digest of its .lanser.json as
 * written: ln_config's file_digest, the SHA-256 of the canonical JSON minus
 * "timeouts" and "daemon"), recorded by `lanser trust` in the user's
 * persistent state:
 *   $XDG_STATE_HOME/lanser/trust.json, else ~/.local/state/lanser/trust.json
 * (file 0600, folder 0700, written to a temporary file and renamed, at most
 * LN_TRUST_MAX_BYTES and LN_TRUST_MAX_ENTRIES). A folder that is not ours
 * or that others can reach is refused (LN_EPERM), for reading as for
 * writing, and never chmod'ed: someone else may have written in it (the
 * rule of the state folder, core/state.h). Its format:
 *   {"version": 1, "workspaces": {ROOT: {"configDigest": "sha256:..."}}}
 * A malformed store is LN_ECONFIG naming the file: never read as "trusted".
 * A changed configuration (another digest) is untrusted again.
 *
 * The command line can grant trust for one run (set by the dispatcher):
 * --trust (the workspace's configuration is trusted as it is) and
 * --config FILE (FILE replaces .lanser.json and is trusted: the user named
 * it). Both are process-wide; ln_config_load() applies them.
 *
 * In an untrusted configuration every member that makes lanser run a
 * program outside the sandbox, or steers a server into doing so, is
 * removed before anything reads it (ln_trust_filter): a server's
 * "command", "versionCommand", "initializationOptions" and "settings"
 * (tsserver.path, pyright's pythonPath, pylsp plugins...), and servers that
 * are not built in (they have nothing left to run). Build and test
 * commands stay: they only run inside the sandbox. The model client's
 * "model.baseUrl" and "model.apiKeyEnv" are removed too: a repository must
 * not choose where the user's API key goes, nor send another variable.
 *
 * Not thread-safe (the command-line state is process-wide, set once per
 * command by the dispatcher).
 */
#ifndef LANSER_TRUST_H
#define LANSER_TRUST_H

#include <stdbool.h>

#include <jansson.h>

#define LN_TRUST_MAX_BYTES (1 << 20)
#define LN_TRUST_MAX_ENTRIES 4096

/* Command-line trust for this process (`config_file` borrowed, may be NULL;
 * it must outlive every later ln_config_load). */
void ln_trust_set_cli(bool trust, const char *config_file);
bool ln_trust_cli_trust(void);
const char *ln_trust_cli_config(void);

/* The store's path (malloc'd). LN_ECONFIG when neither XDG_STATE_HOME nor
 * HOME is set to an absolute path. */
int ln_trust_store_path(char **out);

/* Whether `root` is trusted with a configuration of digest `digest`.
 * LN_ECONFIG for a malformed or oversized store (message names it). */
int ln_trust_lookup(bool *out, const char *root, const char *digest);

/* Records (root, digest), replacing an earlier digest of root. */
int ln_trust_add(const char *root, const char *digest);
/* Removes root; *removed says whether it was there. */
int ln_trust_revoke(bool *removed, const char *root);
/* *out: the store's "workspaces" object (a new reference; {} when absent). */
int ln_trust_list(json_t **out);

/* Removes from `cfg` (a .lanser.json object, modified in place) what an
 * untrusted configuration may not do (see above). Returns a new array of
 * the removed members' names ("servers.clangd.command", ...), sorted. */
json_t *ln_trust_filter(json_t *cfg);

#endif
