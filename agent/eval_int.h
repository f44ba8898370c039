/*
 * eval_int.h - what `lanser eval` (agent/eval.c) and `lanser group`
 * (agent/group.c) share inside the front end: the candidates as read, the
 * front end's state around one engine call, and the steps both take
 * (settings, reading candidates, running the engine, printing).
 */
#ifndef LANSER_AGENT_EVAL_INT_H
#define LANSER_AGENT_EVAL_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "engine/engine.h"
#include "engine/extract.h"
#include "engine/testrun.h"

struct cli;

#define EVAL_MAX_LINE (2 * (size_t)SBX_PATCH_MAX_BYTES + 65536)   /* JSON escapes */

/* The candidates as read: what the engine borrows during its call. */
struct fe_cand {
	char *id;
	char *patch;             /* NULL: no usable text (note says why) */
	size_t len;
	char note[200];
};

struct fe {
	struct cli *c;
	struct eng_settings s;
	bool have_settings;
	enum rwd_episode_mode emode;
	struct fe_cand *v;
	size_t n;
	struct eng *eng;
	struct eng_result *res;  /* n results after the engine's call */
	bool have_res;
	struct eng_base_reader *base; /* the base's files, for --in (or NULL) */
};

/* A candidate `id` whose diff is the file at path (- for stdin). */
int eval_cand_from_file(struct fe *x, const char *id, const char *path);
/* The front end's state for one command; eval_fe_release frees it (and the engine). */
void eval_fe_init(struct fe *x, struct cli *c);
void eval_fe_release(struct fe *x);
/* A candidate id from a patch file's name ([A-Za-z0-9._-], unique in x). */
void eval_id_from_path(const struct fe *x, const char *path, char *out, size_t size);
/* The engine settings from the options, the task and the base commit's configuration. */
int eval_load_settings(struct fe *x);
/* A number as text (JCS form), "null" for NaN. */
void eval_num_str(char *out, size_t n, double v);
/* --episode WORD into x->emode; LN_EUSAGE naming the words. */
int eval_parse_episode_mode(struct fe *x, const char *s);
/* v as one compact JSON line on c->out. */
void eval_print_json_line(struct cli *c, const json_t *v);
/* --in completions.jsonl: one candidate per line (engine/extract.h turns text into a diff). */
int eval_read_completions(struct fe *x, const char *path);
/* The status word of a result's test outcome record, or NULL. */
const char *eval_record_status(const struct eng_result *r);
/* Opens the engine and scores x's candidates into x->res; result (may be NULL) sees each as it is scored. */
int eval_run_engine(struct fe *x, bool patch_error_is_code, eng_result_fn result);

#endif
