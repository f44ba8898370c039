/*
 * doctor.c - `lanser doctor` (what is installed, versions, what is missing)
 * and `lanser schema` (the JSON Schemas of lanser's formats and of each
 * command's arguments).
 */
#include "agent/cli.h"
#include "agent/command.h"
#include "core/bundle.h"
#include "rewards/tracefile.h"
#include "core/err.h"
#include "core/xjson.h"
#include "lsp/profile.h"
#include "core/state.h"
#include "core/trust.h"
#include "core/xalloc.h"

#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

const TSLanguage *tree_sitter_c(void);
const TSLanguage *tree_sitter_python(void);

static json_t *grammar_check(const char *name, const TSLanguage *lang)
{
	TSParser *p = ts_parser_new();
	bool ok = ts_parser_set_language(p, lang);

	ts_parser_delete(p);
	return xjson_pack("{s:s, s:i, s:b}", "name", name, "abi", (int)ts_language_abi_version(lang),
			 "loads", ok);
}

int cmd_doctor(struct cli *c)
{
	struct lsp_profiles ps;
	json_t *out = NULL, *servers, *grammars, *trust;
	char *state = NULL, *store = NULL;
	int major, minor, rev, error, missing = 0;
	size_t i;
	char gitv[32];

	error = lsp_profiles_load(&ps, json_object_get(c->cfg.json, "servers"), c->root);
	if (error)
		return error;
	git_libgit2_version(&major, &minor, &rev);
	snprintf(gitv, sizeof gitv, "%d.%d.%d", major, minor, rev);
	if (ln_state_dir(&state))
		state = NULL;
	servers = json_array();
	for (i = 0; i < ps.n; i++) {
		const struct lsp_profile *p = &ps.v[i];
		char *exe = NULL, *ver = NULL;
		/* a trusted configuration names the program; its version is its own
		 * output: either may be bytes that are not UTF-8 */
		json_t *s = xjson_pack("{s:s, s:b, s:o}", "profile", p->name, "enabled", p->enabled,
				       "command", xjson_string_lossy(p->argv[0]));
		if (lsp_profile_resolve(&exe, p) == 0) {
			json_object_set_new(s, "path", xjson_string_lossy(exe));
			lsp_profile_version(&ver, p);
			json_object_set_new(s, "version", xjson_string_lossy(ver ? ver : "unknown"));
		} else {
			json_object_set_new(s, "missing", xjson_string_lossy(ln_error_msg()));
			if (p->enabled)
				missing++;
		}
		json_array_append_new(servers, s);
		free(exe);
		free(ver);
	}
	grammars = json_array();
	json_array_append_new(grammars, grammar_check("c", tree_sitter_c()));
	json_array_append_new(grammars, grammar_check("python", tree_sitter_python()));
	if (ln_trust_store_path(&store))
		store = NULL;
	ln_error_clear();
	trust = xjson_pack("{s:b, s:o, s:b, s:s, s:o, s:o}", "trusted", c->cfg.trusted,
			  "source", xjson_string_lossy(c->cfg.source ? c->cfg.source : LN_CONFIG_FILE),
			  "configExists", c->cfg.exists, "fileDigest", c->cfg.file_digest,
			  "ignored", c->cfg.ignored ? json_incref(c->cfg.ignored) : json_array(),
			  "store", store ? xjson_string_lossy(store) : json_null());
	out = xjson_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:{s:i, s:o}, s:{s:s, s:s, s:s}}",
			"lanser", LANSER_VERSION, "root", xjson_string_lossy(c->root),
			"configDigest", c->cfg.digest,
			"stateDir", state ? xjson_string_lossy(state) : json_null(), "trust", trust, "servers", servers,
			"treeSitter", "abi", TREE_SITTER_LANGUAGE_VERSION, "grammars", grammars,
			"libraries", "libgit2", gitv, "jansson", JANSSON_VERSION,
			"libcurl", curl_version_info(CURLVERSION_NOW)->version);
	if (c->json) {
		char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
		fprintf(c->out, "%s\n", s);
		free(s);
	} else {
		json_t *s;
		fprintf(c->out, "lanser %s\nworkspace  %s\nconfig     %s\nstate      %s\n\n", LANSER_VERSION,
		       c->root, c->cfg.digest, state ? state : "(unavailable)");
		if (c->cfg.trusted)
			fprintf(c->out, "trust      trusted (%s)\n", ln_trust_cli_config() ?
				"--config names the file" : ln_trust_cli_trust() ? "--trust" :
				"recorded by 'lanser trust'");
		else if (json_array_size(c->cfg.ignored)) {
			json_t *v;
			fprintf(c->out, "trust      UNTRUSTED: ignored in %s (they would run programs "
				"outside the sandbox):\n", c->cfg.source);
			json_array_foreach(c->cfg.ignored, i, v)
				fprintf(c->out, "             %s\n", json_string_value(v));
			fprintf(c->out, "           built-in profiles and the pinned servers are used; to "
				"trust this configuration run 'lanser trust' (or pass --trust / "
				"--config FILE)\n");
		} else
			fprintf(c->out, "trust      untrusted (nothing in %s needs trust; "
				"'lanser trust' records it)\n", c->cfg.source);
		fprintf(c->out, "\n");
		fprintf(c->out, "language servers:\n");
		json_array_foreach(servers, i, s) {
			const char *miss = json_string_value(json_object_get(s, "missing"));
			fprintf(c->out, "  %-11s %-8s %s\n", json_string_value(json_object_get(s, "profile")),
			       json_is_true(json_object_get(s, "enabled")) ? "enabled" : "disabled",
			       miss ? miss : json_string_value(json_object_get(s, "version")));
			if (!miss)
				fprintf(c->out, "  %-11s %-8s %s\n", "", "", json_string_value(json_object_get(s, "path")));
		}
		fprintf(c->out, "tree-sitter (ABI %d):", TREE_SITTER_LANGUAGE_VERSION);
		json_array_foreach(grammars, i, s)
			fprintf(c->out, " %s (ABI %d, %s)", json_string_value(json_object_get(s, "name")),
			       (int)json_integer_value(json_object_get(s, "abi")),
			       json_is_true(json_object_get(s, "loads")) ? "ok" : "FAILS TO LOAD");
		fprintf(c->out, "\nlibraries: libgit2 %s, jansson %s, libcurl %s\n", gitv, JANSSON_VERSION,
		       curl_version_info(CURLVERSION_NOW)->version);
		if (missing)
			fprintf(c->out, "\n%d enabled server%s missing: run 'make deps' in the lanser "
			       "checkout, or disable it in .lanser.json\n", missing,
			       missing == 1 ? " is" : "s are");
	}
	if (missing)
		error = ln_error_set(LN_ENOSERVER, "%d enabled language server%s not installed",
				     missing, missing == 1 ? " is" : "s are");
	json_decref(out);
	free(state);
	free(store);
	lsp_profiles_release(&ps);
	return error;
}

/* `lanser schema command [NAME]`: the JSON Schema of a command's arguments
 * (agent/command.h), or the list of commands. */
static int schema_command(struct cli *c)
{
	const struct agent_command *cmd;
	json_t *s;
	char *text;

	if (c->argc == 1) {
		for (cmd = agent_commands; cmd->name; cmd++)
			fprintf(c->out, "%-15s %s\n", cmd->name, cmd->summary);
		return 0;
	}
	cmd = agent_command_find(c->argv[1]);
	if (!cmd)
		return ln_error_set(LN_EUSAGE, "unknown command '%s' (lanser schema command lists "
				    "them)", c->argv[1]);
	s = agent_cmd_schema(cmd);
	text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(s);
	if (!text)
		ln_die_oom();
	fprintf(c->out, "%s\n", text);
	free(text);
	return 0;
}

int cmd_schema(struct cli *c)
{
	if (c->argc >= 1 && c->argc <= 2 && !strcmp(c->argv[0], "command"))
		return schema_command(c);
	if (c->argc == 1 && !strcmp(c->argv[0], "trace")) {
		fputs(rwd_trace_schema(), c->out);
		return 0;
	}
	if (c->argc != 1 || strcmp(c->argv[0], "bundle")) {
		fprintf(c->err, "usage: lanser schema bundle|trace|command [NAME]\n");
		return ln_error_set(LN_EUSAGE, "schema takes a format name (bundle, trace) or "
				    "command [NAME]");
	}
	fputs(ln_bundle_schema(), c->out);
	return 0;
}
