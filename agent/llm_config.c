/*
 * llm_config.c - where the model client's settings come from: flags, the
 * environment and .lanser.json "model" (precedence in agent/llm.h and
 * docs/agent.md "Model server").
 */
#include "agent/llm.h"
#include "core/config.h"
#include "core/err.h"
#include "core/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const known[] = { "baseUrl", "model", "apiKeyEnv", "timeoutMs", "connectTimeoutMs",
				     "retries", "maxResponseBytes", "stream", "sampling", NULL };

static const char *env_nonempty(const char *name)
{
	const char *v = name ? getenv(name) : NULL;
	return v && *v ? v : NULL;
}

static int cfg_string(const json_t *m, const char *key, const char **out)
{
	json_t *v = json_object_get(m, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !json_string_length(v))
		return ln_error_set(LN_ECONFIG, ".lanser.json: model.%s must be a non-empty string", key);
	*out = json_string_value(v);
	return 0;
}

static int cfg_int(const json_t *m, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
	json_t *v = json_object_get(m, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return ln_error_set(LN_ECONFIG, ".lanser.json: model.%s must be an integer in [%lld, %lld]",
				    key, (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

/* A name fit for an environment variable: [A-Za-z_][A-Za-z0-9_]*. */
static bool env_name_ok(const char *s)
{
	if (!s || !*s || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

int llm_opts_resolve(struct llm_opts *o, struct llm_settings *s, const struct ln_config *cfg,
		     const struct llm_flags *flags)
{
	static const struct llm_flags none;
	const json_t *m = cfg && cfg->json ? json_object_get(cfg->json, "model") : NULL;
	const char *base = NULL, *model = NULL, *keyenv = NULL, *k;
	json_int_t timeout = 0, connect = 0, retries = 0, maxresp = 0;
	json_t *v, *samp;
	int error;

	memset(o, 0, sizeof *o);
	memset(s, 0, sizeof *s);
	if (!flags)
		flags = &none;
	if (m && !json_is_object(m))
		return ln_error_set(LN_ECONFIG, ".lanser.json: \"model\" must be an object");
	json_object_foreach((json_t *)m, k, v) {
		bool ok = false;
		for (int i = 0; known[i]; i++)
			ok |= !strcmp(k, known[i]);
		if (!ok)
			return ln_error_set(LN_ECONFIG, ".lanser.json: unknown member model.%s (known: baseUrl, "
					    "model, apiKeyEnv, timeoutMs, connectTimeoutMs, retries, "
					    "maxResponseBytes, stream, sampling)", k);
	}
	if ((error = cfg_string(m, "baseUrl", &base)) || (error = cfg_string(m, "model", &model)) ||
	    (error = cfg_string(m, "apiKeyEnv", &keyenv)) ||
	    (error = cfg_int(m, "timeoutMs", 1, 3600000, &timeout)) ||
	    (error = cfg_int(m, "connectTimeoutMs", 1, 600000, &connect)) ||
	    (error = cfg_int(m, "retries", 0, 20, &retries)) ||
	    (error = cfg_int(m, "maxResponseBytes", 1024, (json_int_t)1 << 30, &maxresp)))
		return error;
	if (keyenv && !env_name_ok(keyenv))
		return ln_error_set(LN_ECONFIG, ".lanser.json: model.apiKeyEnv must name an environment "
				    "variable ([A-Za-z_][A-Za-z0-9_]*)");
	v = json_object_get(m, "stream");
	if (v && !json_is_boolean(v))
		return ln_error_set(LN_ECONFIG, ".lanser.json: model.stream must be true or false");
	o->stream = json_is_true(v);
	samp = json_object_get(m, "sampling");
	if (samp && !json_is_object(samp))
		return ln_error_set(LN_ECONFIG, ".lanser.json: model.sampling must be an object");
	if (flags->sampling && !json_is_object(flags->sampling))
		return ln_error_set(LN_EUSAGE, "the sampling parameters must be a JSON object");
	if (flags->api_key_env && !env_name_ok(flags->api_key_env))
		return ln_error_set(LN_EUSAGE, "the API key variable must name an environment variable "
				    "([A-Za-z_][A-Za-z0-9_]*)");

	/* base URL: flag, environment, configuration */
	s->base_url_from = "flag";
	if (!flags->base_url) {
		s->base_url_from = "OPENAI_BASE_URL";
		if (!env_nonempty("OPENAI_BASE_URL")) {
			s->base_url_from = ".lanser.json";
			if (!base)
				return ln_error_set(LN_ECONFIG, "no model server: pass its base URL as a flag, "
						    "set OPENAI_BASE_URL or .lanser.json model.baseUrl "
						    "(e.g. http://127.0.0.1:8080/v1)");
		}
	}
	s->base_url = xstrdup(flags->base_url ? flags->base_url
			      : env_nonempty("OPENAI_BASE_URL") ? env_nonempty("OPENAI_BASE_URL") : base);
	model = flags->model ? flags->model : env_nonempty("OPENAI_MODEL") ? env_nonempty("OPENAI_MODEL") : model;
	s->model = model ? xstrdup(model) : NULL;
	k = env_nonempty(flags->api_key_env ? flags->api_key_env : keyenv ? keyenv : "OPENAI_API_KEY");
	s->api_key = k ? xstrdup(k) : NULL;

	s->sampling = samp ? json_deep_copy(samp) : json_object();
	if (flags->sampling)
		json_object_update(s->sampling, (json_t *)flags->sampling);

	o->base_url = s->base_url;
	o->model = s->model;
	o->api_key = s->api_key;
	o->sampling = s->sampling;
	o->timeout_ms = flags->timeout_ms ? flags->timeout_ms : (int)timeout;
	o->connect_timeout_ms = flags->connect_timeout_ms ? flags->connect_timeout_ms : (int)connect;
	/* a configured 0 means "no retry" (retries < 0 in llm_opts) */
	o->retries = flags->retries ? flags->retries
		     : json_object_get(m, "retries") ? (retries ? (int)retries : -1) : 0;
	o->max_response = flags->max_response ? flags->max_response : (size_t)maxresp;
	if (flags->stream)
		o->stream = flags->stream > 0;
	return 0;
}

void llm_settings_release(struct llm_settings *s)
{
	if (s->api_key) {
		volatile char *p = s->api_key;
		while (*p)
			*p++ = 0;
	}
	free(s->base_url);
	free(s->model);
	free(s->api_key);
	json_decref(s->sampling);
	memset(s, 0, sizeof *s);
}
