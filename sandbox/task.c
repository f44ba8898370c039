#include "sandbox/task.h"
#include "sandbox/jail.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 256
#define MAX_ARG_BYTES (64 * 1024)
#define MAX_CANDIDATES 1024
#define MAX_TEST_IDS 10000
#define MAX_ENV 128

void sbx_task_init(struct sbx_task *t)
{
	memset(t, 0, sizeof *t);
	sbx_limits_default(&t->limits);
	t->format = SBX_FMT_AUTO;
	t->iso = SBX_ISO_REQUIRED;
	t->f2p = json_array();
	t->p2p = json_array();
	t->env = json_object();
	t->test_files = json_array();
}

static void free_argv(char **argv)
{
	size_t i;
	for (i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

void sbx_task_release(struct sbx_task *t)
{
	size_t i;

	free(t->workspace);
	free(t->base);
	for (i = 0; i < t->ncands; i++) {
		free(t->cands[i].id);
		free(t->cands[i].patch_path);
	}
	free(t->cands);
	free_argv(t->build_argv);
	free_argv(t->test_argv);
	free(t->junit_path);
	json_decref(t->f2p);
	json_decref(t->p2p);
	json_decref(t->env);
	free(t->task_id);
	free(t->test_reason);
	json_decref(t->test_files);
	memset(t, 0, sizeof *t);
}

static bool has_nul(const json_t *s)
{
	return strlen(json_string_value(s)) != json_string_length(s);
}

/* "make test" -> sh -c; ["make", "test"] -> argv. */
static int parse_command(char ***out, const json_t *v, const char *what, const char *member)
{
	char **argv;
	size_t n, i;

	if (json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (json_is_string(v)) {
		if (json_string_length(v) == 0 || json_string_length(v) > MAX_ARG_BYTES || has_nul(v))
			return ln_error_set(LN_ECONFIG, "%s: \"%s\" must be a non-empty command "
					    "(at most %d bytes, no NUL)", what, member, MAX_ARG_BYTES);
		argv = xcalloc(4, sizeof *argv);
		argv[0] = xstrdup("/bin/sh");
		argv[1] = xstrdup("-c");
		argv[2] = xstrdup(json_string_value(v));
		*out = argv;
		return 0;
	}
	if (!json_is_array(v) || (n = json_array_size(v)) == 0 || n > MAX_ARGS)
		return ln_error_set(LN_ECONFIG, "%s: \"%s\" must be a string or a non-empty array of "
				    "at most %d strings", what, member, MAX_ARGS);
	for (i = 0; i < n; i++) {
		const json_t *a = json_array_get(v, i);
		if (!json_is_string(a) || json_string_length(a) > MAX_ARG_BYTES || has_nul(a) ||
		    (i == 0 && json_string_length(a) == 0))
			return ln_error_set(LN_ECONFIG, "%s: \"%s\"[%zu] must be a string (at most "
					    "%d bytes, no NUL)", what, member, i, MAX_ARG_BYTES);
	}
	argv = xcalloc(n + 1, sizeof *argv);
	for (i = 0; i < n; i++)
		argv[i] = xstrdup(json_string_value(json_array_get(v, i)));
	*out = argv;
	return 0;
}

static int parse_ids(json_t **out, const json_t *v, const char *what, const char *member)
{
	size_t i;

	if (!json_is_array(v) || json_array_size(v) > MAX_TEST_IDS)
		return ln_error_set(LN_ECONFIG, "%s: \"%s\" must be an array of at most %d test ids",
				    what, member, MAX_TEST_IDS);
	for (i = 0; i < json_array_size(v); i++) {
		const json_t *s = json_array_get(v, i);
		if (!json_is_string(s) || json_string_length(s) == 0 ||
		    json_string_length(s) > SBX_TEST_ID_MAX || has_nul(s))
			return ln_error_set(LN_ECONFIG, "%s: \"%s\"[%zu] must be a test id (a "
					    "non-empty string)", what, member, i);
	}
	json_decref(*out);
	*out = json_deep_copy(v);
	return 0;
}

static char *join_path(const char *dir, const char *p)
{
	struct buf b = BUF_INIT;

	if (p[0] == '/' || !dir)
		buf_adds(&b, p);
	else
		buf_addf(&b, "%s/%s", dir, p);
	return buf_detach(&b, NULL);
}

static int add_candidate(struct sbx_task *t, const char *id, const char *patch_abs)
{
	if (t->ncands >= MAX_CANDIDATES)
		return ln_error_set(LN_ECONFIG, "more than %d candidates", MAX_CANDIDATES);
	t->cands = xrealloc(t->cands, (t->ncands + 1) * sizeof *t->cands);
	t->cands[t->ncands].id = xstrdup(id);
	t->cands[t->ncands].patch_path = patch_abs ? xstrdup(patch_abs) : NULL;
	t->ncands++;
	return 0;
}

static bool valid_id(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return s[0] != '.';
}

static const char *const cfg_members[] = { "build", "test", "results", "limits", "isolation",
					   "env", "testFiles", NULL };
static const char *const task_members[] = { "schema", "id", "workspace", "base", "patch",
					    "candidates", "FAIL_TO_PASS", "PASS_TO_PASS", NULL };

/* A task file's "candidates": [{"id": ID, "patch": PATH|null}]. */
static int task_candidates(struct sbx_task *t, const json_t *v, const char *what,
			   const char *dir)
{
	size_t i;
	int error;

	if (!json_is_array(v) || json_array_size(v) > MAX_CANDIDATES)
		return ln_error_set(LN_ECONFIG, "%s: \"candidates\" must be an array of "
				    "at most %d objects", what, MAX_CANDIDATES);
	for (i = 0; i < json_array_size(v); i++) {
		const json_t *c = json_array_get(v, i);
		const json_t *id = json_object_get(c, "id"), *patch = json_object_get(c, "patch");
		char *p = NULL, idbuf[32];
		size_t j;
		if (!json_is_object(c) || (id && (!json_is_string(id) ||
						  !valid_id(json_string_value(id)))) ||
		    (patch && !json_is_null(patch) &&
		     (!json_is_string(patch) || json_string_length(patch) == 0 ||
		      has_nul(patch))) || json_object_size(c) > 2)
			return ln_error_set(LN_ECONFIG, "%s: \"candidates\"[%zu] must be "
					    "{\"id\": ID, \"patch\": PATH|null}", what, i);
		snprintf(idbuf, sizeof idbuf, "c%zu", t->ncands + 1);
		for (j = 0; j < t->ncands; j++)
			if (!strcmp(t->cands[j].id, id ? json_string_value(id) : idbuf))
				return ln_error_set(LN_ECONFIG, "%s: two candidates with the id "
						    "\"%s\"", what, t->cands[j].id);
		if (json_is_string(patch))
			p = join_path(dir, json_string_value(patch));
		error = add_candidate(t, id ? json_string_value(id) : idbuf, p);
		free(p);
		if (error)
			return error;
	}
	return 0;
}

/* The members only a task file has: schema, id, workspace, base, patch,
 * candidates, FAIL_TO_PASS, PASS_TO_PASS; an unknown member is an error. */
static int task_only(struct sbx_task *t, const json_t *obj, const char *what, const char *dir)
{
	const char *key;
	json_t *v;
	int error;

	json_object_foreach((json_t *)obj, key, v) {
		size_t i;
		bool known = false;
		for (i = 0; cfg_members[i]; i++)
			known |= !strcmp(key, cfg_members[i]);
		for (i = 0; task_members[i]; i++)
			known |= !strcmp(key, task_members[i]);
		if (!known)
			return ln_error_set(LN_ECONFIG, "%s: unknown member \"%s\" (see "
					    "docs/task.schema.json)", what, key);
	}
	v = json_object_get(obj, "schema");
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), SBX_TASK_SCHEMA)))
		return ln_error_set(LN_ECONFIG, "%s: \"schema\" must be \"%s\"", what,
				    SBX_TASK_SCHEMA);
	if ((v = json_object_get(obj, "id"))) {
		if (!json_is_string(v) || !valid_id(json_string_value(v)))
			return ln_error_set(LN_ECONFIG, "%s: \"id\" must be 1-64 characters "
					    "of [A-Za-z0-9._-]", what);
		free(t->task_id);
		t->task_id = xstrdup(json_string_value(v));
	}
	if ((v = json_object_get(obj, "workspace"))) {
		if (!json_is_string(v) || json_string_length(v) == 0 || has_nul(v) ||
		    json_string_length(v) > 4096)
			return ln_error_set(LN_ECONFIG, "%s: \"workspace\" must be a path", what);
		free(t->workspace);
		t->workspace = join_path(dir, json_string_value(v));
	}
	if ((v = json_object_get(obj, "base"))) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 256 || has_nul(v))
			return ln_error_set(LN_ECONFIG, "%s: \"base\" must be a git revision", what);
		free(t->base);
		t->base = xstrdup(json_string_value(v));
	}
	if ((v = json_object_get(obj, "patch"))) {
		char *p;
		if (!json_is_string(v) || json_string_length(v) == 0 || has_nul(v) ||
		    json_string_length(v) > 4096)
			return ln_error_set(LN_ECONFIG, "%s: \"patch\" must be the path of a diff",
					    what);
		p = join_path(dir, json_string_value(v));
		error = add_candidate(t, t->task_id ? t->task_id : "patch", p);
		free(p);
		if (error)
			return error;
	}
	if ((v = json_object_get(obj, "candidates")) && (error = task_candidates(t, v, what, dir)))
		return error;
	if ((v = json_object_get(obj, "FAIL_TO_PASS")) &&
	    (error = parse_ids(&t->f2p, v, what, "FAIL_TO_PASS")))
		return error;
	if ((v = json_object_get(obj, "PASS_TO_PASS")) &&
	    (error = parse_ids(&t->p2p, v, what, "PASS_TO_PASS")))
		return error;
	return 0;
}

/* "results": {"format": ..., "junit": PATH}. */
static int apply_results(struct sbx_task *t, const json_t *v, const char *what)
{
	const json_t *f = json_object_get(v, "format"), *j = json_object_get(v, "junit");
	int fmt;

	if (!json_is_object(v) || json_object_size(v) > (size_t)(!!f + !!j))
		return ln_error_set(LN_ECONFIG, "%s: \"results\" must be {\"format\": ..., "
				    "\"junit\": PATH}", what);
	if (f) {
		if (!json_is_string(f) || (fmt = sbx_format_parse(json_string_value(f))) < 0)
			return ln_error_set(LN_ECONFIG, "%s: \"results.format\" must be auto, "
					    "junit, tap, pytest or none", what);
		t->format = (enum sbx_format)fmt;
	}
	if (j) {
		const char *s = json_is_string(j) ? json_string_value(j) : NULL;
		if (!s || !*s || s[0] == '/' || strstr(s, "..") || has_nul(j) ||
		    json_string_length(j) > 4096)
			return ln_error_set(LN_ECONFIG, "%s: \"results.junit\" must be a path "
					    "relative to the worktree (no \"..\")", what);
		free(t->junit_path);
		t->junit_path = xstrdup(s);
		if (!f)
			t->format = SBX_FMT_JUNIT;
	}
	return 0;
}

/* "isolation": only "required"; a file never lowers isolation: only
 * --no-isolation on the command line does (docs/sandbox.md, "Fail closed"). */
static int apply_isolation(struct sbx_task *t, const json_t *v, const char *what)
{
	const char *s = json_is_string(v) ? json_string_value(v) : "";

	if (!strcmp(s, "none") || !strcmp(s, "auto"))
		return ln_error_set(LN_ECONFIG, "%s: \"isolation\": \"%s\" is refused: a "
				    "configuration or task file cannot lower isolation (pass "
				    "--no-isolation on the command line to run without the "
				    "sandbox)", what, s);
	if (strcmp(s, "required") != 0)
		return ln_error_set(LN_ECONFIG, "%s: \"isolation\" must be \"required\"", what);
	t->iso = SBX_ISO_REQUIRED;
	return 0;
}

/* "env": {NAME: "value"}, names of [A-Za-z0-9_] not starting with a digit. */
static int apply_env(struct sbx_task *t, json_t *v, const char *what)
{
	const char *name;
	json_t *val;

	if (!json_is_object(v) || json_object_size(v) > MAX_ENV)
		return ln_error_set(LN_ECONFIG, "%s: \"env\" must be an object of at most %d "
				    "variables", what, MAX_ENV);
	json_object_foreach(v, name, val) {
		size_t k;
		bool ok = name[0] && !(name[0] >= '0' && name[0] <= '9');
		for (k = 0; name[k] && ok; k++)
			ok = (name[k] >= 'A' && name[k] <= 'Z') || (name[k] >= 'a' && name[k] <= 'z') ||
			     (name[k] >= '0' && name[k] <= '9') || name[k] == '_';
		if (!ok || !json_is_string(val) || has_nul(val) ||
		    json_string_length(val) > MAX_ARG_BYTES)
			return ln_error_set(LN_ECONFIG, "%s: \"env.%s\" must be a variable name "
					    "with a string value", what, name);
		json_object_set(t->env, name, val);
	}
	return 0;
}

static bool glob_ok(const char *s, size_t len)
{
	return len > 0 && len <= SBX_TEST_FILE_GLOB_MAX && strlen(s) == len;
}

int sbx_task_check_test_files(const json_t *v, const char *what)
{
	size_t i;

	if (!json_is_array(v) || json_array_size(v) > SBX_TEST_FILES_MAX)
		return ln_error_set(LN_ECONFIG, "%s: \"testFiles\" must be an array of at most %d "
				    "globs", what, SBX_TEST_FILES_MAX);
	for (i = 0; i < json_array_size(v); i++) {
		const json_t *g = json_array_get(v, i);
		if (!json_is_string(g) || !glob_ok(json_string_value(g), json_string_length(g)))
			return ln_error_set(LN_ECONFIG, "%s: \"testFiles\"[%zu] must be a non-empty "
					    "glob of at most %d bytes (no NUL)", what, i,
					    SBX_TEST_FILE_GLOB_MAX);
	}
	return 0;
}

/* "testFiles": [GLOB, ...]; replaces what was set before. */
static int apply_test_files(struct sbx_task *t, const json_t *v, const char *what)
{
	int error = sbx_task_check_test_files(v, what);

	if (error)
		return error;
	json_decref(t->test_files);
	t->test_files = json_deep_copy(v);
	return 0;
}

int sbx_task_add_test_file(struct sbx_task *t, const char *glob, bool first)
{
	if (!glob_ok(glob, strlen(glob)))
		return ln_error_set(LN_EUSAGE, "--test-files needs a non-empty glob of at most %d "
				    "bytes", SBX_TEST_FILE_GLOB_MAX);
	if (first)
		json_array_clear(t->test_files);
	if (json_array_size(t->test_files) >= SBX_TEST_FILES_MAX)
		return ln_error_set(LN_EUSAGE, "at most %d --test-files globs", SBX_TEST_FILES_MAX);
	json_array_append_new(t->test_files, json_string(glob));
	return 0;
}

/* As the jail's patterns (sbx_jail_patterns_match): the path itself or
 * a folder above it; "tests/" names the folder tests. */
bool sbx_task_is_test_file(const struct sbx_task *t, const char *rel)
{
	return sbx_jail_patterns_match(t->test_files, rel);
}

int sbx_task_apply(struct sbx_task *t, const json_t *obj, const char *what, const char *dir,
		   bool is_task)
{
	json_t *v;
	int error;

	if (!json_is_object(obj))
		return ln_error_set(LN_ECONFIG, "%s: must be a JSON object", what);
	if (is_task && (error = task_only(t, obj, what, dir)))
		return error;
	if ((v = json_object_get(obj, "build"))) {
		char **argv;
		if ((error = parse_command(&argv, v, what, "build")))
			return error;
		free_argv(t->build_argv);
		t->build_argv = argv;
	}
	if ((v = json_object_get(obj, "test"))) {
		char **argv;
		if ((error = parse_command(&argv, v, what, "test")))
			return error;
		free_argv(t->test_argv);
		t->test_argv = argv;
	}
	if ((v = json_object_get(obj, "results")) && (error = apply_results(t, v, what)))
		return error;
	if ((v = json_object_get(obj, "limits")) && (error = sbx_limits_parse(&t->limits, v, what)))
		return error;
	if ((v = json_object_get(obj, "isolation")) && (error = apply_isolation(t, v, what)))
		return error;
	if ((v = json_object_get(obj, "env")) && (error = apply_env(t, v, what)))
		return error;
	if ((v = json_object_get(obj, "testFiles")) && (error = apply_test_files(t, v, what)))
		return error;
	return 0;
}

int sbx_task_load(struct sbx_task *t, const char *path)
{
	struct buf b = BUF_INIT;
	json_error_t je;
	json_t *j = NULL;
	char *copy = NULL, *dir, *absdir = NULL;
	int error;

	error = buf_read_file(&b, path, SBX_TASK_MAX_BYTES);
	if (error) {
		error = ln_error_set(error, "task file %s: %s", path, ln_error_msg());
		goto done;
	}
	j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		error = ln_error_set(LN_ECONFIG, "task file %s:%d:%d: %s", path, je.line, je.column,
				     je.text);
		goto done;
	}
	copy = xstrdup(path);
	dir = dirname(copy);
	absdir = realpath(dir, NULL);
	if (!absdir) {
		error = ln_error_set(LN_ENOTFOUND, "task file %s: cannot resolve its folder", path);
		goto done;
	}
	{
		struct buf what = BUF_INIT;
		buf_addf(&what, "task file %s", path);
		error = sbx_task_apply(t, j, what.data, absdir, true);
		buf_release(&what);
	}
done:
	json_decref(j);
	buf_release(&b);
	free(copy);
	free(absdir);
	return error;
}

int sbx_task_add_patch(struct sbx_task *t, const char *path, const char *cwd)
{
	char *p = join_path(cwd, path), id[32];
	int error;

	snprintf(id, sizeof id, "c%zu", t->ncands + 1);
	error = add_candidate(t, id, p);
	free(p);
	return error;
}

int sbx_task_set_tests(struct sbx_task *t, const char *csv)
{
	const char *p = csv;

	json_array_clear(t->f2p);
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || n > SBX_TEST_ID_MAX)
			return ln_error_set(LN_EUSAGE, "--tests: empty or overlong test id");
		if (json_array_size(t->f2p) >= MAX_TEST_IDS)
			return ln_error_set(LN_EUSAGE, "--tests: more than %d ids", MAX_TEST_IDS);
		json_array_append_new(t->f2p, json_stringn(p, n));
		p += n;
		if (*p == ',')
			p++;
	}
	if (json_array_size(t->f2p) == 0)
		return ln_error_set(LN_EUSAGE, "--tests needs a comma-separated list of test ids");
	return 0;
}

json_t *sbx_argv_json(char *const *argv)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	return a;
}
