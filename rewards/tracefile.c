#include "rewards/tracefile.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/jcs.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct rwd_trace {
	int fd;
	char run[17];
	long long seq;
	int error;
	char errmsg[256];
};

/* One whole line per write(), under an exclusive lock: with O_APPEND the
 * line lands at the end in one piece even with other writers. A short
 * write (disk full) is retried for the rest while still holding the lock. */
static int write_line(struct rwd_trace *t, const char *data, size_t len)
{
	int error = 0;

	while (flock(t->fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return ln_error_set(LN_EPERM, "trace: cannot lock: %s", strerror(errno));
	if (ln_write_all(t->fd, data, len) < 0)
		error = ln_error_set(LN_EPERM, "trace: write failed: %s", strerror(errno));
	flock(t->fd, LOCK_UN);
	return error;
}

int rwd_trace_event(struct rwd_trace *t, const char *type, json_t *fields)
{
	struct buf line = BUF_INIT;
	int error;

	if (!fields)
		fields = json_object();
	if (t->error) {
		json_decref(fields);
		return ln_error_set(t->error, "%s", t->errmsg);
	}
	json_object_set_new(fields, "type", json_string(type));
	json_object_set_new(fields, "run", json_string(t->run));
	json_object_set_new(fields, "seq", json_integer(t->seq));
	error = jcs_serialize(&line, fields);
	json_decref(fields);
	if (!error) {
		buf_addch(&line, '\n');
		error = write_line(t, line.data, line.len);
	}
	if (error) {
		t->error = error;
		snprintf(t->errmsg, sizeof t->errmsg, "%s", ln_error_msg());
	} else {
		t->seq++;
	}
	buf_release(&line);
	return error;
}

int rwd_trace_open(struct rwd_trace **out, const char *path, json_t *header)
{
	struct rwd_trace *t = xcalloc(1, sizeof *t);
	unsigned char rnd[8];
	int error;
	size_t i;

	*out = NULL;
	t->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (t->fd < 0) {
		error = ln_error_set(LN_EPERM, "trace: cannot open %s: %s", path, strerror(errno));
		free(t);
		json_decref(header);
		return error;
	}
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		/* no entropy: pid and time keep concurrent runs apart */
		unsigned long long x = (unsigned long long)getpid() * 0x9E3779B97F4A7C15ULL ^
				       (unsigned long long)time(NULL);
		memcpy(rnd, &x, sizeof rnd);
	}
	for (i = 0; i < sizeof rnd; i++)
		snprintf(t->run + 2 * i, 3, "%02x", rnd[i]);
	if (!header)
		header = json_object();
	json_object_set_new(header, "schema", json_string(RWD_TRACE_SCHEMA));
	error = rwd_trace_event(t, "header", header);
	if (error) {
		rwd_trace_close(t);
		return error;
	}
	*out = t;
	return 0;
}

int rwd_trace_close(struct rwd_trace *t)
{
	int error;

	if (!t)
		return 0;
	error = t->error;
	if (close(t->fd) < 0 && !error)
		error = ln_error_set(LN_EPERM, "trace: close failed: %s", strerror(errno));
	else if (error)
		ln_error_set(error, "%s", t->errmsg);
	free(t);
	return error;
}

/* ---- reading ---- */

void rwd_trace_file_release(struct rwd_trace_file *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		json_decref(f->v[i].ev);
	free(f->v);
	free(f->path);
	memset(f, 0, sizeof *f);
}

struct run_state {
	const char *run;
	long long next;
};

/* Field checks per event type: "s" string, "o" object, "a" array, "i"
 * integer; a leading '?' makes it optional. Unknown types pass with the
 * envelope only (later issues add kinds). */
static const struct {
	const char *type;
	const char *fields[8];
} shapes[] = {
	{ "header", { "s:schema", NULL } },
	{ "request", { "s:command", "a:args", "s:root", "s:cwd", "o:config", "s:configDigest",
		       "o:options", NULL } },
	{ "server", { "s:server", "o:snapshot", NULL } },
	{ "frame", { "s:server", "s:dir", "s:body", NULL } },
	{ "pump", { "s:server", "i:n", NULL } },
	{ "deadline", { "s:server", NULL } },
	{ "document", { "s:path", NULL } },
	{ "probe", { "s:name", "s:key", NULL } },
	{ "bundle", { "o:bundle", "s:bundleId", NULL } },
	{ "reward", { "s:kind", "o:terms", NULL } },
	{ "advantages", { "s:mode", "s:preset", "o:result", NULL } },
	{ "end", { "i:exitCode", NULL } },
};

static int check_shape(const char *name, long line, json_t *ev, const char *type)
{
	size_t i, j;

	for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		if (strcmp(shapes[i].type, type))
			continue;
		for (j = 0; shapes[i].fields[j]; j++) {
			const char *f = shapes[i].fields[j];
			json_t *v = json_object_get(ev, f + 2);
			bool ok = (f[0] == 's' && json_is_string(v)) || (f[0] == 'o' && json_is_object(v)) ||
				  (f[0] == 'a' && json_is_array(v)) || (f[0] == 'i' && json_is_integer(v));
			if (!ok)
				return ln_error_set(LN_ETRACE, "%s:%ld: %s event without a valid \"%s\"",
						    name, line, type, f + 2);
		}
		if (!strcmp(type, "frame")) {
			const char *d = json_string_value(json_object_get(ev, "dir"));
			if (strcmp(d, "<") && strcmp(d, ">"))
				return ln_error_set(LN_ETRACE, "%s:%ld: frame dir must be \"<\" or \">\"",
						    name, line);
		}
		return 0;
	}
	return 0;
}

static int parse_line(struct rwd_trace_file *out, struct run_state **runs, size_t *nruns,
		      const char *name, long line, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *ev, *type, *run, *seq;
	struct run_state *rs = NULL;
	char runid[80];
	size_t i;

	if (len > RWD_TRACE_MAX_LINE)
		return ln_error_set(LN_ETRACE, "%s:%ld: line longer than %zu bytes", name, line,
				    RWD_TRACE_MAX_LINE);
	if (out->n >= (size_t)RWD_TRACE_MAX_EVENTS)
		return ln_error_set(LN_ETRACE, "%s:%ld: more than %ld events", name, line,
				    RWD_TRACE_MAX_EVENTS);
	ev = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!ev)
		return ln_error_set(LN_ETRACE, "%s:%ld: not JSON: %s (column %d)", name, line,
				    jerr.text, jerr.column);
	type = json_object_get(ev, "type");
	run = json_object_get(ev, "run");
	seq = json_object_get(ev, "seq");
	if (!json_is_object(ev) || !json_is_string(type) || !json_is_string(run) ||
	    json_string_length(run) == 0 || json_string_length(run) > 64 || !json_is_integer(seq) ||
	    json_integer_value(seq) < 0) {
		json_decref(ev);
		return ln_error_set(LN_ETRACE, "%s:%ld: not a trace event (needs \"type\", \"run\" "
				    "and \"seq\")", name, line);
	}
	/* messages below name the run after ev is gone */
	snprintf(runid, sizeof runid, "%s", json_string_value(run));
	for (i = 0; i < *nruns; i++)
		if (!strcmp((*runs)[i].run, json_string_value(run)))
			rs = &(*runs)[i];
	if (!strcmp(json_string_value(type), "header")) {
		const char *schema = json_string_value(json_object_get(ev, "schema"));
		if (rs || json_integer_value(seq) != 0) {
			json_decref(ev);
			return ln_error_set(LN_ETRACE, "%s:%ld: a second header for run %s, or a header "
					    "with seq != 0", name, line, runid);
		}
		if (schema && strcmp(schema, RWD_TRACE_SCHEMA) && strcmp(schema, RWD_TRACE_SCHEMA_V1)) {
			int e = ln_error_set(LN_EVERSION, "%s:%ld: trace schema %s; this lanser reads "
					     "%s and %s", name, line, schema, RWD_TRACE_SCHEMA_V1, RWD_TRACE_SCHEMA);
			json_decref(ev);
			return e;
		}
		*runs = xrealloc(*runs, (*nruns + 1) * sizeof **runs);
		rs = &(*runs)[(*nruns)++];
		rs->run = json_string_value(run);
		rs->next = 0;
	} else if (!rs) {
		json_decref(ev);
		return ln_error_set(LN_ETRACE, "%s:%ld: event of run %s before its header (reordered "
				    "or cut)", name, line, runid);
	}
	if (json_integer_value(seq) != rs->next) {
		int e = ln_error_set(LN_ETRACE, "%s:%ld: run %s: event seq %lld where %lld comes "
				     "next (lines reordered, missing or duplicated)", name, line,
				     json_string_value(run), (long long)json_integer_value(seq),
				     rs->next);
		json_decref(ev);
		return e;
	}
	if (check_shape(name, line, ev, json_string_value(type))) {
		json_decref(ev);
		return LN_ETRACE;
	}
	rs->next++;
	if (out->n % 1024 == 0)
		out->v = xrealloc(out->v, (out->n + 1024) * sizeof *out->v);
	out->v[out->n].ev = ev;
	out->v[out->n].line = line;
	out->v[out->n].type = json_string_value(type);
	out->v[out->n].run = json_string_value(run);
	out->v[out->n].seq = json_integer_value(seq);
	out->n++;
	/* run names point into the events, which live as long as the file */
	rs->run = json_string_value(run);
	return 0;
}

int rwd_trace_parse(struct rwd_trace_file *out, const char *name, const char *data, size_t len)
{
	struct run_state *runs = NULL;
	size_t nruns = 0, pos = 0;
	long line = 0;
	int error = 0;

	memset(out, 0, sizeof *out);
	out->path = xstrdup(name);
	while (pos < len && !error) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		line++;
		if (!nl) {
			error = ln_error_set(LN_ETRACE, "%s:%ld: truncated: the last line has no "
					     "newline", name, line);
			break;
		}
		error = parse_line(out, &runs, &nruns, name, line, data + pos, (size_t)(nl - data - pos));
		pos = (size_t)(nl - data) + 1;
	}
	if (!error && out->n == 0)
		error = ln_error_set(LN_ETRACE, "%s: empty trace (no header)", name);
	free(runs);
	if (error) {
		char *keep = xstrdup(ln_error_msg());
		rwd_trace_file_release(out);
		ln_error_set(error, "%s", keep ? keep : "bad trace");
		free(keep);
	}
	return error;
}

int rwd_trace_read(struct rwd_trace_file *out, const char *path)
{
	struct buf data = BUF_INIT;
	int error;

	memset(out, 0, sizeof *out);
	if (!strcmp(path, "-")) {
		char chunk[65536];
		size_t n;
		while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
			if (data.len + n > (size_t)1 << 30) {
				buf_release(&data);
				return ln_error_set(LN_ETRACE, "-: trace larger than 1 GiB");
			}
			buf_add(&data, chunk, n);
		}
		error = 0;
	} else {
		error = buf_read_file(&data, path, (size_t)1 << 30);
		if (error == LN_EINPUT)
			error = ln_error_set(LN_ETRACE, "%s: %s", path, ln_error_msg());
	}
	if (!error)
		error = rwd_trace_parse(out, path, data.data, data.len);
	buf_release(&data);
	return error;
}
