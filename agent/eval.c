/*
 * eval.c - `lanser eval` (one patch, CI verdict) and `lanser group` (a GRPO
 * group of candidates): docs/eval.md.
 *
 * A front end of the evaluation engine (engine/engine.h): it turns the
 * options into engine settings, reads the candidates (patch files, a task,
 * a JSONL of completions), lets the engine score them, and prints the
 * verdict, the bundles, the group's rewards and advantages (rewards/
 * advantage.h) and SARIF.
 */
#include "agent/cli.h"
#include "agent/eval.h"
#include "agent/eval_int.h"

#include "agent/trace.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "engine/engine.h"
#include "engine/extract.h"
#include "engine/testrun.h"
#include "rewards/advantage.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- settings ---- */

static void print_ignored(struct fe *x)
{
	FILE *err = x->c->err;
	json_t *v;
	size_t i;

	if (!json_array_size(x->s.ignored) || !err)
		return;
	fprintf(err, "lanser: note: untrusted configuration, ignored in %s:",
		x->s.config_source ? x->s.config_source : ".lanser.json");
	json_array_foreach(x->s.ignored, i, v)
		fprintf(err, "%s %s", i ? "," : "", json_string_value(v));
	fprintf(err, " (built-in servers are used; see 'lanser doctor')\n");
}

/* .lanser.json of the base revision (of the task's workspace when it names
 * another), the task file, then the options (engine/settings.c). */
int eval_load_settings(struct fe *x)
{
	struct cli *c = x->c;
	struct eng_source src;
	int error;

	memset(&src, 0, sizeof src);
	src.from = ENG_CONFIG_BASE;
	src.root = c->root;
	src.cwd = c->cwd;
	src.task_path = c->task_path;
	src.base = c->base;
	src.tests = c->tests;
	src.test_files = c->test_files;
	src.ntest_files = (size_t)c->ntest_files;
	src.no_isolation = c->no_isolation;
	error = eng_settings_load(&x->s, &src);
	x->have_settings = true;
	print_ignored(x);
	x->emode = RWD_EP_PGRPO;
	return error;
}

int eval_parse_episode_mode(struct fe *x, const char *s)
{
	if (s && rwd_episode_mode_parse(&x->emode, s))
		return ln_error_set(LN_EUSAGE, "--mode must be p-grpo, outcome, process or sum "
				    "(got '%s')", s);
	return 0;
}

/* ---- candidates ---- */

static struct fe_cand *cand_new(struct fe *x, const char *id)
{
	struct fe_cand *cd;

	if (x->n >= ENG_MAX_CANDIDATES)
		return NULL;
	x->v = xrealloc(x->v, (x->n + 1) * sizeof *x->v);
	cd = &x->v[x->n++];
	memset(cd, 0, sizeof *cd);
	cd->id = xstrdup(id);
	return cd;
}

static void cand_set_patch(struct fe_cand *cd, const char *data, size_t len)
{
	cd->patch = xmalloc(len + 1);
	memcpy(cd->patch, data, len);
	cd->patch[len] = '\0';
	cd->len = len;
}

/* A candidate's id from its patch file's name: the base name without
 * .diff/.patch, characters outside [A-Za-z0-9._-] as '_', at most 64
 * bytes; "cN" when nothing is left; "-N" added when another candidate
 * already has it (N its position). */
void eval_id_from_path(const struct fe *x, const char *path, char *out, size_t size)
{
	const char *b = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t n = strlen(b), i, k = 0;

	if (n > 5 && !strcmp(b + n - 5, ".diff"))
		n -= 5;
	else if (n > 6 && !strcmp(b + n - 6, ".patch"))
		n -= 6;
	for (i = 0; i < n && k < 56 && k + 1 < size; i++) {
		char ch = b[i];
		out[k++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' ? ch : '_';
	}
	out[k] = '\0';
	if (!k || !strcmp(out, ".") || !strcmp(out, ".."))
		snprintf(out, size, "c%zu", x->n + 1);
	for (i = 0; i < x->n; i++)
		if (!strcmp(x->v[i].id, out)) {
			size_t len = strlen(out);
			snprintf(out + len, size - len, "-%zu", x->n + 1);
			break;
		}
}

int eval_cand_from_file(struct fe *x, const char *id, const char *path)
{
	struct buf b = BUF_INIT;
	struct fe_cand *cd = cand_new(x, id);
	int error;

	if (!cd)
		return ln_error_set(LN_EUSAGE, "at most %d candidates", ENG_MAX_CANDIDATES);
	error = buf_read_file(&b, path, SBX_PATCH_MAX_BYTES);
	if (error) {
		/* a missing file is the caller's mistake, not a candidate's */
		error = ln_error_set(error == LN_EINPUT ? LN_EINPUT : LN_ENOTFOUND, "patch %s: %s",
				     path, ln_error_msg());
		buf_release(&b);
		return error;
	}
	cand_set_patch(cd, b.data, b.len);
	buf_release(&b);
	return 0;
}

/* One line of --in: a candidate, usable or with a note saying why not. */
static int completion_line(struct fe *x, const char *path, const struct buf *line, long lineno)
{
	json_error_t je;
	json_t *v;
	const char *id, *patch;
	char idbuf[80];
	struct fe_cand *cd;

	snprintf(idbuf, sizeof idbuf, "c%zu", x->n + 1);
	v = json_loadb(line->data, line->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	id = json_string_value(json_object_get(v, "id"));
	if (!id || !*id || strlen(id) > 64 || strpbrk(id, "/\n\t "))
		id = idbuf;
	cd = cand_new(x, id);
	if (!cd) {
		json_decref(v);
		return ln_error_set(LN_EINPUT, "--in %s: more than %d completions", path,
				    ENG_MAX_CANDIDATES);
	}
	patch = json_string_value(json_object_get(v, "patch"));
	if (!v) {
		snprintf(cd->note, sizeof cd->note, "line %ld is not JSON: %s", lineno, je.text);
	} else if (!patch) {
		snprintf(cd->note, sizeof cd->note, "line %ld has no \"patch\" string", lineno);
	} else {
		/* engine/extract.h: a diff, search/replace or file blocks */
		struct eng_extract ex;
		eng_extract_patch(&ex, patch, json_string_length(json_object_get(v, "patch")),
				  x->base ? eng_base_reader_read : NULL, x->base);
		if (ex.patch)
			cand_set_patch(cd, ex.patch, ex.len);
		else
			snprintf(cd->note, sizeof cd->note, "%s", ex.note);
		eng_extract_release(&ex);
	}
	json_decref(v);
	return 0;
}

/* --in completions.jsonl: one completion per line,
 * {"id"?: string, "patch": string (a diff, or text with a ```diff fence)}.
 * A line that is not such an object is a candidate with R_format 0. */
int eval_read_completions(struct fe *x, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	struct buf line = BUF_INIT;
	long lineno = 0;
	int error = 0, ch;

	if (!f)
		return ln_error_set(LN_ENOTFOUND, "--in %s: %s", path, strerror(errno));
	for (;;) {
		bool eof;
		buf_reset(&line);
		while ((ch = fgetc(f)) != EOF && ch != '\n') {
			if (line.len >= EVAL_MAX_LINE) {
				error = ln_error_set(LN_EINPUT, "--in %s:%ld: line longer than %zu "
						     "bytes", path, lineno + 1, EVAL_MAX_LINE);
				goto done;
			}
			buf_addch(&line, ch);
		}
		eof = ch == EOF;
		if (eof && line.len == 0)
			break;
		lineno++;
		if (line.len == 0 || strspn(line.data, " \t\r") == line.len)
			continue;
		if ((error = completion_line(x, path, &line, lineno)))
			goto done;
		if (eof)
			break;
	}
	if (ferror(f))
		error = ln_error_set(LN_EINPUT, "--in %s: read error", path);
done:
	if (f != stdin)
		fclose(f);
	buf_release(&line);
	return error;
}

/* ---- the engine's call ---- */

/* Ctrl-C, TERM: the test trees are killed, the worktrees removed, the
 * command exits 73. */
static volatile sig_atomic_t eval_cancel;

static void on_signal(int sig)
{
	(void)sig;
	eval_cancel = 1;
}

static void trace_hook(void *ctx, const char *type, json_t *fields)
{
	trace_event(ctx, type, fields);
}

static void note_hook(void *ctx, const char *text)
{
	struct cli *c = ctx;
	if (c->err)
		fprintf(c->err, "%s\n", text);
}

/* Progress on a terminal (text output only): one line per phase of a
 * candidate on stderr. The engine calls it from its threads. */
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;

static void progress_hook(void *ctx, const char *candidate, const char *phase)
{
	struct cli *c = ctx;

	pthread_mutex_lock(&progress_lock);
	fprintf(c->err, "lanser: %s: %s\n", ln_printable(candidate), phase);
	fflush(c->err);
	pthread_mutex_unlock(&progress_lock);
}

/* Opens the engine on the base and scores every candidate read. */
int eval_run_engine(struct fe *x, bool patch_error_is_code, eng_result_fn result)
{
	struct cli *c = x->c;
	struct eng_opts o;
	struct eng_candidate *ec;
	struct sigaction sa, old_int, old_term;
	size_t i;
	int error;

	memset(&o, 0, sizeof o);
	o.settings = &x->s;
	o.mode = x->emode;
	o.weights = rwd_weights_default;
	o.index_io = c->index_io;
	o.init_ms = c->cfg.init_ms;
	o.request_ms = c->timeout_ms;
	o.index_ms = c->index_ms;
	o.diagnostics_ms = c->cfg.diagnostics_ms;
	o.jobs = c->jobs;
	o.no_isolation = c->no_isolation;
	o.patch_error_is_code = patch_error_is_code;
	o.cancel = &eval_cancel;
	if (c->trace) {
		o.trace = trace_hook;
		o.trace_ctx = c;
	}
	o.note = note_hook;
	o.note_ctx = c;
	if (!c->json && !c->jsonl && c->err && isatty(fileno(c->err))) {
		o.progress = progress_hook;
		o.progress_ctx = c;
	}
	if (result) {
		o.result = result;
		o.result_ctx = x;
	}
	if ((error = eng_open(&x->eng, &o)))
		return error;
	ec = xcalloc(x->n, sizeof *ec);
	for (i = 0; i < x->n; i++) {
		ec[i].id = x->v[i].id;
		ec[i].patch = x->v[i].patch;
		ec[i].len = x->v[i].len;
		ec[i].format_note = x->v[i].note[0] ? x->v[i].note : NULL;
	}
	x->res = xcalloc(x->n, sizeof *x->res);
	eval_cancel = 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	error = eng_eval_group(x->eng, ec, x->n, x->res);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	x->have_res = error == 0;
	free(ec);
	return error;
}

void eval_fe_init(struct fe *x, struct cli *c)
{
	memset(x, 0, sizeof *x);
	x->c = c;
}

void eval_fe_release(struct fe *x)
{
	size_t i;

	for (i = 0; i < x->n; i++) {
		if (x->have_res)
			eng_result_release(&x->res[i]);
		free(x->v[i].id);
		free(x->v[i].patch);
	}
	free(x->res);
	free(x->v);
	eng_base_reader_free(x->base);
	eng_close(x->eng);
	if (x->have_settings)
		eng_settings_release(&x->s);
}

void eval_print_json_line(struct cli *c, const json_t *v)
{
	/* canonical (RFC 8785): numbers in their shortest round-trip form */
	char *s = jcs_dumps(v);
	if (!s)
		s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	fprintf(c->out, "%s\n", s ? s : "{}");
	free(s);
}

/* A number for people: the JSON's shortest round-trip form, unless that
 * shows binary64 noise (0.46875000000000006): then 12 significant digits. */
void eval_num_str(char *out, size_t n, double v)
{
	if (isnan(v)) {
		snprintf(out, n, "null");
		return;
	}
	jcs_format_number(out, n, v);
	if (strlen(out) > 13 && !strchr(out, 'e'))
		snprintf(out, n, "%.12g", v);
}

const char *eval_record_status(const struct eng_result *r)
{
	return json_string_value(json_object_get(json_object_get(r->record, "outcome"), "status"));
}

/* ---- SARIF 2.1.0 ---- */

static const char *sarif_level(const char *sev)
{
	if (sev && !strcmp(sev, "error"))
		return "error";
	if (sev && !strcmp(sev, "warning"))
		return "warning";
	return "note";
}

/* One SARIF result of an introduced diagnostic fact. */
static json_t *sarif_result(const json_t *f)
{
	const json_t *r = json_object_get(f, "range");
	const char *code = json_string_value(json_object_get(f, "code"));
	const char *src = json_string_value(json_object_get(f, "source"));
	struct buf rule = BUF_INIT;
	json_t *res;

	buf_addf(&rule, "%s%s%s", src ? src : "lsp", code ? "/" : "", code ? code : "");
	res = xjson_pack("{s:s, s:s, s:{s:O?}, s:[{s:{s:{s:O?, s:s}, s:{s:O?, s:O?, s:O?, s:O?}}}]}",
		"ruleId", rule.data,
		"level", sarif_level(json_string_value(json_object_get(f, "severity"))),
		"message", "text", json_object_get(f, "message"),
		"locations", "physicalLocation", "artifactLocation", "uri",
		json_object_get(f, "path"), "uriBaseId", "SRCROOT",
		"region", "startLine", json_array_get(r, 0), "startColumn", json_array_get(r, 1),
		"endLine", json_array_get(r, 2), "endColumn", json_array_get(r, 3));
	buf_release(&rule);
	if (json_is_string(json_object_get(f, "symbol")))
		json_object_set_new(json_array_get(json_object_get(res, "locations"), 0),
				    "logicalLocations", xjson_pack("[{s:O}]", "fullyQualifiedName",
								   json_object_get(f, "symbol")));
	return res;
}

static int write_sarif(struct fe *x, const struct eng_result *r, const char *path)
{
	json_t *results = json_array(), *f, *doc;
	struct buf abs = BUF_INIT;
	char *s = NULL;
	size_t i;
	FILE *out;
	int error = 0;

	json_array_foreach(r->introduced, i, f)
		json_array_append_new(results, sarif_result(f));
	doc = xjson_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:s}}, s:o, s:s, s:{s:s}, s:{s:O?}}]}",
		"$schema", "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0",
		"runs", "tool", "driver", "name", "lanser", "version", LANSER_VERSION,
		"informationUri", "https://lanser.dev", "results", results,
		"columnKind", x->c->index_io == LN_ENC_UTF16 ? "utf16CodeUnits" : "unicodeCodePoints",
		"versionControlProvenance", "revisionId", eng_base_oid(x->eng),
		"properties", "bundleId", json_object_get(r->bundle, "bundleId"));
	s = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(doc);
	if (path[0] == '/')
		buf_adds(&abs, path);
	else
		buf_addf(&abs, "%s/%s", x->c->cwd, path);
	out = fopen(abs.data, "w");
	if (!out || !s || fputs(s, out) < 0 || fputc('\n', out) == EOF)
		error = ln_error_set(LN_EPERM, "--sarif %s: %s", path, strerror(errno));
	if (out && fclose(out) && !error)
		error = ln_error_set(LN_EPERM, "--sarif %s: %s", path, strerror(errno));
	free(s);
	buf_release(&abs);
	return error;
}

/* ---- lanser eval ---- */

static void print_verdict(struct fe *x, const struct eng_result *r)
{
	FILE *o = x->c->out;
	char rw[40], pr[40], d0[40], d1[40];
	const json_t *f;
	size_t i;

	fprintf(o, "eval: %s  (candidate %s at base %.12s)\n", r->accepted ? "ACCEPTED" :
		"REJECTED", ln_printable(r->id), eng_base_oid(x->eng));
	if (r->diagnosed) {
		eval_num_str(d0, sizeof d0, r->dd.d_before);
		eval_num_str(d1, sizeof d1, r->dd.d_after);
		fprintf(o, "  diagnostics: D %s -> %s over %zu relevant file%s (%ld introduced, "
			"%ld fixed, %ld new error%s)\n", d0, d1, json_array_size(r->relevant),
			json_array_size(r->relevant) == 1 ? "" : "s", r->dd.introduced, r->dd.fixed,
			r->new_errors, r->new_errors == 1 ? "" : "s");
	}
	if (r->record) {
		const json_t *oc = json_object_get(r->record, "outcome");
		const json_t *cnt = json_object_get(oc, "counts");
		fprintf(o, "  tests: %s", ln_printable(eval_record_status(r)));
		if (cnt)
			fprintf(o, " (%lld passed, %lld failed, %lld errors)",
				(long long)json_integer_value(json_object_get(cnt, "passed")),
				(long long)json_integer_value(json_object_get(cnt, "failed")),
				(long long)json_integer_value(json_object_get(cnt, "error")));
		fprintf(o, "\n");
		{
			char *tf = eng_record_test_files_note(r->record);
			if (tf)
				fprintf(o, "  %s\n", ln_printable(tf));
			free(tf);
		}
		{
			char *limit = eng_record_limit_note(r->record);
			if (limit)
				fprintf(o, "  %s\n", ln_printable(limit));
			else if (!strcmp(ln_printable(json_string_value(json_object_get(
					json_object_get(oc, "results"), "outcomeFrom"))), "exitStatus"))
				fprintf(o, "  no per-test results: the outcome is the test command's "
					"exit status\n");
			free(limit);
		}
		{
			char *tail = eng_record_failure_tail(r->record, 12);
			if (tail)
				fprintf(o, "  last lines of its output:\n%s", ln_printable_text(tail));
			free(tail);
		}
	}
	eval_num_str(rw, sizeof rw, r->reward);
	eval_num_str(pr, sizeof pr, r->ep.r_process);
	if (r->ep.scorable)
		fprintf(o, "  reward (%s): %s  [R_format %g, R_outcome %g, R_process %s]\n",
			rwd_episode_mode_name(x->emode), rw, r->ep.r_format, r->ep.r_outcome, pr);
	else
		fprintf(o, "  reward: null (unscorable: %s)\n", ln_printable(r->ep.reason));
	json_array_foreach(r->reasons, i, f)
		fprintf(o, "  rejected: %s\n", ln_printable(json_string_value(f)));
	json_array_foreach(r->introduced, i, f) {
		const json_t *rg = json_object_get(f, "range");
		fprintf(o, "  new: %s:%lld:%lld: %s: %s\n",
			ln_printable(json_string_value(json_object_get(f, "path"))),
			(long long)json_integer_value(json_array_get(rg, 0)),
			(long long)json_integer_value(json_array_get(rg, 1)),
			ln_printable(json_string_value(json_object_get(f, "severity"))),
			ln_printable(json_string_value(json_object_get(f, "message"))));
	}
}

/* The one candidate of `eval`: --patch, or the task's patch. */
static int eval_candidate(struct fe *x)
{
	struct cli *c = x->c;
	const struct sbx_task *t = &x->s.task;
	char id[80];

	if (c->npatches == 1) {
		if (t->ncands)
			return ln_error_set(LN_EUSAGE, "--patch and a task with a patch: give one");
		eval_id_from_path(x, c->patches[0], id, sizeof id);
		return eval_cand_from_file(x, id, c->patches[0]);
	}
	if (t->ncands == 1 && t->cands[0].patch_path)
		return eval_cand_from_file(x, t->cands[0].id, t->cands[0].patch_path);
	return ln_error_set(LN_EUSAGE, "eval needs one patch: --patch FILE, or a task file with "
			    "\"patch\"");
}

int cmd_eval(struct cli *c)
{
	struct fe x;
	const struct eng_result *r;
	int error = 0;

	eval_fe_init(&x, c);
	if (c->npatches > 1) {
		error = ln_error_set(LN_EUSAGE, "eval takes one --patch (for several candidates: "
				     "lanser group)");
		goto done;
	}
	if ((error = eval_load_settings(&x)) ||
	    (error = eval_parse_episode_mode(&x, c->episode_mode ? c->episode_mode : c->mode)) ||
	    (error = eval_candidate(&x)) || (error = eval_run_engine(&x, true, NULL)))
		goto done;
	r = &x.res[0];
	if (c->json)
		eval_print_json_line(c, r->bundle);
	else
		print_verdict(&x, r);
	if (c->sarif_path && r->usable && (error = write_sarif(&x, r, c->sarif_path)))
		goto done;
	if (r->code) {
		error = ln_error_set(r->code, "%s", r->usable ? r->ep.reason : r->apply_msg);
	} else if (!r->accepted) {
		json_t *r0 = json_array_get(r->reasons, 0);
		error = ln_error_set(LN_EPOLICY, "the patch is not acceptable: %s%s",
				     json_string_value(r0), json_array_size(r->reasons) > 1 ?
				     " (and more)" : "");
	}
done:
	eval_fe_release(&x);
	return error;
}

