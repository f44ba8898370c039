/*
 * trace_int.h - what the three parts of agent/trace*.c share (not for
 * other files): recording (trace.c), replay (trace_replay.c, trace_rewards.c) and the
 * `lanser trace` command (trace_cmd.c).
 */
#ifndef LANSER_AGENT_TRACE_INT_H
#define LANSER_AGENT_TRACE_INT_H

#include "rewards/tracefile.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct cli;

/* The events of one run of a trace file, in file order. */
struct trace_run {
	const char *id;
	const struct rwd_trace_ev **ev;
	size_t n;
};

/* Groups the events of f by run, in order of first appearance. */
void trace_runs_of(const struct rwd_trace_file *f, struct trace_run **out, size_t *nout);
void trace_runs_free(struct trace_run *r, size_t n);
/* The first event of `type` in r, or NULL. */
const struct rwd_trace_ev *trace_run_find(const struct trace_run *r, const char *type);
/* Appends to a growable array (capacity doubles at powers of two). */
void trace_push(void **arr, size_t *n, size_t size, const void *item);
/* The canonical text of a finite number ("null" otherwise). */
void trace_num_text(char out[40], const json_t *v);

/* The candidates of run r (trace_cand.c): 0; LN_ETRACE when a candidate's
 * bundle does not match its bundleId; LN_EREPLAY with `msg` set when a
 * recorded reward is not its bundle's. *count grows by the candidates seen. */
int trace_replay_candidates(const char *file, const struct trace_run *r, size_t *count,
			    char *msg, size_t n);

/* `trace export` of the agent runs among runs (trace_agent.c): one row per
 * scorable episode in format fmt (trl, openrlhf, verl, prm), grouped by
 * task; returns the rows written. */
size_t trace_export_agent(struct cli *c, const struct trace_run *runs, size_t nruns,
			  const char *fmt);

/* Recomputes one reward event from its recorded terms (trace_rewards.c):
 * 0, or LN_EREPLAY with `msg` set when it comes out differently. */
int trace_replay_reward(const char *file, const struct rwd_trace_ev *e, char *msg, size_t n);
/* Recomputes the advantages events of run r; *count grows by those seen. */
int trace_replay_advantages(const char *file, const struct trace_run *r, size_t *count, char *msg,
			    size_t n);

/* `lanser trace replay [--verify] FILE` (trace_replay.c). */
int trace_replay_file(struct cli *c, const char *file);
/* While a command is replayed: keeps `bundle` as the replay's result and
 * returns true; false when c is not replaying. */
bool trace_replay_capture(struct cli *c, const json_t *bundle);

#endif
