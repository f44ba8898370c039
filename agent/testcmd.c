/*
 * testcmd.c - `lanser test`: runs the build and the tests of the workspace,
 * or of candidate patches in their own worktrees, in the sandbox, and
 * prints a summary or the outcome records (docs/sandbox.md).
 */
#include "agent/cli.h"

#include "core/buf.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/hash.h"
#include "sandbox/isolate.h"
#include "sandbox/outcome.h"
#include "core/path.h"
#include "core/proc.h"
#include "sandbox/run.h"
#include "sandbox/task.h"
#include "sandbox/txn.h"
#include "sandbox/worktree.h"
#include "agent/testcmd.h"
#include "core/xalloc.h"
#include "core/limits.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The environment of every sandboxed command (an allow-list: nothing of
 * lanser's own environment leaks in; the task's "env" adds to it). */
static const char *const base_env[][2] = {
	{ "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
	{ "HOME", "/tmp" },
	{ "TMPDIR", "/tmp" },
	{ "LANG", "C.UTF-8" },
	{ "LC_ALL", "C.UTF-8" },
	{ "TERM", "dumb" },
	{ "PYTHONDONTWRITEBYTECODE", "1" },
	{ "PYTHONHASHSEED", "0" },
};

struct tctx {
	FILE *err;                   /* notes */
	enum ln_enc index_io;
	struct sbx_task *t;
	const char *root;            /* the workspace (canonical) */
	bool candidates;             /* worktrees from a base, else in place */
	char base_oid[41];
	char **env;                  /* NULL-terminated "K=V" */
	json_t *env_json;            /* the same, sorted */
	struct sbx_wtset *wts;
	char config_digest[72];      /* of the workspace's .lanser.json */
	pthread_mutex_t git_lock, q_lock;
	size_t next;
	json_t **records;
	int *codes;
	volatile sig_atomic_t *cancel;   /* never NULL while running */
};

static volatile sig_atomic_t *cancel_flag;

static void on_signal(int sig)
{
	(void)sig;
	if (cancel_flag)
		*cancel_flag = 1;
}

static void build_env(struct tctx *x)
{
	json_t *all = json_object(), *v;
	const char *k;
	size_t i, n = 0;

	for (i = 0; i < sizeof base_env / sizeof base_env[0]; i++)
		json_object_set_new(all, base_env[i][0], json_string(base_env[i][1]));
	json_object_foreach(x->t->env, k, v)
		json_object_set(all, k, v);
	x->env = xcalloc(json_object_size(all) + 1, sizeof *x->env);
	x->env_json = json_array();
	json_object_foreach(all, k, v) {
		struct buf b = BUF_INIT;
		buf_addf(&b, "%s=%s", k, json_string_value(v));
		json_array_append_new(x->env_json, json_string(b.data));
		x->env[n++] = buf_detach(&b, NULL);
	}
	json_decref(all);
	/* sorted for the digest */
	{
		size_t a, bb;
		for (a = 1; a < json_array_size(x->env_json); a++)
			for (bb = a; bb > 0 && strcmp(json_string_value(json_array_get(x->env_json, bb - 1)),
						     json_string_value(json_array_get(x->env_json, bb))) > 0; bb--) {
				json_t *t1 = json_incref(json_array_get(x->env_json, bb - 1));
				json_array_set(x->env_json, bb - 1, json_array_get(x->env_json, bb));
				json_array_set_new(x->env_json, bb, t1);
			}
	}
}

static const char *sig_name(int sig)
{
	static const struct { int sig; const char *name; } names[] = {
		{ SIGKILL, "SIGKILL" }, { SIGTERM, "SIGTERM" }, { SIGSEGV, "SIGSEGV" },
		{ SIGABRT, "SIGABRT" }, { SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" },
		{ SIGBUS, "SIGBUS" }, { SIGILL, "SIGILL" }, { SIGFPE, "SIGFPE" },
		{ SIGPIPE, "SIGPIPE" }, { SIGINT, "SIGINT" }, { SIGHUP, "SIGHUP" },
	};
	size_t i;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].sig == sig)
			return names[i].name;
	return "SIG?";
}

static json_t *run_json(const struct sbx_result *r)
{
	return json_pack("{s:o, s:o, s:b, s:b, s:b, s:o}",
			 "exitCode", r->exited ? json_integer(r->exitcode) : json_null(),
			 "signal", r->exited ? json_null() : json_string(sig_name(r->signal)),
			 "timedOut", r->timed_out, "truncated", r->truncated,
			 "cancelled", r->cancelled, "limitsHit", sbx_hits_json(r->hits));
}

/* The last `max` bytes of captured output, as valid-enough text. */
static json_t *tail_json(const struct buf *b, size_t max)
{
	size_t off = b->len > max ? b->len - max : 0;
	/* do not start inside a UTF-8 sequence */
	while (off < b->len && ((unsigned char)b->data[off] & 0xC0) == 0x80)
		off++;
	return json_stringn_nocheck(b->data + off, b->len - off);
}

/* Runs one sandboxed step; fills *r. 0 or the runner's error. */
static int step(struct tctx *x, const char *dir, char **argv, struct sbx_result *r)
{
	struct sbx_opts o;

	memset(&o, 0, sizeof o);
	o.argv = (const char *const *)argv;
	o.cwd = dir;
	o.env = (const char *const *)x->env;
	o.writable = dir;
	o.limits = x->t->limits;
	o.iso = x->t->iso;
	o.cancel = x->cancel;
	return sbx_run(r, &o);
}

static void count_tests(const struct sbx_tests *t, json_t *counts, size_t *failed)
{
	size_t i, n[4] = { 0, 0, 0, 0 };

	for (i = 0; i < t->n; i++)
		n[t->v[i].status]++;
	json_object_set_new(counts, "passed", json_integer((json_int_t)n[SBX_T_PASS]));
	json_object_set_new(counts, "failed", json_integer((json_int_t)n[SBX_T_FAIL]));
	json_object_set_new(counts, "error", json_integer((json_int_t)n[SBX_T_ERROR]));
	json_object_set_new(counts, "skipped", json_integer((json_int_t)n[SBX_T_SKIP]));
	*failed = n[SBX_T_FAIL] + n[SBX_T_ERROR];
}

/* Parses the results of a test run. 0, or LN_EINPUT with *perr set. */
static int parse_results(struct tctx *x, const char *dir, const struct sbx_result *r,
			 struct sbx_tests *tests, enum sbx_format *fmt, struct buf *msg)
{
	struct sbx_parse_error pe;
	struct buf data = BUF_INIT;
	int error = 0;

	*fmt = x->t->format;
	if (*fmt == SBX_FMT_AUTO)
		*fmt = x->t->junit_path ? SBX_FMT_JUNIT : sbx_format_detect(r->out.data, r->out.len);
	switch (*fmt) {
	case SBX_FMT_NONE:
	case SBX_FMT_AUTO:
		return 0;
	case SBX_FMT_TAP:
		error = sbx_parse_tap(tests, r->out.data, r->out.len, &pe);
		if (error)
			buf_addf(msg, "test output (TAP): %s", ln_error_msg());
		break;
	case SBX_FMT_PYTEST:
		error = sbx_parse_pytest(tests, r->out.data, r->out.len, &pe);
		if (error)
			buf_addf(msg, "test output (pytest): %s", ln_error_msg());
		break;
	case SBX_FMT_JUNIT: {
		char *abs = NULL;
		if (!x->t->junit_path) {
			error = ln_error_set(LN_EINPUT, "results.format is junit but results.junit "
					     "names no file");
			buf_addf(msg, "%s", ln_error_msg());
			break;
		}
		error = ln_path_resolve_in_root(NULL, &abs, dir, dir, x->t->junit_path);
		if (!error)
			error = buf_read_file(&data, abs, LN_FILE_MAX_BYTES);
		free(abs);
		if (error) {
			buf_addf(msg, "JUnit results %s: %s", x->t->junit_path, ln_error_msg());
			error = ln_error_set(LN_EINPUT, "%s", msg->data);
			break;
		}
		error = sbx_parse_junit(tests, data.data, data.len, &pe);
		if (error)
			buf_addf(msg, "%s:%s", x->t->junit_path, ln_error_msg());
		break;
	}
	}
	buf_release(&data);
	return error ? LN_EINPUT : 0;
}

static size_t listed_passed(json_t *outc)
{
	return json_array_size(json_object_get(json_object_get(outc, "FAIL_TO_PASS"), "passed")) +
	       json_array_size(json_object_get(json_object_get(outc, "PASS_TO_PASS"), "passed"));
}

static char *read_patch(const char *path, size_t *len, int *error)
{
	struct buf b = BUF_INIT;

	*error = buf_read_file(&b, path, SBX_PATCH_MAX_BYTES);
	if (*error) {
		*error = ln_error_set(*error, "patch %s: %s", path, ln_error_msg());
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, len);
}

/*
 * Evaluates one candidate (or the workspace in place) in `dir`; *out gets
 * the outcome record. Returns the record's code.
 */
static int evaluate(struct tctx *x, size_t wt, const struct sbx_candidate *cand, bool reset,
		    json_t **out)
{
	const char *dir = x->candidates ? sbx_wt_path(x->wts, wt) : x->root;
	json_t *rec = ln_bundle_new("test"), *req = json_object_get(rec, "request");
	json_t *outc = json_object(), *vol = json_object_get(json_object_get(rec, "meta"),
							   "volatile");
	json_t *durations = json_object(), *output = json_object(), *sbx_env;
	struct sbx_result br, tr;
	struct sbx_tests tests;
	struct buf msg = BUF_INIT;
	char *patch = NULL, digest[72];
	size_t patch_len = 0, failed = 0;
	const char *status = "passed";
	bool isolated = true, ran_any = false;
	char iso_note[256] = "";
	int error = 0;

	sbx_result_init(&br);
	sbx_result_init(&tr);
	sbx_tests_init(&tests);

	/* the request: what was asked, without absolute paths */
	json_object_set_new(req, "indexIo", json_string(ln_enc_name(x->index_io)));
	json_object_set_new(json_object_get(rec, "environment"), "indexIo",
			    json_string(ln_enc_name(x->index_io)));
	json_object_set_new(json_object_get(rec, "environment"), "configDigest",
			    json_string(x->config_digest));
	json_object_set_new(req, "candidate", cand && cand->id ? json_string(cand->id) : json_null());
	json_object_set_new(req, "task", x->t->task_id ? json_string(x->t->task_id) : json_null());
	json_object_set_new(req, "base", x->candidates ? json_string(x->base_oid) : json_null());
	json_object_set_new(req, "build", x->t->build_argv ? sbx_argv_json(x->t->build_argv)
							      : json_null());
	json_object_set_new(req, "test", sbx_argv_json(x->t->test_argv));
	json_object_set_new(req, "results", json_string(sbx_format_name(x->t->format)));
	/* copies: records are built in several threads at once */
	json_object_set_new(req, "FAIL_TO_PASS", json_deep_copy(x->t->f2p));
	json_object_set_new(req, "PASS_TO_PASS", json_deep_copy(x->t->p2p));
	json_object_set_new(req, "limits", sbx_limits_json(&x->t->limits));
	json_object_set_new(req, "isolation", json_string(x->t->iso == SBX_ISO_NONE ? "none" :
							   x->t->iso == SBX_ISO_REQUIRED ? "required"
											 : "auto"));
	json_object_set_new(req, "patch", json_null());
	json_object_set_new(outc, "patch", json_null());
	json_object_set_new(outc, "build", json_null());
	json_object_set_new(outc, "test", json_null());
	if (x->candidates)
		json_object_set_new(vol, "worktree", json_string(dir));

	if (cand && cand->patch_path) {
		patch = read_patch(cand->patch_path, &patch_len, &error);
		if (patch) {
			char hex[LN_SHA256_HEX_SIZE];
			ln_sha256_hex(patch, patch_len, hex);
			snprintf(digest, sizeof digest, "sha256:%s", hex);
			json_object_set_new(req, "patch", json_pack("{s:s, s:I}", "sha256", digest,
								    "bytes", (json_int_t)patch_len));
		}
	}
	/* back to the base, then the patch, through the transactional path */
	if (x->candidates) {
		long long t0 = ln_now_ms();
		json_t *report = NULL;
		pthread_mutex_lock(&x->git_lock);
		if (!error && reset)
			error = sbx_wt_reset(x->wts, wt);
		if (!error && patch) {
			struct sbx_apply_opts ao = { false, false, NULL };
			error = sbx_patch_apply(dir, patch, patch_len, &ao, &report);
		}
		pthread_mutex_unlock(&x->git_lock);
		json_object_set_new(durations, "applyMs", json_integer(ln_now_ms() - t0));
		if (patch || error)
			json_object_set_new(outc, "patch", json_pack("{s:s, s:s, s:o}", "status",
				error ? "failed" : "applied", "code", ln_err_name(error),
				"report", report ? report : json_null()));
		else
			json_decref(report);
		if (error) {
			status = "patch-failed";
			buf_addf(&msg, "the patch does not apply: %s", ln_error_msg());
			goto finish;
		}
	}

	if (x->t->build_argv) {
		error = step(x, dir, x->t->build_argv, &br);
		ran_any = error == 0;
		isolated = br.isolated;
		snprintf(iso_note, sizeof iso_note, "%s", br.iso_note);
		json_object_set_new(durations, "buildMs", json_integer(br.wall_ms));
		json_object_set_new(output, "build", json_pack("{s:o, s:o}",
			"stdout", tail_json(&br.out, 4096), "stderr", tail_json(&br.err, 4096)));
		if (error) {
			status = "error";
			buf_addf(&msg, "build: %s", ln_error_msg());
			goto finish;
		}
		json_object_set_new(outc, "build", run_json(&br));
		if (br.cancelled) {
			status = "cancelled";
			error = ln_error_set(LN_ECANCELLED, "cancelled during the build");
			buf_addf(&msg, "%s", ln_error_msg());
			goto finish;
		}
		if (!br.exited || br.exitcode != 0 || br.timed_out) {
			char st[96];
			sbx_result_status_str(&br, st, sizeof st);
			status = (br.hits & ~(unsigned)SBX_HIT_OUTPUT) ? "limit" : "build-failed";
			error = *status == 'l' ? ln_error_set(LN_ESANDBOX, "the build hit a limit")
					       : ln_error_set(LN_EGENERIC, "the build failed");
			buf_addf(&msg, "build %s%s", st, br.timed_out ? " (timed out)" : "");
			goto finish;
		}
	}

	/* a results file of an earlier run must not pass for this one */
	if (x->t->junit_path) {
		char *abs = NULL;
		if (ln_path_resolve_in_root(NULL, &abs, dir, dir, x->t->junit_path) == 0)
			unlink(abs);
		free(abs);
		ln_error_clear();
	}
	error = step(x, dir, x->t->test_argv, &tr);
	ran_any = ran_any || error == 0;
	isolated = tr.isolated && isolated;
	if (!iso_note[0])
		snprintf(iso_note, sizeof iso_note, "%s", tr.iso_note);
	json_object_set_new(durations, "testMs", json_integer(tr.wall_ms));
	json_object_set_new(output, "test", json_pack("{s:o, s:o}",
		"stdout", tail_json(&tr.out, 4096), "stderr", tail_json(&tr.err, 4096)));
	json_object_set_new(vol, "cpuMs", json_integer(tr.cpu_ms + br.cpu_ms));
	json_object_set_new(vol, "uid", json_integer(tr.uid));
	json_object_set_new(vol, "maxRssKiB", json_integer(tr.max_rss_kib > br.max_rss_kib ?
							    tr.max_rss_kib : br.max_rss_kib));
	if (error) {
		status = "error";
		buf_addf(&msg, "test: %s", ln_error_msg());
		goto finish;
	}
	json_object_set_new(outc, "test", run_json(&tr));
	{
		enum sbx_format fmt;
		struct buf perr = BUF_INIT;
		json_t *counts = json_object();
		bool resolved = false;
		int perror_ = parse_results(x, dir, &tr, &tests, &fmt, &perr);

		sbx_tests_sort(&tests);
		json_object_set_new(outc, "results", json_pack("{s:s, s:o}", "format",
			sbx_format_name(fmt), "error", perror_ ? json_string(perr.data) : json_null()));
		json_object_set_new(outc, "tests", sbx_tests_json(&tests));
		count_tests(&tests, counts, &failed);
		json_object_set_new(outc, "counts", counts);
		if (json_array_size(x->t->f2p) || json_array_size(x->t->p2p)) {
			json_t *flips = sbx_flips_json(&tests, x->t->f2p, x->t->p2p, &resolved);
			json_object_update(outc, flips);
			json_decref(flips);
		}
		if (tr.cancelled) {
			status = "cancelled";
			error = ln_error_set(LN_ECANCELLED, "cancelled during the tests");
			buf_addf(&msg, "%s", ln_error_msg());
		} else if (tr.hits & ~(unsigned)SBX_HIT_OUTPUT) {
			json_t *h = sbx_hits_json(tr.hits & ~(unsigned)SBX_HIT_OUTPUT);
			char *s = json_dumps(h, JSON_COMPACT);
			status = "limit";
			error = ln_error_set(LN_ESANDBOX, "the tests hit a limit: %s", s ? s : "");
			buf_addf(&msg, "%s", ln_error_msg());
			free(s);
			json_decref(h);
		} else if (perror_) {
			status = "error";
			error = ln_error_set(LN_EINPUT, "%s", perr.data);
			buf_addf(&msg, "%s", perr.data);
		} else if (!tr.exited || tr.exitcode != 0 || failed > 0 ||
			   ((json_array_size(x->t->f2p) || json_array_size(x->t->p2p)) && !resolved)) {
			char st[96];
			sbx_result_status_str(&tr, st, sizeof st);
			status = "failed";
			if (!tr.exited || tr.exitcode != 0 || failed > 0)
				error = ln_error_set(LN_EGENERIC, "tests failed (%zu failed; the test "
						     "command %s)", failed, st);
			else
				error = ln_error_set(LN_EGENERIC, "not resolved: %zu of the %zu "
						     "FAIL_TO_PASS/PASS_TO_PASS tests did not pass "
						     "(failed, skipped or missing)",
						     json_array_size(x->t->f2p) +
						     json_array_size(x->t->p2p) - listed_passed(outc),
						     json_array_size(x->t->f2p) +
						     json_array_size(x->t->p2p));
			buf_addf(&msg, "%s", ln_error_msg());
		}
		buf_release(&perr);
	}

finish:
	json_object_set_new(outc, "status", json_string(status));
	json_object_set_new(rec, "outcome", outc);
	json_object_set_new(rec, "isolation", json_string(!ran_any ? "n/a" :
							  isolated ? "namespaces" : "none"));
	{
		json_t *digest_in = json_pack("{s:o, s:o, s:o, s:o, s:s}", "env",
			json_deep_copy(x->env_json),
			"limits", sbx_limits_json(&x->t->limits),
			"build", x->t->build_argv ? sbx_argv_json(x->t->build_argv) : json_null(),
			"test", sbx_argv_json(x->t->test_argv),
			"isolation", !ran_any ? "n/a" : isolated ? "namespaces" : "none");
		char d[LN_JSON_DIGEST_SIZE] = "";
		ln_json_digest(d, digest_in);
		json_decref(digest_in);
		sbx_env = json_pack("{s:s, s:o}", "digest", d, "env", json_deep_copy(x->env_json));
		json_object_set_new(json_object_get(rec, "environment"), "sandbox", sbx_env);
	}
	if (iso_note[0])
		json_object_set_new(vol, "isolationNote", json_string(iso_note));
	json_object_set_new(vol, "durationMs", durations);
	json_object_set_new(vol, "output", output);
	{
		int saved = error;
		if (ln_bundle_finish(rec, error, msg.len ? msg.data : NULL))
			fprintf(x->err, "lanser: cannot finish the outcome record: %s\n",
				ln_error_msg());
		error = saved;
		if (error)
			ln_error_set(error, "%s", msg.data);
	}
	*out = rec;
	sbx_result_release(&br);
	sbx_result_release(&tr);
	sbx_tests_release(&tests);
	buf_release(&msg);
	free(patch);
	return error;
}

struct worker {
	struct tctx *x;
	size_t wt;
	pthread_t th;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct tctx *x = w->x;
	bool used = false;

	for (;;) {
		size_t k;
		pthread_mutex_lock(&x->q_lock);
		k = x->next++;
		pthread_mutex_unlock(&x->q_lock);
		if (k >= x->t->ncands)
			break;
		x->codes[k] = evaluate(x, w->wt, &x->t->cands[k], used, &x->records[k]);
		used = true;
	}
	return NULL;
}

static void print_summary(FILE *out, json_t *rec)
{
	json_t *o = json_object_get(rec, "outcome"), *counts = json_object_get(o, "counts");
	json_t *req = json_object_get(rec, "request");
	const char *cand = json_string_value(json_object_get(req, "candidate"));
	const char *msg = json_string_value(json_object_get(json_object_get(json_object_get(rec,
					"meta"), "volatile"), "message"));
	json_t *dur = json_object_get(json_object_get(json_object_get(rec, "meta"), "volatile"),
				      "durationMs");

	fprintf(out, "%s%s%s: %s", cand ? "candidate " : "", cand ? ln_printable(cand) : "",
		cand ? "" : "test", json_string_value(json_object_get(o, "status")));
	if (counts)
		fprintf(out, " (%lld passed, %lld failed, %lld errors, %lld skipped)",
			(long long)json_integer_value(json_object_get(counts, "passed")),
			(long long)json_integer_value(json_object_get(counts, "failed")),
			(long long)json_integer_value(json_object_get(counts, "error")),
			(long long)json_integer_value(json_object_get(counts, "skipped")));
	if (json_object_get(o, "resolved"))
		fprintf(out, ", FAIL_TO_PASS %zu/%zu, PASS_TO_PASS %zu/%zu: %s",
			json_array_size(json_object_get(json_object_get(o, "FAIL_TO_PASS"), "passed")),
			json_array_size(json_object_get(req, "FAIL_TO_PASS")),
			json_array_size(json_object_get(json_object_get(o, "PASS_TO_PASS"), "passed")),
			json_array_size(json_object_get(req, "PASS_TO_PASS")),
			json_is_true(json_object_get(o, "resolved")) ? "resolved" : "not resolved");
	fprintf(out, " [isolation %s, build %lld ms, test %lld ms]\n",
		json_string_value(json_object_get(rec, "isolation")),
		(long long)json_integer_value(json_object_get(dur, "buildMs")),
		(long long)json_integer_value(json_object_get(dur, "testMs")));
	if (msg && strcmp(json_string_value(json_object_get(o, "status")), "passed"))
		fprintf(out, "  %s\n", ln_printable(msg));
	{
		json_t *tests = json_object_get(o, "tests");
		size_t i;
		for (i = 0; i < json_array_size(tests); i++) {
			const char *st = json_string_value(json_object_get(json_array_get(tests, i),
									   "status"));
			if (strcmp(st, "passed") && strcmp(st, "skipped"))
				fprintf(out, "  %s %s\n", st, ln_printable(json_string_value(json_object_get(
						json_array_get(tests, i), "id"))));
		}
	}
}

static int load_task(struct sbx_task *t, struct cli *c, char **root_out, char digest[72])
{
	struct ln_config other;
	const char *root = c->root;
	int error = 0;
	size_t i;

	/* the task file may name another workspace, whose .lanser.json
	 * comes before the task's own settings */
	if (c->task_path) {
		struct sbx_task probe;
		sbx_task_init(&probe);
		error = sbx_task_load(&probe, c->task_path);
		if (!error && probe.workspace) {
			error = ln_workspace_find_root(root_out, probe.workspace, c->cwd);
			root = *root_out;
		}
		sbx_task_release(&probe);
		if (error)
			return error;
	}
	if (root != c->root) {
		memset(&other, 0, sizeof other);
		error = ln_config_load(&other, root);
		if (!error)
			error = sbx_task_apply(t, other.json, root, NULL, false);
		if (!error)
			memcpy(digest, other.digest, sizeof other.digest);
		ln_config_release(&other);
	} else {
		error = sbx_task_apply(t, c->cfg.json, LN_CONFIG_FILE, NULL, false);
		memcpy(digest, c->cfg.digest, sizeof c->cfg.digest);
	}
	if (!error && c->task_path)
		error = sbx_task_load(t, c->task_path);
	for (i = 0; !error && i < (size_t)c->npatches; i++)
		error = sbx_task_add_patch(t, c->patches[i], c->cwd);
	if (!error && c->base) {
		free(t->base);
		t->base = xstrdup(c->base);
	}
	if (!error && c->tests)
		error = sbx_task_set_tests(t, c->tests);
	if (!error && c->no_isolation)
		t->iso = SBX_ISO_NONE;
	if (!error && !t->test_argv)
		error = sbx_task_default_test(t, root);
	return error;
}

int test_run(struct sbx_task *t, const struct test_run_opts *o, json_t **records_out)
{
	struct tctx x;
	volatile sig_atomic_t no_cancel = 0;
	size_t i, jobs, n;
	int error = 0;

	*records_out = NULL;
	memset(&x, 0, sizeof x);
	x.err = o->err;
	x.index_io = o->index_io;
	x.t = t;
	x.root = o->root;
	x.cancel = o->cancel ? o->cancel : &no_cancel;
	snprintf(x.config_digest, sizeof x.config_digest, "%s", o->config_digest);
	x.candidates = t->base || t->ncands > 0;
	if (!t->test_argv)
		return ln_error_set(LN_ECONFIG, "no test command");
	pthread_mutex_init(&x.git_lock, NULL);
	pthread_mutex_init(&x.q_lock, NULL);
	build_env(&x);

	/* a crashed earlier run may have left cgroups and worktrees */
	sbx_cgroup_prune();
	if (x.candidates) {
		int pruned = sbx_wt_prune(x.root);
		if (pruned > 0 && x.err)
			fprintf(x.err, "lanser: note: pruned %d stale candidate worktree%s of an "
				"earlier run\n", pruned, pruned == 1 ? "" : "s");
		if (!t->base)
			t->base = xstrdup("HEAD");
		if (t->ncands == 0) {
			/* --base alone: the base revision itself is the candidate */
			struct sbx_candidate *cd = xcalloc(1, sizeof *cd);
			cd->id = xstrdup("base");
			t->cands = cd;
			t->ncands = 1;
		}
	}
	n = x.candidates ? t->ncands : 1;
	x.records = xcalloc(n, sizeof *x.records);
	x.codes = xcalloc(n, sizeof *x.codes);

	if (!x.candidates) {
		x.codes[0] = evaluate(&x, 0, NULL, false, &x.records[0]);
	} else {
		struct worker *w;
		jobs = o->jobs > 0 ? (size_t)o->jobs : 2;
		if (jobs > t->ncands)
			jobs = t->ncands;
		error = sbx_wt_create(&x.wts, x.root, t->base, jobs, x.base_oid);
		if (error)
			goto done;
		w = xcalloc(jobs, sizeof *w);
		for (i = 0; i < jobs; i++) {
			w[i].x = &x;
			w[i].wt = i;
			if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
				error = ln_error_set(LN_EGENERIC, "cannot start a worker thread");
				jobs = i;
				*x.cancel = 1;
				break;
			}
		}
		for (i = 0; i < jobs; i++)
			pthread_join(w[i].th, NULL);
		free(w);
		sbx_wt_free(x.wts);
		x.wts = NULL;
		if (error)
			goto done;
	}
	*records_out = json_array();
	for (i = 0; i < n; i++) {
		json_array_append_new(*records_out, x.records[i]);
		x.records[i] = NULL;
	}
done:
	for (i = 0; x.records && i < n; i++)
		json_decref(x.records[i]);
	free(x.records);
	free(x.codes);
	if (x.env) {
		for (i = 0; x.env[i]; i++)
			free(x.env[i]);
		free(x.env);
	}
	json_decref(x.env_json);
	pthread_mutex_destroy(&x.git_lock);
	pthread_mutex_destroy(&x.q_lock);
	return error;
}

/* The LN_E* code of a record (its meta.exitCode, negated). */
static int record_code(json_t *rec)
{
	json_int_t ec = json_integer_value(json_object_get(json_object_get(rec, "meta"),
							   "exitCode"));
	return ec ? -(int)ec : 0;
}

static const char *record_str(json_t *rec, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(rec, a), b));
}

int cmd_test(struct cli *c)
{
	struct sbx_task t;
	struct test_run_opts o;
	char *other_root = NULL, digest[72] = "";
	struct sigaction sa, old_int, old_term;
	static volatile sig_atomic_t cancel;
	json_t *records = NULL, *rec;
	bool warned = false;
	size_t i;
	int error;

	sbx_task_init(&t);
	if (c->argc > 0) {
		error = ln_error_set(LN_EUSAGE, "test takes no arguments (see --task, --patch)");
		goto done;
	}
	if ((error = load_task(&t, c, &other_root, digest)))
		goto done;
	memset(&o, 0, sizeof o);
	o.root = other_root ? other_root : c->root;
	o.config_digest = digest;
	o.index_io = c->index_io;
	o.jobs = c->jobs;
	o.err = c->err;
	o.cancel = &cancel;

	/* Ctrl-C and TERM cancel the runs: the trees are killed, the
	 * worktrees removed, the records say "cancelled" */
	cancel = 0;
	cancel_flag = &cancel;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	error = test_run(&t, &o, &records);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	cancel_flag = NULL;
	if (error)
		goto done;

	/* every record, in candidate order; loud when not isolated */
	json_array_foreach(records, i, rec) {
		const char *iso = json_string_value(json_object_get(rec, "isolation"));
		if (iso && !strcmp(iso, "none") && !warned) {
			const char *note = json_string_value(json_object_get(json_object_get(
				json_object_get(rec, "meta"), "volatile"), "isolationNote"));
			fprintf(c->err, "lanser: WARNING: TESTS RAN WITHOUT ISOLATION (resource "
				"limits only; \"isolation\": \"none\"): %s\n",
				note ? note : "namespaces unavailable");
			warned = true;
		}
		if (c->json) {
			char *s = json_dumps(rec, JSON_COMPACT);
			fprintf(c->out, "%s\n", s ? s : "{}");
			free(s);
		} else {
			print_summary(c->out, rec);
		}
	}
	if (json_array_size(records) == 1) {
		rec = json_array_get(records, 0);
		error = record_code(rec);
		if (error) {
			const char *m = json_string_value(json_object_get(json_object_get(
				json_object_get(rec, "meta"), "volatile"), "message"));
			ln_error_set(error, "%s", m ? m : ln_err_name(error));
		}
	} else {
		/* a group: failing candidates are results, not errors; only a
		 * candidate that could not be evaluated at all fails the command */
		json_array_foreach(records, i, rec) {
			const char *st = record_str(rec, "outcome", "status");
			int code = record_code(rec);
			if (code && st && (!strcmp(st, "error") || !strcmp(st, "cancelled"))) {
				error = ln_error_set(code, "candidate %s: %s",
						     record_str(rec, "request", "candidate"),
						     ln_err_name(code));
				break;
			}
		}
	}
done:
	json_decref(records);
	free(other_root);
	sbx_task_release(&t);
	return error;
}
