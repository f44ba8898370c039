/*
 * options.c - what the command table (agent/command.h) drives: the
 * command-line parser, the JSON spelling of a command's arguments (batch
 * lines, trace records) and the JSON Schema of them.
 *
 * The parser knows only the table: an option is looked up among the global
 * options and those of the command, stored where its spec says, checked
 * against its type and bounds. An option of another command is a usage
 * error that names its owners.
 */
#include "agent/command.h"
#include "agent/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(c, o, type) ((type *)((char *)(c) + (o)->offset))

static bool takes_value(const struct agent_option *o)
{
	return o->type != AGENT_OPT_FLAG;
}

static bool is_word(const struct agent_option *o, const char *s)
{
	const char *const *w;

	for (w = o->words; w && *w; w++)
		if (!strcmp(*w, s))
			return true;
	return false;
}

bool agent_option_is_tool_arg(const struct agent_option *o, const struct agent_command *cmd)
{
	if (!o->json || (o->flags & (AGENT_OPTF_CLI_ONLY | AGENT_OPTF_ALIAS)))
		return false;
	return !(o->flags & AGENT_OPTF_SERVER) || (cmd && (cmd->flags & AGENT_CMD_WORKSPACE));
}

/* The option called name[0..len) of cmd or the globals. */
static const struct agent_option *find_n(const struct agent_command *cmd, const char *name, size_t len)
{
	char tmp[64];

	if (len >= sizeof tmp)
		return NULL;
	memcpy(tmp, name, len);
	tmp[len] = '\0';
	return agent_option_find(cmd, tmp);
}

/* The first spec of any command with this name (for its arity), and the
 * list of commands that own it ("rename, actions, patch") in *owners. */
static const struct agent_option *owners_of(struct buf *owners, const char *name, size_t len)
{
	const struct agent_command *cmd;
	const struct agent_option *first = NULL;

	for (cmd = agent_commands; cmd->name; cmd++) {
		const struct agent_option *o;
		for (o = cmd->options; o->name; o++)
			if (strlen(o->name) == len && !strncmp(o->name, name, len)) {
				if (owners)
					buf_addf(owners, "%s%s", owners->len ? ", " : "", cmd->name);
				if (!first)
					first = o;
				break;
			}
	}
	return first;
}

/* Pass 1: the index of the command name in argv (0: none). Options before
 * it are skipped with their values, whichever command owns them. */
static int command_index(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq;
		const struct agent_option *o;
		size_t len;
		if (!strcmp(a, "--"))
			return i + 1 < argc ? i + 1 : 0;
		if (a[0] != '-' || !a[1])
			return i;
		if (a[1] != '-')
			continue;
		name = a + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		o = find_n(NULL, name, len);
		if (!o)
			o = owners_of(NULL, name, len);
		if (!o || eq || !takes_value(o))
			continue;
		if (o->flags & AGENT_OPTF_OPTIONAL_WORD) {
			if (i + 1 < argc && is_word(o, argv[i + 1]))
				i++;
		} else {
			i++;
		}
	}
	return 0;
}

/* `path` made absolute against `cwd` (malloc'd). */
static char *absolute(const char *path, const char *cwd)
{
	struct buf b = BUF_INIT;

	if (path[0] != '/' && cwd)
		buf_addf(&b, "%s/", cwd);
	buf_adds(&b, path);
	return buf_detach(&b, NULL);
}

static int bad_words(const struct agent_option *o, const char *value)
{
	struct buf b = BUF_INIT;
	const char *const *w;
	int e;

	for (w = o->words; *w; w++)
		buf_addf(&b, "%s%s", w == o->words ? "" : w[1] ? ", " : " or ", *w);
	e = ln_error_set(LN_EUSAGE, "--%s must be %s (got '%s')", o->name, b.data, value);
	buf_release(&b);
	return e;
}

static int parse_long(long *out, const char *s)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return !*s || *end || errno ? -1 : 0;
}

/* Stores one checked value (NULL for a flag) where o says. */
static int store(struct cli *c, const struct agent_option *o, const char *value, const char *cwd)
{
	long v;
	double d;
	char *end;

	switch (o->type) {
	case AGENT_OPT_FLAG:
		*FIELD(c, o, bool) = true;
		break;
	case AGENT_OPT_INT:
		if (parse_long(&v, value) || v < o->min || v > o->max)
			return ln_error_set(LN_EUSAGE, "--%s needs a whole number from %ld to %ld "
					    "(got '%s')", o->name, o->min, o->max, value);
		*FIELD(c, o, int) = (int)v;
		break;
	case AGENT_OPT_MS:
		if (parse_long(&v, value) || v < 0 || v > LN_TIMEOUT_MAX_MS)
			return ln_error_set(LN_EUSAGE, "--%s needs a number of milliseconds (0-%d)",
					    o->name, LN_TIMEOUT_MAX_MS);
		*FIELD(c, o, int) = (int)v;
		break;
	case AGENT_OPT_NUMBER:
		errno = 0;
		d = strtod(value, &end);
		if (!*value || *end || errno || !isfinite(d) || d < (double)o->min)
			return ln_error_set(LN_EUSAGE, "--%s needs a number >= %ld (got '%s')", o->name,
					    o->min, value);
		*FIELD(c, o, const char *) = value;
		break;
	case AGENT_OPT_STRING:
	case AGENT_OPT_FILE:
		if ((o->flags & AGENT_OPTF_NONEMPTY) && !*value)
			return ln_error_set(LN_EUSAGE, "--%s needs a value that is not empty", o->name);
		*FIELD(c, o, const char *) = value;
		break;
	case AGENT_OPT_PATH:
		free(*FIELD(c, o, char *));
		*FIELD(c, o, char *) = absolute(value, cwd);
		break;
	case AGENT_OPT_ENUM:
		if (o->store) {
			if (o->store(c, o, value))
				return bad_words(o, value);
		} else if (!is_word(o, value)) {
			return bad_words(o, value);
		} else {
			*FIELD(c, o, const char *) = value;
		}
		break;
	case AGENT_OPT_LIST: {
		int *n = (int *)((char *)c + o->count_offset);
		if (*n >= o->max && o->max == 1)
			return ln_error_set(LN_EUSAGE, "--%s is given once here", o->name);
		if (*n >= o->max)
			return ln_error_set(LN_EUSAGE, "at most %ld --%s options", o->max, o->name);
		FIELD(c, o, const char *)[(*n)++] = value;
		break;
	}
	}
	if (o->set_offset)
		*(bool *)((char *)c + o->set_offset) = true;
	return 0;
}

static int unknown_option(const struct agent_command *cmd, const char *a, const char *name,
			  size_t len)
{
	struct buf owners = BUF_INIT;
	int e;

	if (owners_of(&owners, name, len) && cmd)
		e = ln_error_set(LN_EUSAGE, "--%.*s is an option of %s; not of %s (see lanser help %s)",
				 (int)len, name, owners.data, cmd->name, cmd->name);
	else
		e = ln_error_set(LN_EUSAGE, "unknown option '%s' (see lanser --help)", a);
	buf_release(&owners);
	return e;
}

/* One option argv[*i] (a long option, "--name" or "--name=value"). */
static int parse_one(struct cli *c, const struct agent_command *cmd, int argc, char **argv, int *i,
		     const char *cwd)
{
	const char *a = argv[*i], *name = a + 2, *eq = strchr(name, '='), *value = NULL;
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct agent_option *o = find_n(cmd, name, len);

	if (!o)
		return unknown_option(cmd, a, name, len);
	if (!strcmp(o->name, "help") || !strcmp(o->name, "version")) {
		c->help_or_version = o->name[0] == 'h' ? 'h' : 'V';
		return 0;
	}
	if (!takes_value(o)) {
		if (eq)
			return ln_error_set(LN_EUSAGE, "--%s takes no value", o->name);
	} else if (eq) {
		value = eq + 1;
	} else if (o->flags & AGENT_OPTF_OPTIONAL_WORD) {
		value = *i + 1 < argc && is_word(o, argv[*i + 1]) ? argv[++*i] : o->words[0];
	} else if (*i + 1 < argc) {
		value = argv[++*i];
	} else {
		return ln_error_set(LN_EUSAGE, "--%s needs a value (%s)", o->name,
				    o->metavar ? o->metavar : "see lanser --help");
	}
	return store(c, o, value, cwd);
}

/* The table's count of positional arguments, checked here once for every
 * command (and every batch line, daemon request and tool call): the
 * message gives the usage line of `lanser CMD --help`. What a command
 * checks after this is about the words themselves (a subcommand, a
 * file). */
static int check_arg_count(const struct cli *c, const struct agent_command *cmd)
{
	int max = cmd->max_args < 0 ? AGENT_CMD_MAX_ARGS : cmd->max_args;
	struct buf want = BUF_INIT;
	int error;

	if (c->argc >= cmd->min_args && c->argc <= max)
		return 0;
	if (max == 0)
		buf_adds(&want, "no arguments");
	else if (cmd->min_args == max)
		buf_addf(&want, "%d argument%s (%s)", max, max == 1 ? "" : "s", cmd->args_help);
	else if (cmd->max_args < 0)
		buf_addf(&want, "at least %d argument%s (%s)", cmd->min_args,
			 cmd->min_args == 1 ? "" : "s", cmd->args_help);
	else if (cmd->min_args == 0)
		buf_addf(&want, "at most %d argument%s (%s)", max, max == 1 ? "" : "s",
			 cmd->args_help);
	else
		buf_addf(&want, "%d to %d arguments (%s)", cmd->min_args, max, cmd->args_help);
	error = ln_error_set(LN_EUSAGE, "%s takes %s, got %d%s%.60s%s; usage: lanser %s "
			     "[options]%s%s (see lanser help %s)", cmd->name, want.data, c->argc,
			     c->argc > max ? " (the first extra: '" : "",
			     c->argc > max ? c->argv[max] : "", c->argc > max ? "')" : "",
			     cmd->name, *cmd->synopsis ? " " : "", cmd->synopsis, cmd->name);
	buf_release(&want);
	return error;
}

int agent_cmdline_parse(struct cli *c, const struct agent_command **cmd_out, int argc, char **argv,
		     const char *cwd)
{
	const struct agent_command *cmd = NULL;
	int ci = command_index(argc, argv), i, error;
	bool dashdash = false;

	*cmd_out = NULL;
	if (ci) {
		cmd = agent_command_find(argv[ci]);
		if (!cmd)
			return ln_error_set(LN_EUSAGE, "unknown command '%s' (see lanser --help)",
					    argv[ci]);
	}
	free(c->argv);
	c->argv = xcalloc((size_t)argc + 1, sizeof *c->argv);
	c->argc = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i == ci)
			continue;
		if (!dashdash && !strcmp(a, "--")) {
			dashdash = true;
			continue;
		}
		if (dashdash || a[0] != '-' || !a[1]) {
			c->argv[c->argc++] = argv[i];
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "-V")) {
			c->help_or_version = a[1] == 'h' ? 'h' : 'V';
		} else if (a[1] != '-') {
			return ln_error_set(LN_EUSAGE, "unknown option '%s' (see lanser --help)", a);
		} else if ((error = parse_one(c, cmd, argc, argv, &i, cwd))) {
			return error;
		}
		if (c->help_or_version) {
			c->help_cmd = cmd;
			return 0;
		}
	}
	if (!cmd)
		return ln_error_set(LN_EUSAGE, "no command given");
	if ((error = check_arg_count(c, cmd)))
		return error;
	*cmd_out = cmd;
	return 0;
}

const struct agent_option *agent_option_by_json(const struct agent_command *cmd, const char *json)
{
	const struct agent_option *lists[2] = { agent_global_options, cmd ? cmd->options : NULL };
	size_t k;

	for (k = 0; k < 2; k++) {
		const struct agent_option *o;
		for (o = lists[k]; o && o->name; o++)
			if (agent_option_is_tool_arg(o, cmd) && !strcmp(o->json, json))
				return o;
	}
	return NULL;
}

static const char *type_word(enum agent_opt_type t)
{
	switch (t) {
	case AGENT_OPT_FLAG: return "a boolean";
	case AGENT_OPT_INT: case AGENT_OPT_MS: return "an integer";
	case AGENT_OPT_NUMBER: return "a number";
	case AGENT_OPT_LIST: return "an array of strings";
	default: return "a string";
	}
}

/* Appends "--name" and the value of one JSON member. */
static int json_member_argv(json_t *argv, const struct agent_option *o, const char *key,
			    const json_t *v)
{
	char tmp[40];
	char *flag = xasprintf("--%s", o->name);
	size_t i;
	int error = 0;

	switch (o->type) {
	case AGENT_OPT_FLAG:
		if (!json_is_boolean(v))
			goto wrong;
		if (json_is_true(v))
			json_array_append_new(argv, json_string(flag));
		break;
	case AGENT_OPT_INT: case AGENT_OPT_MS:
		if (!json_is_integer(v))
			goto wrong;
		snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
		json_array_append_new(argv, json_string(flag));
		json_array_append_new(argv, json_string(tmp));
		break;
	case AGENT_OPT_NUMBER:
		if (!json_is_number(v))
			goto wrong;
		snprintf(tmp, sizeof tmp, "%.17g", json_number_value(v));
		json_array_append_new(argv, json_string(flag));
		json_array_append_new(argv, json_string(tmp));
		break;
	case AGENT_OPT_LIST:
		if (!json_is_array(v) || json_array_size(v) > (size_t)o->max)
			goto wrong;
		for (i = 0; i < json_array_size(v); i++)
			if (!json_is_string(json_array_get(v, i)))
				goto wrong;
		for (i = 0; i < json_array_size(v); i++) {
			json_array_append_new(argv, json_string(flag));
			json_array_append(argv, json_array_get(v, i));
		}
		break;
	default:
		if (!json_is_string(v))
			goto wrong;
		/* one word, so that a value that looks like an option stays a value */
		free(flag);
		flag = xasprintf("--%s=%s", o->name, json_string_value(v));
		json_array_append_new(argv, json_string(flag));
		break;
	}
	free(flag);
	return error;
wrong:
	free(flag);
	if (o->type == AGENT_OPT_LIST)
		return ln_error_set(LN_EUSAGE, "option \"%s\" must be an array of at most %ld strings",
				    key, o->max);
	return ln_error_set(LN_EUSAGE, "option \"%s\" must be %s", key, type_word(o->type));
}

int agent_cmd_json_argv(json_t *argv, const struct agent_command *cmd, const json_t *opts)
{
	const char *key;
	json_t *v;
	int error;

	if (!opts)
		return 0;
	if (!json_is_object(opts))
		return ln_error_set(LN_EUSAGE, "\"options\" must be an object");
	json_object_foreach((json_t *)opts, key, v) {
		const struct agent_option *o = agent_option_by_json(cmd, key);
		if (!o)
			return ln_error_set(LN_EUSAGE, "unknown option \"%s\" for %s (see lanser "
					    "schema command %s)", key, cmd->name, cmd->name);
		if ((error = json_member_argv(argv, o, key, v)))
			return error;
	}
	return 0;
}

static json_t *option_value(const struct cli *c, const struct agent_option *o)
{
	const char *s;

	if (o->load)
		return o->load(c, o);
	switch (o->type) {
	case AGENT_OPT_FLAG:
		return json_boolean(*FIELD(c, o, const bool));
	case AGENT_OPT_INT: case AGENT_OPT_MS:
		return json_integer(*FIELD(c, o, const int));
	case AGENT_OPT_NUMBER:
		s = *FIELD(c, o, const char *const);
		return s ? json_real(strtod(s, NULL)) : NULL;
	case AGENT_OPT_LIST: {
		int n = *(const int *)((const char *)c + o->count_offset), i;
		json_t *a;
		if (!n)
			return NULL;
		a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, json_string(FIELD(c, o, const char *const)[i]));
		return a;
	}
	default:
		s = *FIELD(c, o, const char *const);
		return s ? json_string(s) : NULL;
	}
}

json_t *agent_cmd_options_json(const struct cli *c, const struct agent_command *cmd)
{
	const struct agent_option *lists[2] = { agent_global_options, cmd->options };
	json_t *out = json_object();
	size_t k;

	for (k = 0; k < 2; k++) {
		const struct agent_option *o;
		for (o = lists[k]; o->name; o++) {
			json_t *v;
			if (!agent_option_is_tool_arg(o, cmd) || !(v = option_value(c, o)))
				continue;
			json_object_set_new(out, o->json, v);
		}
	}
	return out;
}

/* The schema of one option. */
static json_t *option_schema(const struct agent_option *o)
{
	json_t *s = xjson_pack("{s:s}", "description", o->help);
	const char *const *w;
	long max = o->type == AGENT_OPT_MS ? LN_TIMEOUT_MAX_MS : o->max;

	switch (o->type) {
	case AGENT_OPT_FLAG:
		json_object_set_new(s, "type", json_string("boolean"));
		json_object_set_new(s, "default", json_false());
		break;
	case AGENT_OPT_INT: case AGENT_OPT_MS:
		json_object_set_new(s, "type", json_string("integer"));
		json_object_set_new(s, "minimum", json_integer(o->type == AGENT_OPT_MS ? 0 : o->min));
		json_object_set_new(s, "maximum", json_integer(max));
		if (o->dflt)
			json_object_set_new(s, "default", json_integer(strtol(o->dflt, NULL, 10)));
		break;
	case AGENT_OPT_NUMBER:
		json_object_set_new(s, "type", json_string("number"));
		json_object_set_new(s, "minimum", json_integer(o->min));
		break;
	case AGENT_OPT_ENUM:
		json_object_set_new(s, "type", json_string("string"));
		json_object_set_new(s, "enum", json_array());
		for (w = o->words; *w; w++)
			json_array_append_new(json_object_get(s, "enum"), json_string(*w));
		if (o->dflt)
			json_object_set_new(s, "default", json_string(o->dflt));
		break;
	case AGENT_OPT_LIST:
		json_object_set_new(s, "type", json_string("array"));
		json_object_set_new(s, "items", xjson_pack("{s:s}", "type", "string"));
		json_object_set_new(s, "maxItems", json_integer(o->max));
		break;
	default:
		json_object_set_new(s, "type", json_string("string"));
		if (o->flags & AGENT_OPTF_NONEMPTY)
			json_object_set_new(s, "minLength", json_integer(1));
		break;
	}
	return s;
}

json_t *agent_cmd_schema(const struct agent_command *cmd)
{
	const struct agent_option *lists[2] = { agent_global_options, cmd->options };
	json_t *props = json_object(), *args, *s;
	size_t k;
	int max = cmd->max_args < 0 ? AGENT_CMD_MAX_ARGS : cmd->max_args;

	args = xjson_pack("{s:s, s:s, s:{s:s}, s:i, s:i}", "type", "array", "description",
			  cmd->args_help, "items", "type", "string", "minItems", cmd->min_args,
			  "maxItems", max);
	json_object_set_new(props, "args", args);
	for (k = 0; k < 2; k++) {
		const struct agent_option *o;
		for (o = lists[k]; o->name; o++)
			if (agent_option_is_tool_arg(o, cmd))
				json_object_set_new(props, o->json, option_schema(o));
	}
	s = xjson_pack("{s:s, s:s, s:s, s:s, s:o, s:b}",
		       "$schema", "https://json-schema.org/draft/2020-12/schema",
		       "title", cmd->name, "description", cmd->summary, "type", "object",
		       "properties", props, "additionalProperties", 0);
	if (cmd->min_args > 0)
		json_object_set_new(s, "required", xjson_pack("[s]", "args"));
	return s;
}
