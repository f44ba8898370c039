/*
 * agenttask.c - an agent task (agent/episode.h; docs/agent.md "Task
 * files"): what to do, where, from which base, which tests decide, and
 * the budgets. Untrusted input: sizes bounded, unknown members refused.
 */
#include "agent/episode.h"

#include "agent/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "sandbox/task.h"

#include <stdlib.h>
#include <string.h>

void agent_task_init(struct agent_task *t)
{
	memset(t, 0, sizeof *t);
	t->budget.steps = AGENT_DEFAULT_STEPS;
}

void agent_task_release(struct agent_task *t)
{
	free(t->id);
	free(t->instruction);
	free(t->workspace);
	free(t->base);
	free(t->tests);
	json_decref(t->test_files);
	memset(t, 0, sizeof *t);
}

static int str_member(char **out, const json_t *v, const char *what, const char *key, size_t max)
{
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return ln_error_set(LN_ECONFIG, "%s: \"%s\" must be a non-empty string of at most "
				    "%zu bytes without NUL", what, key, max);
	free(*out);
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int budget_member(long *out, const json_t *v, const char *what, const char *key, long max)
{
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
		return ln_error_set(LN_ECONFIG, "%s: \"budgets.%s\" must be an integer in [1, %ld]",
				    what, key, max);
	*out = (long)json_integer_value(v);
	return 0;
}

/* "tests": an array of ids, or one comma-separated string. */
static int tests_member(struct agent_task *t, const json_t *v, const char *what)
{
	struct buf b = BUF_INIT;
	const json_t *s;
	size_t i;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		return str_member(&t->tests, v, what, "tests", 1 << 20);
	if (!json_is_array(v) || json_array_size(v) > 10000)
		return ln_error_set(LN_ECONFIG, "%s: \"tests\" must be an array of at most 10000 "
				    "test ids", what);
	json_array_foreach(v, i, s) {
		const char *id = json_string_value(s);
		if (!id || !*id || strchr(id, ',') || json_string_length(s) > 4096) {
			buf_release(&b);
			return ln_error_set(LN_ECONFIG, "%s: tests[%zu] must be a test id (a string "
					    "without ',')", what, i);
		}
		buf_addf(&b, "%s%s", i ? "," : "", id);
	}
	free(t->tests);
	t->tests = b.len ? buf_detach(&b, NULL) : NULL;
	buf_release(&b);
	return 0;
}

/* "testFiles": bounded as a test task's (sandbox/task.h); it replaces
 * the configuration's, as there. */
static int test_files_member(struct agent_task *t, const json_t *v, const char *what)
{
	int error;

	if (!v || json_is_null(v))
		return 0;
	if ((error = sbx_task_check_test_files(v, what)))
		return error;
	json_decref(t->test_files);
	t->test_files = json_deep_copy(v);
	return 0;
}

int agent_task_from_json(struct agent_task *t, const json_t *obj, const char *what,
			 const char *dir)
{
	static const char *const known[] = { "schema", "id", "instruction", "workspace", "base",
					     "tests", "testFiles", "budgets", NULL };
	const char *key;
	json_t *v, *bud;
	int error;
	size_t i;

	if (!json_is_object(obj))
		return ln_error_set(LN_ECONFIG, "%s: a task must be a JSON object", what);
	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; known[i] && strcmp(known[i], key); i++)
			;
		if (!known[i])
			return ln_error_set(LN_ECONFIG, "%s: unknown member \"%.64s\" (see docs/agent.md, "
					    "Task files)", what, key);
	}
	v = json_object_get(obj, "schema");
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), AGENT_TASK_SCHEMA)))
		return ln_error_set(LN_ECONFIG, "%s: \"schema\" must be \"%s\"", what,
				    AGENT_TASK_SCHEMA);
	if ((error = str_member(&t->id, json_object_get(obj, "id"), what, "id", 64)) ||
	    (error = str_member(&t->instruction, json_object_get(obj, "instruction"), what,
				"instruction", AGENT_MAX_INSTRUCTION)) ||
	    (error = str_member(&t->workspace, json_object_get(obj, "workspace"), what,
				"workspace", 4096)) ||
	    (error = str_member(&t->base, json_object_get(obj, "base"), what, "base", 256)) ||
	    (error = tests_member(t, json_object_get(obj, "tests"), what)) ||
	    (error = test_files_member(t, json_object_get(obj, "testFiles"), what)))
		return error;
	if (t->id && strspn(t->id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-") != strlen(t->id))
		return ln_error_set(LN_ECONFIG, "%s: \"id\" may hold only [A-Za-z0-9._-]", what);
	if (!t->instruction)
		return ln_error_set(LN_ECONFIG, "%s: \"instruction\" is required", what);
	if (t->workspace && t->workspace[0] != '/' && dir) {
		char *abs = xasprintf("%s/%s", dir, t->workspace);
		free(t->workspace);
		t->workspace = abs;
	}
	bud = json_object_get(obj, "budgets");
	if (bud) {
		if (!json_is_object(bud))
			return ln_error_set(LN_ECONFIG, "%s: \"budgets\" must be an object", what);
		json_object_foreach(bud, key, v)
			if (strcmp(key, "steps") && strcmp(key, "tokens") && strcmp(key, "wallMs"))
				return ln_error_set(LN_ECONFIG, "%s: unknown member \"budgets.%.64s\" "
						    "(steps, tokens, wallMs)", what, key);
		if ((error = budget_member(&t->budget.steps, json_object_get(bud, "steps"), what,
					   "steps", 10000)) ||
		    (error = budget_member(&t->budget.tokens, json_object_get(bud, "tokens"), what,
					   "tokens", 2000000000L)) ||
		    (error = budget_member(&t->budget.wall_ms, json_object_get(bud, "wallMs"), what,
					   "wallMs", 3600000L * 24)))
			return error;
	}
	return 0;
}

int agent_task_load(struct agent_task *t, const char *path)
{
	struct buf b = BUF_INIT;
	json_error_t je;
	json_t *v;
	char *dir, *slash;
	int error;

	error = buf_read_file(&b, path, 1 << 20);
	if (error) {
		error = ln_error_set(error == LN_EINPUT ? LN_ECONFIG : LN_ENOTFOUND, "task %s: %s",
				     path, ln_error_msg());
		buf_release(&b);
		return error;
	}
	v = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
	buf_release(&b);
	if (!v)
		return ln_error_set(LN_ECONFIG, "task %s:%d:%d: %s", path, je.line, je.column,
				    je.text);
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	error = agent_task_from_json(t, v, path, slash ? dir : ".");
	free(dir);
	json_decref(v);
	return error;
}

int agent_task_apply_cli(struct agent_task *t, const struct cli *c)
{
	int i;

	for (i = 0; i < c->ntest_files; i++) {
		size_t len = strlen(c->test_files[i]);
		if (len == 0 || len > SBX_TEST_FILE_GLOB_MAX)
			return ln_error_set(LN_EUSAGE, "--test-files needs a non-empty glob of at "
					    "most %d bytes", SBX_TEST_FILE_GLOB_MAX);
	}
	if (c->base) {
		free(t->base);
		t->base = xstrdup(c->base);
	}
	if (c->tests) {
		free(t->tests);
		t->tests = xstrdup(c->tests);
	}
	if (c->ntest_files) {
		json_decref(t->test_files);
		t->test_files = json_array();
		for (i = 0; i < c->ntest_files; i++)
			json_array_append_new(t->test_files, xjson_string_lossy(c->test_files[i]));
	}
	if (c->agent_steps)
		t->budget.steps = c->agent_steps;
	if (c->agent_tokens)
		t->budget.tokens = c->agent_tokens;
	if (c->agent_wall_ms)
		t->budget.wall_ms = c->agent_wall_ms;
	return 0;
}

json_t *agent_task_json(const struct agent_task *t)
{
	json_t *v = xjson_pack("{s:s, s:s?, s:s, s:s?, s:s?, s:s?, s:{s:I}}", "schema",
		AGENT_TASK_SCHEMA, "id", t->id, "instruction", t->instruction, "workspace",
		t->workspace, "base", t->base, "tests", t->tests, "budgets", "steps",
		(json_int_t)t->budget.steps);
	json_t *b = json_object_get(v, "budgets");

	if (t->budget.tokens)
		json_object_set_new(b, "tokens", json_integer(t->budget.tokens));
	if (t->budget.wall_ms)
		json_object_set_new(b, "wallMs", json_integer(t->budget.wall_ms));
	if (t->test_files)
		json_object_set_new(v, "testFiles", json_deep_copy(t->test_files));
	return v;
}
