/*
 * help.c - `lanser --help`, `lanser help [command]` and `lanser CMD --help`,
 * written from the command table (agent/command.h). Linked into the thin
 * front end too: help never needs the engine.
 */
#include "agent/command.h"
#include "agent/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"

#include <stdio.h>
#include <string.h>

/* What an option takes and what it defaults to, e.g. "integer 1-64; default 2". */
static void option_details(struct buf *b, const struct agent_option *o)
{
	const char *const *w;

	switch (o->type) {
	case AGENT_OPT_FLAG:
		break;
	case AGENT_OPT_INT:
		buf_addf(b, "integer %ld-%ld", o->min, o->max);
		break;
	case AGENT_OPT_MS:
		buf_addf(b, "milliseconds 0-%d", LN_TIMEOUT_MAX_MS);
		break;
	case AGENT_OPT_NUMBER:
		buf_addf(b, "number >= %ld", o->min);
		break;
	case AGENT_OPT_STRING:
		if (o->flags & AGENT_OPTF_NONEMPTY)
			buf_adds(b, "not empty");
		break;
	case AGENT_OPT_FILE:
		break;
	case AGENT_OPT_PATH:
		buf_adds(b, "path, made absolute");
		break;
	case AGENT_OPT_ENUM:
		buf_adds(b, (o->flags & AGENT_OPTF_OPTIONAL_WORD) ? "optional: " : "one of ");
		for (w = o->words; *w; w++)
			buf_addf(b, "%s%s", w == o->words ? "" : ", ", *w);
		break;
	case AGENT_OPT_LIST:
		if (o->max > 1)
			buf_addf(b, "repeatable, at most %ld", o->max);
		break;
	}
	if (o->dflt)
		buf_addf(b, "%sdefault %s", b->len ? "; " : "", o->dflt);
}

static void print_option(FILE *out, const struct agent_option *o)
{
	struct buf head = BUF_INIT, det = BUF_INIT;

	buf_addf(&head, "--%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
	if (!strcmp(o->name, "help"))
		buf_adds(&head, ", -h");
	else if (!strcmp(o->name, "version"))
		buf_adds(&head, ", -V");
	option_details(&det, o);
	fprintf(out, "  %-24s %s", head.data, o->help);
	if (det.len)
		fprintf(out, " (%s)", det.data);
	fputc('\n', out);
	buf_release(&head);
	buf_release(&det);
}

void agent_help_print(FILE *out)
{
	const struct agent_command *c;
	const struct agent_option *o;
	const struct ln_err_info *e;

	fprintf(out,
		"usage: lanser [options] <command> [args]\n"
		"\n"
		"Answers questions about code with facts from real language servers.\n"
		"Positions are 1-based lines and columns; the column unit is --index-io.\n"
		"Query commands go through a warm per-workspace daemon that the first call\n"
		"starts (docs/daemon.md); --no-daemon answers in-process, with the same bundle.\n"
		"\n"
		"commands (lanser help <command> lists a command's options):\n");
	for (c = agent_commands; c->name; c++)
		if (strlen(c->synopsis) > 34) /* its description on a line of its own */
			fprintf(out, "  %-14s %s\n  %-14s %-34s %s\n", c->name, c->synopsis, "", "",
				c->summary);
		else
			fprintf(out, "  %-14s %-34s %s\n", c->name, c->synopsis, c->summary);
	fprintf(out, "\nglobal options (every command takes them):\n");
	for (o = agent_global_options; o->name; o++)
		print_option(out, o);
	fprintf(out, "\nexit codes:\n");
	for (e = ln_err_table; e->name; e++)
		fprintf(out, "  %3d  %-22s %s\n", ln_exit_code(e->code), e->name, e->summary);
}

void agent_help_command(FILE *out, const struct agent_command *cmd)
{
	const struct agent_option *o;

	fprintf(out, "usage: lanser %s [options]%s%s\n\n%s\n", cmd->name, *cmd->synopsis ? " " : "",
		cmd->synopsis, cmd->summary);
	if (cmd->max_args)
		fprintf(out, "\narguments: %s\n", cmd->args_help);
	if (cmd->options[0].name) {
		fprintf(out, "\noptions:\n");
		for (o = cmd->options; o->name; o++)
			print_option(out, o);
	}
	fprintf(out, "\nglobal options:");
	for (o = agent_global_options; o->name; o++)
		fprintf(out, " --%s", o->name);
	fprintf(out, "\n(lanser --help describes them; lanser schema command %s prints the JSON "
		"Schema of the arguments)\n", cmd->name);
}

int cmd_help(struct cli *c)
{
	const struct agent_command *cmd;

	if (c->argc == 0) {
		agent_help_print(c->out);
		return 0;
	}
	cmd = c->argc == 1 ? agent_command_find(c->argv[0]) : NULL;
	if (!cmd)
		return ln_error_set(LN_EUSAGE, "help takes one command name (see lanser --help)");
	agent_help_command(c->out, cmd);
	return 0;
}
