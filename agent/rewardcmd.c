/*
 * rewardcmd.c - `lanser reward` and `lanser advantages` (docs/rewards.md).
 *
 * Both are thin front ends over rewards/reward.h and rewards/advantage.h,
 * the same functions group evaluation and trace replay use. Every input is
 * untrusted: terms are parsed strictly, JSONL lines and groups are bounded,
 * and a bad line is an error naming its line number.
 */
#include "agent/cli.h"
#include "rewards/advantage.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xjson.h"
#include "core/jcs.h"
#include "core/jsonl.h"
#include "rewards/reward.h"
#include "agent/trace.h"
#include "core/xalloc.h"
#include "core/limits.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE ((size_t)4 << 20)
#define MAX_BATCH_VALUES 10000000

static int parse_double(double *out, const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || isnan(v) || isinf(v))
		return ln_error_set(LN_EUSAGE, "%s must be a finite number (got '%s')", what, s);
	*out = v;
	return 0;
}

/* Prints a finite double canonically (ECMAScript form), "null" otherwise. */
static void print_num(FILE *f, double v)
{
	char tmp[40];

	if (isnan(v) || isinf(v) || jcs_format_number(tmp, sizeof tmp, v == 0 ? 0.0 : v))
		fputs("null", f);
	else
		fputs(tmp, f);
}

static const char *fmt(char *tmp, double v)
{
	if (jcs_format_number(tmp, 40, v == 0 ? 0.0 : v))
		snprintf(tmp, 40, "null");
	return tmp;
}

static int print_json(struct cli *c, json_t *j)
{
	char *s = jcs_dumps(j);

	if (!s)
		return ln_error_code();
	fprintf(c->out, "%s\n", s);
	free(s);
	return 0;
}

/* @FILE (relative to the caller's cwd): a JSON document, at most LN_FILE_MAX_BYTES. */
static int load_json_arg(struct cli *c, json_t **out, const char *arg)
{
	struct buf path = BUF_INIT, data = BUF_INIT;
	json_error_t jerr;
	int error;

	*out = NULL;
	if (arg[0] != '@')
		return ln_error_set(LN_EUSAGE, "expected @FILE, got '%s'", arg);
	if (arg[1] == '/')
		buf_adds(&path, arg + 1);
	else
		buf_addf(&path, "%s/%s", c->cwd, arg + 1);
	error = buf_read_file(&data, path.data, LN_FILE_MAX_BYTES);
	if (!error) {
		*out = json_loadb(data.data, data.len, 0, &jerr);
		if (!*out)
			error = ln_error_set(LN_EINPUT, "%s:%d:%d: %s", arg + 1, jerr.line, jerr.column,
					     jerr.text);
	}
	buf_release(&path);
	buf_release(&data);
	return error;
}

/* The facts of a `diag` bundle, or the array itself (borrowed from v). */
static const json_t *facts_of(const json_t *v)
{
	return json_is_object(v) ? json_object_get(v, "facts") : v;
}

struct terms {
	struct rwd_step st;
	struct rwd_weights w;
	struct rwd_episode ep;
	json_t *before, *after, *relevant, *record, *refs;
	long nsteps;              /* episode: steps read from process=@FILE (-1: none) */
	json_t *steps;            /* ... and their terms, for the trace */
	bool have_d0, have_d, have_c0;
};

static double step_term(const json_t *o, const char *k, double dflt, bool *ok)
{
	const json_t *v = json_object_get(o, k);
	if (!v)
		return dflt;
	if (!json_is_number(v)) {
		*ok = false;
		return 0;
	}
	return json_number_value(v);
}

/* process=@steps.jsonl: one step per line, {"D0", "D", "S", "c", "c0"?}
 * (c0 defaults to the previous step's c, 1 for the first); R_process is the
 * mean of the steps' bounded rewards (docs/rewards.md). */
static int load_steps(struct cli *c, struct terms *t, const char *arg)
{
	struct buf path = BUF_INIT, data = BUF_INIT;
	struct rwd_step *st = NULL;
	size_t n = 0, pos = 0;
	double prev_c = 1.0;
	long line = 0;
	int error;

	if (arg[1] == '/')
		buf_adds(&path, arg + 1);
	else
		buf_addf(&path, "%s/%s", c->cwd, arg + 1);
	error = buf_read_file(&data, path.data, LN_FILE_MAX_BYTES);
	while (!error && pos < data.len) {
		const char *nl = memchr(data.data + pos, '\n', data.len - pos);
		size_t len = nl ? (size_t)(nl - data.data - pos) : data.len - pos;
		json_error_t jerr;
		json_t *o;
		bool ok = true;
		line++;
		if (len == 0) {
			pos += 1;
			continue;
		}
		o = json_loadb(data.data + pos, len, 0, &jerr);
		pos += len + 1;
		if (!json_is_object(o)) {
			json_decref(o);
			error = ln_error_set(LN_EINPUT, "%s:%ld: a step is a JSON object {D0, D, S, c, c0?}",
					     arg + 1, line);
			break;
		}
		if (n >= 100000) {
			json_decref(o);
			error = ln_error_set(LN_EINPUT, "%s: more than 100000 steps", arg + 1);
			break;
		}
		st = xrealloc(st, (n + 1) * sizeof *st);
		st[n].d_prev = step_term(o, "D0", NAN, &ok);
		st[n].d = step_term(o, "D", NAN, &ok);
		st[n].s = step_term(o, "S", NAN, &ok);
		st[n].c = step_term(o, "c", NAN, &ok);
		st[n].c_prev = step_term(o, "c0", prev_c, &ok);
		json_decref(o);
		if (!ok || rwd_step_check(RWD_BOUNDED, &t->w, &st[n])) {
			error = ln_error_set(LN_EINPUT, "%s:%ld: step terms: %s", arg + 1, line,
					     ok ? ln_error_msg() : "D0, D, S, c (and c0) must be numbers");
			break;
		}
		prev_c = st[n].c;
		n++;
	}
	if (!error) {
		size_t i;
		t->ep.r_process = rwd_process_episode(&t->w, st, n);
		t->nsteps = (long)n;
		json_decref(t->steps);
		t->steps = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(t->steps, xjson_pack("{s:o, s:o, s:o, s:o, s:o}",
				"D0", rwd_number(st[i].d_prev), "D", rwd_number(st[i].d),
				"S", rwd_number(st[i].s), "c0", rwd_number(st[i].c_prev),
				"c", rwd_number(st[i].c)));
	}
	free(st);
	buf_release(&path);
	buf_release(&data);
	return error;
}

static int parse_terms(struct cli *c, struct terms *t, int first)
{
	int i, error = 0;

	for (i = first; i < c->argc && !error; i++) {
		char *eq = strchr(c->argv[i], '=');
		const char *k = c->argv[i], *v;
		size_t kl;
		if (!eq)
			return ln_error_set(LN_EUSAGE, "expected TERM=VALUE, got '%s'", k);
		kl = (size_t)(eq - k);
		v = eq + 1;
#define IS(name) (kl == strlen(name) && !strncmp(k, name, kl))
		if (IS("D0")) { error = parse_double(&t->st.d_prev, v, "D0"); t->have_d0 = true; }
		else if (IS("D")) { error = parse_double(&t->st.d, v, "D"); t->have_d = true; }
		else if (IS("S")) error = parse_double(&t->st.s, v, "S");
		else if (IS("c")) error = parse_double(&t->st.c, v, "c");
		else if (IS("c0")) { error = parse_double(&t->st.c_prev, v, "c0"); t->have_c0 = true; }
		else if (IS("wd")) error = parse_double(&t->w.wd, v, "wd");
		else if (IS("ws")) error = parse_double(&t->w.ws, v, "ws");
		else if (IS("wc")) error = parse_double(&t->w.wc, v, "wc");
		else if (IS("before")) { json_decref(t->before); error = load_json_arg(c, &t->before, v); }
		else if (IS("after")) { json_decref(t->after); error = load_json_arg(c, &t->after, v); }
		else if (IS("relevant")) {
			char *dup = xstrdup(v), *p = dup, *comma;
			json_decref(t->relevant);
			t->relevant = json_array();
			while (p && *p) {
				comma = strchr(p, ',');
				if (comma)
					*comma = '\0';
				if (*p)
					json_array_append_new(t->relevant, json_string(p));
				p = comma ? comma + 1 : NULL;
			}
			free(dup);
		}
		else if (IS("refs")) { json_decref(t->refs); error = load_json_arg(c, &t->refs, v); }
		else if (IS("format")) error = parse_double(&t->ep.r_format, v, "format");
		else if (IS("process") && v[0] == '@')
			error = load_steps(c, t, v);
		else if (IS("process")) error = parse_double(&t->ep.r_process, v, "process");
		else if (IS("outcome")) {
			if (v[0] == '@') {
				json_decref(t->record);
				error = load_json_arg(c, &t->record, v);
			} else {
				error = parse_double(&t->ep.r_outcome, v, "outcome");
			}
		}
		else if (IS("unscorable")) {
			t->ep.scorable = false;
			snprintf(t->ep.reason, sizeof t->ep.reason, "%s", *v ? v : "unscorable");
		}
		else
			return ln_error_set(LN_EUSAGE, "unknown term '%.*s' (see docs/rewards.md)",
					    (int)kl, k);
#undef IS
	}
	return error;
}

static void explain_step(struct cli *c, enum rwd_functional f, const struct terms *t, double r)
{
	char a[40], b[40], d[40], e[40], g[40], h[40], k[40], m[40];
	const struct rwd_step *st = &t->st;
	const struct rwd_weights *w = &t->w;

	fprintf(c->out, "functional %s (%s)\n", rwd_functional_name(f), rwd_functional_version(f));
	switch (f) {
	case RWD_PAPER:
		fprintf(c->out, "r = w_d*(D0 - D) + w_s*S - w_c*(1 - c)\n"
			"  = %s*(%s - %s) + %s*%s - %s*(1 - %s)\n",
			fmt(a, w->wd), fmt(b, st->d_prev), fmt(d, st->d), fmt(e, w->ws), fmt(g, st->s),
			fmt(h, w->wc), fmt(k, st->c));
		break;
	case RWD_BOUNDED:
		fprintf(c->out, "dn = (D0 - D) / max(D0, D, 1)\n"
			"r' = w_d*dn + w_s*S + w_c*(c - c0)\n"
			"r = (r' + w_d + w_c) / (2*w_d + w_s + 2*w_c)   (in [0, 1])\n"
			"  with D0=%s D=%s S=%s c0=%s c=%s w_d=%s w_s=%s w_c=%s\n",
			fmt(a, st->d_prev), fmt(b, st->d), fmt(d, st->s), fmt(e, st->c_prev),
			fmt(g, st->c), fmt(h, w->wd), fmt(k, w->ws), fmt(m, w->wc));
		break;
	default:
		fprintf(c->out, "r = w_d*(D0 - D) + w_s*S + w_c*(c - c0)\n"
			"  = %s*(%s - %s) + %s*%s + %s*(%s - %s)\n",
			fmt(a, w->wd), fmt(b, st->d_prev), fmt(d, st->d), fmt(e, w->ws), fmt(g, st->s),
			fmt(h, w->wc), fmt(k, st->c), fmt(m, st->c_prev));
		break;
	}
	fprintf(c->out, "  = %s\n", fmt(a, r));
}

static int reward_step(struct cli *c, struct terms *t)
{
	enum rwd_functional f = RWD_DELTA;
	struct rwd_diag_delta dd;
	json_t *out = NULL;
	double r, bounded;
	int error;

	if (c->functional && (error = rwd_functional_parse(&f, c->functional)))
		return error;
	if (t->before || t->after) {
		if (!t->before || !t->after)
			return ln_error_set(LN_EUSAGE, "before=@FILE and after=@FILE go together");
		if (t->have_d0 || t->have_d)
			return ln_error_set(LN_EUSAGE, "give D0/D or before/after bundles, not both");
		if (t->refs) {
			/* the files that depend on the touched symbols: every
			 * workspace file a `refs` bundle names */
			const json_t *fact;
			size_t i;
			if (!json_is_array(facts_of(t->refs)))
				return ln_error_set(LN_EUSAGE, "refs=@FILE: not a refs bundle");
			if (!t->relevant)
				t->relevant = json_array();
			json_array_foreach(facts_of(t->refs), i, fact) {
				const json_t *p = json_object_get(fact, "path");
				if (json_is_string(p) && !json_is_true(json_object_get(fact, "external")))
					json_array_append(t->relevant, (json_t *)p);
			}
		}
		error = rwd_diag_delta(&dd, facts_of(t->before), facts_of(t->after), t->relevant,
				       NULL);
		if (error)
			return ln_error_set(LN_EUSAGE, "before/after: not diag bundles (no facts array)");
		t->st.d_prev = dd.d_before;
		t->st.d = dd.d_after;
	} else if (!t->have_d0 || !t->have_d) {
		return ln_error_set(LN_EUSAGE, "reward step needs D0= and D= (or before=@ and after=@)");
	}
	if (!t->have_c0 && f == RWD_PAPER)
		t->st.c_prev = t->st.c;
	else if (!t->have_c0)
		return ln_error_set(LN_EUSAGE, "the %s functional needs c0= (c_{t-1})",
				    rwd_functional_name(f));
	error = rwd_step_check(f, &t->w, &t->st);
	if (error)
		return error;
	r = rwd_process_step(f, &t->w, &t->st);
	/* with --trace: recorded with its terms, recomputed by replay */
	{
		json_t *ev = xjson_pack("{s:s, s:o, s:{s:o, s:o, s:o, s:o}, s:o}",
			"kind", "step", "functional", rwd_functional_json(f, &t->w), "terms",
			"D0", rwd_number(t->st.d_prev), "D", rwd_number(t->st.d), "S", rwd_number(t->st.s),
			"c", rwd_number(t->st.c), "reward", rwd_number(r));
		/* the paper's form has no c_{t-1} */
		if (f != RWD_PAPER)
			json_object_set_new(json_object_get(ev, "terms"), "c0", rwd_number(t->st.c_prev));
		trace_event(c, "reward", ev);
	}
	if (c->explain) {
		explain_step(c, f, t, r);
		return 0;
	}
	if (!c->json) {
		print_num(c->out, r);
		fputc('\n', c->out);
		return 0;
	}
	bounded = f == RWD_PAPER ? NAN : rwd_process_step(RWD_BOUNDED, &t->w, &t->st);
	out = xjson_pack("{s:s, s:s, s:o, s:{s:o, s:o, s:o, s:o}, s:o}",
			"schema", RWD_SCHEMA, "kind", "step",
			"functional", rwd_functional_json(f, &t->w),
			"terms", "D0", rwd_number(t->st.d_prev), "D", rwd_number(t->st.d),
			"S", rwd_number(t->st.s), "c", rwd_number(t->st.c), "reward", rwd_number(r));
	if (f != RWD_PAPER) {
		json_object_set_new(json_object_get(out, "terms"), "c0", rwd_number(t->st.c_prev));
		json_object_set_new(out, "rProcess", rwd_number(bounded));
	}
	if (t->before)
		json_object_set_new(out, "diagnostics", xjson_pack("{s:I, s:I, s:I, s:o}",
			"fixed", (json_int_t)dd.fixed, "introduced", (json_int_t)dd.introduced,
			"kept", (json_int_t)dd.kept, "relevant",
			t->relevant ? json_incref(t->relevant) : json_null()));
	error = print_json(c, out);
	json_decref(out);
	return error;
}

static int reward_episode(struct cli *c, struct terms *t)
{
	enum rwd_episode_mode m = RWD_EP_PGRPO;
	struct rwd_outcome o;
	json_t *out;
	double r;
	char a[40], b[40], d[40], e[40];
	int error;

	if (c->mode && (error = rwd_episode_mode_parse(&m, c->mode)))
		return error;
	if (t->record) {
		error = rwd_outcome_read(&o, t->record);
		if (error)
			return ln_error_set(LN_EINPUT, "outcome record: %s", ln_error_msg());
		if (!o.scorable && t->ep.scorable) {
			t->ep.scorable = false;
			snprintf(t->ep.reason, sizeof t->ep.reason, "%s", o.reason);
		}
		t->ep.r_outcome = o.r_outcome;
		if (o.patch_failed)
			t->ep.r_format = 0; /* a patch that does not apply is not usable */
	}
	if (t->ep.r_format != 0 && t->ep.r_format != 1)
		return ln_error_set(LN_EUSAGE, "format must be 0 or 1");
	if (t->ep.r_outcome != 0 && t->ep.r_outcome != 1)
		return ln_error_set(LN_EUSAGE, "outcome must be 0 or 1 (or @record.json)");
	if (t->ep.r_process < 0 || t->ep.r_process > 1)
		return ln_error_set(LN_EUSAGE, "process (R_process) must lie in [0, 1]");
	r = rwd_episode_reward(m, &t->ep);
	{
		json_t *ev = xjson_pack("{s:s, s:s, s:b, s:{s:o, s:o, s:o}, s:o, s:o}",
			"kind", "episode", "mode", rwd_episode_mode_name(m), "scorable", t->ep.scorable,
			"terms", "format", rwd_number(t->ep.r_format), "outcome",
			rwd_number(t->ep.r_outcome), "process", rwd_number(t->ep.r_process),
			"reward", rwd_number(r), "reason", xjson_string_lossy(t->ep.scorable ? "" : t->ep.reason));
		/* R_process from steps: the steps go along, replay recomputes it */
		if (t->steps)
			json_object_set_new(ev, "processSteps", xjson_pack("{s:O, s:o}", "steps",
				t->steps, "functional", rwd_functional_json(RWD_BOUNDED, &t->w)));
		trace_event(c, "reward", ev);
	}
	if (c->explain) {
		static const char *const forms[] = {
			"R = R_format + R_outcome + R_outcome * R_process",
			"R = R_outcome", "R = R_process", "R = R_format + R_outcome + R_process" };
		fprintf(c->out, "mode %s\n%s\n", rwd_episode_mode_name(m), forms[m]);
		if (!t->ep.scorable)
			fprintf(c->out, "  unscorable: %s\n  = null\n", ln_printable(t->ep.reason));
		else
			fprintf(c->out, "  with R_format=%s R_outcome=%s R_process=%s\n  = %s\n",
				fmt(a, t->ep.r_format), fmt(b, t->ep.r_outcome), fmt(d, t->ep.r_process),
				fmt(e, r));
		return 0;
	}
	if (!c->json) {
		print_num(c->out, r);
		if (!t->ep.scorable)
			fprintf(c->out, "  (unscorable: %s)", ln_printable(t->ep.reason));
		fputc('\n', c->out);
		return 0;
	}
	out = xjson_pack("{s:s, s:s, s:s, s:b, s:{s:o, s:o, s:o}, s:o}", "schema", RWD_SCHEMA,
			"kind", "episode", "mode", rwd_episode_mode_name(m), "scorable",
			t->ep.scorable, "terms", "format", rwd_number(t->ep.r_format),
			"outcome", rwd_number(t->ep.r_outcome), "process", rwd_number(t->ep.r_process),
			"reward", rwd_number(r));
	if (!t->ep.scorable)
		json_object_set_new(out, "reason", xjson_string_lossy(t->ep.reason));
	if (t->record)
		json_object_set_new(out, "outcome", rwd_outcome_json(&o));
	if (t->nsteps >= 0)
		json_object_set_new(out, "processSteps", xjson_pack("{s:I, s:o}", "steps",
			(json_int_t)t->nsteps, "functional", rwd_functional_json(RWD_BOUNDED, &t->w)));
	error = print_json(c, out);
	json_decref(out);
	return error;
}

int cmd_reward(struct cli *c)
{
	struct terms t;
	int error;

	memset(&t, 0, sizeof t);
	t.w = rwd_weights_default;
	t.ep.scorable = true;
	t.nsteps = -1;
	/* the count is the table's (agent_cmdline_parse) */
	if (strcmp(c->argv[0], "step") && strcmp(c->argv[0], "episode"))
		return ln_error_set(LN_EUSAGE, "reward takes 'step' or 'episode' first, then "
				    "TERM=VALUE arguments (got '%s'; the terms: docs/rewards.md)",
				    c->argv[0]);
	error = parse_terms(c, &t, 1);
	if (!error)
		error = !strcmp(c->argv[0], "step") ? reward_step(c, &t) : reward_episode(c, &t);
	json_decref(t.before);
	json_decref(t.after);
	json_decref(t.relevant);
	json_decref(t.record);
	json_decref(t.refs);
	json_decref(t.steps);
	return error;
}

/* ---- advantages ---- */

/* Reads one JSONL line as a group (rewards/advantage.h). */
static int parse_line(struct rwd_group *g, const char *text, size_t len, long lineno)
{
	json_error_t jerr;
	json_t *v = json_loadb(text, len, 0, &jerr);
	int error;

	memset(g, 0, sizeof *g);
	if (!v)
		return ln_error_set(LN_EGENERIC, "line %ld: %s (column %d)", lineno, jerr.text,
				    jerr.column);
	error = rwd_group_parse(g, v);
	json_decref(v);
	if (error)
		return ln_error_set(error, "line %ld: %s", lineno, ln_error_msg());
	return 0;
}

static int emit_group(struct cli *c, const struct rwd_group *g, enum rwd_adv_mode mode,
		      enum rwd_preset preset, double eps, double batch_std)
{
	json_t *out = rwd_group_advantages(g, mode, preset, eps, batch_std);
	int error = print_json(c, out);

	/* with --trace: the group, the parameters and the answer, recomputed
	 * by replay */
	trace_event(c, "advantages", xjson_pack("{s:O, s:s, s:s, s:O?, s:o, s:O}",
		"group", g->json, "mode", rwd_adv_mode_name(mode), "preset", rwd_preset_name(preset),
		"epsilon", json_object_get(out, "epsilon"),
		"batchStd", mode == RWD_ADV_BATCH ? rwd_number(batch_std) : json_null(),
		"result", out));
	json_decref(out);
	return error;
}

int cmd_advantages(struct cli *c)
{
	enum rwd_adv_mode mode = RWD_ADV_GRPO;
	enum rwd_preset preset = RWD_PRESET_TRL;
	double eps = -1;
	FILE *in = NULL;
	struct ln_jsonl rd;
	const char *line;
	size_t n;
	long lineno;
	struct rwd_group *batch = NULL;
	size_t nbatch = 0, values = 0, i;
	int error = 0;

	if (c->mode && (error = rwd_adv_mode_parse(&mode, c->mode)))
		return error;
	if (c->preset && (error = rwd_preset_parse(&preset, c->preset)))
		return error;
	if (c->eps) {
		if ((error = parse_double(&eps, c->eps, "--eps")))
			return error;
		if (eps < 0)
			return ln_error_set(LN_EUSAGE, "--eps must be >= 0");
	}
	in = c->in_path && strcmp(c->in_path, "-") ? fopen(c->in_path, "re") : stdin;
	if (!in)
		return ln_error_set(LN_ENOTFOUND, "%s: %s", c->in_path, strerror(errno));
	ln_jsonl_init_file(&rd, in, MAX_LINE);
	while ((error = ln_jsonl_next(&rd, &line, &n)) == 1) {
		struct rwd_group g;
		lineno = ln_jsonl_lineno(&rd);
		while (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		error = parse_line(&g, line, n, lineno);
		if (error) {
			rwd_group_release(&g);
			break;
		}
		if (g.steps && mode != RWD_ADV_STEP) {
			rwd_group_release(&g);
			error = ln_error_set(LN_EUSAGE, "line %ld: per-step rewards need --mode step",
					     lineno);
			break;
		}
		if (mode == RWD_ADV_BATCH) {
			values += g.n;
			if (values > MAX_BATCH_VALUES) {
				rwd_group_release(&g);
				error = ln_error_set(LN_EINPUT, "more than %d rewards in one batch",
						     MAX_BATCH_VALUES);
				break;
			}
			batch = xrealloc(batch, (nbatch + 1) * sizeof *batch);
			batch[nbatch++] = g;
			continue;
		}
		error = emit_group(c, &g, mode, preset, eps, 0);
		rwd_group_release(&g);
		if (error)
			break;
	}
	if (!error && mode == RWD_ADV_BATCH && nbatch) {
		/* the std of every scorable reward of the batch, then each group */
		double *all = xcalloc(values, sizeof *all), mean, std;
		size_t k = 0;

		for (i = 0; i < nbatch; i++) {
			memcpy(all + k, batch[i].r, batch[i].n * sizeof *all);
			k += batch[i].n;
		}
		rwd_mean_std(all, k, &mean, &std);
		free(all);
		for (i = 0; i < nbatch && !error; i++)
			error = emit_group(c, &batch[i], mode, preset, eps, std);
	}
	for (i = 0; i < nbatch; i++)
		rwd_group_release(&batch[i]);
	free(batch);
	ln_jsonl_release(&rd);
	if (in != stdin)
		fclose(in);
	return error;
}
