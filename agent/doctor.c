/*
 * doctor.c - `lanser doctor` (what is installed, versions, what is missing)
 * and `lanser schema` (the JSON Schemas of lanser's formats and of each
 * command's arguments).
 */
#include "agent/cli.h"
#include "agent/command.h"
#include "core/bundle.h"
#include "rewards/tracefile.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/ignore.h"
#include "core/snapshot.h"
#include "core/xjson.h"
#include "lsp/profile.h"
#include "core/state.h"
#include "core/trust.h"
#include "core/xalloc.h"

#include <curl/curl.h>
#include <dirent.h>
#include <git2.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

const TSLanguage *tree_sitter_c(void);
const TSLanguage *tree_sitter_python(void);
const TSLanguage *tree_sitter_typescript(void);
const TSLanguage *tree_sitter_tsx(void);
const TSLanguage *tree_sitter_javascript(void);

static json_t *grammar_check(const char *name, const TSLanguage *lang)
{
	TSParser *p = ts_parser_new();
	bool ok = ts_parser_set_language(p, lang);

	ts_parser_delete(p);
	return xjson_pack("{s:s, s:i, s:b}", "name", name, "abi", (int)ts_language_abi_version(lang),
			 "loads", ok);
}

#define DOCTOR_MAX_FILES 200000
#define DOCTOR_MAX_IGNORED 50

/* The compilation database (lsp_cdb_find): where, and how many entries
 * and distinct files it has (a compile_flags.txt applies to every file). */
static json_t *cdb_check(const char *root)
{
	const char *name = lsp_cdb_find(root);
	json_t *db, *e, *files;
	struct buf p = BUF_INIT;
	json_error_t jerr;
	size_t i, nfiles;

	if (!name)
		return json_null();
	if (!strcmp(name, "compile_flags.txt") || strstr(name, "/compile_flags.txt"))
		return xjson_pack("{s:s, s:s}", "path", name, "applies", "every file, the same flags");
	buf_addf(&p, "%s/%s", root, name);
	db = json_load_file(p.data, 0, &jerr);
	buf_release(&p);
	if (!json_is_array(db)) {
		json_decref(db);
		return xjson_pack("{s:s, s:o}", "path", name, "error",
				  xjson_string_lossy(db ? "not a JSON array" : jerr.text));
	}
	files = json_object();
	json_array_foreach(db, i, e) {
		const char *f = json_string_value(json_object_get(e, "file"));
		if (f && json_object_size(files) < DOCTOR_MAX_FILES)
			json_object_set_new(files, f, json_true());
	}
	nfiles = json_object_size(files);
	e = xjson_pack("{s:s, s:I, s:I}", "path", name, "entries", (json_int_t)json_array_size(db),
		       "files", (json_int_t)nfiles);
	json_decref(files);
	json_decref(db);
	return e;
}

/* Folders .gitignore or "exclude" leave out, two levels deep at most. */
static void ignored_dirs(json_t *out, struct ln_ignore *ig, const char *root, const char *rel,
			 int depth)
{
	struct buf dir = BUF_INIT, sub = BUF_INIT;
	struct dirent *d;
	DIR *dh;

	buf_addf(&dir, "%s%s%s", root, *rel ? "/" : "", rel);
	dh = opendir(dir.data);
	while (dh && (d = readdir(dh)) != NULL && json_array_size(out) < DOCTOR_MAX_IGNORED) {
		const char *why;
		if (d->d_name[0] == '.' || d->d_type != DT_DIR)
			continue;
		buf_reset(&sub);
		buf_addf(&sub, "%s%s%s", rel, *rel ? "/" : "", d->d_name);
		why = ln_ignore_reason(ig, sub.data, true);
		if (why)
			json_array_append_new(out, xjson_pack("{s:o, s:s}", "path",
					      xjson_string_lossy(sub.data), "by", why));
		else if (depth < 1)
			ignored_dirs(out, ig, root, sub.data, depth + 1);
	}
	if (dh)
		closedir(dh);
	buf_release(&dir);
	buf_release(&sub);
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "path")),
		      json_string_value(json_object_get(*(json_t *const *)b, "path")));
}

/* The workspace: its compilation database, which servers start (a file
 * they serve, not ignored) and why, and the ignored folders. */
static json_t *workspace_check(struct cli *c, const struct lsp_profiles *ps)
{
	struct ln_ignore *ig = ln_ignore_new(c->root, NULL);
	json_t *files = NULL, *servers = json_array(), *ign = json_array(), *f;
	size_t i, j;

	if (ln_tree_files(&files, c->root, NULL, NULL, ln_ignore_skip, ig, DOCTOR_MAX_FILES))
		ln_error_clear();
	for (i = 0; i < ps->n; i++) {
		const struct lsp_profile *p = &ps->v[i];
		json_t *first = NULL;
		size_t count = 0;
		json_array_foreach(files, j, f)
			if (lsp_profiles_for_path(ps, json_string_value(f), NULL) == p) {
				if (!count++)
					first = f;
			}
		json_array_append_new(servers, xjson_pack("{s:s, s:b, s:I, s:O?}", "profile", p->name,
				      "starts", p->enabled && count > 0, "files", (json_int_t)count,
				      "example", first));
	}
	ignored_dirs(ign, ig, c->root, "", 0);
	xjson_array_sort(ign, cmp_path);
	f = xjson_pack("{s:o, s:b, s:I, s:o, s:o}", "compilationDatabase", cdb_check(c->root),
		       "git", ln_ignore_has_git(ig), "sourceFiles", (json_int_t)json_array_size(files),
		       "servers", servers, "ignored", ign);
	json_decref(files);
	ln_ignore_free(ig);
	return f;
}

static void workspace_print(FILE *out, const json_t *ws)
{
	const json_t *db = json_object_get(ws, "compilationDatabase"), *s, *ign;
	size_t i;

	bool c_files = false;

	json_array_foreach(json_object_get(ws, "servers"), i, s)
		if (!strcmp(json_string_value(json_object_get(s, "profile")), "clangd") &&
		    json_integer_value(json_object_get(s, "files")) > 0)
			c_files = true;
	fprintf(out, "\nworkspace:\n");
	if (json_is_null(db) && !c_files)
		fprintf(out, "  compilation database  none (no C/C++ file)\n");
	else if (json_is_null(db))
		fprintf(out, "  compilation database  none (C/C++ answers guess the flags; "
			"docs/compile-db.md says how to get one)\n");
	else if (json_object_get(db, "error"))
		fprintf(out, "  compilation database  %s: %s\n",
			json_string_value(json_object_get(db, "path")),
			json_string_value(json_object_get(db, "error")));
	else if (json_object_get(db, "applies"))
		fprintf(out, "  compilation database  %s (%s)\n",
			json_string_value(json_object_get(db, "path")),
			json_string_value(json_object_get(db, "applies")));
	else
		fprintf(out, "  compilation database  %s (%lld entries, %lld files)\n",
			json_string_value(json_object_get(db, "path")),
			(long long)json_integer_value(json_object_get(db, "entries")),
			(long long)json_integer_value(json_object_get(db, "files")));
	json_array_foreach(json_object_get(ws, "servers"), i, s) {
		long long n = json_integer_value(json_object_get(s, "files"));
		const char *ex = json_string_value(json_object_get(s, "example"));
		fprintf(out, "  %-21s %s", json_string_value(json_object_get(s, "profile")),
			json_is_true(json_object_get(s, "starts")) ? "starts" : "does not start");
		if (n)
			fprintf(out, ": %lld file%s it serves (e.g. %s)%s\n", n, n == 1 ? "" : "s", ex,
				json_is_true(json_object_get(s, "starts")) ? "" : ", but it is disabled");
		else
			fprintf(out, ": no file it serves\n");
	}
	ign = json_object_get(ws, "ignored");
	fprintf(out, "  ignored folders       %s", json_array_size(ign) ? "" :
		json_is_true(json_object_get(ws, "git")) ? "none\n" :
		"none (not a git work tree: only \"exclude\" in .lanser.json applies)\n");
	json_array_foreach(ign, i, s)
		fprintf(out, "%s%s/ (%s)", i ? ", " : "", json_string_value(json_object_get(s, "path")),
			json_string_value(json_object_get(s, "by")));
	if (json_array_size(ign))
		fprintf(out, "\n");
}

int cmd_doctor(struct cli *c)
{
	struct lsp_profiles ps;
	json_t *out = NULL, *servers, *grammars, *trust, *ws;
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
	json_array_append_new(grammars, grammar_check("typescript", tree_sitter_typescript()));
	json_array_append_new(grammars, grammar_check("tsx", tree_sitter_tsx()));
	json_array_append_new(grammars, grammar_check("javascript", tree_sitter_javascript()));
	ws = workspace_check(c, &ps);
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
	json_object_set_new(out, "workspace", ws);
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
		workspace_print(c->out, ws);
		if (missing)
			fprintf(c->out, "\n%d enabled server%s missing: follow the advice above, or "
			       "disable %s in .lanser.json\n", missing,
			       missing == 1 ? " is" : "s are", missing == 1 ? "it" : "them");
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
	if (c->argc != 1 || strcmp(c->argv[0], "bundle"))
		return ln_error_set(LN_EUSAGE, "schema takes a format name (bundle, trace) or "
				    "command [NAME] (got '%s'%s)", c->argv[0], c->argc > 1 ?
				    " and a name" : "");
	fputs(ln_bundle_schema(), c->out);
	return 0;
}
