#include "rewards/advantage.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *rwd_adv_mode_name(enum rwd_adv_mode m)
{
	switch (m) {
	case RWD_ADV_DR_GRPO: return "dr_grpo";
	case RWD_ADV_BATCH: return "batch";
	case RWD_ADV_STEP: return "step";
	default: return "grpo";
	}
}

int rwd_adv_mode_parse(enum rwd_adv_mode *out, const char *name)
{
	if (!strcmp(name, "grpo"))
		*out = RWD_ADV_GRPO;
	else if (!strcmp(name, "dr_grpo"))
		*out = RWD_ADV_DR_GRPO;
	else if (!strcmp(name, "batch"))
		*out = RWD_ADV_BATCH;
	else if (!strcmp(name, "step"))
		*out = RWD_ADV_STEP;
	else
		return ln_error_set(LN_EUSAGE, "unknown advantage mode '%s' (grpo, dr_grpo, batch, "
				    "step)", name);
	return 0;
}

const char *rwd_preset_name(enum rwd_preset p)
{
	switch (p) {
	case RWD_PRESET_VERL: return "verl";
	case RWD_PRESET_OPENRLHF: return "openrlhf";
	default: return "trl";
	}
}

int rwd_preset_parse(enum rwd_preset *out, const char *name)
{
	if (!strcmp(name, "trl"))
		*out = RWD_PRESET_TRL;
	else if (!strcmp(name, "verl"))
		*out = RWD_PRESET_VERL;
	else if (!strcmp(name, "openrlhf"))
		*out = RWD_PRESET_OPENRLHF;
	else
		return ln_error_set(LN_EUSAGE, "unknown preset '%s' (trl, verl, openrlhf)", name);
	return 0;
}

double rwd_preset_eps(enum rwd_preset p)
{
	switch (p) {
	case RWD_PRESET_VERL: return 1e-6;
	case RWD_PRESET_OPENRLHF: return 1e-9;
	default: return 1e-4;
	}
}

void rwd_mean_std(const double *r, size_t n, double *mean, double *std)
{
	double sum = 0.0, ss = 0.0;
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (!isnan(r[i])) {
			sum += r[i];
			k++;
		}
	*mean = k ? sum / (double)k : NAN;
	if (k < 2) {
		*std = NAN;
		return;
	}
	for (i = 0; i < n; i++)
		if (!isnan(r[i]))
			ss += (r[i] - *mean) * (r[i] - *mean);
	*std = sqrt(ss / (double)(k - 1));
}

/* Fills info's statistics and flags for the scorable values of r. */
static void stats(struct rwd_adv_info *info, const double *r, size_t n, enum rwd_preset preset)
{
	size_t i;
	double first = NAN;

	memset(info, 0, sizeof *info);
	rwd_mean_std(r, n, &info->mean, &info->std);
	info->all_equal = true;
	for (i = 0; i < n; i++) {
		if (isnan(r[i]))
			continue;
		if (!info->scored++)
			first = r[i];
		else if (r[i] != first)
			info->all_equal = false;
	}
	if (info->scored < 2)
		info->all_equal = false;
	if (info->scored == 1) {
		if (preset == RWD_PRESET_VERL) {
			info->mean = 0.0; /* verl: a lone response keeps its score */
			info->std = 1.0;
		} else {
			info->undefined = true;
		}
	}
}

void rwd_adv_outcome(double *out, struct rwd_adv_info *info, const double *r, size_t n,
		     enum rwd_adv_mode mode, enum rwd_preset preset, double eps, double batch_std)
{
	size_t i;

	if (eps < 0)
		eps = rwd_preset_eps(preset);
	stats(info, r, n, preset);
	for (i = 0; i < n; i++) {
		double a;
		if (isnan(r[i])) {
			out[i] = NAN;
			continue;
		}
		if (info->all_equal) {
			out[i] = 0.0;
			continue;
		}
		switch (mode) {
		case RWD_ADV_DR_GRPO:
			/* the mean of one is the value itself, except under verl */
			a = r[i] - info->mean;
			if (info->undefined)
				a = 0.0;
			break;
		case RWD_ADV_BATCH:
			a = info->undefined ? NAN : (r[i] - info->mean) / (batch_std + eps);
			break;
		default:
			a = info->undefined ? NAN : (r[i] - info->mean) / (info->std + eps);
			break;
		}
		out[i] = a;
	}
}

void rwd_adv_steps(double *out, struct rwd_adv_info *info, const double *r, const size_t *off,
		   size_t ncomp, enum rwd_preset preset, double eps)
{
	size_t total = off[ncomp], i, j;
	double mean = 0.0, sum = 0.0, ss = 0.0;
	size_t k = 0;
	bool all_equal = true, have_first = false;
	double first = 0.0;

	if (eps < 0)
		eps = rwd_preset_eps(preset);
	memset(info, 0, sizeof *info);
	/* A completion with any unscorable step is out as a whole. */
	for (i = 0; i < ncomp; i++) {
		bool ok = true;
		for (j = off[i]; j < off[i + 1]; j++)
			ok = ok && !isnan(r[j]);
		for (j = off[i]; j < off[i + 1]; j++) {
			out[j] = ok ? 0.0 : NAN;
			if (!ok)
				continue;
			sum += r[j];
			k++;
			if (!have_first) {
				first = r[j];
				have_first = true;
			} else if (r[j] != first) {
				all_equal = false;
			}
		}
		if (ok)
			info->scored++;
	}
	(void)total;
	info->mean = k ? sum / (double)k : NAN;
	mean = info->mean;
	for (i = 0; i < ncomp; i++)
		for (j = off[i]; j < off[i + 1]; j++)
			if (!isnan(out[j]))
				ss += (r[j] - mean) * (r[j] - mean);
	info->std = k >= 2 ? sqrt(ss / (double)(k - 1)) : NAN;
	info->all_equal = k >= 2 && all_equal;
	if (k == 1) {
		if (preset == RWD_PRESET_VERL) {
			info->mean = mean = 0.0;
			info->std = 1.0;
		} else {
			info->undefined = true;
		}
	}
	for (i = 0; i < ncomp; i++) {
		double acc = 0.0;
		if (off[i + 1] == off[i] || isnan(out[off[i]]))
			continue;
		/* suffix sums: step j gets the normalised rewards of steps >= j */
		for (j = off[i + 1]; j-- > off[i];) {
			double norm;
			if (info->all_equal)
				norm = 0.0;
			else if (info->undefined)
				norm = NAN;
			else
				norm = (r[j] - mean) / (info->std + eps);
			acc += norm;
			out[j] = acc;
		}
	}
}

/* ---- groups as JSON ---- */

void rwd_group_release(struct rwd_group *g)
{
	json_decref(g->json);
	free(g->r);
	free(g->off);
	memset(g, 0, sizeof *g);
}

static int num_or_null(double *out, const json_t *v)
{
	if (json_is_null(v)) {
		*out = NAN;
		return 0;
	}
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return isnan(*out) || isinf(*out) ? -1 : 0;
}

int rwd_group_parse(struct rwd_group *g, json_t *v)
{
	json_t *arr = NULL, *x, *y;
	size_t i, j, total = 0;

	memset(g, 0, sizeof *g);
	g->json = json_incref(v);
	if (json_is_array(v)) {
		arr = v;
	} else if (json_is_object(v)) {
		g->id = json_object_get(v, "id");
		arr = json_object_get(v, "rewards");
		if (!arr) {
			arr = json_object_get(v, "steps");
			g->steps = true;
		}
	}
	if (!json_is_array(arr))
		return ln_error_set(LN_EGENERIC, "expected [r, ...], {\"rewards\": [...]} or "
				    "{\"steps\": [[...], ...]}");
	if (json_array_size(arr) == 0 || json_array_size(arr) > RWD_MAX_GROUP)
		return ln_error_set(LN_EGENERIC, "a group has 1 to %d members", RWD_MAX_GROUP);
	g->ncomp = json_array_size(arr);
	g->off = xcalloc(g->ncomp + 1, sizeof *g->off);
	if (!g->steps) {
		g->r = xcalloc(g->ncomp, sizeof *g->r);
		json_array_foreach(arr, i, x) {
			if (num_or_null(&g->r[i], x))
				return ln_error_set(LN_EGENERIC, "reward %zu is not a finite number or "
						    "null", i);
			g->off[i + 1] = i + 1;
		}
		g->n = g->ncomp;
		return 0;
	}
	json_array_foreach(arr, i, x) {
		if (!json_is_array(x) || json_array_size(x) == 0)
			return ln_error_set(LN_EGENERIC, "steps[%zu] must be a non-empty array of step "
					    "rewards", i);
		total += json_array_size(x);
		if (total > RWD_MAX_GROUP)
			return ln_error_set(LN_EGENERIC, "more than %d step rewards in a group",
					    RWD_MAX_GROUP);
	}
	g->r = xcalloc(total, sizeof *g->r);
	json_array_foreach(arr, i, x) {
		g->off[i + 1] = g->off[i] + json_array_size(x);
		json_array_foreach(x, j, y)
			if (num_or_null(&g->r[g->off[i] + j], y))
				return ln_error_set(LN_EGENERIC, "steps[%zu][%zu] is not a finite number "
						    "or null", i, j);
	}
	g->n = total;
	return 0;
}

static json_t *num(double v)
{
	if (isnan(v) || isinf(v))
		return json_null();
	return json_real(v == 0.0 ? 0.0 : v);
}

json_t *rwd_group_advantages(const struct rwd_group *g, enum rwd_adv_mode mode,
			     enum rwd_preset preset, double eps, double batch_std)
{
	struct rwd_adv_info info;
	double *a = xcalloc(g->n ? g->n : 1, sizeof *a);
	json_t *arr = json_array(), *out;
	size_t i, j;

	if (mode == RWD_ADV_STEP)
		rwd_adv_steps(a, &info, g->r, g->off, g->ncomp, preset, eps);
	else
		rwd_adv_outcome(a, &info, g->r, g->n, mode, preset, eps, batch_std);
	for (i = 0; i < g->ncomp; i++) {
		if (!g->steps) {
			json_array_append_new(arr, num(a[i]));
			continue;
		}
		{
			json_t *s = json_array();
			for (j = g->off[i]; j < g->off[i + 1]; j++)
				json_array_append_new(s, num(a[j]));
			json_array_append_new(arr, s);
		}
	}
	out = xjson_pack("{s:o, s:s, s:s, s:o, s:o, s:o, s:I, s:b, s:b}",
			"advantages", arr, "mode", rwd_adv_mode_name(mode),
			"preset", rwd_preset_name(preset),
			"epsilon", num(eps >= 0 ? eps : rwd_preset_eps(preset)),
			"mean", num(info.mean),
			"std", num(mode == RWD_ADV_BATCH ? batch_std : info.std),
			"scored", (json_int_t)info.scored, "allEqual", info.all_equal,
			"undefined", info.undefined);
	if (g->id)
		json_object_set(out, "id", (json_t *)g->id);
	free(a);
	return out;
}
