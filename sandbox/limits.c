/* The limits of a run as data: defaults, the "limits" member of task files
 * and .lanser.json, and their JSON forms (run.h). */
#include "sandbox/run.h"

#include "core/err.h"

#include <string.h>

void sbx_limits_default(struct sbx_limits *l)
{
	l->wall_ms = 600000;
	l->cpu_s = 300;
	l->mem_bytes = 2LL << 30;
	l->nproc = 256;
	l->nofile = 1024;
	l->fsize_bytes = 1LL << 30;
	l->out_bytes = 1 << 20;
	l->tmp_bytes = 256LL << 20;
	l->disk_bytes = 1LL << 30;
}

json_t *sbx_hits_json(unsigned hits)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ SBX_HIT_WALL, "wall" }, { SBX_HIT_CPU, "cpu" }, { SBX_HIT_MEMORY, "memory" },
		{ SBX_HIT_PROCS, "processes" }, { SBX_HIT_FSIZE, "fileSize" },
		{ SBX_HIT_OUTPUT, "output" }, { SBX_HIT_DISK, "disk" },
	};
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (hits & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

/* The members of a "limits" object: name, field, unit, lower and upper bound. */
enum lim_field { L_WALL, L_CPU, L_MEM, L_PROCS, L_FILES, L_FSIZE, L_OUT, L_TMP, L_DISK };
static const struct {
	const char *name;
	enum lim_field f;
	long long unit, lo, hi;
} lim_members[] = {
	{ "wallMs", L_WALL, 1, 100, 24LL * 3600 * 1000 },
	{ "cpuSeconds", L_CPU, 1, 1, 24 * 3600 },
	{ "memoryMiB", L_MEM, 1 << 20, 16, 1 << 20 },
	{ "processes", L_PROCS, 1, 4, 1 << 20 },
	{ "openFiles", L_FILES, 1, 16, 1 << 20 },
	{ "fileSizeMiB", L_FSIZE, 1 << 20, 1, 1 << 20 },
	{ "outputKiB", L_OUT, 1024, 1, 1 << 20 },
	{ "tmpMiB", L_TMP, 1 << 20, 1, 1 << 20 },
	{ "diskMiB", L_DISK, 1 << 20, 1, 1 << 20 },
};

static long long lim_get(const struct sbx_limits *l, enum lim_field f)
{
	switch (f) {
	case L_WALL: return l->wall_ms;
	case L_CPU: return l->cpu_s;
	case L_MEM: return l->mem_bytes;
	case L_PROCS: return l->nproc;
	case L_FILES: return l->nofile;
	case L_FSIZE: return l->fsize_bytes;
	case L_OUT: return (long long)l->out_bytes;
	case L_TMP: return l->tmp_bytes;
	case L_DISK: return l->disk_bytes;
	}
	return 0;
}

static void lim_set(struct sbx_limits *l, enum lim_field f, long long v)
{
	switch (f) {
	case L_WALL: l->wall_ms = v; break;
	case L_CPU: l->cpu_s = (int)v; break;
	case L_MEM: l->mem_bytes = v; break;
	case L_PROCS: l->nproc = (int)v; break;
	case L_FILES: l->nofile = (int)v; break;
	case L_FSIZE: l->fsize_bytes = v; break;
	case L_OUT: l->out_bytes = (size_t)v; break;
	case L_TMP: l->tmp_bytes = v; break;
	case L_DISK: l->disk_bytes = v; break;
	}
}

json_t *sbx_limits_json(const struct sbx_limits *l)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < sizeof lim_members / sizeof lim_members[0]; i++)
		json_object_set_new(o, lim_members[i].name,
				    json_integer(lim_get(l, lim_members[i].f) / lim_members[i].unit));
	return o;
}

int sbx_limits_parse(struct sbx_limits *l, const json_t *obj, const char *what)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return ln_error_set(LN_ECONFIG, "%s: \"limits\" must be an object", what);
	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; i < sizeof lim_members / sizeof lim_members[0]; i++)
			if (!strcmp(key, lim_members[i].name))
				break;
		if (i == sizeof lim_members / sizeof lim_members[0])
			return ln_error_set(LN_ECONFIG, "%s: unknown member \"limits.%s\"", what, key);
		if (!json_is_integer(v) || json_integer_value(v) < lim_members[i].lo ||
		    json_integer_value(v) > lim_members[i].hi)
			return ln_error_set(LN_ECONFIG, "%s: \"limits.%s\" must be an integer from "
					    "%lld to %lld", what, key, lim_members[i].lo,
					    lim_members[i].hi);
		lim_set(l, lim_members[i].f, (long long)json_integer_value(v) * lim_members[i].unit);
	}
	return 0;
}
