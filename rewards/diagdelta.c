/*
 * diagdelta.c - the introduced diagnostics of a change (rewards/diagdelta.h).
 */
#include "rewards/diagdelta.h"

#include "rewards/reward.h"

#include <stdlib.h>
#include <string.h>

json_t *rwd_introduced_facts(const json_t *before, const json_t *after)
{
	json_t *count = json_object(), *out = json_array(), *f;
	size_t i;

	json_array_foreach(before, i, f) {
		char *k = rwd_diag_key(f);
		if (k) {
			json_int_t n = json_integer_value(json_object_get(count, k));
			json_object_set_new(count, k, json_integer(n + 1));
		}
		free(k);
	}
	/* the first occurrences of a key use up what was there before: the
	 * surplus is the last ones */
	json_array_foreach(after, i, f) {
		char *k = rwd_diag_key(f);
		if (k) {
			json_int_t n = json_integer_value(json_object_get(count, k));
			if (n > 0)
				json_object_set_new(count, k, json_integer(n - 1));
			else
				json_array_append(out, f);
		}
		free(k);
	}
	json_decref(count);
	return out;
}

long rwd_count_severity(const json_t *facts, const char *severity)
{
	const json_t *f;
	size_t i;
	long n = 0;

	json_array_foreach(facts, i, f) {
		const char *s = json_string_value(json_object_get(f, "severity"));
		if (s && !strcmp(s, severity))
			n++;
	}
	return n;
}
