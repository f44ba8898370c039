#include "rewards/reward.h"
#include "core/xalloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xjson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct rwd_sev_weights rwd_sev_default = { 1.0, 0.25, 0.0, 0.0 };
const struct rwd_weights rwd_weights_default = { 0.5, 0.4, 0.1 };

/* ---- diagnostic delta ---- */

static const char *str_or_empty(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

char *rwd_diag_key(const json_t *fact)
{
	struct buf b = BUF_INIT;

	if (!json_is_object(fact) || strcmp(str_or_empty(fact, "kind"), "diagnostic"))
		return NULL;
	buf_addf(&b, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", str_or_empty(fact, "path"),
		 str_or_empty(fact, "severity"), str_or_empty(fact, "source"),
		 str_or_empty(fact, "code"), str_or_empty(fact, "message"),
		 str_or_empty(fact, "symbol"));
	return buf_detach(&b, NULL);
}

static double sev_weight(const struct rwd_sev_weights *w, const char *sev)
{
	if (!strcmp(sev, "warning"))
		return w->warning;
	if (!strcmp(sev, "information"))
		return w->information;
	if (!strcmp(sev, "hint"))
		return w->hint;
	return w->error; /* "error", and anything unknown counts as an error */
}

static bool is_relevant(const json_t *relevant, const json_t *fact)
{
	const char *path = str_or_empty(fact, "path");
	const json_t *p;
	size_t i;

	if (!relevant)
		return true;
	json_array_foreach(relevant, i, p)
		if (json_is_string(p) && !strcmp(json_string_value(p), path))
			return true;
	return false;
}

/* key -> [count_before, count_after] */
static int tally(json_t *counts, const json_t *facts, const json_t *relevant,
		 const struct rwd_sev_weights *w, int side, double *d, long *n)
{
	const json_t *f;
	size_t i;

	json_array_foreach(facts, i, f) {
		char *key = rwd_diag_key(f);
		json_t *c;
		if (!key || !is_relevant(relevant, f)) {
			free(key);
			continue;
		}
		*d += sev_weight(w, str_or_empty(f, "severity"));
		(*n)++;
		c = json_object_get(counts, key);
		if (!c) {
			c = xjson_pack("[i,i]", 0, 0);
			json_object_set_new(counts, key, c);
		}
		json_array_set_new(c, (size_t)side,
				   json_integer(json_integer_value(json_array_get(c, (size_t)side)) + 1));
		free(key);
	}
	return 0;
}

int rwd_diag_delta(struct rwd_diag_delta *out, const json_t *before, const json_t *after,
		   const json_t *relevant, const struct rwd_sev_weights *w)
{
	json_t *counts, *c;
	const char *key;

	memset(out, 0, sizeof *out);
	if (!w)
		w = &rwd_sev_default;
	if (!json_is_array(before) || !json_is_array(after) ||
	    (relevant && !json_is_array(relevant)))
		return ln_error_set(LN_EGENERIC, "diagnostic delta: facts and relevant paths must "
				    "be arrays");
	counts = json_object();
	tally(counts, before, relevant, w, 0, &out->d_before, &out->relevant_before);
	tally(counts, after, relevant, w, 1, &out->d_after, &out->relevant_after);
	json_object_foreach(counts, key, c) {
		long b = (long)json_integer_value(json_array_get(c, 0));
		long a = (long)json_integer_value(json_array_get(c, 1));
		out->kept += a < b ? a : b;
		if (b > a)
			out->fixed += b - a;
		else
			out->introduced += a - b;
	}
	json_decref(counts);
	return 0;
}

/* ---- process reward ---- */

const char *rwd_functional_name(enum rwd_functional f)
{
	switch (f) {
	case RWD_PAPER: return "paper";
	case RWD_BOUNDED: return "bounded";
	default: return "delta";
	}
}

const char *rwd_functional_version(enum rwd_functional f)
{
	switch (f) {
	case RWD_PAPER: return "lanser.process/paper@1";
	case RWD_BOUNDED: return "lanser.process/bounded@1";
	default: return "lanser.process/delta@1";
	}
}

int rwd_functional_parse(enum rwd_functional *out, const char *name)
{
	if (!strcmp(name, "paper"))
		*out = RWD_PAPER;
	else if (!strcmp(name, "delta") || !strcmp(name, "default"))
		*out = RWD_DELTA;
	else if (!strcmp(name, "bounded"))
		*out = RWD_BOUNDED;
	else
		return ln_error_set(LN_EUSAGE, "unknown process functional '%s' (paper, delta, "
				    "bounded)", name);
	return 0;
}

double rwd_process_step(enum rwd_functional f, const struct rwd_weights *w,
			const struct rwd_step *st)
{
	double dn, r, span, m;

	switch (f) {
	case RWD_PAPER:
		return w->wd * (st->d_prev - st->d) + w->ws * st->s - w->wc * (1.0 - st->c);
	case RWD_BOUNDED:
		/* D normalised to [-1, 1] by the larger of the two counts (at
		 * least 1), so one fixed error out of one and ten out of ten both
		 * count fully; then the affine map of
		 * [-(w_d + w_c), w_d + w_s + w_c] onto [0, 1]. */
		m = st->d_prev > st->d ? st->d_prev : st->d;
		if (m < 1.0)
			m = 1.0;
		dn = (st->d_prev - st->d) / m;
		r = w->wd * dn + w->ws * st->s + w->wc * (st->c - st->c_prev);
		span = 2.0 * w->wd + w->ws + 2.0 * w->wc;
		if (span <= 0.0)
			return 0.0;
		r = (r + w->wd + w->wc) / span;
		return r < 0.0 ? 0.0 : r > 1.0 ? 1.0 : r; /* clamps rounding only */
	default:
		return w->wd * (st->d_prev - st->d) + w->ws * st->s + w->wc * (st->c - st->c_prev);
	}
}

static bool bad(double v)
{
	return isnan(v) || isinf(v);
}

int rwd_step_check(enum rwd_functional f, const struct rwd_weights *w, const struct rwd_step *st)
{
	if (bad(w->wd) || bad(w->ws) || bad(w->wc))
		return ln_error_set(LN_EUSAGE, "a weight is not a finite number");
	if (f == RWD_BOUNDED && (w->wd < 0 || w->ws < 0 || w->wc < 0))
		return ln_error_set(LN_EUSAGE, "the bounded functional needs non-negative weights");
	if (bad(st->d_prev) || bad(st->d) || st->d_prev < 0 || st->d < 0)
		return ln_error_set(LN_EUSAGE, "D must be a finite number >= 0");
	if (st->s != 0.0 && st->s != 1.0)
		return ln_error_set(LN_EUSAGE, "S must be 0 or 1");
	if (bad(st->c) || st->c < 0 || st->c > 1 || bad(st->c_prev) || st->c_prev < 0 ||
	    st->c_prev > 1)
		return ln_error_set(LN_EUSAGE, "confidences c must lie in [0, 1]");
	return 0;
}

json_t *rwd_number(double v)
{
	if (bad(v))
		return json_null();
	if (v == 0.0)
		v = 0.0; /* -0 -> 0 */
	return json_real(v);
}

json_t *rwd_functional_json(enum rwd_functional f, const struct rwd_weights *w)
{
	return xjson_pack("{s:s, s:s, s:{s:o, s:o, s:o}}", "name", rwd_functional_name(f),
			 "version", rwd_functional_version(f), "weights",
			 "wd", rwd_number(w->wd), "ws", rwd_number(w->ws), "wc", rwd_number(w->wc));
}

double rwd_process_episode(const struct rwd_weights *w, const struct rwd_step *steps, size_t n)
{
	double sum = 0.0;
	size_t i;

	if (!n)
		return 0.0;
	for (i = 0; i < n; i++)
		sum += rwd_process_step(RWD_BOUNDED, w, &steps[i]);
	return sum / (double)n;
}

/* ---- outcome ---- */

static int test_passed(const json_t *tests, const char *name)
{
	const json_t *t;
	size_t i;

	json_array_foreach(tests, i, t)
		if (!strcmp(str_or_empty(t, "name"), name))
			return !strcmp(str_or_empty(t, "outcome"), "passed");
	return 0; /* a required test that did not run did not pass */
}

static int required(const json_t *rec, const char *key, const json_t **out)
{
	const json_t *v = json_object_get(rec, key);
	const json_t *x;
	size_t i;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > RWD_MAX_TESTS)
		return ln_error_set(LN_EGENERIC, "outcome record: %s must be an array of at most %d "
				    "test names", key, RWD_MAX_TESTS);
	json_array_foreach(v, i, x)
		if (!json_is_string(x))
			return ln_error_set(LN_EGENERIC, "outcome record: %s[%zu] is not a string",
					    key, i);
	*out = v;
	return 0;
}

/* `lanser test` records (issue 6): {"request": {"FAIL_TO_PASS": [...],
 * "PASS_TO_PASS": [...]}, "outcome": {"status", "tests": [{"id",
 * "status"}], ...}}. Rewritten into the plain form read below. */
static json_t *from_test_record(const json_t *rec)
{
	const json_t *o = json_object_get(rec, "outcome"), *req = json_object_get(rec, "request");
	const char *status = json_string_value(json_object_get(o, "status"));
	json_t *plain = json_object(), *tests = json_array(), *t;
	size_t i;

	/* passed/failed: the tests ran to their end; patch-failed: the
	 * candidate's own failure (outcome 0); the rest (error, limit,
	 * cancelled, ...) are the run's, not the candidate's: unscorable */
	bool ran = status && (!strcmp(status, "passed") || !strcmp(status, "failed"));
	bool own = ran || (status && (!strcmp(status, "patch-failed") ||
				      !strcmp(status, "build-failed")));

	/* build-failed: the candidate broke a base that builds (a base that
	 * does not build is "base-build-failed", unscorable) */
	json_object_set_new(plain, "completed", json_boolean(own));
	if (!own) {
		const char *m = json_string_value(json_object_get(json_object_get(json_object_get(rec,
			"meta"), "volatile"), "message"));
		/* whole (a cut message lost the advice at its end, and a cut in
		 * the middle of a character lost the reason) */
		char *reason = xasprintf("test run %s%s%s", status ? status : "error",
					 m ? ": " : "", m ? m : "");
		json_object_set_new(plain, "reason", xjson_string_lossy(reason));
		free(reason);
	}
	json_array_foreach(json_object_get(o, "tests"), i, t)
		json_array_append_new(tests, xjson_pack("{s:O?, s:O?}", "name", json_object_get(t, "id"),
						       "outcome", json_object_get(t, "status")));
	json_object_set_new(plain, "tests", tests);
	if (json_array_size(json_object_get(req, "FAIL_TO_PASS")))
		json_object_set(plain, "failToPass", json_object_get(req, "FAIL_TO_PASS"));
	if (json_array_size(json_object_get(req, "PASS_TO_PASS")))
		json_object_set(plain, "passToPass", json_object_get(req, "PASS_TO_PASS"));
	if (status && !strcmp(status, "patch-failed")) {
		/* nothing ran: every required test is missing */
		json_object_set_new(plain, "patchFailed", json_true());
	}
	if (status && !strcmp(status, "build-failed"))
		json_object_set_new(plain, "buildFailed", json_true());
	/* the test command ran but reported no test: its exit status is the
	 * outcome */
	if (ran && json_array_size(tests) == 0)
		json_object_set_new(plain, "exitStatusPassed", json_boolean(!strcmp(status, "passed")));
	return plain;
}

int rwd_outcome_read(struct rwd_outcome *out, const json_t *rec)
{
	const json_t *tests, *f2p, *p2p, *t, *x;
	const json_t *completed;
	json_t *plain = NULL;
	size_t i;
	int error;

	memset(out, 0, sizeof *out);
	if (!json_is_object(rec))
		return ln_error_set(LN_EGENERIC, "outcome record: not a JSON object");
	if (json_is_object(json_object_get(rec, "outcome")) &&
	    json_is_string(json_object_get(json_object_get(rec, "outcome"), "status"))) {
		plain = from_test_record(rec);
		error = rwd_outcome_read(out, plain);
		out->patch_failed = json_is_true(json_object_get(plain, "patchFailed"));
		out->build_failed = json_is_true(json_object_get(plain, "buildFailed"));
		json_decref(plain);
		return error;
	}
	completed = json_object_get(rec, "completed");
	if (!json_is_boolean(completed))
		return ln_error_set(LN_EGENERIC, "outcome record: \"completed\" must be true or false");
	tests = json_object_get(rec, "tests");
	if (tests && !json_is_null(tests) &&
	    (!json_is_array(tests) || json_array_size(tests) > RWD_MAX_TESTS))
		return ln_error_set(LN_EGENERIC, "outcome record: \"tests\" must be an array of at "
				    "most %d tests", RWD_MAX_TESTS);
	if ((error = required(rec, "failToPass", &f2p)) || (error = required(rec, "passToPass", &p2p)))
		return error;
	json_array_foreach(tests, i, t) {
		const char *o = json_string_value(json_object_get(t, "outcome"));
		if (!json_is_object(t) || !json_is_string(json_object_get(t, "name")) || !o)
			return ln_error_set(LN_EGENERIC, "outcome record: tests[%zu] needs a name and "
					    "an outcome", i);
		if (!strcmp(o, "passed"))
			out->passed++;
		else if (!strcmp(o, "failed") || !strcmp(o, "error"))
			out->failed++;
		else if (!strcmp(o, "skipped"))
			out->skipped++;
		else
			return ln_error_set(LN_EGENERIC, "outcome record: tests[%zu] has outcome '%s' "
					    "(passed, failed, error, skipped)", i, o);
	}
	out->total = out->passed + out->failed;
	if (!json_is_true(completed)) {
		snprintf(out->reason, sizeof out->reason, "%s",
			 json_is_string(json_object_get(rec, "reason"))
				 ? json_string_value(json_object_get(rec, "reason"))
				 : "the test run did not complete");
		return 0;
	}
	out->scorable = true;
	out->pass_fraction = out->total ? (double)out->passed / (double)out->total : 0.0;
	json_array_foreach(f2p, i, x) {
		out->f2p_total++;
		out->f2p_passed += test_passed(tests, json_string_value(x));
	}
	json_array_foreach(p2p, i, x) {
		out->p2p_total++;
		out->p2p_broken += !test_passed(tests, json_string_value(x));
	}
	x = json_object_get(rec, "exitStatusPassed");
	if (f2p || p2p) {
		out->r_outcome = out->f2p_passed == out->f2p_total && out->p2p_broken == 0 ? 1.0 : 0.0;
	} else if (json_is_boolean(x) && out->total == 0 && out->skipped == 0) {
		out->from_exit_status = true;
		out->r_outcome = json_is_true(x) ? 1.0 : 0.0;
	} else {
		out->r_outcome = out->total > 0 && out->failed == 0 ? 1.0 : 0.0;
	}
	return 0;
}

json_t *rwd_outcome_json(const struct rwd_outcome *o)
{
	json_t *j = xjson_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			      "scorable", o->scorable, "passed", (json_int_t)o->passed,
			      "failed", (json_int_t)o->failed, "skipped", (json_int_t)o->skipped,
			      "total", (json_int_t)o->total,
			      "failToPassTotal", (json_int_t)o->f2p_total,
			      "failToPassPassed", (json_int_t)o->f2p_passed,
			      "passToPassTotal", (json_int_t)o->p2p_total,
			      "passToPassBroken", (json_int_t)o->p2p_broken);
	if (o->scorable) {
		json_object_set_new(j, "outcomeFrom", json_string(o->from_exit_status ? "exitStatus"
									     : "tests"));
		json_object_set_new(j, "buildFailed", json_boolean(o->build_failed));
		json_object_set_new(j, "rOutcome", rwd_number(o->r_outcome));
		json_object_set_new(j, "passFraction", rwd_number(o->pass_fraction));
	} else {
		json_object_set_new(j, "rOutcome", json_null());
		json_object_set_new(j, "reason", xjson_string_lossy(o->reason));
	}
	return j;
}

/* ---- episode ---- */

const char *rwd_episode_mode_name(enum rwd_episode_mode m)
{
	switch (m) {
	case RWD_EP_OUTCOME: return "outcome";
	case RWD_EP_PROCESS: return "process";
	case RWD_EP_SUM: return "sum";
	default: return "p-grpo";
	}
}

int rwd_episode_mode_parse(enum rwd_episode_mode *out, const char *name)
{
	if (!strcmp(name, "p-grpo"))
		*out = RWD_EP_PGRPO;
	else if (!strcmp(name, "outcome"))
		*out = RWD_EP_OUTCOME;
	else if (!strcmp(name, "process"))
		*out = RWD_EP_PROCESS;
	else if (!strcmp(name, "sum"))
		*out = RWD_EP_SUM;
	else
		return ln_error_set(LN_EUSAGE, "unknown episode mode '%s' (p-grpo, outcome, "
				    "process, sum)", name);
	return 0;
}

double rwd_episode_reward(enum rwd_episode_mode m, const struct rwd_episode *ep)
{
	if (!ep->scorable)
		return NAN;
	switch (m) {
	case RWD_EP_OUTCOME: return ep->r_outcome;
	case RWD_EP_PROCESS: return ep->r_process;
	case RWD_EP_SUM: return ep->r_format + ep->r_outcome + ep->r_process;
	default: return ep->r_format + ep->r_outcome + ep->r_outcome * ep->r_process;
	}
}
