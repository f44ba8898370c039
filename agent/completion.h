/*
 * completion.h - shell completion generated from the command table
 * (agent/command.h): `lanser completion bash|zsh` prints a script that
 * `make install` writes to the shells' completion folders.
 *
 * The scripts complete command names, each command's options and the
 * global options, the words of enum options (--index-io utf-16), the
 * subcommand words of a synopsis such as "start|stop|status|run", command
 * names after `help`, and file names for FILE/PATH options and positional
 * arguments. Answered by the thin front end itself (no engine).
 */
#ifndef LANSER_AGENT_COMPLETION_H
#define LANSER_AGENT_COMPLETION_H
#include <stdio.h>

struct cli;

/* Writes the bash (or zsh) completion script to out. */
void agent_completion_bash(FILE *out);
void agent_completion_zsh(FILE *out);

/* `lanser completion bash|zsh`: 0, or LN_EUSAGE for another shell. */
int cmd_completion(struct cli *c);

#endif
