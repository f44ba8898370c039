/*
 * tracefile.h - the JSONL trace file: writing it safely and reading it
 * strictly (format: docs/trace.md, schema: docs/trace.schema.json).
 *
 * A trace file holds one or more runs (one per traced command), each a
 * header event then numbered events, every event one line of canonical
 * JSON (RFC 8785) with "type", "run" (the run's id) and "seq" (0 for the
 * header, then 1, 2, ...). Several processes may append to one file at
 * once: every line is written with one write() under an exclusive flock()
 * on an O_APPEND descriptor, so lines never interleave; runs interleave
 * line by line and are told apart by "run".
 *
 * The reader trusts nothing: bounded line length and event count, every
 * line a JSON object with the three envelope fields, a run's events in
 * seq order starting with its header, the last line complete. Failures
 * are LN_ETRACE with "FILE:LINE: what" (LN_EVERSION for another trace
 * schema version).
 */
#ifndef LANSER_TRACEFILE_H
#define LANSER_TRACEFILE_H

#include <jansson.h>
#include <stddef.h>

/* Version 2 (issue 18): the request event's `options` are the command's
 * arguments by the command table's JSON names (docs/commands.md); version
 * 1 files (`indexMs` for the readiness wait) are still read. */
#define RWD_TRACE_SCHEMA "lanser.trace/2"
#define RWD_TRACE_SCHEMA_V1 "lanser.trace/1"
#define RWD_TRACE_MAX_LINE ((size_t)64 << 20)
#define RWD_TRACE_MAX_EVENTS 5000000L

struct rwd_trace;

/*
 * Opens (creating it, mode 0644) `path` for appending and writes the
 * header event of a new run: `header` (taken over, may be NULL) plus type
 * "header", schema, run, seq 0. Errors: LN_EPERM (cannot open or write).
 */
int rwd_trace_open(struct rwd_trace **out, const char *path, json_t *header);

/* Appends one event: `fields` (taken over) plus type, run and seq. A write
 * failure is remembered and returned here and by rwd_trace_close. */
int rwd_trace_event(struct rwd_trace *t, const char *type, json_t *fields);

/* Closes; returns the first write error (0 when none). NULL allowed. */
int rwd_trace_close(struct rwd_trace *t);

struct rwd_trace_ev {
	json_t *ev;          /* the event object (owned by the file) */
	long line;           /* 1-based line number */
	const char *type, *run;
	long long seq;
};

struct rwd_trace_file {
	struct rwd_trace_ev *v;
	size_t n;
	char *path;
};

/* Reads and validates a whole trace file ("-": stdin). */
int rwd_trace_read(struct rwd_trace_file *out, const char *path);
/* Same, from memory (fuzzing, tests); `name` is used in messages. */
int rwd_trace_parse(struct rwd_trace_file *out, const char *name, const char *data, size_t len);
void rwd_trace_file_release(struct rwd_trace_file *f);

/* The JSON Schema of one trace line (static string; docs/trace.schema.json). */
const char *rwd_trace_schema(void);

#endif
