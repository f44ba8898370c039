/*
 * config.h - the workspace configuration, `.lanser.json` at the root.
 *
 * The file is JSON (at most 1 MiB). Recognised top-level members:
 *   "servers":  { NAME: PROFILE, ... }   language-server profiles (lsp/profile.h)
 *   "timeouts": { "requestMs": N, "initMs": N, "indexMs": N, "diagnosticsMs": N }
 *   "daemon":   { "idleMs": N }   the warm daemon stops after this long unused
 * Unknown members are kept (later features read them) but do not fail.
 *
 * The config digest ("sha256:...") is the SHA-256 of the RFC 8785 canonical
 * JSON of the whole file minus the members that change no answer
 * ("timeouts": a timed-out answer says "complete": false instead;
 * "daemon"). Without a file the digest is that of {}.
 */
#ifndef LANSER_CONFIG_H
#define LANSER_CONFIG_H

#include <jansson.h>

#define LN_CONFIG_FILE ".lanser.json"
#define LN_CONFIG_MAX_BYTES (1 << 20)

struct ln_config {
	json_t *json;           /* the whole file ({} when absent); owned */
	char digest[72];        /* "sha256:<hex>" */
	int request_ms, init_ms, index_ms, diagnostics_ms;
	int daemon_idle_ms;
};

/* Loads `<root>/.lanser.json` if present. LN_ECONFIG (message with the
 * JSON error's line and column) when it is malformed or has wrong types. */
int ln_config_load(struct ln_config *cfg, const char *root);
void ln_config_release(struct ln_config *cfg);

#endif
