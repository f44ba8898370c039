/*
 * test_command.c - the command table and its parser (agent/command.h):
 * types, bounds, defaults, an option of another command, repeatable
 * limits, the JSON spelling and the schemas.
 */
#include "tests/unit/harness.h"
#include "agent/cli.h"
#include "agent/command.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

struct parsed {
	struct cli c;
	const struct agent_command *cmd;
	int rc;
};

/* Parses a NULL-terminated list of words after the program name. */
static void parse_words(struct parsed *p, const char *const *words)
{
	char *argv[200];
	int argc = 0;

	argv[argc++] = "lanser";
	while (*words && argc < 199)
		argv[argc++] = (char *)*words++;
	argv[argc] = NULL;
	memset(p, 0, sizeof *p);
	p->c.index_io = LN_ENC_CODEPOINT;
	ln_error_clear();
	p->rc = agent_cmdline_parse(&p->c, &p->cmd, argc, argv, "/work/dir");
}

#define PARSE(p, ...) do { static const char *const w_[] = { __VA_ARGS__, NULL }; \
	parse_words(p, w_); } while (0)

static void release(struct parsed *p)
{
	free(p->c.argv);
	free(p->c.config_path);
}

TEST(agent_command__parses_typed_options_of_the_command)
{
	struct parsed p;

	PARSE(&p, "--json", "actions", "--pick", "3", "--max-new-errors=2", "--apply", "--verify",
	      "src/a.c@L1:C2", "--timeout", "500", "--index-io", "utf-16");
	CHECK_EQ_INT(p.rc, 0);
	CHECK(p.cmd && !strcmp(p.cmd->name, "actions"));
	CHECK(p.c.json && p.c.apply);
	CHECK_EQ_INT(p.c.pick, 3);
	CHECK_EQ_INT(p.c.max_new_errors, 2);
	CHECK(p.c.max_new_errors_set);
	/* a bare --verify takes the one word it knows, not the next argument */
	CHECK_EQ_STR(p.c.verify, "diagnostics");
	CHECK_EQ_INT(p.c.argc, 1);
	CHECK_EQ_STR(p.c.argv[0], "src/a.c@L1:C2");
	CHECK_EQ_INT(p.c.timeout_ms, 500);
	CHECK(p.c.timeout_set && !p.c.index_set);
	CHECK_EQ_INT(p.c.index_io, LN_ENC_UTF16);
	release(&p);

	PARSE(&p, "patch", "--verify", "diagnostics", "fix.diff");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_STR(p.c.verify, "diagnostics");
	CHECK_EQ_INT(p.c.argc, 1);
	CHECK_EQ_STR(p.c.argv[0], "fix.diff");
	release(&p);

	/* options before the command name, and "--" ends options */
	PARSE(&p, "--no-decl", "refs", "--", "-odd@L1:C1");
	CHECK_EQ_INT(p.rc, 0);
	CHECK(p.c.no_decl);
	CHECK_EQ_INT(p.c.argc, 1);
	CHECK_EQ_STR(p.c.argv[0], "-odd@L1:C1");
	release(&p);

	/* --config is made absolute against the cwd */
	PARSE(&p, "--config", "conf/l.json", "doctor");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_STR(p.c.config_path, "/work/dir/conf/l.json");
	release(&p);
}

TEST(agent_command__leaves_defaults_when_options_are_absent)
{
	struct parsed p;

	PARSE(&p, "actions", "src/a.c@L1:C2");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_INT(p.c.pick, 0);          /* list the actions */
	CHECK(!p.c.max_new_errors_set);     /* .lanser.json decides */
	CHECK(!p.c.timeout_set && !p.c.index_set);
	CHECK(p.c.verify == NULL && !p.c.apply);
	CHECK_EQ_INT(p.c.index_io, LN_ENC_CODEPOINT);
	release(&p);
}

TEST(agent_command__rejects_values_out_of_bounds)
{
	struct parsed p;

	PARSE(&p, "actions", "x", "--pick", "0");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "--pick needs a whole number from 1 to 100000"));
	release(&p);
	PARSE(&p, "actions", "x", "--pick", "3x");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	release(&p);
	PARSE(&p, "test", "--jobs", "65");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	release(&p);
	PARSE(&p, "test", "--jobs", "64");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_INT(p.c.jobs, 64);
	release(&p);
	PARSE(&p, "--timeout", "3600001", "def", "x");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "--timeout needs a number of milliseconds"));
	release(&p);
	PARSE(&p, "--index-io", "utf-7", "def", "x");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "--index-io must be codepoint, utf-8 or utf-16"));
	release(&p);
	PARSE(&p, "advantages", "--eps", "-1");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	release(&p);
	PARSE(&p, "advantages", "--eps", "1e-6", "--preset", "verl");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_STR(p.c.eps, "1e-6");
	release(&p);
	PARSE(&p, "rename", "x", "y", "--commit", "");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	release(&p);
	PARSE(&p, "rename", "x", "y", "--apply=yes");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "--apply takes no value"));
	release(&p);
	PARSE(&p, "def", "--timeout");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "--timeout needs a value"));
	release(&p);
}

TEST(agent_command__an_option_of_another_command_names_its_owners)
{
	struct parsed p;

	PARSE(&p, "reward", "step", "D0=5", "D=2", "S=1", "c0=0.9", "c=0.94", "--apply");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "--apply is an option of rename, actions, patch, edit; not of reward"));
	release(&p);
	PARSE(&p, "--workspace", "def", "x");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "--workspace is an option of symbols, diag; not of def"));
	release(&p);
	PARSE(&p, "def", "x", "--bogus");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "unknown option '--bogus'"));
	release(&p);
	PARSE(&p, "frobnicate");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "unknown command 'frobnicate'"));
	release(&p);
	PARSE(&p, "--json");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "no command given"));
	release(&p);
}

TEST(agent_command__repeatable_options_stop_at_their_maximum)
{
	const char *w[2 * 66 + 2];
	struct parsed p;
	int i, n = 0;

	w[n++] = "test";
	for (i = 0; i < 64; i++) {
		w[n++] = "--patch";
		w[n++] = "p.diff";
	}
	w[n] = NULL;
	parse_words(&p, w);
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_INT(p.c.npatches, 64);
	release(&p);
	w[n++] = "--patch";
	w[n++] = "one-too-many.diff";
	w[n] = NULL;
	parse_words(&p, w);
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "at most 64 --patch options"));
	CHECK_EQ_INT(p.c.npatches, 64);
	release(&p);
}

TEST(agent_command__one_spelling_per_mode_and_the_old_one_kept)
{
	struct parsed p;

	PARSE(&p, "reward", "episode", "--episode", "outcome");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_STR(p.c.mode, "outcome");
	release(&p);
	PARSE(&p, "reward", "episode", "--mode", "sum");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_STR(p.c.mode, "sum");
	release(&p);
	PARSE(&p, "group", "--episode", "process", "--advantage", "dr_grpo");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_STR(p.c.episode_mode, "process");
	CHECK_EQ_STR(p.c.mode, "dr_grpo");
	release(&p);
	PARSE(&p, "eval", "--mode", "outcome");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_STR(p.c.episode_mode, "outcome");
	release(&p);
	PARSE(&p, "advantages", "--advantage", "p-grpo");
	CHECK_EQ_INT(p.rc, LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "--advantage must be grpo, dr_grpo, batch or step"));
	release(&p);
}

TEST(agent_command__help_names_the_command)
{
	struct parsed p;

	PARSE(&p, "rename", "--help", "--bogus");
	CHECK_EQ_INT(p.rc, 0);
	CHECK(p.cmd == NULL);
	CHECK_EQ_INT(p.c.help_or_version, 'h');
	CHECK(p.c.help_cmd && !strcmp(p.c.help_cmd->name, "rename"));
	release(&p);
	PARSE(&p, "-V");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_EQ_INT(p.c.help_or_version, 'V');
	release(&p);
}

TEST(agent_command__json_arguments_round_trip_through_the_parser)
{
	const struct agent_command *refs = agent_command_find("refs");
	json_t *argv = json_array(), *opts, *back;
	struct parsed p;
	const char *w[16];
	size_t i;
	int n = 0;

	CHECK(refs != NULL);
	opts = json_pack("{s:b, s:i, s:s, s:b}", "noDecl", 1, "waitIndexMs", 5000, "indexIo",
			 "utf-8", "noWait", 0);
	CHECK_EQ_INT(agent_cmd_json_argv(argv, refs, opts), 0);
	json_decref(opts);
	w[n++] = "refs";
	for (i = 0; i < json_array_size(argv) && n < 14; i++)
		w[n++] = json_string_value(json_array_get(argv, i));
	w[n++] = "a.c@L1:C1";
	w[n] = NULL;
	parse_words(&p, w);
	CHECK_EQ_INT(p.rc, 0);
	CHECK(p.c.no_decl && !p.c.no_wait);
	CHECK_EQ_INT(p.c.index_ms, 5000);
	CHECK_EQ_INT(p.c.index_io, LN_ENC_UTF8);
	back = agent_cmd_options_json(&p.c, refs);
	CHECK(json_is_true(json_object_get(back, "noDecl")));
	CHECK_EQ_INT(json_integer_value(json_object_get(back, "waitIndexMs")), 5000);
	CHECK_EQ_STR(json_string_value(json_object_get(back, "indexIo")), "utf-8");
	CHECK(json_object_get(back, "indexMs") == NULL);
	CHECK(json_object_get(back, "root") == NULL);   /* not a tool argument */
	json_decref(back);
	/* a command without a workspace has no timeouts among its arguments */
	back = agent_cmd_options_json(&p.c, agent_command_find("reward"));
	CHECK(json_object_get(back, "json") != NULL);
	CHECK(json_object_get(back, "timeoutMs") == NULL);
	json_decref(back);
	release(&p);
	json_decref(argv);

	/* wrong types and unknown members are usage errors naming the member */
	argv = json_array();
	opts = json_pack("{s:i}", "noDecl", 1);
	CHECK_EQ_INT(agent_cmd_json_argv(argv, refs, opts), LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "\"noDecl\" must be a boolean"));
	json_decref(opts);
	opts = json_pack("{s:b}", "workspace", 1);
	CHECK_EQ_INT(agent_cmd_json_argv(argv, refs, opts), LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "unknown option \"workspace\" for refs"));
	json_decref(opts);
	opts = json_pack("{s:s}", "timeoutMs", "10");
	CHECK_EQ_INT(agent_cmd_json_argv(argv, refs, opts), LN_EUSAGE);
	json_decref(opts);
	json_decref(argv);
}

TEST(agent_command__every_command_has_unique_names_and_a_closed_schema)
{
	const struct agent_command *cmd;

	for (cmd = agent_commands; cmd->name; cmd++) {
		const struct agent_option *lists[2] = { agent_global_options, cmd->options }, *o, *q;
		json_t *s = agent_cmd_schema(cmd), *props = json_object_get(s, "properties");
		size_t k, tool = 0;
		CHECK(json_is_false(json_object_get(s, "additionalProperties")));
		CHECK(json_is_object(json_object_get(props, "args")));
		for (k = 0; k < 2; k++)
			for (o = lists[k]; o->name; o++) {
				/* no option name twice for one command */
				for (q = o + 1; q->name; q++)
					CHECK(strcmp(o->name, q->name) != 0);
				if (k == 1)
					CHECK(agent_option_find(NULL, o->name) == NULL);
				if (agent_option_is_tool_arg(o, cmd)) {
					CHECK(json_object_get(props, o->json) != NULL);
					tool++;
				} else if (o->json) {
					CHECK(json_object_get(props, o->json) == NULL);
				}
			}
		/* args plus one property per tool argument: no JSON name twice */
		CHECK_EQ_INT(json_object_size(props), tool + 1);
		json_decref(s);
	}
}
