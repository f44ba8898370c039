/*
 * searchcmd.c - `lanser search <regex> [--glob PATTERN] [--max N]`
 * (docs/commands.md): a POSIX extended regular expression (regcomp) over
 * the workspace's files, one fact per matching line: path, the range of
 * the first match on the line (in --index-io columns) and the line.
 *
 * The files are those the rest of lanser sees (core/ignore.h: .gitignore,
 * the configuration's "exclude"; hidden folders, node_modules and
 * __pycache__ skipped, as in snapshots); binary files (a NUL byte) and
 * files over LN_FILE_MAX_BYTES are skipped. A file that is not UTF-8 is
 * read as Latin-1 (docs/bundle.md, "Files that are not UTF-8"): its lines
 * are matched in their UTF-8 form, its columns are bytes, its matching
 * lines are shown in UTF-8 and the bundle's inputs.documents marks it.
 * Everything is bounded: the expression's length and repetition counts
 * (glibc compiles a{1000}{1000} into a very large automaton), back
 * references (exponential to match) refused, a --glob of at most 256
 * bytes and 8 '*' (fnmatch backtracks), at most --max matching
 * lines, each line shown cut to SEARCH_MAX_LINE bytes around the match,
 * a line matched on its first SEARCH_MATCH_LINE bytes, 256 MiB read and
 * SEARCH_MAX_MS spent at most (then the answer says it is incomplete).
 */
#include "agent/cli.h"
#include "agent/cmdctx.h"
#include "agent/selrange.h"
#include "core/buf.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/ignore.h"
#include "core/limits.h"
#include "core/proc.h"
#include "core/snapshot.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <ctype.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_MAX_REGEX 512
#define SEARCH_MAX_BOUND 255     /* {n,m}: n, m at most this */
#define SEARCH_MAX_BOUNDS 2      /* {..} at most this many times */
#define SEARCH_MAX_FILES 20000
#define SEARCH_MAX_LINE 240
#define SEARCH_DEFAULT_MAX 100
#define SEARCH_MAX_GLOB 256
#define SEARCH_MATCH_LINE 4096   /* a longer line is matched on its first bytes */
#define SEARCH_MAX_MS 20000      /* a search stops (incomplete) after this long */
#define SEARCH_MAX_STARS 8
#define SEARCH_MAX_TOTAL ((size_t)256 << 20)   /* bytes read per search */

/* What regcomp must never see: overlong, huge repetition counts, back
 * references. */
static int check_regex(const char *re)
{
	size_t len = strlen(re), i;
	int bounds = 0;

	if (!len)
		return ln_error_set(LN_EUSAGE, "the regular expression is empty");
	if (len > SEARCH_MAX_REGEX)
		return ln_error_set(LN_EUSAGE, "the regular expression is longer than %d bytes",
				    SEARCH_MAX_REGEX);
	for (i = 0; i < len; i++) {
		if (re[i] == '\\' && i + 1 < len && isdigit((unsigned char)re[i + 1]))
			return ln_error_set(LN_EUSAGE, "back references (\\%c) are not searched for "
					    "(they make matching exponential)", re[i + 1]);
		if (re[i] == '\\') {
			i++;
			continue;
		}
		if (re[i] == '{') {
			long n = 0;
			size_t k = i + 1;
			if (++bounds > SEARCH_MAX_BOUNDS)
				return ln_error_set(LN_EUSAGE, "at most %d {n,m} repetitions in one "
						    "expression", SEARCH_MAX_BOUNDS);
			for (; k < len && re[k] != '}'; k++) {
				if (isdigit((unsigned char)re[k])) {
					n = n * 10 + (re[k] - '0');
					if (n > SEARCH_MAX_BOUND)
						return ln_error_set(LN_EUSAGE, "a repetition count is "
								    "larger than %d", SEARCH_MAX_BOUND);
				} else {
					n = 0;
				}
			}
		}
	}
	return 0;
}

/* fnmatch backtracks on every '*': a pattern with many of them against a
 * long path takes polynomial time of a high degree. */
static int check_glob(const char *glob)
{
	size_t stars = 0;
	const char *p;

	if (strlen(glob) > SEARCH_MAX_GLOB)
		return ln_error_set(LN_EUSAGE, "--glob is longer than %d bytes", SEARCH_MAX_GLOB);
	for (p = glob; *p; p++)
		stars += *p == '*';
	if (stars > SEARCH_MAX_STARS)
		return ln_error_set(LN_EUSAGE, "--glob has more than %d '*'", SEARCH_MAX_STARS);
	return 0;
}

struct search {
	struct cmdctx *x;
	regex_t re;
	const char *glob;
	bool glob_has_slash;
	int max, found;
	long files, skipped;
	size_t total;            /* bytes read so far */
	long long deadline;
	bool late;               /* stopped at the deadline */
};

static bool keep_file(const char *rel, void *ctx)
{
	struct search *s = ctx;
	const char *base;

	if (!s->glob)
		return true;
	if (s->glob_has_slash)
		return fnmatch(s->glob, rel, 0) == 0;
	base = strrchr(rel, '/');
	return fnmatch(s->glob, base ? base + 1 : rel, 0) == 0;
}

/* The byte offset in Latin-1 bytes p[0..n) of offset u8 of their UTF-8
 * form (a byte above 0x7F is two there); an offset inside a character
 * goes to its start, or with `up` to its end. */
static size_t latin1_offset(const char *p, size_t n, size_t u8, bool up)
{
	size_t k, u = 0;

	for (k = 0; k < n && u < u8; k++) {
		size_t w = (unsigned char)p[k] < 0x80 ? 1 : 2;
		if (u + w > u8 && !up)
			break;
		u += w;
	}
	return k;
}

/* The line around the match, at most SEARCH_MAX_LINE bytes, whole
 * characters; a Latin-1 line in UTF-8. */
static json_t *shown_line(const char *line, size_t len, size_t ms, bool latin1)
{
	size_t a = 0, b = len;
	struct buf out = BUF_INIT;
	json_t *j;

	if (len > SEARCH_MAX_LINE) {
		a = ms > SEARCH_MAX_LINE / 4 ? ms - SEARCH_MAX_LINE / 4 : 0;
		b = a + SEARCH_MAX_LINE < len ? a + SEARCH_MAX_LINE : len;
		while (!latin1 && a > 0 && ((unsigned char)line[a] & 0xC0) == 0x80)
			a--;
		while (!latin1 && b < len && ((unsigned char)line[b] & 0xC0) == 0x80)
			b--;
	}
	if (a)
		buf_adds(&out, "...");
	if (latin1)
		ln_latin1_to_utf8(&out, line + a, b - a);
	else
		buf_add(&out, line + a, b - a);
	if (b < len)
		buf_adds(&out, "...");
	j = json_string(out.data);
	buf_release(&out);
	return j ? j : json_string("");
}

static int search_file(struct search *s, const char *rel)
{
	struct cli *c = s->x->c;
	struct buf path = BUF_INIT, raw = BUF_INIT;
	struct buf u8 = BUF_INIT;
	struct ln_text t;
	int line, error, found = s->found;

	memset(&t, 0, sizeof t);
	buf_addf(&path, "%s/%s", c->root, rel);
	error = buf_read_file(&raw, path.data, LN_FILE_MAX_BYTES);
	buf_release(&path);
	s->total += raw.len;
	if (error || ln_text_init_file(&t, raw.data, raw.len)) {
		/* binary, too large, gone: not searched */
		ln_error_clear();
		buf_release(&raw);
		s->skipped++;
		return 0;
	}
	s->files++;
	for (line = 0; line < t.nlines && s->found < s->max; line++) {
		size_t ls = t.line_starts[line], le = selrange_line_end(&t, line);
		/* regexec restarts at every position: a long line is matched on
		 * its first bytes only (whole characters), so one line costs a
		 * bounded time; the deadline bounds them all */
		size_t ml = le - ls > SEARCH_MATCH_LINE ? SEARCH_MATCH_LINE : le - ls;
		char *one;
		while (!t.latin1 && ml < le - ls && ((unsigned char)t.data[ls + ml] & 0xC0) == 0x80)
			ml--;
		if ((line & 63) == 0 && ln_now_ms() > s->deadline) {
			s->late = true;
			break;
		}
		if (t.latin1) {
			/* matched in its UTF-8 form: what the user sees and types */
			buf_reset(&u8);
			ln_latin1_to_utf8(&u8, t.data + ls, ml);
			one = xstrndup(u8.data, u8.len);
		} else {
			one = xstrndup(t.data + ls, ml);
		}
		regmatch_t m[1];
		long sl, sc, el, ec;
		if (regexec(&s->re, one, 1, m, 0) == 0 && m[0].rm_so >= 0) {
			size_t ms = (size_t)m[0].rm_so, me = (size_t)m[0].rm_eo;
			if (t.latin1) {
				ms = latin1_offset(t.data + ls, ml, ms, false);
				me = latin1_offset(t.data + ls, ml, me, true);
			}
			if (sel_offset_to_pos(&t, ls + ms, c->index_io, &sl, &sc) == 0 &&
			    sel_offset_to_pos(&t, ls + me, c->index_io, &el, &ec) == 0) {
				json_array_append_new(s->x->facts, xjson_pack(
					"{s:s, s:s, s:o, s:o, s:s}", "kind", "match", "path", rel,
					"range", ln_range_new(sl, sc, el, ec),
					"text", shown_line(t.data + ls, le - ls, ms, t.latin1),
					"provenance", "lanser"));
				s->found++;
			}
			ln_error_clear();
		}
		free(one);
	}
	/* inputs.documents marks a Latin-1 file with a match: its columns are
	 * bytes (docs/bundle.md) */
	if (t.latin1 && s->found > found)
		cmdctx_note_bytes(s->x, rel, raw.data, raw.len);
	buf_release(&raw);
	buf_release(&u8);
	ln_text_release(&t);
	return 0;
}

static void print_search(struct cmdctx *x)
{
	json_t *f, *r;
	size_t i;

	json_array_foreach(x->facts, i, f) {
		r = json_object_get(f, "range");
		fprintf(x->c->out, "%s:%lld:%lld: %s\n",
			ln_printable(json_string_value(json_object_get(f, "path"))),
			(long long)json_integer_value(json_array_get(r, 0)),
			(long long)json_integer_value(json_array_get(r, 1)),
			ln_printable_text(json_string_value(json_object_get(f, "text"))));
	}
	json_array_foreach(json_object_get(x->bundle, "incomplete"), i, r)
		fprintf(x->c->err, "lanser: %s\n", json_string_value(r));
}

int cmd_search(struct cli *c)
{
	struct cmdctx x;
	struct search s;
	struct ln_ignore *ig = NULL;
	json_t *files = NULL, *f, *opts;
	bool compiled = false;
	size_t i;
	int error, rc;

	memset(&s, 0, sizeof s);
	if (c->argc != 1) {
		fprintf(c->err, "usage: lanser search <regex> [--glob PATTERN] [--max N]\n");
		return ln_error_set(LN_EUSAGE, "search takes one regular expression");
	}
	cmdctx_begin(&x, c, "search", 0);
	s.x = &x;
	s.max = c->max_matches > 0 ? c->max_matches : SEARCH_DEFAULT_MAX;
	s.glob = c->glob;
	s.glob_has_slash = c->glob && strchr(c->glob, '/');
	error = cmdctx_pack(&opts, LN_EUSAGE, "the search", "{s:s, s:i}", "regex", c->argv[0],
			    "max", s.max);
	if (error)
		goto done;
	if (c->glob)
		json_object_set_new(opts, "glob", json_string(c->glob));
	json_object_set_new(cmdctx_request(&x), "target", opts);
	if ((error = check_regex(c->argv[0])))
		goto done;
	if (c->glob && (error = check_glob(c->glob)))
		goto done;
	if ((rc = regcomp(&s.re, c->argv[0], REG_EXTENDED | REG_NEWLINE)) != 0) {
		char msg[256];
		regerror(rc, &s.re, msg, sizeof msg);
		error = ln_error_set(LN_EUSAGE, "bad regular expression: %s", msg);
		goto done;
	}
	compiled = true;
	ig = ln_ignore_new(c->root, json_object_get(c->cfg.json, "exclude"));
	error = ln_tree_files(&files, c->root, keep_file, &s, ln_ignore_skip, ig, SEARCH_MAX_FILES);
	if (error) {
		error = ln_error_set(error, "%s (narrow the search with --glob)", ln_error_msg());
		goto done;
	}
	s.deadline = ln_now_ms() + SEARCH_MAX_MS;
	json_array_foreach(files, i, f) {
		if (s.found >= s.max || s.total >= SEARCH_MAX_TOTAL || s.late)
			break;
		search_file(&s, json_string_value(f));
	}
	if (s.late) {
		char why[256];
		snprintf(why, sizeof why, "stopped after %d s (in file %zu of %zu): narrow it with "
			 "--glob or a simpler expression", SEARCH_MAX_MS / 1000, i,
			 json_array_size(files));
		json_object_set_new(x.bundle, "complete", json_false());
		json_object_set_new(x.bundle, "incomplete", xjson_pack("[s]", why));
	} else if (s.total >= SEARCH_MAX_TOTAL && i < json_array_size(files)) {
		char why[256];
		snprintf(why, sizeof why, "stopped after reading %zu MiB (%zu of %zu files): narrow "
			 "it with --glob", SEARCH_MAX_TOTAL >> 20, i, json_array_size(files));
		json_object_set_new(x.bundle, "complete", json_false());
		json_object_set_new(x.bundle, "incomplete", xjson_pack("[s]", why));
	} else if (s.found >= s.max) {
		char why[256];
		snprintf(why, sizeof why, "stopped at --max %d matching lines (there may be more): narrow it with "
			 "--glob or a more specific expression, or raise --max (at most 10000)", s.max);
		json_object_set_new(x.bundle, "complete", json_false());
		json_object_set_new(x.bundle, "incomplete", xjson_pack("[s]", why));
	}
	json_object_set_new(cmdctx_volatile(&x), "search", xjson_pack("{s:I, s:I}",
		"filesSearched", (json_int_t)s.files, "filesSkipped", (json_int_t)s.skipped));
done:
	if (compiled)
		regfree(&s.re);
	ln_ignore_free(ig);
	json_decref(files);
	return cmdctx_end(&x, error, print_search);
}
