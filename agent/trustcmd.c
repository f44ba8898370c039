/*
 * trustcmd.c - `lanser trust [--revoke | --list]` (core/trust.h,
 * docs/security.md).
 */
#include "agent/cli.h"
#include "core/err.h"
#include "core/trust.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int list(struct cli *c)
{
	json_t *ws = NULL, *e;
	const char *k;
	int error = ln_trust_list(&ws);

	if (error)
		return error;
	if (c->json) {
		char *s = json_dumps(ws, JSON_COMPACT | JSON_SORT_KEYS);
		fprintf(c->out, "%s\n", s);
		free(s);
	} else {
		json_object_foreach(ws, k, e)
			fprintf(c->out, "%s  %s\n", json_string_value(json_object_get(e, "configDigest")),
				k);
	}
	json_decref(ws);
	return 0;
}

int cmd_trust(struct cli *c)
{
	char *store = NULL;
	bool removed = false;
	int error = 0;

	if (c->revoke && c->list)
		return ln_error_set(LN_EUSAGE, "trust: --revoke and --list exclude each other");
	if (c->config_path || c->trust)
		return ln_error_set(LN_EUSAGE, "trust records the workspace's own .lanser.json; "
				    "--config and --trust already trust for one run");
	if (c->list)
		return list(c);
	error = ln_trust_store_path(&store);
	if (error)
		return error;
	if (c->revoke) {
		error = ln_trust_revoke(&removed, c->root);
		if (!error)
			fprintf(c->out, removed ? "no longer trusted: %s\n"
						: "was not trusted: %s\n", c->root);
	} else {
		error = ln_trust_add(c->root, c->cfg.file_digest);
		if (!error) {
			fprintf(c->out, "trusted %s with %s %s (%s)\n", c->root,
				c->cfg.exists ? "the .lanser.json of digest" : "no .lanser.json,",
				c->cfg.file_digest, store);
			if (json_array_size(c->cfg.ignored)) {
				size_t i;
				json_t *v;
				fprintf(c->out, "now in effect:");
				json_array_foreach(c->cfg.ignored, i, v)
					fprintf(c->out, "%s %s", i ? "," : "", json_string_value(v));
				fprintf(c->out, "\n");
			}
		}
	}
	free(store);
	return error;
}
