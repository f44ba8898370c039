#include "core/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/gitvet.h"
#include "core/hash.h"
#include "core/trust.h"
#include "core/xalloc.h"
#include "core/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int get_ms(const json_t *obj, const char *section, const char *key, int dflt, int *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > LN_TIMEOUT_MAX_MS)
		return ln_error_set(LN_ECONFIG, "%s: %s.%s must be an integer between 1 and %d",
				    LN_CONFIG_FILE, section, key, LN_TIMEOUT_MAX_MS);
	*out = (int)json_integer_value(v);
	return 0;
}

/* "exclude" (core/ignore.h): an array of non-empty globs. */
static int check_exclude(const json_t *exclude, const char *origin)
{
	size_t i;
	json_t *g;

	if (!exclude)
		return 0;
	if (!json_is_array(exclude) || json_array_size(exclude) > LN_CONFIG_MAX_EXCLUDE)
		return ln_error_set(LN_ECONFIG, "%s: \"exclude\" must be an array of at most %d "
				    "globs", origin, LN_CONFIG_MAX_EXCLUDE);
	json_array_foreach(exclude, i, g)
		if (!json_is_string(g) || !json_string_length(g) || json_string_length(g) > 4096 ||
		    strlen(json_string_value(g)) != json_string_length(g))
			return ln_error_set(LN_ECONFIG, "%s: \"exclude\"[%zu] must be a non-empty "
					    "glob of at most 4096 bytes", origin, i);
	return 0;
}

static int parse(struct ln_config *cfg, const char *root, const char *text, size_t len,
		 const char *origin)
{
	json_t *answer = NULL, *t;
	json_error_t jerr;
	bool in_store = false;
	int error = -1;

	cfg->source = xstrdup(origin);
	if (!text) {
		cfg->json = json_object();
	} else {
		cfg->exists = true;
		cfg->json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!cfg->json) {
			error = ln_error_set(LN_ECONFIG, "%s:%d:%d: %s", origin, jerr.line,
					     jerr.column, jerr.text);
			goto done;
		}
		if (!json_is_object(cfg->json)) {
			error = ln_error_set(LN_ECONFIG, "%s: the top level must be an object", origin);
			goto done;
		}
	}
	if (json_object_get(cfg->json, "servers") &&
	    !json_is_object(json_object_get(cfg->json, "servers"))) {
		error = ln_error_set(LN_ECONFIG, "%s: \"servers\" must be an object", origin);
		goto done;
	}
	t = json_object_get(cfg->json, "timeouts");
	if (t && !json_is_object(t)) {
		error = ln_error_set(LN_ECONFIG, "%s: \"timeouts\" must be an object", origin);
		goto done;
	}
	if ((error = get_ms(t, "timeouts", "requestMs", 30000, &cfg->request_ms)) ||
	    (error = get_ms(t, "timeouts", "initMs", 60000, &cfg->init_ms)) ||
	    (error = get_ms(t, "timeouts", "indexMs", 120000, &cfg->index_ms)) ||
	    (error = get_ms(t, "timeouts", "diagnosticsMs", 60000, &cfg->diagnostics_ms)))
		goto done;
	if ((error = check_exclude(json_object_get(cfg->json, "exclude"), origin)))
		goto done;
	t = json_object_get(cfg->json, "daemon");
	if (t && !json_is_object(t)) {
		error = ln_error_set(LN_ECONFIG, "%s: \"daemon\" must be an object", origin);
		goto done;
	}
	if ((error = get_ms(t, "daemon", "idleMs", 900000, &cfg->daemon_idle_ms)))
		goto done;

	/* Everything but the members known not to change any answer (how long
	 * to wait, when the daemon stops): servers change query answers, jail
	 * and verify edit answers, build/test/limits/isolation test outcomes,
	 * policy eval verdicts, and a member added later counts by default. */
	answer = json_deep_copy(cfg->json);
	json_object_del(answer, "timeouts");
	json_object_del(answer, "daemon");
	error = ln_json_digest(cfg->file_digest, answer);
	if (error) {
		error = ln_error_set(LN_ECONFIG, "%s: %s", origin, ln_error_msg());
		goto done;
	}
	memcpy(cfg->digest, cfg->file_digest, sizeof cfg->digest);

	/* Trust (trust.h): a lookup error (a malformed store) is an error,
	 * never a silent "trusted". */
	if (ln_trust_cli_config() || ln_trust_cli_trust()) {
		cfg->trusted = true;
	} else {
		error = ln_trust_lookup(&in_store, root, cfg->file_digest);
		if (error)
			goto done;
		cfg->trusted = in_store;
	}
	if (!cfg->trusted) {
		cfg->ignored = ln_trust_filter(cfg->json);
		if (json_array_size(cfg->ignored)) {
			json_decref(answer);
			answer = json_deep_copy(cfg->json);
			json_object_del(answer, "timeouts");
			json_object_del(answer, "daemon");
			error = ln_json_digest(cfg->digest, answer);
			if (error) {
				error = ln_error_set(LN_ECONFIG, "%s: %s", origin, ln_error_msg());
				goto done;
			}
		}
	}
	error = 0;
done:
	json_decref(answer);
	return error;
}

int ln_config_load_text(struct ln_config *cfg, const char *root, const char *text, size_t len,
			const char *origin)
{
	struct buf ftext = BUF_INIT;
	const char *file = ln_trust_cli_config();
	int error;

	memset(cfg, 0, sizeof *cfg);
	if (file) {
		/* --config FILE replaces every .lanser.json, the base's included */
		error = buf_read_file(&ftext, file, LN_CONFIG_MAX_BYTES);
		if (error) {
			error = ln_error_set(LN_ECONFIG, "--config %s: %s", file, ln_error_msg());
			goto done;
		}
		error = parse(cfg, root, ftext.data, ftext.len, file);
	} else {
		error = parse(cfg, root, text, len, origin);
	}
done:
	buf_release(&ftext);
	if (error)
		ln_config_release(cfg);
	return error;
}

int ln_config_load(struct ln_config *cfg, const char *root)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	int error;

	memset(cfg, 0, sizeof *cfg);
	/* The workspace's repository: what libgit2 would read on its word
	 * when it opens it is refused here, before any command (or the
	 * daemon) opens it (core/gitvet.h); --trust keeps git's own rules. */
	if (!ln_trust_cli_trust() && (error = ln_git_vet(root, true)) < 0)
		return error;
	buf_addf(&path, "%s/%s", root, LN_CONFIG_FILE);
	error = ln_trust_cli_config() ? LN_ENOTFOUND
				      : buf_read_file(&text, path.data, LN_CONFIG_MAX_BYTES);
	if (error == LN_ENOTFOUND) {
		ln_error_clear();
		error = ln_config_load_text(cfg, root, NULL, 0, LN_CONFIG_FILE);
	} else if (error) {
		error = ln_error_set(LN_ECONFIG, "%s", ln_error_msg());
	} else {
		error = ln_config_load_text(cfg, root, text.data, text.len, LN_CONFIG_FILE);
	}
	buf_release(&path);
	buf_release(&text);
	return error;
}

void ln_config_release(struct ln_config *cfg)
{
	json_decref(cfg->json);
	json_decref(cfg->ignored);
	free(cfg->source);
	cfg->json = NULL;
	cfg->ignored = NULL;
	cfg->source = NULL;
}
