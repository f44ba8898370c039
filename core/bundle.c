#include "core/bundle.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/jcs.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

json_t *ln_bundle_new(const char *command)
{
	struct utsname u;
	char platform[160] = "unknown";

	if (uname(&u) == 0) {
		snprintf(platform, sizeof platform, "%s-%s", u.sysname, u.machine);
		for (char *p = platform; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	}
	return xjson_pack("{s:s, s:{s:s}, s:n, s:[], s:b, s:{s:[]}, "
			 "s:{s:s, s:s, s:[]}, s:{}, s:{s:{}}}",
			 "schema", LN_BUNDLE_SCHEMA,
			 "request", "command", command,
			 "resolution",
			 "facts",
			 "complete", 1,
			 "inputs", "documents",
			 "environment", "lanser", LANSER_VERSION, "platform", platform, "servers",
			 "capabilities",
			 "meta", "volatile");
}

json_t *ln_range_new(long sl, long sc, long el, long ec)
{
	return xjson_pack("[I,I,I,I]", (json_int_t)sl, (json_int_t)sc, (json_int_t)el,
			 (json_int_t)ec);
}

static int cmp_range(const json_t *a, const json_t *b)
{
	size_t i;
	for (i = 0; i < 4; i++) {
		json_int_t x = json_integer_value(json_array_get(a, i));
		json_int_t y = json_integer_value(json_array_get(b, i));
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

struct sort_item {
	json_t *fact;
	char *canon;
};

static int cmp_fact(const void *pa, const void *pb)
{
	const struct sort_item *a = pa, *b = pb;
	const char *ua = json_string_value(json_object_get(a->fact, "path"));
	const char *ub = json_string_value(json_object_get(b->fact, "path"));
	int c;

	c = strcmp(ua ? ua : "", ub ? ub : "");
	if (c)
		return c;
	c = cmp_range(json_object_get(a->fact, "range"), json_object_get(b->fact, "range"));
	if (c)
		return c;
	return strcmp(a->canon, b->canon);
}

static int sort_facts(json_t *facts)
{
	size_t n = json_array_size(facts), i;
	struct sort_item *items;
	int error = 0;

	if (n < 2)
		return 0;
	items = xcalloc(n, sizeof *items);
	for (i = 0; i < n; i++) {
		items[i].fact = json_incref(json_array_get(facts, i));
		items[i].canon = jcs_dumps(items[i].fact);
		if (!items[i].canon) {
			error = ln_error_code() ? ln_error_code() : LN_EGENERIC;
			goto done;
		}
	}
	qsort(items, n, sizeof *items, cmp_fact);
	json_array_clear(facts);
	for (i = 0; i < n; i++)
		json_array_append(facts, items[i].fact);
done:
	for (i = 0; i < n; i++) {
		json_decref(items[i].fact);
		free(items[i].canon);
	}
	free(items);
	return error;
}

int ln_bundle_compute_id(char out[72], const json_t *bundle)
{
	json_t *copy = json_deep_copy(bundle), *meta;
	int error;

	json_object_del(copy, "bundleId");
	meta = json_object_get(copy, "meta");
	if (json_is_object(meta))
		json_object_del(meta, "volatile");
	error = ln_json_digest(out, copy);
	json_decref(copy);
	return error;
}

int ln_bundle_finish(json_t *bundle, int err, const char *message)
{
	json_t *meta = json_object_get(bundle, "meta"), *vol;
	char id[72];
	int error;

	error = sort_facts(json_object_get(bundle, "facts"));
	/* the documents are listed in the order the answer touched them,
	 * which is the server's order: sort them the same way */
	if (!error)
		error = sort_facts(json_object_get(json_object_get(bundle, "inputs"), "documents"));
	if (error)
		return error;
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(bundle, "meta", meta);
	}
	json_object_set_new(meta, "exitCode", json_integer(ln_exit_code(err)));
	json_object_set_new(meta, "status", json_string(ln_err_name(err)));
	vol = json_object_get(meta, "volatile");
	if (!json_is_object(vol)) {
		vol = json_object();
		json_object_set_new(meta, "volatile", vol);
	}
	if (message && *message)
		json_object_set_new(vol, "message", json_string(message));
	error = ln_bundle_compute_id(id, bundle);
	if (error)
		return error;
	json_object_set_new(bundle, "bundleId", json_string(id));
	return 0;
}
