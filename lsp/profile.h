/*
 * profile.h - how to run a language server for a kind of file.
 *
 * Built-in profiles: "clangd" (C/C++), "pyright" (Python), "typescript"
 * (typescript-language-server, TS/JS) and "pylsp" (Python, disabled unless
 * enabled in the config). `.lanser.json` may override any member of a
 * built-in profile or add a new one for any stdio server:
 *
 *   "servers": {
 *     "pyright": { "enabled": false },
 *     "pylsp":   { "enabled": true },
 *     "mylang":  { "command": ["mylang-ls", "--stdio"],
 *                  "fileTypes": { "*.my": "mylang" },
 *                  "initializationOptions": {}, "settings": {},
 *                  "versionCommand": ["mylang-ls", "--version"],
 *                  "readiness": "progress" }
 *   }
 *
 * The caller hands in a configuration already filtered by trust
 * (core/trust.h): an untrusted one has no command, versionCommand,
 * initializationOptions or settings. Whatever the configuration, clangd
 * gets --enable-config=false, --limit-references=0 and
 * --compile-commands-dir=<the folder of lsp_cdb_find> (unless a trusted
 * command replaces its argv), and typescript gets initializationOptions.tsserver.path
 * = lanser's pinned tsserver.js (kept when a trusted initializationOptions
 * names none); lsp_profile_resolve refuses (LN_ENOSERVER) a tsserver.path
 * that is not a file, as the server would then search node_modules.
 *
 * fileTypes maps fnmatch(3) globs to LSP language ids; a glob without '/'
 * is matched against the file's base name, otherwise against its
 * workspace-relative path. The first enabled profile (config-defined ones
 * first, then clangd, pyright, typescript, pylsp) with a matching glob
 * serves the file.
 *
 * readiness: "index" (answers that depend on the index wait for the end of
 * the server's indexing progress, e.g. clangd's background index, and/or
 * for a log line announcing that the workspace was discovered, e.g.
 * pyright's "Found N source files"), "progress" (wait until no work-done
 * progress is active), "none". Optional "indexProgress" (token or title of
 * the indexing progress) and "readyLog" (text of the log line) refine
 * "index". An index that needs a compilation database (clangd) is only
 * waited for when lsp_cdb_find names a compile_commands.json (clangd
 * builds no index from compile_flags.txt alone); without one the answer is
 * marked incomplete at once instead of after a timeout.
 *
 * diagnostics: "pull" (the client declares textDocument/diagnostic with
 * dynamic registration and asks the server for a file's diagnostics; the
 * answer describes the text last synced, so nothing published is waited
 * for) or "push" (wait for textDocument/publishDiagnostics of the version
 * sent). pyright is "pull": it publishes a version's diagnostics more than
 * once (after binding, after checking) with nothing to tell the last one
 * apart. The others are "push".
 */
#ifndef LANSER_LSP_PROFILE_H
#define LANSER_LSP_PROFILE_H

#include <jansson.h>
#include <stdbool.h>

enum lsp_readiness { LSP_READY_NONE, LSP_READY_PROGRESS, LSP_READY_INDEX };

struct lsp_filetype {
	char *glob;
	char *language_id;
};

struct lsp_profile {
	char *name;
	char **argv;            /* NULL-terminated */
	char **version_argv;    /* NULL-terminated; may be NULL */
	struct lsp_filetype *types;
	size_t ntypes;
	json_t *init_options;   /* owned; may be NULL */
	json_t *settings;       /* owned; may be NULL */
	enum lsp_readiness readiness;
	char *index_token;      /* progress token/title naming the index (may be NULL) */
	char *ready_log;        /* log text announcing discovery (may be NULL) */
	bool index_needs_cdb;   /* the index only exists with a compilation database */
	bool pull_diagnostics;  /* declare LSP pull diagnostics (textDocument/diagnostic)
				   and take a file's diagnostics only that way */
	bool enabled;
};

struct lsp_profiles {
	struct lsp_profile *v;
	size_t n;
};

/* Builds the effective profiles from the built-ins and the config's
 * "servers" object (may be NULL). `root` is the workspace root (used in
 * default settings). LN_ECONFIG on a malformed server entry. */
int lsp_profiles_load(struct lsp_profiles *out, const json_t *servers, const char *root);
void lsp_profiles_release(struct lsp_profiles *p);

/* The profile serving `relpath`, or NULL; *language_id (may be NULL) gets
 * the language id (borrowed from the profile). */
const struct lsp_profile *lsp_profiles_for_path(const struct lsp_profiles *p,
						const char *relpath, const char **language_id);

/* Resolves the profile's executable: lanser's own pinned npm folder
 * (<dir of the lanser binary>/deps/node_modules/.bin) first, then the
 * absolute PATH entries that are not node_modules folders.
 * *out is a malloc'd absolute path. LN_ENOSERVER when it cannot be found. */
int lsp_profile_resolve(char **out, const struct lsp_profile *p);

/* The server's version string (first non-blank line of its version
 * command, trimmed), cached per command (the binary's path, size and mtime,
 * and the arguments) in the state directory
 * so that no server is run twice for it. *out is malloc'd; "unknown" when
 * the profile has no version command or it fails. */
int lsp_profile_version(char **out, const struct lsp_profile *p);

/* A copy of `argv` (NULL-terminated) whose argv[0] is `exe`; the array is
 * malloc'd, the strings are borrowed. */
const char **lsp_argv_with_exe(char *const *argv, const char *exe);

/* The workspace's compilation database, the one lookup every command uses
 * (queries, the eval engine's base worktree, doctor; docs/compile-db.md):
 * the first regular file of LSP_CDB_PLACES below `root`, as a static
 * workspace-relative path ("build/compile_commands.json"), or NULL. clangd
 * gets --compile-commands-dir=<root>/<its folder> (<root> when none). */
#define LSP_CDB_PLACES "build/compile_commands.json", "compile_commands.json", \
	"builddir/compile_commands.json", "out/compile_commands.json", \
	"cmake-build-debug/compile_commands.json", "cmake-build-release/compile_commands.json", \
	"compile_flags.txt"
const char *lsp_cdb_find(const char *root);
/* The folder of lsp_cdb_find's answer: "" (the root) or e.g. "build"
 * (malloc'd); "" when there is none. */
char *lsp_cdb_dir(const char *root);

/* Directory holding the running lanser binary (malloc'd). */
char *lsp_self_dir(void);

#endif
