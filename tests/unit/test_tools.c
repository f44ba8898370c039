/*
 * test_tools.c - the tool layer (agent/tools.h): the list and its schemas
 * from the command table, and a call's way from JSON arguments to a
 * checked command line, its result and its text, with a stand-in for the
 * command runner (c->exec) so that no command really runs.
 */
#include "tests/unit/harness.h"
#include "agent/cli.h"
#include "agent/command.h"
#include "agent/tools.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *load(const char *s)
{
	return json_loads(s, 0, NULL);
}

TEST(agent_tools__list_comes_from_the_table_with_valid_schemas)
{
	json_t *all = agent_tools_json(false), *ro = agent_tools_json(true), *t;
	size_t i;
	bool seen_read = false, seen_edit = false, seen_search = false;

	CHECK(json_array_size(all) >= 15);
	CHECK(json_array_size(ro) < json_array_size(all));
	json_array_foreach(all, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		const struct agent_command *cmd = agent_tool_find(name);
		json_t *s = json_object_get(t, "inputSchema"), *props, *p;
		const char *key;
		CHECK(cmd != NULL);
		CHECK(json_is_string(json_object_get(t, "description")));
		CHECK(json_is_boolean(json_object_get(t, "readOnly")));
		CHECK_EQ_INT(json_is_true(json_object_get(t, "readOnly")),
			     !(cmd->flags & AGENT_CMD_WRITES));
		CHECK_EQ_STR(json_string_value(json_object_get(s, "type")), "object");
		CHECK(json_is_false(json_object_get(s, "additionalProperties")));
		props = json_object_get(s, "properties");
		CHECK(json_is_object(props));
		CHECK(json_object_get(props, "args") != NULL);
		CHECK(json_object_get(props, "json") == NULL);
		/* every property says its type (or its words) */
		json_object_foreach(props, key, p)
			CHECK(json_object_get(p, "type") || json_object_get(p, "enum"));
		seen_read |= !strcmp(name, "read");
		seen_edit |= !strcmp(name, "edit");
		seen_search |= !strcmp(name, "search");
	}
	CHECK(seen_read && seen_edit && seen_search);
	json_array_foreach(ro, i, t)
		CHECK(json_is_true(json_object_get(t, "readOnly")));
	CHECK(agent_tool_find("help") == NULL);
	CHECK(agent_tool_find("batch") == NULL);
	CHECK(agent_tool_find(NULL) == NULL);
	json_decref(all);
	json_decref(ro);
}

/* ---- a stand-in runner ---- */

static struct buf ran = BUF_INIT;   /* the last command line, words joined by ' ' */
static int fake_lines = 3;

static int fake_exec(int argc, char **argv, const char *cwd, FILE *out, FILE *err,
		     FILE *progress, struct lsp_workspace *ws, bool in_daemon,
		     struct exec_result *res)
{
	(void)progress;
	const char *cmd = NULL;
	int i;

	buf_reset(&ran);
	for (i = 1; i < argc; i++) {
		buf_addf(&ran, "%s%s", i > 1 ? " " : "", argv[i]);
		if (!cmd && (!strcmp(argv[i], "search") || !strcmp(argv[i], "read") ||
			     !strcmp(argv[i], "hover")))
			cmd = argv[i];
	}
	memset(res, 0, sizeof *res);
	if (!strcmp(cmd, "search")) {
		fprintf(out, "{\"schema\":\"lanser.bundle/1\",\"request\":{\"command\":\"search\"},"
			"\"complete\":true,\"meta\":{\"exitCode\":0},\"facts\":[");
		for (i = 0; i < fake_lines; i++)
			fprintf(out, "%s{\"kind\":\"match\",\"path\":\"src/a.c\",\"range\":[%d,2,%d,5],"
				"\"text\":\"line %d\"}", i ? "," : "", i + 1, i + 1, i + 1);
		fprintf(out, "]}\n");
	} else if (!strcmp(cmd, "read")) {
		fprintf(out, "{\"facts\":[{\"kind\":\"lines\",\"path\":\"a.py\",\"firstLine\":4,"
			"\"lastLine\":5,\"totalLines\":9,\"text\":\"x = 1\\ny = 2\"}],"
			"\"meta\":{\"exitCode\":0}}\n");
	} else {
		fprintf(out, "{\"facts\":[],\"meta\":{\"exitCode\":3,\"volatile\":{\"message\":"
			"\"no symbol here\"}}}\n");
		fprintf(err, "lanser: no symbol here\n");
		res->code = 3;
	}
	return res->code;
}

struct session {
	struct cli c;
	char root[64];
	struct agent_tools *t;
};

static int open_session(struct session *s, bool read_only, size_t max_text)
{
	struct agent_tools_opts o;

	memset(s, 0, sizeof *s);
	snprintf(s->root, sizeof s->root, "/tmp/lanser-unit-tools.XXXXXX");
	if (!mkdtemp(s->root))
		return -1;
	s->c.root = s->root;
	s->c.cwd = s->root;
	s->c.exec = fake_exec;
	s->c.index_io = LN_ENC_CODEPOINT;
	memset(&o, 0, sizeof o);
	o.c = &s->c;
	o.use_daemon = false;
	o.read_only = read_only;
	o.max_text = max_text;
	return agent_tools_open(&s->t, &o);
}

static void close_session(struct session *s)
{
	agent_tools_close(s->t);
	rmdir(s->root);
}

TEST(agent_tools__call_runs_the_checked_command_line_and_renders_text)
{
	struct session s;
	struct agent_tool_result r;
	json_t *args = load("{\"args\": [\"list_[a-z]+\"], \"glob\": \"*.c\", \"max\": 5}");
	int rc;

	CHECK_EQ_INT(open_session(&s, false, 0), 0);
	rc = agent_tool_call(s.t, "search", args, &r);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(r.code, 0);
	CHECK(strstr(ran.data, "--json") != NULL);
	CHECK(strstr(ran.data, "--glob=*.c") != NULL || strstr(ran.data, "--glob *.c") != NULL);
	CHECK(strstr(ran.data, "--max 5") != NULL);
	CHECK(strstr(ran.data, "search list_[a-z]+") != NULL);
	CHECK(json_is_object(r.bundle));
	CHECK(strstr(r.text, "src/a.c:2:2: line 2") != NULL);
	CHECK(!r.truncated);
	agent_tool_result_release(&r);
	json_decref(args);

	args = load("{\"args\": [\"a.py\"], \"lines\": \"4-5\"}");
	CHECK_EQ_INT(agent_tool_call(s.t, "read", args, &r), 0);
	CHECK(strstr(r.text, "     4  x = 1\n     5  y = 2") != NULL);
	agent_tool_result_release(&r);
	json_decref(args);
	close_session(&s);
}

TEST(agent_tools__long_text_is_cut_with_a_note)
{
	struct session s;
	struct agent_tool_result r;
	json_t *args = load("{\"args\": [\"x\"]}");

	fake_lines = 2000;
	CHECK_EQ_INT(open_session(&s, false, 1024), 0);
	CHECK_EQ_INT(agent_tool_call(s.t, "search", args, &r), 0);
	fake_lines = 3;
	CHECK(r.truncated);
	CHECK(strlen(r.text) <= 1024);
	CHECK(strstr(r.text, "[cut: ") != NULL);
	CHECK(strstr(r.text, "\"lines\"") != NULL);
	/* the bundle is whole */
	CHECK_EQ_INT(json_array_size(json_object_get(r.bundle, "facts")), 2000);
	agent_tool_result_release(&r);
	json_decref(args);
	close_session(&s);
}

TEST(agent_tools__bad_calls_are_messages_not_crashes)
{
	struct session s;
	struct agent_tool_result r;
	json_t *a;

	CHECK_EQ_INT(open_session(&s, true, 0), 0);
	buf_reset(&ran);
	/* unknown tool */
	CHECK_EQ_INT(agent_tool_call(s.t, "rm", NULL, &r), LN_EUSAGE);
	CHECK(strstr(r.message, "unknown tool \"rm\"") != NULL);
	CHECK(strstr(r.text, "USAGE") != NULL);
	agent_tool_result_release(&r);
	/* a mutating tool in a read-only session */
	a = load("{\"args\": [\"c://#f:body\"], \"text\": \"{}\", \"apply\": true}");
	CHECK_EQ_INT(agent_tool_call(s.t, "edit", a, &r), LN_EPERM);
	CHECK(strstr(r.message, "read-only") != NULL);
	agent_tool_result_release(&r);
	json_decref(a);
	/* unknown member, wrong type, out of bounds, an option as an argument */
	a = load("{\"args\": [\"x\"], \"bogus\": 1}");
	CHECK_EQ_INT(agent_tool_call(s.t, "search", a, &r), LN_EUSAGE);
	CHECK(strstr(r.message, "bogus") != NULL);
	agent_tool_result_release(&r);
	json_decref(a);
	a = load("{\"args\": [\"x\"], \"max\": \"many\"}");
	CHECK_EQ_INT(agent_tool_call(s.t, "search", a, &r), LN_EUSAGE);
	agent_tool_result_release(&r);
	json_decref(a);
	a = load("{\"args\": [\"x\"], \"max\": 100000000}");
	CHECK_EQ_INT(agent_tool_call(s.t, "search", a, &r), LN_EUSAGE);
	agent_tool_result_release(&r);
	json_decref(a);
	a = load("{\"args\": \"a.py\"}");
	CHECK_EQ_INT(agent_tool_call(s.t, "read", a, &r), LN_EUSAGE);
	agent_tool_result_release(&r);
	json_decref(a);
	a = load("[1]");
	CHECK_EQ_INT(agent_tool_call(s.t, "read", a, &r), LN_EUSAGE);
	agent_tool_result_release(&r);
	json_decref(a);
	/* nothing ran */
	CHECK_EQ_INT(ran.len, 0);
	/* the command's own failure: its code and message */
	a = load("{\"args\": [\"a.py@L1:C1\"]}");
	CHECK_EQ_INT(agent_tool_call(s.t, "hover", a, &r), LN_ENOTFOUND);
	CHECK_EQ_STR(r.message, "no symbol here");
	CHECK(r.bundle != NULL);
	agent_tool_result_release(&r);
	json_decref(a);
	close_session(&s);
}

TEST(agent_tools__an_argument_is_never_an_option)
{
	struct session s;
	struct agent_tool_result r;
	json_t *a = load("{\"args\": [\"--root=/\"]}");
	char want[600];

	CHECK_EQ_INT(open_session(&s, false, 0), 0);
	CHECK_EQ_INT(agent_tool_call(s.t, "read", a, &r), 0);
	/* the session's root comes first (a call never finds another) */
	snprintf(want, sizeof want, "--root %s --json read -- --root=/", s.root);
	CHECK_EQ_STR(ran.data, want);
	agent_tool_result_release(&r);
	json_decref(a);
	a = load("{\"args\": [\"->next\"], \"max\": 2}");
	CHECK_EQ_INT(agent_tool_call(s.t, "search", a, &r), 0);
	snprintf(want, sizeof want, "--root %s --json --max 2 search -- ->next", s.root);
	CHECK_EQ_STR(ran.data, want);
	agent_tool_result_release(&r);
	json_decref(a);
	close_session(&s);
}

TEST(agent_tools__files_named_by_a_tool_stay_in_the_workspace)
{
	struct session s;
	struct agent_tool_result r;
	json_t *a;

	CHECK_EQ_INT(open_session(&s, false, 0), 0);
	a = load("{\"args\": [\"c://#f:body\"], \"with\": \"/etc/passwd\"}");
	CHECK_EQ_INT(agent_tool_call(s.t, "edit", a, &r), LN_EPERM);
	CHECK(strstr(r.message, "outside the workspace") != NULL);
	agent_tool_result_release(&r);
	json_decref(a);
	a = load("{\"args\": [\"../../etc/passwd\"]}");
	CHECK_EQ_INT(agent_tool_call(s.t, "patch", a, &r), LN_EPERM);
	agent_tool_result_release(&r);
	json_decref(a);
	a = load("{\"args\": [\"c://#f:body\"], \"with\": \"-\"}");
	CHECK_EQ_INT(agent_tool_call(s.t, "edit", a, &r), LN_EUSAGE);
	agent_tool_result_release(&r);
	json_decref(a);
	close_session(&s);
}

TEST(agent_tools__render_lists_new_errors_and_cuts_whole_characters)
{
	json_t *b = json_loads("{\"facts\":[{\"kind\":\"edit\",\"path\":\"a.c\",\"status\":\"modified\"}],"
		"\"meta\":{\"exitCode\":82},\"edit\":{\"decision\":\"rolledBack\",\"verify\":{"
		"\"newErrors\":1,\"maxNewErrors\":0,"
		"\"before\":[{\"path\":\"a.c\",\"line\":3,\"message\":\"old\"}],"
		"\"after\":[{\"path\":\"a.c\",\"line\":3,\"message\":\"old\"},"
		"{\"path\":\"a.c\",\"line\":9,\"message\":\"undeclared x\"}]}}}", 0, NULL);
	struct buf big = BUF_INIT;
	bool cut;
	char *t = agent_tool_render(b, 0, &cut);
	int i;

	CHECK(b != NULL);
	CHECK(!cut);
	CHECK(strstr(t, "new error: a.c:9: undeclared x") != NULL);
	CHECK(strstr(t, "a.c:3: old") == NULL);
	CHECK(strstr(t, "modified a.c") == NULL);   /* not written: not listed */
	CHECK(strstr(t, "decision: rolledBack") != NULL);
	free(t);
	json_decref(b);

	/* a hover of 3000 two-byte characters, cut at 1000 bytes */
	buf_adds(&big, "{\"facts\":[{\"kind\":\"hover\",\"contents\":\"");
	for (i = 0; i < 3000; i++)
		buf_adds(&big, "\xc3\xa9");
	buf_adds(&big, "\"}],\"meta\":{\"exitCode\":0}}");
	b = json_loads(big.data, 0, NULL);
	CHECK(b != NULL);
	t = agent_tool_render(b, 1000, &cut);
	CHECK(cut);
	CHECK(strlen(t) <= 1000);
	CHECK(ln_utf8_valid(t, strlen(t)));
	free(t);
	json_decref(b);
	buf_release(&big);
	CHECK(strcmp((t = agent_tool_render(NULL, 0, &cut)), "(no answer)") == 0);
	free(t);

	/* a test record: its outcome, not "no results" */
	b = json_loads("{\"facts\":[],\"meta\":{\"exitCode\":0},\"request\":{\"command\":"
		       "\"test\"},\"outcome\":{\"status\":\"passed\"}}", 0, NULL);
	t = agent_tool_render(b, 0, &cut);
	CHECK_EQ_STR(t, "tests passed: 0 passed, 0 failed, 0 skipped");
	free(t);
	json_decref(b);
}

TEST(agent_tools__render_says_a_test_run_and_an_eval_in_words)
{
	bool cut;
	char *t;
	struct buf out = BUF_INIT, rec = BUF_INIT;
	json_t *b;
	int i;

	/* a failing run: status, counts, the command and its exit, the failing
	 * tests, the end of the output (not the record as JSON) */
	for (i = 1; i <= 100; i++)
		buf_addf(&out, "line %d\\n", i);
	buf_addf(&rec, "{\"facts\":[],\"meta\":{\"exitCode\":80,\"volatile\":{\"output\":{"
		 "\"test\":{\"stdout\":\"%s\",\"stderr\":\"boom\\n\"}}}},"
		 "\"request\":{\"command\":\"test\",\"candidate\":\"c1\",\"build\":null,"
		 "\"test\":[\"python3\",\"-m\",\"pytest\"]},\"isolation\":\"namespaces\","
		 "\"outcome\":{\"status\":\"failed\",\"build\":null,\"test\":{\"exitCode\":1,"
		 "\"signal\":null,\"timedOut\":false,\"cancelled\":false,\"limitsHit\":[]},"
		 "\"results\":{\"outcomeFrom\":\"tests\"},\"counts\":{\"passed\":5,\"failed\":1,"
		 "\"error\":0,\"skipped\":2},\"tests\":[{\"id\":\"t::ok\",\"status\":\"passed\"},"
		 "{\"id\":\"t::bad\",\"status\":\"failed\"}]}}", out.data);
	b = json_loads(rec.data, 0, NULL);
	CHECK(b != NULL);
	t = agent_tool_render(b, 0, &cut);
	CHECK(strstr(t, "candidate c1: tests failed: 5 passed, 1 failed, 2 skipped\n") == t);
	CHECK(strstr(t, "test: python3 -m pytest (exit 1)\n") != NULL);
	CHECK(strstr(t, "failed: t::bad\n") != NULL);
	CHECK(strstr(t, "t::ok") == NULL);
	CHECK(strstr(t, "--- test stdout (its end) ---\n") != NULL);
	CHECK(strstr(t, "line 100") != NULL);
	CHECK(strstr(t, "line 70\n") == NULL);     /* the last 30 lines */
	CHECK(strstr(t, "--- test stderr ---\nboom") != NULL);
	CHECK(strstr(t, "outcome:") == NULL);
	CHECK(strstr(t, "\"status\"") == NULL);
	free(t);
	json_decref(b);

	/* an eval: verdict and reasons, reward and its terms, the patch, the
	 * diagnostics, the tests, the new diagnostics */
	b = json_loads("{\"facts\":[{\"kind\":\"diagnostic\",\"path\":\"a.c\",\"range\":"
		       "[3,1,3,2],\"severity\":\"error\",\"message\":\"x undeclared\"}],"
		       "\"meta\":{\"exitCode\":84},\"request\":{\"command\":\"eval\"},"
		       "\"isolation\":\"namespaces\",\"outcome\":{\"status\":\"passed\","
		       "\"verdict\":{\"accepted\":false,\"reasons\":[\"1 new error\"]},"
		       "\"reward\":{\"mode\":\"p-grpo\",\"reward\":2.5,\"rFormat\":1,"
		       "\"rOutcome\":1,\"rProcess\":0.5,\"scorable\":true},\"patch\":{\"usable\":"
		       "true,\"code\":\"OK\",\"files\":[{\"path\":\"a.c\",\"status\":\"modified\"}]},"
		       "\"diagnostics\":{\"dBefore\":0,\"dAfter\":1,\"introduced\":1,\"fixed\":0,"
		       "\"newErrors\":1,\"relevant\":[\"a.c\"]},\"testRun\":{\"counts\":{"
		       "\"passed\":3,\"failed\":0,\"error\":0,\"skipped\":0}}}}", 0, NULL);
	CHECK(b != NULL);
	t = agent_tool_render(b, 0, &cut);
	CHECK_EQ_STR(t, "verdict: rejected: 1 new error\n"
		     "reward 2.5 (p-grpo: format 1, outcome 1, process 0.5)\n"
		     "patch: usable (OK): modified a.c\n"
		     "diagnostics: weight 0 -> 1 (1 introduced, 0 fixed, 1 new errors) in 1 relevant files\n"
		     "tests passed: 3 passed, 0 failed, 0 skipped\n"
		     "new diagnostics:\n"
		     "a.c:3:1: error: x undeclared");
	free(t);
	json_decref(b);
	buf_release(&out);
	buf_release(&rec);
}
