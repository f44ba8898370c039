/*
 * cli.h - what every command receives from the dispatcher.
 *
 * The dispatcher (agent/main.c) parses the shared options, finds the
 * workspace root and loads the configuration; a command reads its own
 * positional arguments from argv and returns an LN_E* code (0 on success).
 * Commands print their own answer on stdout; the dispatcher prints the
 * error message on stderr (human mode) and turns the code into the exit
 * status.
 */
#ifndef LANSER_AGENT_CLI_H
#define LANSER_AGENT_CLI_H

#include <stdbool.h>

#include "config.h"
#include "text.h"

struct cli {
	int argc;              /* positional arguments after the command name */
	char **argv;
	char *root;            /* canonical workspace root */
	char *cwd;
	struct ln_config cfg;
	bool json;             /* print the bundle */
	enum ln_enc index_io;  /* column unit for input and output */
	int timeout_ms;        /* per request */
	int index_ms;          /* how long to wait for readiness */
	bool no_wait;          /* do not wait for readiness at all */
	bool workspace;        /* symbols/diag over the whole workspace */
	bool no_decl;          /* refs: exclude the declaration */
	bool explicit_root;
};

int cmd_def(struct cli *c);
int cmd_refs(struct cli *c);
int cmd_hover(struct cli *c);
int cmd_symbols(struct cli *c);
int cmd_diag(struct cli *c);
int cmd_doctor(struct cli *c);
int cmd_schema(struct cli *c);

#endif
