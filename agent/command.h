/*
 * command.h - the command table: every command and its options as data
 * (docs/commands.md).
 *
 * A command is one `struct agent_command`: its name, summary, positional
 * synopsis, dispatcher flags, its options and the function that runs it.
 * An option is one `struct agent_option`: long name, type, bounds, default,
 * help, JSON name and where its value lands in `struct cli` (offsetof, as
 * git's parse-options does). Options every command takes are one shared
 * list, agent_global_options.
 *
 * Everything that reads or writes a command line comes from this data:
 * argument parsing (agent_cmdline_parse), `lanser --help` and per-command help
 * (agent/help.c), batch lines and trace request records (agent_cmd_json_argv,
 * agent_cmd_options_json) and the JSON Schema of a command's arguments
 * (agent_cmd_schema), which tool front ends hand to models.
 *
 * The table is compiled twice: in the engine each entry runs its command;
 * in the thin front end (-DLANSER_THIN) every entry but `help` runs
 * cmd_engine, which execs lanser-engine (agent/main.c).
 */
#ifndef LANSER_AGENT_COMMAND_H
#define LANSER_AGENT_COMMAND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cli;

enum agent_opt_type {
	AGENT_OPT_FLAG,    /* bool; no value */
	AGENT_OPT_INT,     /* int within [min, max] */
	AGENT_OPT_MS,      /* int milliseconds within [0, LN_TIMEOUT_MAX_MS] */
	AGENT_OPT_STRING,  /* const char * (points into argv) */
	AGENT_OPT_FILE,    /* const char *: a file name, relative to the cwd; "-" where the command says */
	AGENT_OPT_PATH,    /* char *: made absolute against the cwd (malloc'd; cli_release frees it) */
	AGENT_OPT_ENUM,    /* const char *, one of `words` */
	AGENT_OPT_NUMBER,  /* const char *: a finite number >= min (the command converts it) */
	AGENT_OPT_LIST,    /* repeatable: const char *[max] at offset, int count at count_offset */
};

/* agent_option.flags */
enum {
	AGENT_OPTF_CLI_ONLY = 1,      /* not a tool argument: no JSON name, not in schemas, batch lines or traces */
	AGENT_OPTF_ALIAS = 2,         /* an old spelling kept for a released document (help names it; no JSON) */
	AGENT_OPTF_NONEMPTY = 4,      /* a string value may not be empty */
	AGENT_OPTF_OPTIONAL_WORD = 8, /* ENUM: the value may be left out; the next word is taken
				      only when it is one of `words` (`--verify [diagnostics]`) */
	AGENT_OPTF_SERVER = 16,       /* global, but a tool argument only of commands that open a
				      workspace (AGENT_CMD_WORKSPACE): timeouts, column unit, cache */
};

struct agent_option {
	const char *name;          /* long name without "--" */
	enum agent_opt_type type;
	const char *metavar;       /* value in help ("N", "FILE"); NULL for flags */
	const char *help;          /* one line */
	const char *json;          /* JSON name (batch lines, trace records, schemas) */
	size_t offset;             /* where the value lands in struct cli */
	size_t set_offset;         /* a bool set when the option is given, or 0: none */
	size_t count_offset;       /* LIST: the int count */
	long min, max;             /* INT, MS: bounds; LIST: max is the most values */
	const char *dflt;          /* the default as help and the schema say it ("2", "grpo"),
				      or NULL: none / decided by the command */
	const char *const *words;  /* ENUM: allowed words, NULL-terminated */
	int flags;
	/* Optional: stores the (checked) value itself instead of the generic
	 * store (index-io: an enum ln_enc). 0 or an LN_E* code with a message. */
	int (*store)(struct cli *c, const struct agent_option *o, const char *value);
	/* Optional with `store`: the value as JSON for trace records. */
	json_t *(*load)(const struct cli *c, const struct agent_option *o);
	const char *alias_of;      /* AGENT_OPTF_ALIAS: the canonical long name */
};

/* agent_command.flags (what the dispatcher does first) */
enum {
	AGENT_CMD_WORKSPACE = 1,  /* finds the root and loads the configuration first */
	AGENT_CMD_DAEMON = 2,     /* answered by the workspace's warm daemon unless --no-daemon */
	AGENT_CMD_WRITES = 4,     /* writes the work tree or runs its code; refused while an
				  interrupted edit cannot be undone */
	AGENT_CMD_QUERY = 8,      /* a query: allowed in batch lines and re-run by trace replay */
	AGENT_CMD_BATCH = 16,     /* allowed in batch lines too, but not re-run by replay: it
				  reads the tree itself, not through recorded servers (locate) */
	AGENT_CMD_TOOL = 32,      /* a tool for models and MCP clients (agent/tools.h) */
};

struct agent_command {
	const char *name;
	int (*fn)(struct cli *);
	int flags;
	const char *synopsis;      /* positional arguments, e.g. "<selector> <new-name>" */
	const char *summary;
	const char *args_help;     /* what `args` holds, for the schema */
	int min_args, max_args;    /* positional arguments (max -1: up to AGENT_CMD_MAX_ARGS) */
	const struct agent_option *options; /* terminated by { NULL } */
};

#define AGENT_CMD_MAX_ARGS 64

/* The table (NULL-terminated) and the global options (terminated by {NULL}). */
extern const struct agent_command agent_commands[];
extern const struct agent_option agent_global_options[];

/* The command called `name`, or NULL. */
const struct agent_command *agent_command_find(const char *name);
/* The option `name` (without "--") of `cmd` or of the global list; NULL
 * when neither has it. `cmd` may be NULL (globals only). */
const struct agent_option *agent_option_find(const struct agent_command *cmd, const char *name);

/* Whether o is a tool argument of cmd: it has a JSON name, is not an
 * alias nor command-line only, and (AGENT_OPTF_SERVER) cmd opens a workspace.
 * Tool arguments are what schemas, batch lines and trace records hold. */
bool agent_option_is_tool_arg(const struct agent_option *o, const struct agent_command *cmd);
/* The tool argument of cmd (or global) whose JSON name is `json`, or NULL. */
const struct agent_option *agent_option_by_json(const struct agent_command *cmd, const char *json);

/*
 * Parses a command line (argv[0] is the program) into c, which the caller
 * initialised (cli_init in agent/main.c; zero is a valid start). Options
 * may come before or after the command name; "--" ends them. *cmd_out is
 * the command, or NULL when --help or --version was asked
 * (c->help_or_version) or no command was given (then an LN_EUSAGE error).
 * c->argv is allocated (caller frees). Relative paths are taken from
 * `cwd`. Returns 0 or LN_EUSAGE with a message; an option of another
 * command names the commands that own it.
 */
int agent_cmdline_parse(struct cli *c, const struct agent_command **cmd_out, int argc, char **argv,
		     const char *cwd);

/*
 * Appends to `argv` (a JSON array of strings) the command-line spelling
 * of `opts`, a JSON object keyed by the JSON names of cmd's tool
 * arguments. Types are checked here (bool, integer, number, string, array
 * of strings); values and bounds by agent_cmdline_parse, which the caller
 * runs on the result. LN_EUSAGE naming the member when one is unknown or
 * of the wrong type.
 */
int agent_cmd_json_argv(json_t *argv, const struct agent_command *cmd, const json_t *opts);

/* The tool arguments of cmd as c holds them, keyed by JSON name (new
 * reference): every flag and number, and strings and lists that are set. */
json_t *agent_cmd_options_json(const struct cli *c, const struct agent_command *cmd);

/* The JSON Schema (draft 2020-12) of cmd's arguments: `args` (positional)
 * and each tool argument by JSON name; additionalProperties false. */
json_t *agent_cmd_schema(const struct agent_command *cmd);

/* Help (agent/help.c): the whole tool, and one command. */
void agent_help_print(FILE *out);
void agent_help_command(FILE *out, const struct agent_command *cmd);
/* `lanser help [command]` */
int cmd_help(struct cli *c);

#ifdef LANSER_THIN
/* The thin front end runs every command but help by exec'ing the engine. */
int cmd_engine(struct cli *c);
#endif

#endif
