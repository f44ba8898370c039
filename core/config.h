/*
 * config.h - the workspace configuration, `.lanser.json` at the root.
 *
 * The file is JSON (at most 1 MiB). Recognised top-level members:
 *   "servers":  { NAME: PROFILE, ... }   language-server profiles (lsp/profile.h)
 *   "timeouts": { "requestMs": N, "initMs": N, "indexMs": N, "diagnosticsMs": N }
 *   "daemon":   { "idleMs": N }   the warm daemon stops after this long unused
 *   "exclude":  [ GLOB, ... ]     files that are not project files, on top of
 *               .gitignore (core/ignore.h); at most LN_CONFIG_MAX_EXCLUDE
 *               non-empty globs of at most 4096 bytes; kept untrusted too
 * Unknown members are kept (later features read them) but do not fail.
 *
 * The config digest ("sha256:...") is the SHA-256 of the RFC 8785 canonical
 * JSON of the whole file minus the members that change no answer
 * ("timeouts": a timed-out answer says "complete": false instead;
 * "daemon"). Without a file the digest is that of {}.
 *
 * Trust (core/trust.h): with --config FILE that file is read instead of
 * the workspace's and is trusted; otherwise the configuration is trusted
 * with --trust or when the trust store holds (root, file_digest). An
 * untrusted configuration is filtered (ln_trust_filter) before anything
 * reads it; `ignored` lists what was removed and `digest` is that of what
 * remains (the configuration answers actually come from).
 */
#ifndef LANSER_CONFIG_H
#define LANSER_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define LN_CONFIG_FILE ".lanser.json"
#define LN_CONFIG_MAX_BYTES (1 << 20)
#define LN_CONFIG_MAX_EXCLUDE 256

struct ln_config {
	json_t *json;           /* the whole file ({} when absent); owned */
	char digest[72];        /* "sha256:<hex>" of the effective configuration */
	char file_digest[72];   /* the same, of the file as written (the trust key) */
	char *source;           /* the file read ("<rev>:.lanser.json" for a blob); malloc'd */
	bool exists;            /* a file was read */
	bool trusted;           /* --trust, --config, or the trust store */
	json_t *ignored;        /* array of removed member names (untrusted); owned */
	int request_ms, init_ms, index_ms, diagnostics_ms;
	int daemon_idle_ms;
};

/* Loads `<root>/.lanser.json` if present. LN_ECONFIG (message with the
 * JSON error's line and column) when it is malformed or has wrong types. */
int ln_config_load(struct ln_config *cfg, const char *root);
/* The same from a text (`text` NULL: no file) read elsewhere, e.g. the blob
 * `<base>:.lanser.json` (origin names it in messages); trust is looked up
 * for `root`. --config FILE still replaces the text. */
int ln_config_load_text(struct ln_config *cfg, const char *root, const char *text, size_t len,
			const char *origin);
void ln_config_release(struct ln_config *cfg);

#endif
