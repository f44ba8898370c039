/*
 * testbuild.c - the sandboxed steps of a test run and its build
 * (engine/testrun_int.h): one boxed command, the candidate's build, whether
 * the base builds, and the base's outputs kept for reuse across the
 * candidates of a worktree (sandbox/worktree.h, "Reusing the base build").
 * testrun.c drives them: worktrees, patches, tests, records.
 */
#include "engine/testrun_int.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "sandbox/run.h"
#include "sandbox/worktree.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

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

json_t *eng_tr_run_json(const struct sbx_result *r)
{
	return xjson_pack("{s:o, s:o, s:b, s:b, s:b, s:o}",
			  "exitCode", r->exited ? json_integer(r->exitcode) : json_null(),
			  "signal", r->exited ? json_null() : json_string(sig_name(r->signal)),
			  "timedOut", r->timed_out, "truncated", r->truncated,
			  "cancelled", r->cancelled, "limitsHit", sbx_hits_json(r->hits));
}

/* The last `max` bytes of captured output, as valid-enough text. */
json_t *eng_tr_tail_json(const struct buf *b, size_t max)
{
	size_t off = b->len > max ? b->len - max : 0;
	/* do not start inside a UTF-8 sequence */
	while (off < b->len && ((unsigned char)b->data[off] & 0xC0) == 0x80)
		off++;
	return json_stringn_nocheck(b->data + off, b->len - off);
}

/* Whether `path` does not exist, or is an empty folder (the mount point
 * an earlier step's bind left behind). */
static bool empty_or_absent(const char *path)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	bool empty = true;

	if (lstat(path, &st) != 0)
		return true;
	if (!S_ISDIR(st.st_mode) || !(d = opendir(path)))
		return false;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

/* The workspace's installed npm dependencies, for a step in a candidate
 * worktree: node_modules is not in git, so a worktree has none, and `npm
 * test` failed the same way for every candidate ("eslint: not found").
 * The workspace's folder is bound read-only at <dir>/node_modules when the
 * worktree has none (docs/sandbox.md, "Candidate worktrees"); only inside
 * a box (ro_binds is ignored without one). binds[] gets the pair, owned by
 * the caller (freed with free()). */
static void npm_deps(const struct tctx *x, const char *dir, char *binds[3])
{
	struct stat st;
	char *src, *dest;

	binds[0] = binds[1] = binds[2] = NULL;
	if (!x->candidates || !strcmp(dir, x->root))
		return;
	src = xasprintf("%s/node_modules", x->root);
	dest = xasprintf("%s/node_modules", dir);
	if (lstat(src, &st) == 0 && S_ISDIR(st.st_mode) && empty_or_absent(dest)) {
		binds[0] = src;
		binds[1] = dest;
		return;
	}
	free(src);
	free(dest);
}

int eng_tr_step(struct tctx *x, const char *dir, char **argv, struct sbx_result *r)
{
	struct sbx_opts o;
	char *binds[3];
	int error;

	npm_deps(x, dir, binds);
	memset(&o, 0, sizeof o);
	o.argv = (const char *const *)argv;
	o.cwd = dir;
	o.env = (const char *const *)x->env;
	o.writable = dir;
	o.ro_binds = binds[0] ? (const char *const *)binds : NULL;
	o.limits = x->t->limits;
	o.iso = x->t->iso;
	o.cancel = x->cancel;
	error = sbx_run(r, &o);
	free(binds[0]);
	free(binds[1]);
	return error;
}

bool eng_tr_hit_limit(const struct sbx_result *res)
{
	return (res->hits & ~(unsigned)SBX_HIT_OUTPUT) != 0;
}

/*
 * Whether the base revision's build and tests run to their end within the
 * run's limits. A candidate whose build or tests hit a limit (wall clock,
 * memory, processes) is scored (its tests did not pass) only when the base
 * does not: a patch that makes the tests hang or fork is the candidate's
 * doing. When the base hits a limit too, the limit is the harness's and the
 * candidate is unscorable (docs/rewards.md). Run once per run, in the
 * worktree of the first candidate that hit a limit (reset to the base
 * first, with the kept base build when there is one; its next candidate
 * resets it again). The base's runs go into the candidate's record
 * (outcome.baseRun). A base run that cannot start or is cancelled decides
 * nothing: the candidate stays unscorable.
 */
bool eng_tr_base_within_limits(struct tctx *x, struct rec *r)
{
	struct sbx_result res;
	bool within = false, built = true;
	json_t *runs;
	int error;

	if (!r->patch || !x->candidates)
		return false;
	pthread_mutex_lock(&x->base_lock);
	if (x->base_limits == 0) {
		runs = xjson_pack("{s:n, s:n}", "build", "test");
		sbx_result_init(&res);
		pthread_mutex_lock(&x->git_lock);
		error = sbx_wt_reset(x->wts, r->wt);
		pthread_mutex_unlock(&x->git_lock);
		if (!error && x->outputs[r->wt] > 0)
			error = sbx_wt_restore_outputs(x->wts, r->wt);
		if (!error && x->t->build_argv) {
			error = eng_tr_step(x, r->dir, x->t->build_argv, &res);
			if (!error) {
				json_object_set_new(runs, "build", eng_tr_run_json(&res));
				built = res.exited && res.exitcode == 0 && !res.timed_out;
				if (res.cancelled || eng_tr_hit_limit(&res))
					error = LN_ESANDBOX;
			}
			sbx_result_release(&res);
			sbx_result_init(&res);
		}
		/* a base that does not build stays within the limits: it ends */
		if (!error && built) {
			error = eng_tr_step(x, r->dir, x->t->test_argv, &res);
			if (!error) {
				json_object_set_new(runs, "test", eng_tr_run_json(&res));
				if (res.cancelled || eng_tr_hit_limit(&res))
					error = LN_ESANDBOX;
			}
		}
		within = !error;
		sbx_result_release(&res);
		ln_error_clear();
		json_object_set_new(runs, "withinLimits", json_boolean(within));
		x->base_limits = within ? 1 : -1;
		x->base_limits_run = runs;
	}
	within = x->base_limits > 0;
	if (x->base_limits_run)   /* a copy: records are made in several threads */
		json_object_set_new(r->outc, "baseRun", json_deep_copy(x->base_limits_run));
	pthread_mutex_unlock(&x->base_lock);
	return within;
}

/*
 * Whether the base revision itself builds: a candidate whose build fails is
 * scored (tests did not pass) only when it does. Built once per run, in
 * the worktree `wt` of the first candidate whose build failed (reset to the
 * base first; the next candidate of that worktree resets it again); a
 * candidate without a patch IS the base. The base build's run goes into
 * the candidate's record (outcome.baseBuild). A base build that cannot run
 * or hits a limit counts as building: the candidate's failure stands.
 */
bool eng_tr_base_builds(struct tctx *x, struct rec *r, size_t wt)
{
	struct sbx_result res;
	bool builds;
	int error;

	if (!r->patch)
		return false;
	pthread_mutex_lock(&x->base_lock);
	if (x->base_build == 0) {
		sbx_result_init(&res);
		pthread_mutex_lock(&x->git_lock);
		error = sbx_wt_reset(x->wts, wt);
		pthread_mutex_unlock(&x->git_lock);
		if (!error)
			error = eng_tr_step(x, r->dir, x->t->build_argv, &res);
		if (!error) {
			bool failed = !res.exited || res.exitcode != 0 || res.timed_out;
			x->base_build = failed && !eng_tr_hit_limit(&res) ? -1 : 1;
			x->base_build_run = eng_tr_run_json(&res);
		} else {
			x->base_build = 1;
		}
		sbx_result_release(&res);
		ln_error_clear();
	}
	builds = x->base_build > 0;
	if (x->base_build_run)   /* a copy: records are made in several threads */
		json_object_set_new(r->outc, "baseBuild", json_deep_copy(x->base_build_run));
	pthread_mutex_unlock(&x->base_lock);
	return builds;
}

/*
 * Reusing the base build: before worktree `wt` serves its first candidate,
 * the base is built there once and its outputs kept aside
 * (sbx_wt_save_outputs); each candidate of that worktree then starts from
 * them. That build also answers whether the base builds (base_builds). A
 * base that does not build, or outputs that cannot be kept: no reuse in
 * this worktree (every candidate builds from scratch, as before).
 */
void eng_tr_prepare_outputs(struct tctx *x, size_t wt, bool used)
{
	struct sbx_result res;
	size_t nfiles = 0;
	bool failed, ran;
	int error;

	x->outputs[wt] = -1;
	pthread_mutex_lock(&x->git_lock);
	error = used ? sbx_wt_reset(x->wts, wt) : 0;
	pthread_mutex_unlock(&x->git_lock);
	if (error) {
		ln_error_clear();
		return;
	}
	sbx_result_init(&res);
	error = eng_tr_step(x, sbx_wt_path(x->wts, wt), x->t->build_argv, &res);
	ran = !error;
	failed = !ran || !res.exited || res.exitcode != 0 || res.timed_out || res.cancelled;
	if (!failed) {
		pthread_mutex_lock(&x->git_lock);
		error = sbx_wt_save_outputs(x->wts, wt, &nfiles);
		pthread_mutex_unlock(&x->git_lock);
		if (error)
			eng_tr_note(x, "lanser: note: the base build is not reused: %s", ln_error_msg());
		else
			x->outputs[wt] = 1;
	}
	pthread_mutex_lock(&x->base_lock);
	if (x->base_build == 0 && ran && !res.cancelled) {
		x->base_build = failed && !eng_tr_hit_limit(&res) ? -1 : 1;
		x->base_build_run = eng_tr_run_json(&res);
	}
	pthread_mutex_unlock(&x->base_lock);
	sbx_result_release(&res);
	ln_error_clear();
}

/* The build command, when there is one. 0, or the code with r->status set. */
int eng_tr_run_build(struct tctx *x, struct rec *r, size_t wt)
{
	struct sbx_result *br = &r->br;
	int error = eng_tr_step(x, r->dir, x->t->build_argv, br);

	r->ran_any = error == 0;
	r->isolated = br->isolated;
	snprintf(r->iso_note, sizeof r->iso_note, "%s", br->iso_note);
	json_object_set_new(r->durations, "buildMs", json_integer(br->wall_ms));
	json_object_set_new(r->output, "build", xjson_pack("{s:o, s:o}",
		"stdout", eng_tr_tail_json(&br->out, 4096), "stderr", eng_tr_tail_json(&br->err, 4096)));
	if (error) {
		r->status = "error";
		buf_addf(&r->msg, "build: %s", ln_error_msg());
		return error;
	}
	json_object_set_new(r->outc, "build", eng_tr_run_json(br));
	if (br->cancelled) {
		r->status = "cancelled";
		error = ln_error_set(LN_ECANCELLED, "cancelled during the build");
		buf_addf(&r->msg, "%s", ln_error_msg());
		return error;
	}
	if (!br->exited || br->exitcode != 0 || br->timed_out) {
		char st[96];
		sbx_result_status_str(br, st, sizeof st);
		r->status = eng_tr_hit_limit(br) ? "limit" : "build-failed";
		error = *r->status == 'l' ? ln_error_set(LN_ESANDBOX, "the build hit a limit")
					  : ln_error_set(LN_EGENERIC, "the build failed");
		buf_addf(&r->msg, "build %s%s", st, br->timed_out ? " (timed out)" : "");
		if (*r->status == 'l' && eng_tr_base_within_limits(x, r)) {
			/* the candidate's doing: scored (docs/rewards.md) */
			r->status = "build-failed";
			error = ln_error_set(LN_EGENERIC, "the build failed");
			buf_addf(&r->msg, "; the base's build and tests stay within the limits");
		}
		if (*r->status == 'b' && x->candidates && !eng_tr_base_builds(x, r, wt)) {
			/* not the candidate's fault: unscorable (docs/rewards.md) */
			r->status = "base-build-failed";
			error = ln_error_set(LN_EGENERIC, "the base does not build either");
			buf_addf(&r->msg, "; the base %s does not build either", x->base_oid);
		}
		return error;
	}
	return 0;
}
