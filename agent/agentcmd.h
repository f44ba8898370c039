/*
 * agentcmd.h - what the files of `lanser agent` share (agent/agentcmd.c,
 * agent/rollout.c, agent/agentreplay.c). The episode itself is
 * agent/episode.h.
 */
#ifndef LANSER_AGENT_AGENTCMD_H
#define LANSER_AGENT_AGENTCMD_H

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "agent/episode.h"

struct cli;
struct eng_settings;
struct rwd_trace_file;

/* The task's evaluation settings: the configuration of its base commit
 * (ENG_CONFIG_BASE), its base and tests. `s` is initialised even on
 * failure: release it either way (eng_settings_release). */
int agent_settings_load(struct eng_settings *s, struct cli *c, const struct agent_task *t);

/* Runs one episode of task t with `model` (c's options: sample id, episode
 * mode, trace, progress). *out: the result (see agent_episode_run). */
int agent_run_task(struct cli *c, const struct agent_task *t, struct agent_model model,
		   json_t **out);

/* The result for a person, and as one canonical JSON line. */
void agent_print_result(FILE *o, const json_t *result);
void agent_print_json(FILE *o, const json_t *v);

/* `lanser agent` on a terminal, without a task (agent/interactive.c):
 * requests typed by a person, with task t's base, tests and budgets
 * (the step budget is per request). `cancel` is the flag SIGINT sets
 * (the model client watches it too); the caller installs the handler. */
int agent_interactive(struct cli *c, const struct agent_task *t, struct agent_model model,
		      volatile sig_atomic_t *cancel);

/* `lanser agent --tasks FILE --samples K --jobs N` (agent/rollout.c). */
int agent_rollouts(struct cli *c);

/*
 * `trace replay` of an agent run (agent/agentreplay.c): the episode again,
 * with the model's recorded replies instead of a server; every tool
 * bundle id and every reward must come out as recorded. `events` are the
 * run's events (rwd_trace_ev pointers), n of them. 0, LN_EREPLAY with msg
 * set, or LN_ETRACE.
 */
struct rwd_trace_ev;
int agent_replay_run(struct cli *c, const char *file, const struct rwd_trace_ev *const *events,
		     size_t n, char *msg, size_t msize);

#endif
