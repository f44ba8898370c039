#include "lsp/profile.h"
#include "core/atomicfile.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/proc.h"
#include "core/state.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char **strv_new(const char *const *v)
{
	size_t n = 0, i;
	char **r;

	while (v[n])
		n++;
	r = xcalloc(n + 1, sizeof *r);
	for (i = 0; i < n; i++)
		r[i] = xstrdup(v[i]);
	return r;
}

static void strv_free(char **v)
{
	size_t i;
	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static int strv_from_json(char ***out, const json_t *arr, const char *what)
{
	size_t i, n;
	char **r;

	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 256)
		return ln_error_set(LN_ECONFIG, "%s must be a non-empty array of strings", what);
	n = json_array_size(arr);
	r = xcalloc(n + 1, sizeof *r);
	for (i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		if (!s) {
			strv_free(r);
			return ln_error_set(LN_ECONFIG, "%s must be a non-empty array of strings", what);
		}
		r[i] = xstrdup(s);
	}
	strv_free(*out);
	*out = r;
	return 0;
}

static void add_type(struct lsp_profile *p, const char *glob, const char *lang)
{
	p->types = xrealloc(p->types, (p->ntypes + 1) * sizeof *p->types);
	p->types[p->ntypes].glob = xstrdup(glob);
	p->types[p->ntypes].language_id = xstrdup(lang);
	p->ntypes++;
}

static void clear_types(struct lsp_profile *p)
{
	size_t i;
	for (i = 0; i < p->ntypes; i++) {
		free(p->types[i].glob);
		free(p->types[i].language_id);
	}
	free(p->types);
	p->types = NULL;
	p->ntypes = 0;
}

static struct lsp_profile *add_profile(struct lsp_profiles *ps, const char *name)
{
	struct lsp_profile *p;

	ps->v = xrealloc(ps->v, (ps->n + 1) * sizeof *ps->v);
	p = &ps->v[ps->n++];
	memset(p, 0, sizeof *p);
	p->name = xstrdup(name);
	p->enabled = true;
	return p;
}

const char *lsp_cdb_find(const char *root)
{
	static const char *const places[] = { LSP_CDB_PLACES };
	struct buf b = BUF_INIT;
	const char *found = NULL;
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof places / sizeof places[0] && !found; i++) {
		buf_reset(&b);
		buf_addf(&b, "%s/%s", root, places[i]);
		if (stat(b.data, &st) == 0 && S_ISREG(st.st_mode))
			found = places[i];
	}
	buf_release(&b);
	return found;
}

char *lsp_cdb_dir(const char *root)
{
	const char *f = lsp_cdb_find(root), *slash = f ? strrchr(f, '/') : NULL;

	return slash ? xstrndup(f, (size_t)(slash - f)) : xstrdup("");
}

static void builtins(struct lsp_profiles *ps, const char *root)
{
	static const char *const clangd_argv[] = { "clangd", "--background-index", "--log=error",
						   "--pch-storage=memory", NULL };
	static const char *const clangd_ver[] = { "clangd", "--version", NULL };
	static const char *const pyright_argv[] = { "pyright-langserver", "--stdio", NULL };
	static const char *const pyright_ver[] = { "pyright", "--version", NULL };
	static const char *const ts_argv[] = { "typescript-language-server", "--stdio", NULL };
	static const char *const ts_ver[] = { "typescript-language-server", "--version", NULL };
	static const char *const pylsp_argv[] = { "pylsp", NULL };
	static const char *const pylsp_ver[] = { "pylsp", "--version", NULL };
	struct lsp_profile *p;

	p = add_profile(ps, "clangd");
	p->argv = strv_new(clangd_argv);
	{
		/* Nothing from above the workspace may steer clangd: no .clangd
		 * or user config (--enable-config=false), and the compilation
		 * database of the workspace itself (build/ when it holds one,
		 * else the root, which clangd then searches alone: never the
		 * ancestors). References are not capped (its default is 1,000). */
		struct buf arg = BUF_INIT;
		char *dir = lsp_cdb_dir(root);
		const char *extra[4];
		size_t n = 0, k;
		buf_addf(&arg, "--compile-commands-dir=%s%s%s", root, *dir ? "/" : "", dir);
		free(dir);
		extra[0] = "--enable-config=false";
		extra[1] = "--limit-references=0";
		extra[2] = arg.data;
		extra[3] = NULL;
		while (p->argv[n])
			n++;
		p->argv = xrealloc(p->argv, (n + 4) * sizeof *p->argv);
		for (k = 0; extra[k]; k++)
			p->argv[n + k] = xstrdup(extra[k]);
		p->argv[n + k] = NULL;
		buf_release(&arg);
	}
	p->version_argv = strv_new(clangd_ver);
	add_type(p, "*.c", "c");
	add_type(p, "*.h", "c");
	add_type(p, "*.cc", "cpp");
	add_type(p, "*.cpp", "cpp");
	add_type(p, "*.cxx", "cpp");
	add_type(p, "*.hpp", "cpp");
	add_type(p, "*.hh", "cpp");
	add_type(p, "*.hxx", "cpp");
	p->readiness = LSP_READY_INDEX;
	p->index_token = xstrdup("backgroundIndexProgress");
	p->index_needs_cdb = true;

	p = add_profile(ps, "pyright");
	p->argv = strv_new(pyright_argv);
	p->version_argv = strv_new(pyright_ver);
	add_type(p, "*.py", "python");
	add_type(p, "*.pyi", "python");
	/* pyright answers references before it has discovered the
	 * workspace's files (missing every file not opened); it logs
	 * "Found N source files" / "No source files found" when done. */
	p->readiness = LSP_READY_INDEX;
	p->ready_log = xstrdup("source file");
	/* A version's published diagnostics may come twice under load (after
	 * binding, then after checking): ask for them instead (profile.h). */
	p->pull_diagnostics = true;
	/* The workspace's own packages resolve before any installed copy:
	 * the root is an explicit extra path, searched before site-packages. */
	p->settings = xjson_pack("{s:{s:{s:[s], s:b, s:s, s:b}}}", "python", "analysis",
				"extraPaths", root, "autoSearchPaths", 1,
				"diagnosticMode", "openFilesOnly", "useLibraryCodeForTypes", 1);
	{
		/* src/ layout: the package lives in <root>/src */
		struct buf src = BUF_INIT;
		struct stat st;
		buf_addf(&src, "%s/src", root);
		if (stat(src.data, &st) == 0 && S_ISDIR(st.st_mode))
			json_array_append_new(json_object_get(json_object_get(json_object_get(
				p->settings, "python"), "analysis"), "extraPaths"),
				json_string(src.data));
		buf_release(&src);
	}

	p = add_profile(ps, "typescript");
	p->argv = strv_new(ts_argv);
	p->version_argv = strv_new(ts_ver);
	add_type(p, "*.ts", "typescript");
	add_type(p, "*.tsx", "typescriptreact");
	add_type(p, "*.js", "javascript");
	add_type(p, "*.jsx", "javascriptreact");
	add_type(p, "*.mjs", "javascript");
	add_type(p, "*.cjs", "javascript");
	/* By default the server answers from a syntax-only tsserver while the
	 * project loads (a definition then stops at the import). Without the
	 * syntax server every answer comes from the loaded project. */
	p->readiness = LSP_READY_NONE;
	p->init_options = xjson_pack("{s:{s:s}}", "tsserver", "useSyntaxServer", "never");
	/* typescript-language-server runs a tsserver.js it finds in
	 * node_modules of the workspace or any ancestor unless given a valid
	 * path: always give it the pinned one (lsp_profile_resolve refuses to
	 * start the server when it is missing, rather than let it search). */
	{
		char *self = lsp_self_dir();
		struct buf ts = BUF_INIT;
		buf_addf(&ts, "%s/deps/node_modules/typescript/lib/tsserver.js", self);
		json_object_set_new(json_object_get(p->init_options, "tsserver"), "path",
				    json_string(ts.data));
		buf_release(&ts);
		free(self);
	}

	p = add_profile(ps, "pylsp");
	p->argv = strv_new(pylsp_argv);
	p->version_argv = strv_new(pylsp_ver);
	add_type(p, "*.py", "python");
	p->readiness = LSP_READY_NONE;
	p->enabled = false;
}

static int apply_config(struct lsp_profile *p, const char *name, const json_t *c)
{
	json_t *v;
	struct buf what = BUF_INIT;
	int error = 0;

	if (!json_is_object(c))
		return ln_error_set(LN_ECONFIG, "servers.%s must be an object", name);
	if ((v = json_object_get(c, "enabled"))) {
		if (!json_is_boolean(v)) {
			error = ln_error_set(LN_ECONFIG, "servers.%s.enabled must be true or false", name);
			goto done;
		}
		p->enabled = json_is_true(v);
	}
	if ((v = json_object_get(c, "command"))) {
		buf_addf(&what, "servers.%s.command", name);
		if ((error = strv_from_json(&p->argv, v, what.data)))
			goto done;
	}
	if ((v = json_object_get(c, "versionCommand"))) {
		buf_reset(&what);
		buf_addf(&what, "servers.%s.versionCommand", name);
		if ((error = strv_from_json(&p->version_argv, v, what.data)))
			goto done;
	}
	if ((v = json_object_get(c, "fileTypes"))) {
		const char *k;
		json_t *lang;
		if (!json_is_object(v) || json_object_size(v) == 0) {
			error = ln_error_set(LN_ECONFIG,
				"servers.%s.fileTypes must map globs to language ids", name);
			goto done;
		}
		clear_types(p);
		json_object_foreach(v, k, lang) {
			if (!json_is_string(lang)) {
				error = ln_error_set(LN_ECONFIG,
					"servers.%s.fileTypes[\"%s\"] must be a language id string",
					name, k);
				goto done;
			}
			add_type(p, k, json_string_value(lang));
		}
	}
	if ((v = json_object_get(c, "initializationOptions"))) {
		json_t *pinned = json_object_get(json_object_get(p->init_options, "tsserver"), "path");
		json_incref(pinned);
		json_decref(p->init_options);
		p->init_options = json_deep_copy(v);
		/* a configuration that names no tsserver keeps the pinned one */
		if (pinned && json_is_object(p->init_options) &&
		    !json_object_get(json_object_get(p->init_options, "tsserver"), "path")) {
			if (!json_is_object(json_object_get(p->init_options, "tsserver")))
				json_object_set_new(p->init_options, "tsserver", json_object());
			json_object_set(json_object_get(p->init_options, "tsserver"), "path", pinned);
		}
		json_decref(pinned);
	}
	if ((v = json_object_get(c, "settings"))) {
		json_decref(p->settings);
		p->settings = json_deep_copy(v);
	}
	if ((v = json_object_get(c, "readiness"))) {
		const char *r = json_string_value(v);
		if (r && !strcmp(r, "none"))
			p->readiness = LSP_READY_NONE;
		else if (r && !strcmp(r, "progress"))
			p->readiness = LSP_READY_PROGRESS;
		else if (r && !strcmp(r, "index"))
			p->readiness = LSP_READY_INDEX;
		else {
			error = ln_error_set(LN_ECONFIG,
				"servers.%s.readiness must be \"none\", \"progress\" or \"index\"", name);
			goto done;
		}
	}
	if ((v = json_object_get(c, "indexProgress"))) {
		if (!json_is_string(v)) {
			error = ln_error_set(LN_ECONFIG, "servers.%s.indexProgress must be a string", name);
			goto done;
		}
		free(p->index_token);
		p->index_token = xstrdup(json_string_value(v));
	}
	if ((v = json_object_get(c, "diagnostics"))) {
		const char *r = json_string_value(v);
		if (r && !strcmp(r, "pull"))
			p->pull_diagnostics = true;
		else if (r && !strcmp(r, "push"))
			p->pull_diagnostics = false;
		else {
			error = ln_error_set(LN_ECONFIG,
				"servers.%s.diagnostics must be \"pull\" or \"push\"", name);
			goto done;
		}
	}
	if ((v = json_object_get(c, "readyLog"))) {
		if (!json_is_string(v)) {
			error = ln_error_set(LN_ECONFIG, "servers.%s.readyLog must be a string", name);
			goto done;
		}
		free(p->ready_log);
		p->ready_log = xstrdup(json_string_value(v));
	}
	if (!p->argv) {
		error = ln_error_set(LN_ECONFIG, "servers.%s needs a \"command\"", name);
		goto done;
	}
	if (!p->ntypes) {
		error = ln_error_set(LN_ECONFIG, "servers.%s needs \"fileTypes\"", name);
		goto done;
	}
done:
	buf_release(&what);
	return error;
}

int lsp_profiles_load(struct lsp_profiles *out, const json_t *servers, const char *root)
{
	struct lsp_profiles b = { 0 }, r = { 0 };
	const char *name;
	json_t *c;
	size_t i;
	int error = 0;

	builtins(&b, root);
	/* Config-defined (non built-in) servers come first. */
	json_object_foreach((json_t *)servers, name, c) {
		struct lsp_profile *p = NULL;
		for (i = 0; i < b.n; i++)
			if (!strcmp(b.v[i].name, name))
				p = &b.v[i];
		if (!p)
			p = add_profile(&r, name);
		if ((error = apply_config(p, name, c)))
			goto done;
	}
	for (i = 0; i < b.n; i++) {
		struct lsp_profile *p = add_profile(&r, b.v[i].name);
		free(p->name);
		*p = b.v[i];
	}
	free(b.v);
	b.v = NULL;
	b.n = 0;
	*out = r;
	r.v = NULL;
	r.n = 0;
done:
	if (error) /* every profile error is about the config file */
		error = ln_error_set(error, "%s: %s", LN_CONFIG_FILE, ln_error_msg());
	lsp_profiles_release(&b);
	lsp_profiles_release(&r);
	return error;
}

void lsp_profiles_release(struct lsp_profiles *ps)
{
	size_t i;
	for (i = 0; i < ps->n; i++) {
		struct lsp_profile *p = &ps->v[i];
		free(p->name);
		strv_free(p->argv);
		strv_free(p->version_argv);
		clear_types(p);
		json_decref(p->init_options);
		json_decref(p->settings);
		free(p->index_token);
		free(p->ready_log);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

const struct lsp_profile *lsp_profiles_for_path(const struct lsp_profiles *ps,
						const char *relpath, const char **language_id)
{
	const char *base = strrchr(relpath, '/');
	size_t i, j;

	base = base ? base + 1 : relpath;
	for (i = 0; i < ps->n; i++) {
		const struct lsp_profile *p = &ps->v[i];
		if (!p->enabled)
			continue;
		for (j = 0; j < p->ntypes; j++) {
			const char *g = p->types[j].glob;
			if (fnmatch(g, strchr(g, '/') ? relpath : base, 0) == 0) {
				if (language_id)
					*language_id = p->types[j].language_id;
				return p;
			}
		}
	}
	return NULL;
}

const char **lsp_argv_with_exe(char *const *argv, const char *exe)
{
	size_t n, i;
	const char **r;

	for (n = 0; argv[n]; n++)
		;
	r = xcalloc(n + 1, sizeof *r);
	r[0] = exe;
	for (i = 1; i < n; i++)
		r[i] = argv[i];
	return r;
}

char *lsp_self_dir(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	char *slash;

	if (n <= 0)
		return xstrdup(".");
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (slash)
		*slash = '\0';
	return xstrdup(path);
}

static int is_exec(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int resolve_cmd(char **out, const char *cmd, const char *profile)
{
	struct buf b = BUF_INIT;
	char *self = NULL, *pathenv = NULL, *p, *save = NULL;
	int error = 0;

	*out = NULL;
	if (strchr(cmd, '/')) {
		if (is_exec(cmd)) {
			*out = realpath(cmd, NULL);
			return *out ? 0 : ln_error_set(LN_ENOSERVER, "%s: cannot resolve %s", profile, cmd);
		}
		return ln_error_set(LN_ENOSERVER, "%s: %s is not an executable file", profile, cmd);
	}
	self = lsp_self_dir();
	buf_addf(&b, "%s/deps/node_modules/.bin/%s", self, cmd);
	if (is_exec(b.data)) {
		*out = buf_detach(&b, NULL);
		goto done;
	}
	pathenv = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/local/bin:/usr/bin:/bin");
	for (p = strtok_r(pathenv, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
		/* Never a relative entry (the current folder is the workspace)
		 * nor a node_modules folder (a workspace's binaries). */
		if (p[0] != '/' || strstr(p, "/node_modules/") ||
		    (strlen(p) >= 13 && !strcmp(p + strlen(p) - 13, "/node_modules")))
			continue;
		buf_reset(&b);
		buf_addf(&b, "%s/%s", p, cmd);
		if (is_exec(b.data)) {
			*out = buf_detach(&b, NULL);
			goto done;
		}
	}
	/* advice that leads somewhere: 'make deps' installs clangd (Debian
	 * packages) and the pinned npm servers, not pylsp nor a server of the
	 * configuration */
	if (!strcmp(profile, "pylsp"))
		error = ln_error_set(LN_ENOSERVER, "%s: '%s' is not installed ('make deps' does "
				     "not install it: pip install python-lsp-server, or use the "
				     "built-in pyright)", profile, cmd);
	else if (!strcmp(profile, "clangd") || !strcmp(profile, "pyright") ||
		 !strcmp(profile, "typescript"))
		error = ln_error_set(LN_ENOSERVER, "%s: '%s' is not installed (run 'make deps' "
				     "in the lanser checkout)", profile, cmd);
	else
		error = ln_error_set(LN_ENOSERVER, "%s: '%s' is not installed (install it, or fix "
				     "servers.%s.command in .lanser.json)", profile, cmd, profile);
done:
	buf_release(&b);
	free(self);
	free(pathenv);
	return error;
}

int lsp_profile_resolve(char **out, const struct lsp_profile *p)
{
	const char *ts = json_string_value(json_object_get(json_object_get(p->init_options,
									      "tsserver"), "path"));
	struct stat st;

	/* an invalid tsserver.path makes the server search node_modules */
	if (ts && (stat(ts, &st) < 0 || !S_ISREG(st.st_mode))) {
		*out = NULL;
		return ln_error_set(LN_ENOSERVER, "%s: tsserver %s is missing (run 'make deps'); "
				    "not starting the server rather than let it take one from "
				    "node_modules", p->name, ts);
	}
	return resolve_cmd(out, p->argv[0], p->name);
}

/* Runs argv with a 10 s limit and returns the first line of its stdout. */
static int run_version(char **out, char **argv)
{
	struct ln_proc proc;
	struct ln_proc_opts o = { 0 };
	struct buf b = BUF_INIT;
	long long deadline = ln_now_ms() + 10000;
	int error;
	char *start, *end;

	o.argv = (const char *const *)argv;
	o.out = LN_STDIO_PIPE;
	o.new_pgrp = true;
	error = ln_proc_spawn(&proc, &o);
	if (error)
		return error;
	while (ln_now_ms() < deadline && b.len < 65536) {
		struct pollfd pfd = { .fd = proc.out_fd, .events = POLLIN };
		char chunk[4096];
		ssize_t n;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(proc.out_fd, chunk, sizeof chunk);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		buf_add(&b, chunk, (size_t)n);
	}
	ln_proc_release(&proc, 200);
	/* The first non-blank line, trimmed. */
	start = b.data;
	while (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\n')
		start++;
	end = start + strcspn(start, "\r\n");
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == start) {
		buf_release(&b);
		return ln_error_set(LN_EGENERIC, "%s printed no version", argv[0]);
	}
	*out = xstrndup(start, (size_t)(end - start));
	buf_release(&b);
	return 0;
}

int lsp_profile_version(char **out, const struct lsp_profile *p)
{
	char *exe = NULL, *dir = NULL, *cache_path = NULL, *ver = NULL;
	const char **argv = NULL;
	struct buf key = BUF_INIT, tmp = BUF_INIT;
	json_t *cache = NULL;
	struct stat st;
	size_t i;
	int error = 0;

	*out = NULL;
	if (!p->version_argv || resolve_cmd(&exe, p->version_argv[0], p->name) ||
	    stat(exe, &st) < 0) {
		*out = xstrdup("unknown");
		goto done;
	}
	/* The key is the binary (path, size, mtime) and the arguments: one
	 * interpreter serves several commands ("python3 -m pylsp --version"). */
	buf_addf(&key, "%s|%lld|%lld", exe, (long long)st.st_size, (long long)st.st_mtime);
	for (i = 1; p->version_argv[i]; i++)
		buf_addf(&key, "|%s", p->version_argv[i]);
	if (ln_state_dir(&dir) == 0) {
		struct buf text = BUF_INIT;
		buf_addf(&tmp, "%s/versions.json", dir);
		cache_path = buf_detach(&tmp, NULL);
		if (buf_read_file(&text, cache_path, 1 << 20) == 0)
			cache = json_loadb(text.data, text.len, 0, NULL);
		buf_release(&text);
		if (json_is_string(json_object_get(cache, key.data))) {
			*out = xstrdup(json_string_value(json_object_get(cache, key.data)));
			goto done;
		}
	}
	argv = lsp_argv_with_exe(p->version_argv, exe);
	if (run_version(&ver, (char **)argv)) {
		*out = xstrdup("unknown");
		goto done;
	}
	*out = ver;
	if (cache_path) {
		/* Write-then-rename so concurrent runs never see a torn file. */
		char *dump;
		if (!json_is_object(cache)) {
			json_decref(cache);
			cache = json_object();
		}
		json_object_set_new(cache, key.data, json_string(ver));
		dump = json_dumps(cache, JSON_COMPACT | JSON_SORT_KEYS);
		if (dump) {
			/* a cache: a failure to write it is no error of the call */
			struct ln_error_state saved;
			ln_error_capture(&saved);
			ln_atomic_write(cache_path, dump, strlen(dump), NULL);
			ln_error_restore(&saved);
			free(dump);
		}
	}
done:
	free((void *)argv);
	free(exe);
	free(dir);
	free(cache_path);
	json_decref(cache);
	buf_release(&key);
	buf_release(&tmp);
	return error;
}
