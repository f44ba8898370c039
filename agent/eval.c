/*
 * eval.c - `lanser eval` (one patch, CI verdict) and `lanser group` (a GRPO
 * group of candidates): docs/eval.md.
 *
 * Both run the same pipeline:
 *   1. the settings: .lanser.json, the task file, --base (sandbox/task.h);
 *   2. ONE worktree of the base commit (sandbox/worktree.h) on which ONE
 *      set of language servers runs; every candidate's diff is applied in
 *      memory to it (sbx_edits_from_diff: jail, conflicts, malformed input
 *      are found there, nothing is written) -> R_format;
 *   3. diagnostics before (base texts, computed once per file) and after
 *      (the candidate's texts as overlays, didChange, one candidate at a
 *      time on the warm servers) over the relevant files: the touched files
 *      plus the files holding references to the symbols the diff touched
 *      (docs/rewards.md) -> D_{t-1}, D_t;
 *   4. meanwhile, in another thread, the tests of every usable candidate
 *      through test_run() (agent/testcmd.h): each in a sandboxed worktree of
 *      its own, the patch applied through sbx_patch_apply -> outcome records;
 *   5. rewards (rewards/reward.h), advantages (rewards/advantage.h), the
 *      policy verdict, bundles, SARIF, trace events.
 */
#include "agent/cli.h"

#include "rewards/advantage.h"
#include "core/buf.h"
#include "core/bundle.h"
#include "sandbox/edit.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/jcs.h"
#include "selectors/outline.h"
#include "core/path.h"
#include "core/proc.h"
#include "rewards/reward.h"
#include "core/state.h"
#include "agent/trace.h"
#include "lsp/workspace.h"
#include "sandbox/worktree.h"
#include "agent/testcmd.h"
#include "core/trust.h"
#include "sandbox/box.h"
#include "core/xalloc.h"
#include "core/limits.h"
#include "core/gitlib.h"

#include <git2.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVAL_MAX_CANDIDATES 1024
#define EVAL_MAX_LINE (2 * (size_t)SBX_PATCH_MAX_BYTES + 65536)   /* JSON escapes */
#define EVAL_MAX_SYMBOLS 16      /* touched symbols per file whose references are followed */
#define EVAL_MAX_RELEVANT 256    /* relevant files per candidate */

struct policy {
	long max_new_errors;     /* -1: no bound */
	bool require_tests;
	bool has_min_reward;
	double min_reward;
};

struct cand {
	char *id;
	char *patch;             /* the diff text (NULL: no usable text) */
	size_t len;
	char *patch_file;        /* the same bytes, for test_run */
	char format_note[200];   /* why R_format is 0 */
	int apply_code;          /* sbx_edits_from_diff's code */
	char apply_msg[300];
	struct sbx_edits e;
	bool have_edits;
	json_t *relevant;        /* workspace-relative paths */
	json_t *after;           /* diagnostic facts after */
	json_t *before;          /* diagnostic facts before (relevant files) */
	int diag_code;
	char diag_msg[300];
	bool complete;
	json_t *record;          /* outcome record (borrowed from x->records) */
	struct rwd_diag_delta dd;
	struct rwd_outcome oc;
	struct rwd_episode ep;
	struct rwd_step step;
	double reward;
	json_t *introduced;      /* new diagnostic facts */
	long new_errors;
	json_t *bundle;
	int code;                /* LN_E* of this candidate */
	bool removed;            /* files taken out of the base worktree (restore_base) */
	bool accepted;
	json_t *reasons;
};

struct ectx {
	struct cli *c;
	struct sbx_task t;
	char *other_root;
	char digest[72];
	const char *root;
	char *tmpdir;
	struct sbx_wtset *wts;
	char *wt;                 /* canonical path of the diagnostics worktree */
	char base_oid[41];
	struct lsp_workspace *ws;
	json_t *servers_cfg;
	json_t *servers_env;      /* environment.servers */
	json_t *before_cache;     /* path -> facts at the base */
	struct cand *v;
	size_t n;
	enum rwd_episode_mode emode;
	struct rwd_weights w;
	struct policy pol;
	json_t *records;
	int tests_code;
	char tests_msg[300];
	long long t_diag_ms, t_tests_ms;
};

/* ---- settings ---- */

static int parse_policy(struct policy *p, const json_t *cfg)
{
	const json_t *pol = json_object_get(cfg, "policy"), *v;
	const char *k;

	p->max_new_errors = 0;
	p->require_tests = true;
	p->has_min_reward = false;
	p->min_reward = 0;
	if (!pol)
		return 0;
	if (!json_is_object(pol))
		return ln_error_set(LN_ECONFIG, ".lanser.json: policy must be an object");
	json_object_foreach((json_t *)pol, k, v) {
		if (!strcmp(k, "maxNewErrors")) {
			if (json_is_null(v))
				p->max_new_errors = -1;
			else if (json_is_integer(v) && json_integer_value(v) >= 0 &&
				 json_integer_value(v) <= 1000000)
				p->max_new_errors = (long)json_integer_value(v);
			else
				return ln_error_set(LN_ECONFIG, ".lanser.json: policy.maxNewErrors must "
						    "be an integer from 0 to 1000000, or null");
		} else if (!strcmp(k, "requireTests")) {
			if (!json_is_boolean(v))
				return ln_error_set(LN_ECONFIG, ".lanser.json: policy.requireTests must "
						    "be true or false");
			p->require_tests = json_is_true(v);
		} else if (!strcmp(k, "minReward")) {
			if (json_is_null(v)) {
				p->has_min_reward = false;
			} else if (json_is_number(v) && isfinite(json_number_value(v))) {
				p->has_min_reward = true;
				p->min_reward = json_number_value(v);
			} else {
				return ln_error_set(LN_ECONFIG, ".lanser.json: policy.minReward must be "
						    "a number or null");
			}
		} else {
			return ln_error_set(LN_ECONFIG, ".lanser.json: policy.%s is not a policy "
					    "member (maxNewErrors, requireTests, minReward)", k);
		}
	}
	return 0;
}

static json_t *policy_json(const struct policy *p)
{
	return json_pack("{s:o, s:b, s:o}", "maxNewErrors",
			 p->max_new_errors < 0 ? json_null() : json_integer(p->max_new_errors),
			 "requireTests", p->require_tests, "minReward",
			 p->has_min_reward ? rwd_number(p->min_reward) : json_null());
}

/* `<rev>:.lanser.json` of the repository at `root` (libgit2), never the
 * working tree's: what is checked out may be the candidate itself (a PR
 * head in CI). Trust is looked up for `root` (core/trust.h); --config FILE
 * replaces it. */
static int load_base_config(struct ln_config *out, const char *root, const char *rev)
{
	git_repository *repo = NULL;
	git_object *obj = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	struct buf origin = BUF_INIT;
	int error = -1;

	buf_addf(&origin, "%s:%s", rev, LN_CONFIG_FILE);
	if (ln_trust_cli_config()) {
		error = ln_config_load_text(out, root, NULL, 0, origin.data);
		goto done;
	}
	ln_git_init();
	if (git_repository_open_ext(&repo, root, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		error = ln_error_set(LN_EINPUT, "evaluation needs a git repository at %s: %s", root,
				     git_error_last() ? git_error_last()->message : "?");
		goto done;
	}
	if (git_revparse_single(&obj, repo, rev) < 0 ||
	    git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) < 0 ||
	    git_commit_tree(&tree, commit) < 0) {
		error = ln_error_set(LN_ENOTFOUND, "base revision '%s' does not exist (%s)", rev,
				     git_error_last() ? git_error_last()->message : "?");
		goto done;
	}
	if (git_tree_entry_bypath(&e, tree, LN_CONFIG_FILE) != 0) {
		/* the base has no configuration: the defaults, whatever is checked out */
		error = ln_config_load_text(out, root, NULL, 0, origin.data);
		goto done;
	}
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
	    git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0) {
		error = ln_error_set(LN_ECONFIG, "%s is not a file", origin.data);
		goto done;
	}
	if ((size_t)git_blob_rawsize(blob) > LN_CONFIG_MAX_BYTES) {
		error = ln_error_set(LN_ECONFIG, "%s is larger than %d bytes", origin.data,
				     LN_CONFIG_MAX_BYTES);
		goto done;
	}
	error = ln_config_load_text(out, root, git_blob_rawcontent(blob),
				    (size_t)git_blob_rawsize(blob), origin.data);
done:
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	git_commit_free(commit);
	git_object_free(obj);
	git_repository_free(repo);
	buf_release(&origin);
	return error;
}

/* .lanser.json of the base revision (of the task's workspace when it names
 * another), the task file, then the options; the task's own candidates stay
 * in x->t.cands. */
static int load_settings(struct ectx *x)
{
	struct cli *c = x->c;
	const json_t *cfg;
	struct ln_config other;
	char *base = NULL;
	int error = 0;

	memset(&other, 0, sizeof other);
	x->root = c->root;
	if (c->task_path) {
		struct sbx_task probe;
		sbx_task_init(&probe);
		error = sbx_task_load(&probe, c->task_path);
		if (!error && probe.workspace) {
			error = ln_workspace_find_root(&x->other_root, probe.workspace, c->cwd);
			if (!error)
				x->root = x->other_root;
		}
		if (!error && probe.base)
			base = xstrdup(probe.base);
		sbx_task_release(&probe);
		if (error)
			return error;
	}
	/* The configuration comes from the base the candidates start from
	 * (docs/eval.md, "Configuration"): --base, else the task's, else HEAD. */
	if (c->base) {
		free(base);
		base = xstrdup(c->base);
	}
	if (!base)
		base = xstrdup("HEAD");
	error = load_base_config(&other, x->root, base);
	free(base);
	if (error)
		goto done;
	if (json_array_size(other.ignored) && c->err) {
		size_t i;
		json_t *v;
		fprintf(c->err, "lanser: note: untrusted configuration, ignored in %s:", other.source);
		json_array_foreach(other.ignored, i, v)
			fprintf(c->err, "%s %s", i ? "," : "", json_string_value(v));
		fprintf(c->err, " (built-in servers are used; see 'lanser doctor')\n");
	}
	memcpy(x->digest, other.digest, sizeof x->digest);
	cfg = other.json;
	error = sbx_task_apply(&x->t, cfg, LN_CONFIG_FILE, NULL, false);
	if (!error)
		error = parse_policy(&x->pol, cfg);
	if (!error) {
		json_t *s = json_object_get(cfg, "servers");
		x->servers_cfg = s ? json_deep_copy(s) : json_object();
	}
	if (!error && c->task_path)
		error = sbx_task_load(&x->t, c->task_path);
	if (!error && c->base) {
		free(x->t.base);
		x->t.base = xstrdup(c->base);
	}
	if (!error && c->tests)
		error = sbx_task_set_tests(&x->t, c->tests);
	if (!error && c->no_isolation)
		x->t.iso = SBX_ISO_NONE;
	if (!error && !x->t.test_argv)
		error = sbx_task_default_test(&x->t, x->root);
	if (!error && !x->t.base)
		x->t.base = xstrdup("HEAD");
	x->emode = RWD_EP_PGRPO;
	x->w = rwd_weights_default;
done:
	ln_config_release(&other);
	return error;
}

/* ---- candidates ---- */

static struct cand *cand_new(struct ectx *x, const char *id)
{
	struct cand *cd;

	if (x->n >= EVAL_MAX_CANDIDATES)
		return NULL;
	x->v = xrealloc(x->v, (x->n + 1) * sizeof *x->v);
	cd = &x->v[x->n++];
	memset(cd, 0, sizeof *cd);
	cd->id = xstrdup(id);
	sbx_edits_init(&cd->e);
	cd->complete = true;
	cd->reasons = json_array();
	return cd;
}

static void cand_release(struct cand *cd)
{
	free(cd->id);
	free(cd->patch);
	free(cd->patch_file);
	sbx_edits_release(&cd->e);
	json_decref(cd->relevant);
	json_decref(cd->after);
	json_decref(cd->before);
	json_decref(cd->introduced);
	json_decref(cd->bundle);
	json_decref(cd->reasons);
}

/* A completion's text: the diff inside a ```diff (or ```patch) fence when
 * there is one, else the whole text. */
static void extract_patch(const char *s, size_t len, const char **p, size_t *n)
{
	static const char *const fences[] = { "```diff\n", "```patch\n" };
	size_t i;

	*p = s;
	*n = len;
	for (i = 0; i < 2; i++) {
		const char *f = memmem(s, len, fences[i], strlen(fences[i]));
		const char *start, *end;
		if (!f)
			continue;
		start = f + strlen(fences[i]);
		end = memmem(start, len - (size_t)(start - s), "\n```", 4);
		*p = start;
		*n = end ? (size_t)(end - start) + 1 : len - (size_t)(start - s);
		return;
	}
}

static void cand_set_patch(struct cand *cd, const char *data, size_t len)
{
	cd->patch = xmalloc(len + 1);
	memcpy(cd->patch, data, len);
	cd->patch[len] = '\0';
	cd->len = len;
}

static int cand_from_file(struct ectx *x, const char *id, const char *path)
{
	struct buf b = BUF_INIT;
	struct cand *cd = cand_new(x, id);
	int error;

	if (!cd)
		return ln_error_set(LN_EUSAGE, "at most %d candidates", EVAL_MAX_CANDIDATES);
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

/* --in completions.jsonl: one completion per line,
 * {"id"?: string, "patch": string (a diff, or text with a ```diff fence)}.
 * A line that is not such an object is a candidate with R_format 0. */
static int read_completions(struct ectx *x, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	struct buf line = BUF_INIT;
	long lineno = 0;
	int error = 0, ch;

	if (!f)
		return ln_error_set(LN_ENOTFOUND, "--in %s: %s", path, strerror(errno));
	for (;;) {
		json_error_t je;
		json_t *v;
		const char *id, *patch;
		char idbuf[80];
		struct cand *cd;
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
		snprintf(idbuf, sizeof idbuf, "c%zu", x->n + 1);
		v = json_loadb(line.data, line.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
		id = json_string_value(json_object_get(v, "id"));
		if (!id || !*id || strlen(id) > 64 || strpbrk(id, "/\n\t "))
			id = idbuf;
		cd = cand_new(x, id);
		if (!cd) {
			json_decref(v);
			error = ln_error_set(LN_EINPUT, "--in %s: more than %d completions", path,
					     EVAL_MAX_CANDIDATES);
			goto done;
		}
		patch = json_string_value(json_object_get(v, "patch"));
		if (!v) {
			snprintf(cd->format_note, sizeof cd->format_note, "line %ld is not JSON: %s",
				 lineno, je.text);
		} else if (!patch) {
			snprintf(cd->format_note, sizeof cd->format_note, "line %ld has no \"patch\" "
				 "string", lineno);
		} else {
			const char *p;
			size_t n;
			extract_patch(patch, json_string_length(json_object_get(v, "patch")), &p, &n);
			if (n > SBX_PATCH_MAX_BYTES)
				snprintf(cd->format_note, sizeof cd->format_note, "patch larger than "
					 "%zu bytes", SBX_PATCH_MAX_BYTES);
			else
				cand_set_patch(cd, p, n);
		}
		json_decref(v);
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

/* ---- the diagnostics worktree and its servers ---- */

/* The compilation database of the workspace (untracked, generated: it is
 * not in a worktree) rewritten for the worktree's path. */
static void copy_cdb(struct ectx *x)
{
	static const char *const names[] = { "compile_commands.json", "compile_flags.txt" };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct buf src = BUF_INIT, dst = BUF_INIT, out = BUF_INIT;
		const char *p, *hit;
		size_t rl = strlen(x->root);
		FILE *f;
		buf_addf(&src, "%s/%s", x->root, names[i]);
		buf_addf(&dst, "%s/%s", x->wt, names[i]);
		if (access(dst.data, F_OK) == 0 || buf_read_file(&out, src.data, LN_FILE_MAX_BYTES)) {
			ln_error_clear();
			goto next;
		}
		f = fopen(dst.data, "w");
		if (f) {
			for (p = out.data; (hit = strstr(p, x->root)); p = hit + rl) {
				/* only whole path prefixes */
				fwrite(p, 1, (size_t)(hit - p), f);
				if (hit[rl] == '/' || hit[rl] == '"' || hit[rl] == '\0')
					fputs(x->wt, f);
				else
					fwrite(hit, 1, rl, f);
			}
			fputs(p, f);
			fclose(f);
		}
next:
		buf_release(&src);
		buf_release(&dst);
		buf_release(&out);
	}
}

/* Language servers read the candidate's text: what it makes them read
 * (an #include of a host file, an import path) must not reach a verdict.
 * Each server runs in the sandbox's box (sandbox/box.h, sbx_box_command):
 * the system's read-only toolchain, the worktree read-only with a tmpfs over
 * its .cache (clangd's index), lanser's pinned servers read-only, and
 * nothing else (no home, no /root, no other worktree, no daemon socket, no
 * network). lsp_workspace_opts.wrap. */
static int box_server(void *ctx, const char *const *argv, char ***out)
{
	struct ectx *x = ctx;
	struct buf cache = BUF_INIT, deps = BUF_INIT;
	char *self = lsp_self_dir();
	const char *ro[2] = { NULL, NULL }, *tmpfs[2] = { NULL, NULL };
	struct sbx_box_spec spec;
	struct stat st;
	int error;

	buf_addf(&cache, "%s/.cache", x->wt);
	buf_addf(&deps, "%s/deps/node_modules", self);
	free(self);
	if (stat(deps.data, &st) == 0 && S_ISDIR(st.st_mode))
		ro[0] = deps.data;
	tmpfs[0] = cache.data;
	memset(&spec, 0, sizeof spec);
	spec.root = x->wt;
	spec.root_writable = false;
	spec.ro_paths = ro;
	spec.tmpfs_paths = tmpfs;
	error = sbx_box_command(out, &spec, argv);
	buf_release(&cache);
	buf_release(&deps);
	return error;
}

static int setup_base(struct ectx *x)
{
	struct lsp_workspace_opts wo;
	json_t *clangd;
	int error;

	error = sbx_wt_prune(x->root);
	if (error > 0 && x->c->err)
		fprintf(x->c->err, "lanser: note: pruned %d stale candidate worktree%s of an "
			"earlier run\n", error, error == 1 ? "" : "s");
	error = sbx_wt_create(&x->wts, x->root, x->t.base, 1, x->base_oid);
	if (error)
		return error;
	x->wt = realpath(sbx_wt_path(x->wts, 0), NULL);
	if (!x->wt)
		return ln_error_set(LN_ESANDBOX, "worktree: %s", strerror(errno));
	copy_cdb(x);
	/* clangd 14 builds other files against open headers' overlays only
	 * with --use-dirty-headers (a header's candidate text must reach the
	 * files that include it); a user-configured command stays as given */
	clangd = json_object_get(x->servers_cfg, "clangd");
	if (!clangd) {
		clangd = json_object();
		json_object_set_new(x->servers_cfg, "clangd", clangd);
	}
	if (json_is_object(clangd) && !json_object_get(clangd, "command")) {
		/* the built-in profile's guards too (lsp/profile.c): no .clangd or
		 * user config, the worktree's own compilation database, no cap */
		struct buf cdb = BUF_INIT, arg = BUF_INIT;
		struct stat st;
		buf_addf(&cdb, "%s/build/compile_commands.json", x->wt);
		buf_addf(&arg, "--compile-commands-dir=%s%s", x->wt,
			 stat(cdb.data, &st) == 0 && S_ISREG(st.st_mode) ? "/build" : "");
		json_object_set_new(clangd, "command", json_pack("[s, s, s, s, s, s, s, s]", "clangd",
			"--background-index", "--log=error", "--pch-storage=memory",
			"--use-dirty-headers", "--enable-config=false", "--limit-references=0",
			arg.data));
		buf_release(&cdb);
		buf_release(&arg);
	}
	memset(&wo, 0, sizeof wo);
	wo.root = x->wt;
	wo.servers = x->servers_cfg;
	wo.init_ms = x->c->cfg.init_ms;
	wo.request_ms = x->c->timeout_ms;
	if (!x->c->no_isolation) {
		wo.wrap = box_server;
		wo.wrap_ctx = x;
	} else if (x->c->err) {
		fprintf(x->c->err, "lanser: note: --no-isolation: the language servers read the "
			"candidates unboxed (they can read any file lanser can)\n");
	}
	return lsp_workspace_new(&x->ws, &wo);
}

/* ---- diagnostics ---- */

static const char *severity_name(json_int_t s)
{
	switch (s) {
	case 2: return "warning";
	case 3: return "information";
	case 4: return "hint";
	default: return "error";
	}
}

static void note_server(struct ectx *x, struct lsp_server_info *srv)
{
	json_t *s;
	size_t i;

	json_array_foreach(x->servers_env, i, s)
		if (!strcmp(json_string_value(json_object_get(s, "profile")), srv->profile->name))
			return;
	json_array_append_new(x->servers_env, json_pack("{s:s, s:s, s:s}",
		"profile", srv->profile->name, "version", srv->version ? srv->version : "unknown",
		"positionEncoding", ln_enc_lsp_name(lsp_session_encoding(srv->session))));
}

/* A server's text, with the worktree's absolute path taken out (it changes
 * from run to run and must not reach a hashed field). */
static json_t *clean_text(struct ectx *x, const char *s)
{
	struct buf b = BUF_INIT;
	size_t wl = strlen(x->wt);
	const char *hit;
	json_t *v;

	while ((hit = strstr(s, x->wt))) {
		buf_add(&b, s, (size_t)(hit - s));
		s = hit + wl;
		if (*s == '/')
			s++;
	}
	buf_adds(&b, s);
	v = json_stringn_nocheck(b.data, b.len);
	buf_release(&b);
	return v;
}

static long conv_col(const struct ln_text *t, enum ln_enc from, enum ln_enc to, json_int_t line,
		     json_int_t col)
{
	long out;

	if (line < 0 || line > 100000000 || col < 0)
		return (long)col + 1;
	if (ln_text_convert_col(t, (int)line, (long)col, from, to, &out))
		return (long)col + 1;
	return out + 1;
}

/* Annotates the diagnostic facts facts[from..] of `rel` with "symbol": the
 * qualified name of the innermost symbol (tree-sitter outline of the text
 * the server saw) holding the diagnostic's start: part of the matching key
 * (rewards.md), so the same message in two functions is two diagnostics,
 * and a diagnostic that moved with its function is the same one. */
static void annotate_symbols(const char *rel, const struct ln_text *t, enum ln_enc enc,
			     json_t *facts, size_t from, json_t *raw)
{
	enum sel_grammar g = sel_grammar_for_path(rel);
	struct sel_outline ol = { NULL, 0 };
	struct sel_doc *doc = NULL;
	size_t i;

	if (g == SEL_GRAMMAR_NONE || sel_doc_parse(&doc, NULL, t->data, t->len, g) ||
	    sel_outline_build(&ol, doc)) {
		ln_error_clear();
		sel_doc_free(doc);
		return;
	}
	for (i = from; i < json_array_size(facts); i++) {
		const json_t *st = json_object_get(json_object_get(json_array_get(raw, i - from),
								   "range"), "start");
		json_int_t line = json_integer_value(json_object_get(st, "line"));
		const struct sel_symbol *sym;
		size_t byte;
		if (line < 0 || line >= t->nlines ||
		    ln_text_to_byte(t, (int)line, (long)json_integer_value(json_object_get(st,
					"character")), enc, &byte)) {
			ln_error_clear();
			continue;
		}
		byte += t->line_starts[line];
		sym = sel_outline_enclosing(&ol, byte, byte);
		if (sym && sym->qual)
			json_object_set_new(json_array_get(facts, i), "symbol", json_string(sym->qual));
	}
	sel_outline_release(&ol);
	sel_doc_free(doc);
}

/* Diagnostics of `rel` as the server sees it now (the overlay when one is
 * set); `force`: re-analyse even if its own text did not change (a file it
 * depends on did). Facts appended to `facts`. */
static int diag_file(struct ectx *x, const char *rel, bool force, json_t *facts, bool *complete)
{
	struct lsp_server_info *srv;
	const struct ln_text *t;
	const char *lang = NULL;
	json_t *diags = NULL, *d;
	enum ln_enc enc;
	char *uri;
	int version, error;
	size_t i, first;

	if (force) {
		/* servers skip the rebuild of a document whose own text did not
		 * change (clangd does): close it, so the open below rebuilds it
		 * against the files it depends on as they are now */
		if (lsp_profiles_for_path(lsp_workspace_profiles(x->ws), rel, &lang) &&
		    lsp_workspace_server(x->ws, &srv, lsp_profiles_for_path(
				lsp_workspace_profiles(x->ws), rel, &lang)) == 0) {
			uri = lsp_workspace_uri(x->ws, rel);
			lsp_session_close_doc(srv->session, uri);
			free(uri);
		}
		ln_error_clear();
	}
	error = lsp_workspace_open(x->ws, &srv, &version, rel);
	if (error == LN_ENOSERVER) {
		ln_error_clear();
		return 0;     /* a file no server reads has no diagnostics */
	}
	if (error)
		return error;
	note_server(x, srv);
	error = lsp_workspace_text(x->ws, &t, rel);
	if (error)
		return error;
	uri = lsp_workspace_uri(x->ws, rel);
	error = lsp_session_wait_diagnostics(srv->session, &diags, uri, version,
						     x->c->cfg.diagnostics_ms);
	free(uri);
	if (error == LN_ETIMEOUT) {
		*complete = false;
		return ln_error_set(LN_ETIMEOUT, "%s: no diagnostics from %s within %d ms", rel,
				    srv->profile->name, x->c->cfg.diagnostics_ms);
	}
	if (error)
		return error;
	enc = lsp_session_encoding(srv->session);
	first = json_array_size(facts);
	json_array_foreach(diags, i, d) {
		const json_t *r = json_object_get(d, "range"), *s = json_object_get(r, "start");
		const json_t *e = json_object_get(r, "end"), *code = json_object_get(d, "code");
		const char *msg = json_string_value(json_object_get(d, "message"));
		json_int_t sl = json_integer_value(json_object_get(s, "line"));
		json_int_t el = json_integer_value(json_object_get(e, "line"));
		json_t *fact = json_pack("{s:s, s:s, s:o, s:s, s:o, s:s}", "kind", "diagnostic",
			"path", rel, "range", ln_range_new((long)sl + 1,
				conv_col(t, enc, x->c->index_io, sl,
					 json_integer_value(json_object_get(s, "character"))),
				(long)el + 1, conv_col(t, enc, x->c->index_io, el,
					 json_integer_value(json_object_get(e, "character")))),
			"severity", severity_name(json_integer_value(json_object_get(d, "severity"))),
			"message", clean_text(x, msg ? msg : ""), "provenance", "lsp");
		if (json_is_string(code)) {
			json_object_set_new(fact, "code", json_string(json_string_value(code)));
		} else if (json_is_integer(code)) {
			char tmp[32];
			snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(code));
			json_object_set_new(fact, "code", json_string(tmp));
		}
		if (json_is_string(json_object_get(d, "source")))
			json_object_set(fact, "source", json_object_get(d, "source"));
		json_array_append_new(facts, fact);
	}
	annotate_symbols(rel, t, enc, facts, first, diags);
	json_decref(diags);
	return 0;
}

static bool json_has_str(const json_t *a, const char *s)
{
	const json_t *v;
	size_t i;
	json_array_foreach(a, i, v)
		if (!strcmp(json_string_value(v), s))
			return true;
	return false;
}

/* Collects the innermost document symbols whose range overlaps lines
 * [lo, hi] (0-based): their selection starts go to `out`. */
static void touched_symbols(const json_t *syms, long lo, long hi, json_t *out)
{
	const json_t *s;
	size_t i;

	json_array_foreach(syms, i, s) {
		const json_t *r = json_object_get(s, "range");
		const json_t *sel = json_object_get(s, "selectionRange");
		long sl, el;
		json_int_t k;
		size_t before;
		if (!r) {      /* SymbolInformation */
			r = json_object_get(json_object_get(s, "location"), "range");
			sel = r;
		}
		sl = (long)json_integer_value(json_object_get(json_object_get(r, "start"), "line"));
		el = (long)json_integer_value(json_object_get(json_object_get(r, "end"), "line"));
		if (el < lo || sl > hi || json_array_size(out) >= EVAL_MAX_SYMBOLS)
			continue;
		before = json_array_size(out);
		/* the parameters and locals of a function are not symbols
		 * other files can depend on: a function is a leaf here */
		k = json_integer_value(json_object_get(s, "kind"));
		if (k != 6 && k != 9 && k != 12)
			touched_symbols(json_object_get(s, "children"), lo, hi, out);
		if (json_array_size(out) == before && sel)
			json_array_append(out, json_object_get(sel, "start"));
	}
}

/* Lines [lo, hi] (0-based, of the old text) that the change touched:
 * everything between the common prefix and the common suffix of the two
 * texts (one region: a diff with two distant hunks makes it span both,
 * which only adds symbols, up to the cap below). */
static void changed_lines(const struct buf *a, const struct buf *b, long *lo, long *hi)
{
	size_t p = 0, sa = a->len, sb = b->len;
	long line = 0, total = 0;
	size_t i;

	while (p < a->len && p < b->len && a->data[p] == b->data[p]) {
		if (a->data[p] == '\n')
			line++;
		p++;
	}
	*lo = line;
	while (sa > p && sb > p && a->data[sa - 1] == b->data[sb - 1]) {
		sa--;
		sb--;
	}
	for (i = 0; i < sa && i < a->len; i++)
		if (a->data[i] == '\n')
			total++;
	*hi = total < *lo ? *lo : total;
}

/* The relevant files of a candidate: the files it touched plus the files
 * that hold references (at the base) to the symbols it touched. */
static int compute_relevant(struct ectx *x, struct cand *cd)
{
	bool waited = false;
	size_t i, k;

	cd->relevant = json_array();
	for (i = 0; i < cd->e.n; i++) {
		const struct sbx_file *f = &cd->e.v[i];
		if (!json_has_str(cd->relevant, f->path))
			json_array_append_new(cd->relevant, json_string(f->path));
		if (f->from && !json_has_str(cd->relevant, f->from))
			json_array_append_new(cd->relevant, json_string(f->from));
	}
	for (i = 0; i < cd->e.n; i++) {
		const struct sbx_file *f = &cd->e.v[i];
		const char *old = f->from ? f->from : f->path;
		struct lsp_server_info *srv;
		json_t *syms = NULL, *points = json_array(), *pt;
		char *uri;
		long lo, hi;
		int version;
		if (!f->old_exists || lsp_workspace_open(x->ws, &srv, &version, old)) {
			ln_error_clear();
			json_decref(points);
			continue;
		}
		if (!waited) {
			/* references need the index (clangd's background index) */
			if (lsp_workspace_wait_ready(x->ws, srv, true, x->c->index_ms) == 0)
				cd->complete = false;
			waited = true;
		}
		changed_lines(&f->old, &f->new, &lo, &hi);
		uri = lsp_workspace_uri(x->ws, old);
		if (lsp_session_request(srv->session, &syms, "textDocument/documentSymbol",
					json_pack("{s:{s:s}}", "textDocument", "uri", uri),
					x->c->timeout_ms) == 0)
			touched_symbols(syms, f->status == SBX_DELETED ? 0 : lo,
					f->status == SBX_DELETED ? 100000000 : hi, points);
		ln_error_clear();
		json_array_foreach(points, k, pt) {
			json_t *refs = NULL, *loc;
			size_t j;
			if (lsp_session_request(srv->session, &refs, "textDocument/references",
						json_pack("{s:{s:s}, s:O, s:{s:b}}", "textDocument",
							  "uri", uri, "position", pt, "context",
							  "includeDeclaration", 1),
						x->c->timeout_ms)) {
				ln_error_clear();
				continue;
			}
			json_array_foreach(refs, j, loc) {
				char *abs = NULL, *rel = NULL;
				const char *u = json_string_value(json_object_get(loc, "uri"));
				if (u && ln_uri_to_path(&abs, u) == 0 &&
				    ln_path_relativize(&rel, x->wt, abs) == 1 &&
				    !json_has_str(cd->relevant, rel) &&
				    json_array_size(cd->relevant) < EVAL_MAX_RELEVANT)
					json_array_append_new(cd->relevant, json_string(rel));
				ln_error_clear();
				free(abs);
				free(rel);
			}
			json_decref(refs);
		}
		free(uri);
		json_decref(syms);
		json_decref(points);
	}
	/* sorted: the order of every output */
	{
		size_t a, b;
		for (a = 1; a < json_array_size(cd->relevant); a++)
			for (b = a; b > 0 && strcmp(json_string_value(json_array_get(cd->relevant, b - 1)),
						   json_string_value(json_array_get(cd->relevant, b))) > 0; b--) {
				json_t *t = json_incref(json_array_get(cd->relevant, b - 1));
				json_array_set(cd->relevant, b - 1, json_array_get(cd->relevant, b));
				json_array_set_new(cd->relevant, b, t);
			}
	}
	return 0;
}

static bool exists_in_wt(struct ectx *x, const char *rel)
{
	struct buf b = BUF_INIT;
	bool r;
	buf_addf(&b, "%s/%s", x->wt, rel);
	r = access(b.data, F_OK) == 0;
	buf_release(&b);
	return r;
}

static const struct sbx_file *edit_of(const struct cand *cd, const char *rel, bool *gone)
{
	size_t i;
	*gone = false;
	for (i = 0; i < cd->e.n; i++) {
		if (!strcmp(cd->e.v[i].path, rel)) {
			*gone = !cd->e.v[i].new_exists;
			return &cd->e.v[i];
		}
		if (cd->e.v[i].from && !strcmp(cd->e.v[i].from, rel)) {
			*gone = true;
			return &cd->e.v[i];
		}
	}
	return NULL;
}

/* Puts back what remove_files took out, drops the candidate's overlays and
 * puts the servers' view of the files
 * it touched back to the base texts (didChange, no wait: a later answer is
 * matched to its document version). Files re-analysed as dependents keep
 * their base text and are rebuilt again whenever a later candidate needs
 * them; their base diagnostics were cached before any overlay. */
static struct lsp_server_info *server_of(struct ectx *x, const char *rel)
{
	const struct lsp_profile *p = lsp_profiles_for_path(lsp_workspace_profiles(x->ws), rel,
							     NULL);
	struct lsp_server_info *srv = NULL;

	if (!p || lsp_workspace_server(x->ws, &srv, p)) {
		ln_error_clear();
		return NULL;
	}
	return srv;
}

/* The path a file had before the change, when the change removes it (a
 * deletion, or the old name of a rename); NULL otherwise. */
static const char *removed_path(const struct sbx_file *f)
{
	if (!f->old_exists)
		return NULL;
	if (f->from)
		return f->from;
	return f->new_exists ? NULL : f->path;
}

/* Overlays cannot remove a file: a file the candidate deletes (or renames
 * away) is taken out of the base worktree - lanser's own, never the user's
 * tree - and closed in its server, which is told through
 * didChangeWatchedFiles, so that the files that include or import it see it
 * gone; restore_base writes it back byte for byte. type: 3 deleted, 1 created. */
static void watched_change(struct ectx *x, const char *rel, int type)
{
	struct lsp_server_info *srv = server_of(x, rel);
	char *uri;

	if (!srv)
		return;
	uri = lsp_workspace_uri(x->ws, rel);
	if (type == 3)
		lsp_session_close_doc(srv->session, uri);
	lsp_session_notify(srv->session, "workspace/didChangeWatchedFiles",
			   json_pack("{s:[{s:s, s:i}]}", "changes", "uri", uri, "type", type));
	free(uri);
}

static int remove_files(struct ectx *x, struct cand *cd)
{
	size_t i;

	for (i = 0; i < cd->e.n; i++) {
		const char *rel = removed_path(&cd->e.v[i]);
		struct buf abs = BUF_INIT;
		if (!rel)
			continue;
		buf_addf(&abs, "%s/%s", x->wt, rel);
		if (unlink(abs.data) == 0) {
			cd->removed = true;
			watched_change(x, rel, 3);
		}
		buf_release(&abs);
	}
	return 0;
}

static void restore_files(struct ectx *x, struct cand *cd)
{
	size_t i;

	if (!cd->removed)
		return;
	for (i = 0; i < cd->e.n; i++) {
		const struct sbx_file *f = &cd->e.v[i];
		const char *rel = removed_path(f);
		struct buf abs = BUF_INIT;
		int fd;
		if (!rel)
			continue;
		buf_addf(&abs, "%s/%s", x->wt, rel);
		fd = open(abs.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			  f->old_mode ? f->old_mode & 07777 : 0644);
		if (fd >= 0) {
			if (ln_write_all(fd, f->old.data, f->old.len) < 0 && x->c->err)
				fprintf(x->c->err, "lanser: warning: cannot restore %s in the base "
					"worktree\n", rel);
			close(fd);
			watched_change(x, rel, 1);
		}
		buf_release(&abs);
	}
	cd->removed = false;
}

static void restore_base(struct ectx *x, struct cand *cd)
{
	size_t i;

	restore_files(x, cd);
	lsp_workspace_drop_overlays(x->ws);
	for (i = 0; i < cd->e.n; i++) {
		struct lsp_server_info *srv;
		int version;
		if (cd->e.v[i].new_exists && exists_in_wt(x, cd->e.v[i].path))
			lsp_workspace_open(x->ws, &srv, &version, cd->e.v[i].path);
		else if (cd->e.v[i].new_exists && lsp_profiles_for_path(
				lsp_workspace_profiles(x->ws), cd->e.v[i].path, NULL) &&
			 lsp_workspace_server(x->ws, &srv, lsp_profiles_for_path(
				lsp_workspace_profiles(x->ws), cd->e.v[i].path, NULL)) == 0) {
			/* a file the candidate added: gone again */
			char *uri = lsp_workspace_uri(x->ws, cd->e.v[i].path);
			lsp_session_close_doc(srv->session, uri);
			free(uri);
		}
	}
	ln_error_clear();
}

/* Relevance and diagnostics before: at the base, for every candidate
 * before any candidate's change reaches a server (references and the index
 * must be those of the base; a file one candidate deletes is re-indexed
 * when it comes back). Cached per file: the base is the same for all. */
static int diag_before(struct ectx *x, struct cand *cd)
{
	json_t *f;
	size_t i;
	int error;

	cd->before = json_array();
	error = compute_relevant(x, cd);
	json_array_foreach(cd->relevant, i, f) {
		const char *rel = json_string_value(f);
		json_t *cached = json_object_get(x->before_cache, rel);
		if (error)
			break;
		if (!cached) {
			cached = json_array();
			if (exists_in_wt(x, rel))
				error = diag_file(x, rel, false, cached, &cd->complete);
			if (error) {
				json_decref(cached);
				break;
			}
			json_object_set_new(x->before_cache, rel, cached);
		}
		json_array_extend(cd->before, cached);
	}
	return error;
}

static int diag_after(struct ectx *x, struct cand *cd)
{
	json_t *f;
	size_t i;
	int error = 0;

	cd->after = json_array();
	/* after: the files the candidate removes taken out, its texts as
	 * overlays, the touched files synced first, then every other relevant
	 * file re-analysed against them */
	if (!error)
		error = remove_files(x, cd);
	for (i = 0; i < cd->e.n && !error; i++)
		if (cd->e.v[i].new_exists)
			error = lsp_workspace_set_overlay(x->ws, cd->e.v[i].path, cd->e.v[i].new.data,
							  cd->e.v[i].new.len);
	for (i = 0; i < cd->e.n && !error; i++) {
		struct lsp_server_info *srv;
		int version;
		if (!cd->e.v[i].new_exists)
			continue;
		error = lsp_workspace_open(x->ws, &srv, &version, cd->e.v[i].path);
		if (error == LN_ENOSERVER) {
			ln_error_clear();
			error = 0;
		}
	}
	json_array_foreach(cd->relevant, i, f) {
		const char *rel = json_string_value(f);
		bool gone;
		const struct sbx_file *ed = edit_of(cd, rel, &gone);
		if (error)
			break;
		if (gone || (!ed && !exists_in_wt(x, rel)))
			continue;
		error = diag_file(x, rel, ed == NULL, cd->after, &cd->complete);
	}
	restore_base(x, cd);
	return error;
}

/* ---- cancellation (Ctrl-C, TERM): the test trees are killed, the
 * worktrees removed, the command exits 73 ---- */

static volatile sig_atomic_t eval_cancel;

static void on_signal(int sig)
{
	(void)sig;
	eval_cancel = 1;
}

/* ---- tests (in a thread of their own, while the diagnostics run) ---- */

static void *tests_main(void *arg)
{
	struct ectx *x = arg;
	struct sbx_task *t = &x->t;
	struct sbx_candidate *saved = t->cands;
	size_t saved_n = t->ncands, i, n = 0;
	struct test_run_opts o;
	long long t0 = ln_now_ms();

	t->cands = xcalloc(x->n + 1, sizeof *t->cands);
	for (i = 0; i < x->n; i++) {
		if (!x->v[i].have_edits)
			continue;
		t->cands[n].id = xstrdup(x->v[i].id);
		t->cands[n].patch_path = xstrdup(x->v[i].patch_file);
		n++;
	}
	t->ncands = n;
	x->records = NULL;
	x->tests_code = 0;
	if (n > 0) {
		memset(&o, 0, sizeof o);
		o.root = x->root;
		o.config_digest = x->digest;
		o.index_io = x->c->index_io;
		o.jobs = x->c->jobs > 0 ? x->c->jobs : 2;
		o.err = NULL;
		o.cancel = &eval_cancel;
		x->tests_code = test_run(t, &o, &x->records);
		if (x->tests_code)
			snprintf(x->tests_msg, sizeof x->tests_msg, "%s", ln_error_msg());
	}
	for (i = 0; i < t->ncands; i++) {
		free(t->cands[i].id);
		free(t->cands[i].patch_path);
	}
	free(t->cands);
	t->cands = saved;
	t->ncands = saved_n;
	x->t_tests_ms = ln_now_ms() - t0;
	return NULL;
}

/* ---- scoring ---- */

/* The surplus of `after` over `before` per matching key (docs/rewards.md):
 * the introduced diagnostics, the last ones of each key in fact order. */
static json_t *introduced_facts(const json_t *before, const json_t *after)
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

static void score(struct ectx *x, struct cand *cd)
{
	json_t *f;
	size_t i;

	memset(&cd->ep, 0, sizeof cd->ep);
	cd->ep.scorable = true;
	cd->ep.r_format = cd->have_edits ? 1 : 0;
	cd->reward = NAN;
	if (cd->have_edits && cd->diag_code == 0) {
		rwd_diag_delta(&cd->dd, cd->before, cd->after, cd->relevant, NULL);
		cd->introduced = introduced_facts(cd->before, cd->after);
		json_array_foreach(cd->introduced, i, f)
			if (!strcmp(json_string_value(json_object_get(f, "severity")), "error"))
				cd->new_errors++;
		/* one step: the patch; S = 1 (jail and conflicts passed), an
		 * exact target (c = c_{t-1} = 1) */
		cd->step.d_prev = cd->dd.d_before;
		cd->step.d = cd->dd.d_after;
		cd->step.s = 1;
		cd->step.c_prev = 1;
		cd->step.c = 1;
		cd->ep.r_process = rwd_process_episode(&x->w, &cd->step, 1);
	} else {
		cd->introduced = json_array();
	}
	if (!cd->have_edits) {
		/* not a usable patch: scored, R_format 0, nothing else earns */
		cd->ep.r_outcome = 0;
		cd->ep.r_process = 0;
	} else if (cd->diag_code) {
		cd->ep.scorable = false;
		snprintf(cd->ep.reason, sizeof cd->ep.reason, "diagnostics: %.140s", cd->diag_msg);
		cd->code = cd->diag_code;
	} else if (!cd->record) {
		cd->ep.scorable = false;
		snprintf(cd->ep.reason, sizeof cd->ep.reason, "tests: %.140s",
			 x->tests_code ? x->tests_msg : "no outcome record");
		cd->code = x->tests_code ? x->tests_code : LN_ESANDBOX;
	} else if (rwd_outcome_read(&cd->oc, cd->record)) {
		cd->ep.scorable = false;
		snprintf(cd->ep.reason, sizeof cd->ep.reason, "outcome record: %s", ln_error_msg());
		cd->code = LN_ESANDBOX;
	} else if (!cd->oc.scorable) {
		int ec = (int)json_integer_value(json_object_get(json_object_get(cd->record, "meta"),
								  "exitCode"));
		cd->ep.scorable = false;
		snprintf(cd->ep.reason, sizeof cd->ep.reason, "%s", cd->oc.reason);
		cd->code = ec ? -ec : LN_ESANDBOX;
	} else {
		if (cd->oc.patch_failed)
			cd->ep.r_format = 0;
		cd->ep.r_outcome = cd->oc.r_outcome;
	}
	if (cd->ep.scorable)
		cd->reward = rwd_episode_reward(x->emode, &cd->ep);
	else
		cd->ep.r_process = cd->have_edits && !cd->diag_code ? cd->ep.r_process : 0;
}

/* The policy verdict; reasons in cd->reasons. */
static void judge(struct ectx *x, struct cand *cd)
{
	char m[200];

	cd->accepted = cd->ep.scorable && cd->have_edits;
	if (!cd->have_edits) {
		snprintf(m, sizeof m, "not a usable patch: %.170s", cd->format_note[0] ? cd->format_note
										: cd->apply_msg);
		json_array_append_new(cd->reasons, json_string(m));
		return;
	}
	if (!cd->ep.scorable) {
		snprintf(m, sizeof m, "unscorable: %s", cd->ep.reason);
		json_array_append_new(cd->reasons, json_string(m));
		return;
	}
	if (x->pol.max_new_errors >= 0 && cd->new_errors > x->pol.max_new_errors) {
		snprintf(m, sizeof m, "%ld new error%s (policy.maxNewErrors %ld)", cd->new_errors,
			 cd->new_errors == 1 ? "" : "s", x->pol.max_new_errors);
		json_array_append_new(cd->reasons, json_string(m));
		cd->accepted = false;
	}
	if (x->pol.require_tests && cd->ep.r_outcome != 1) {
		snprintf(m, sizeof m, "tests did not pass: %s (policy.requireTests)",
			 json_string_value(json_object_get(json_object_get(cd->record, "outcome"),
							   "status")));
		json_array_append_new(cd->reasons, json_string(m));
		cd->accepted = false;
	}
	if (x->pol.has_min_reward && !(cd->reward >= x->pol.min_reward)) {
		char a[40], b[40];
		jcs_format_number(a, sizeof a, cd->reward);
		jcs_format_number(b, sizeof b, x->pol.min_reward);
		snprintf(m, sizeof m, "reward %s below policy.minReward %s", a, b);
		json_array_append_new(cd->reasons, json_string(m));
		cd->accepted = false;
	}
}

static json_t *reward_json(struct ectx *x, const struct cand *cd)
{
	return json_pack("{s:s, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o}",
		"mode", rwd_episode_mode_name(x->emode), "functional",
		rwd_functional_json(RWD_BOUNDED, &x->w), "scorable", cd->ep.scorable,
		"reason", cd->ep.scorable ? json_null() : json_string(cd->ep.reason),
		"rFormat", rwd_number(cd->ep.r_format),
		"rOutcome", cd->ep.scorable ? rwd_number(cd->ep.r_outcome) : json_null(),
		"rProcess", rwd_number(cd->ep.r_process),
		"step", cd->have_edits && !cd->diag_code ?
			json_pack("{s:o, s:o, s:o, s:o, s:o}", "D0", rwd_number(cd->step.d_prev),
				  "D", rwd_number(cd->step.d), "S", rwd_number(cd->step.s),
				  "c0", rwd_number(cd->step.c_prev), "c", rwd_number(cd->step.c))
			: json_null(),
		"reward", rwd_number(cd->reward));
}

/* The candidate's eval bundle (request.command "eval"). */
static void make_bundle(struct ectx *x, struct cand *cd, long long started)
{
	json_t *b = ln_bundle_new("eval"), *req = json_object_get(b, "request");
	json_t *env = json_object_get(b, "environment"), *outc = json_object(), *f;
	json_t *vol = json_object_get(json_object_get(b, "meta"), "volatile");
	json_t *docs = json_object_get(json_object_get(b, "inputs"), "documents");
	json_t *files;
	char hex[LN_SHA256_HEX_SIZE], dg[80];
	size_t i;

	json_object_set_new(req, "indexIo", json_string(ln_enc_name(x->c->index_io)));
	json_object_set_new(env, "indexIo", json_string(ln_enc_name(x->c->index_io)));
	json_object_set_new(env, "configDigest", json_string(x->digest));
	json_object_set_new(env, "servers", json_deep_copy(x->servers_env));
	if (cd->patch) {
		ln_sha256_hex(cd->patch, cd->len, hex);
		snprintf(dg, sizeof dg, "sha256:%s", hex);
	}
	json_object_set_new(req, "target", json_pack("{s:s, s:s, s:o, s:o}", "base", x->base_oid,
		"candidate", cd->id, "task", x->t.task_id ? json_string(x->t.task_id) : json_null(),
		"patch", cd->patch ? json_pack("{s:s, s:I}", "sha256", dg, "bytes",
					       (json_int_t)cd->len) : json_null()));
	json_object_set_new(req, "options", json_pack("{s:s, s:o, s:o, s:o}", "mode",
		rwd_episode_mode_name(x->emode), "policy", policy_json(&x->pol),
		"FAIL_TO_PASS", json_deep_copy(x->t.f2p), "PASS_TO_PASS", json_deep_copy(x->t.p2p)));
	json_object_set_new(b, "complete", json_boolean(cd->complete));
	/* the enclosing symbol is a fact's "container" in a bundle */
	json_array_foreach(cd->introduced, i, f) {
		json_t *copy = json_copy(f);
		if (json_object_get(copy, "symbol")) {
			json_object_set(copy, "container", json_object_get(copy, "symbol"));
			json_object_del(copy, "symbol");
		}
		json_array_append_new(json_object_get(b, "facts"), copy);
	}
	/* the base texts the patch was applied to; per file before and after
	 * in outcome.patch.files */
	files = json_array();
	for (i = 0; i < cd->e.n; i++) {
		const struct sbx_file *sf = &cd->e.v[i];
		char h1[LN_SHA256_HEX_SIZE], h2[LN_SHA256_HEX_SIZE];
		json_t *fj;
		ln_sha256_hex(sf->old.data, sf->old.len, h1);
		ln_sha256_hex(sf->new.data, sf->new.len, h2);
		if (sf->old_exists)
			json_array_append_new(docs, json_pack("{s:s, s:s}", "path",
				sf->from ? sf->from : sf->path, "sha256", h1));
		fj = json_pack("{s:s, s:s, s:o, s:o}", "path", sf->path,
			"status", sbx_status_name(sf->status),
			"before", sf->old_exists ? json_string(h1) : json_null(),
			"after", sf->new_exists ? json_string(h2) : json_null());
		if (sf->from)
			json_object_set_new(fj, "from", json_string(sf->from));
		json_array_append_new(files, fj);
	}
	{
		const char *st = cd->record ? json_string_value(json_object_get(json_object_get(
			cd->record, "outcome"), "status")) : NULL;
		json_object_set_new(outc, "status", json_string(!cd->have_edits ? "patch-failed" :
								 st ? st : "error"));
	}
	json_object_set_new(outc, "patch", json_pack("{s:b, s:s, s:o}", "usable", cd->have_edits,
		"code", ln_err_name(cd->apply_code), "files", files));
	if (cd->apply_code == LN_ECONFLICT && json_array_size(cd->e.conflicts))
		json_object_set(json_object_get(outc, "patch"), "conflicts", cd->e.conflicts);
	if (cd->have_edits && !cd->diag_code)
		json_object_set_new(outc, "diagnostics", json_pack("{s:o, s:o, s:I, s:I, s:I, s:I, "
			"s:I, s:I, s:O}", "dBefore", rwd_number(cd->dd.d_before),
			"dAfter", rwd_number(cd->dd.d_after), "fixed", (json_int_t)cd->dd.fixed,
			"introduced", (json_int_t)cd->dd.introduced, "kept", (json_int_t)cd->dd.kept,
			"relevantBefore", (json_int_t)cd->dd.relevant_before,
			"relevantAfter", (json_int_t)cd->dd.relevant_after,
			"newErrors", (json_int_t)cd->new_errors, "relevant", cd->relevant));
	if (cd->record) {
		json_t *ro = json_object_get(cd->record, "outcome");
		json_object_set_new(outc, "testRun", json_pack("{s:O, s:O?, s:O?, s:O?, s:O?}",
			"record", json_object_get(cd->record, "bundleId"),
			"counts", json_object_get(ro, "counts"),
			"FAIL_TO_PASS", json_object_get(ro, "FAIL_TO_PASS"),
			"PASS_TO_PASS", json_object_get(ro, "PASS_TO_PASS"),
			"resolved", json_object_get(ro, "resolved")));
		json_object_set(b, "isolation", json_object_get(cd->record, "isolation"));
		json_object_set(env, "sandbox", json_object_get(json_object_get(cd->record,
							"environment"), "sandbox"));
		if (cd->ep.scorable)
			json_object_set_new(json_object_get(outc, "testRun"), "outcome",
					    rwd_outcome_json(&cd->oc));
	}
	json_object_set_new(outc, "reward", reward_json(x, cd));
	json_object_set_new(outc, "verdict", json_pack("{s:b, s:O}", "accepted", cd->accepted,
						       "reasons", cd->reasons));
	json_object_set_new(b, "outcome", outc);
	json_object_set_new(vol, "durationMs", json_pack("{s:I, s:I, s:I}", "total",
		(json_int_t)(ln_now_ms() - started), "diagnostics", (json_int_t)x->t_diag_ms,
		"tests", (json_int_t)x->t_tests_ms));
	if (x->wt)
		json_object_set_new(vol, "worktree", json_string(x->wt));
	if (cd->record)
		json_object_set(vol, "testRecord", cd->record);
	{
		int code = cd->code ? cd->code : cd->accepted ? 0 : LN_EPOLICY;
		char *msg = NULL;
		if (json_array_size(cd->reasons)) {
			struct buf m = BUF_INIT;
			json_t *r;
			json_array_foreach(cd->reasons, i, r)
				buf_addf(&m, "%s%s", i ? "; " : "", json_string_value(r));
			msg = buf_detach(&m, NULL);
		}
		ln_bundle_finish(b, code, msg);
		free(msg);
	}
	cd->bundle = b;
}

/* ---- SARIF 2.1.0 ---- */

static const char *sarif_level(const char *sev)
{
	if (!strcmp(sev, "error"))
		return "error";
	if (!strcmp(sev, "warning"))
		return "warning";
	return "note";
}

static int write_sarif(struct ectx *x, const struct cand *cd, const char *path)
{
	json_t *results = json_array(), *f, *doc;
	struct buf abs = BUF_INIT;
	char *s = NULL;
	size_t i;
	FILE *out;
	int error = 0;

	json_array_foreach(cd->introduced, i, f) {
		const json_t *r = json_object_get(f, "range");
		const char *code = json_string_value(json_object_get(f, "code"));
		const char *src = json_string_value(json_object_get(f, "source"));
		struct buf rule = BUF_INIT;
		buf_addf(&rule, "%s%s%s", src ? src : "lsp", code ? "/" : "", code ? code : "");
		json_array_append_new(results, json_pack("{s:s, s:s, s:{s:O}, s:[{s:{s:{s:O, s:s}, "
			"s:{s:O, s:O, s:O, s:O}}}]}",
			"ruleId", rule.data,
			"level", sarif_level(json_string_value(json_object_get(f, "severity"))),
			"message", "text", json_object_get(f, "message"),
			"locations", "physicalLocation", "artifactLocation", "uri",
			json_object_get(f, "path"), "uriBaseId", "SRCROOT",
			"region", "startLine", json_array_get(r, 0), "startColumn", json_array_get(r, 1),
			"endLine", json_array_get(r, 2), "endColumn", json_array_get(r, 3)));
		buf_release(&rule);
		if (json_is_string(json_object_get(f, "symbol")))
			json_object_set_new(json_array_get(json_object_get(json_array_get(results,
				json_array_size(results) - 1), "locations"), 0), "logicalLocations",
				json_pack("[{s:O}]", "fullyQualifiedName", json_object_get(f, "symbol")));
	}
	doc = json_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:s}}, s:o, s:s, s:{s:s}, s:{s:o}}]}",
		"$schema", "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0",
		"runs", "tool", "driver", "name", "lanser", "version", LANSER_VERSION,
		"informationUri", "https://lanser.dev", "results", results,
		"columnKind", x->c->index_io == LN_ENC_UTF16 ? "utf16CodeUnits" : "unicodeCodePoints",
		"versionControlProvenance", "revisionId", x->base_oid,
		"properties", "bundleId", json_incref(json_object_get(cd->bundle, "bundleId")));
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

/* ---- the pipeline ---- */

static void trace_candidate(struct ectx *x, const struct cand *cd)
{
	if (!x->c->trace)
		return;
	trace_event(x->c, "edit", json_pack("{s:s, s:b, s:s, s:o}", "candidate", cd->id,
		"usable", cd->have_edits, "code", ln_err_name(cd->apply_code),
		"files", cd->have_edits ? sbx_edits_files_json(&cd->e) : json_array()));
	if (cd->record)
		trace_event(x->c, "outcome", json_pack("{s:s, s:O}", "candidate", cd->id, "record",
						       cd->record));
	if (cd->have_edits && !cd->diag_code)
		trace_event(x->c, "reward", json_pack("{s:s, s:s, s:o, s:{s:o, s:o, s:o, s:o, s:o}, "
			"s:o}", "kind", "step", "candidate", cd->id,
			"functional", rwd_functional_json(RWD_BOUNDED, &x->w), "terms",
			"D0", rwd_number(cd->step.d_prev), "D", rwd_number(cd->step.d),
			"S", rwd_number(cd->step.s), "c", rwd_number(cd->step.c),
			"c0", rwd_number(cd->step.c_prev),
			"reward", rwd_number(cd->ep.r_process)));
	trace_event(x->c, "reward", json_pack("{s:s, s:s, s:s, s:b, s:{s:o, s:o, s:o}, s:o, s:s}",
		"kind", "episode", "candidate", cd->id, "mode", rwd_episode_mode_name(x->emode),
		"scorable", cd->ep.scorable, "terms", "format", rwd_number(cd->ep.r_format),
		"outcome", rwd_number(cd->ep.r_outcome), "process", rwd_number(cd->ep.r_process),
		"reward", rwd_number(cd->reward), "reason", cd->ep.scorable ? "" : cd->ep.reason));
}

/* Writes every candidate's patch bytes to the run's temporary folder. */
static int stage_patches(struct ectx *x)
{
	struct buf b = BUF_INIT;
	char *state = NULL;
	size_t i;
	int error;

	error = ln_state_workspace_dir(&state, x->root);
	if (error)
		return error;
	buf_addf(&b, "%s/eval-%ld-XXXXXX", state, (long)getpid());
	free(state);
	if (!mkdtemp(b.data)) {
		error = ln_error_set(LN_ESANDBOX, "cannot create %s: %s", b.data, strerror(errno));
		buf_release(&b);
		return error;
	}
	x->tmpdir = buf_detach(&b, NULL);
	for (i = 0; i < x->n; i++) {
		struct cand *cd = &x->v[i];
		int fd;
		if (!cd->have_edits)
			continue;
		buf_reset(&b);
		buf_addf(&b, "%s/%zu.diff", x->tmpdir, i);
		fd = open(b.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || ln_write_all(fd, cd->patch, cd->len) < 0) {
			error = ln_error_set(LN_ESANDBOX, "cannot write %s: %s", b.data,
					     strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		close(fd);
		cd->patch_file = buf_detach(&b, NULL);
	}
	buf_release(&b);
	return error;
}

static int run_pipeline(struct ectx *x)
{
	struct sigaction sa, old_int, old_term;
	pthread_t th;
	bool threaded = false;
	long long t0;
	size_t i;
	int error;

	x->servers_env = json_array();
	x->before_cache = json_object();
	error = setup_base(x);
	if (error)
		return error;
	/* the diffs, in memory against the base: R_format */
	for (i = 0; i < x->n; i++) {
		struct cand *cd = &x->v[i];
		if (!cd->patch) {
			cd->apply_code = LN_EINPUT;
			continue;
		}
		cd->apply_code = sbx_edits_from_diff(&cd->e, x->wt, cd->patch, cd->len);
		if (!cd->apply_code && cd->e.n == 0)
			cd->apply_code = ln_error_set(LN_EINPUT, "the patch changes no file");
		if (cd->apply_code) {
			snprintf(cd->apply_msg, sizeof cd->apply_msg, "%s", ln_error_msg());
			if (!cd->format_note[0])
				snprintf(cd->format_note, sizeof cd->format_note, "%s: %s",
					 ln_err_name(cd->apply_code), ln_error_msg());
		}
		cd->have_edits = cd->apply_code == 0;
		ln_error_clear();
	}
	error = stage_patches(x);
	if (error)
		return error;
	eval_cancel = 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (pthread_create(&th, NULL, tests_main, x) == 0)
		threaded = true;
	else
		tests_main(x);
	/* diagnostics: one candidate at a time on the warm servers */
	t0 = ln_now_ms();
	for (i = 0; i < x->n; i++) {
		struct cand *cd = &x->v[i];
		if (!cd->have_edits || eval_cancel)
			continue;
		cd->diag_code = diag_before(x, cd);
		if (cd->diag_code) {
			snprintf(cd->diag_msg, sizeof cd->diag_msg, "%s", ln_error_msg());
			ln_error_clear();
		}
	}
	/* after: one candidate at a time (a server has one view of a file) */
	for (i = 0; i < x->n; i++) {
		struct cand *cd = &x->v[i];
		if (!cd->have_edits || cd->diag_code || eval_cancel)
			continue;
		cd->diag_code = diag_after(x, cd);
		if (cd->diag_code) {
			snprintf(cd->diag_msg, sizeof cd->diag_msg, "%s", ln_error_msg());
			ln_error_clear();
			restore_base(x, cd);
		}
	}
	x->t_diag_ms = ln_now_ms() - t0;
	if (threaded)
		pthread_join(th, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (eval_cancel)
		return ln_error_set(LN_ECANCELLED, "cancelled");
	/* records come back in the order the candidates went in */
	{
		size_t k = 0;
		for (i = 0; i < x->n; i++)
			if (x->v[i].have_edits)
				x->v[i].record = json_array_get(x->records, k++);
	}
	return 0;
}

static void ectx_init(struct ectx *x, struct cli *c)
{
	memset(x, 0, sizeof *x);
	x->c = c;
	sbx_task_init(&x->t);
}

static void ectx_release(struct ectx *x)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		cand_release(&x->v[i]);
	free(x->v);
	lsp_workspace_free(x->ws);
	sbx_wt_free(x->wts);
	if (x->tmpdir) {
		sbx_rmtree(x->tmpdir);
		free(x->tmpdir);
	}
	free(x->wt);
	json_decref(x->records);
	json_decref(x->servers_cfg);
	json_decref(x->servers_env);
	json_decref(x->before_cache);
	free(x->other_root);
	sbx_task_release(&x->t);
}

static void print_json_line(struct cli *c, const json_t *v)
{
	/* canonical (RFC 8785): numbers in their shortest round-trip form */
	char *s = jcs_dumps(v);
	if (!s)
		s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	fprintf(c->out, "%s\n", s ? s : "{}");
	free(s);
}

static void num_str(char *out, size_t n, double v)
{
	if (isnan(v))
		snprintf(out, n, "null");
	else
		jcs_format_number(out, n, v);
}

/* ---- lanser eval ---- */

static void print_verdict(struct ectx *x, const struct cand *cd)
{
	FILE *o = x->c->out;
	char r[40], pr[40], d0[40], d1[40];
	const json_t *f;
	size_t i;

	fprintf(o, "eval: %s  (candidate %s at base %.12s)\n", cd->accepted ? "ACCEPTED" :
		"REJECTED", ln_printable(cd->id), x->base_oid);
	if (cd->have_edits && !cd->diag_code) {
		num_str(d0, sizeof d0, cd->dd.d_before);
		num_str(d1, sizeof d1, cd->dd.d_after);
		fprintf(o, "  diagnostics: D %s -> %s over %zu relevant file%s (%ld introduced, "
			"%ld fixed, %ld new error%s)\n", d0, d1, json_array_size(cd->relevant),
			json_array_size(cd->relevant) == 1 ? "" : "s", cd->dd.introduced, cd->dd.fixed,
			cd->new_errors, cd->new_errors == 1 ? "" : "s");
	}
	if (cd->record) {
		const json_t *oc = json_object_get(cd->record, "outcome");
		const json_t *cnt = json_object_get(oc, "counts");
		fprintf(o, "  tests: %s", json_string_value(json_object_get(oc, "status")));
		if (cnt)
			fprintf(o, " (%lld passed, %lld failed, %lld errors)",
				(long long)json_integer_value(json_object_get(cnt, "passed")),
				(long long)json_integer_value(json_object_get(cnt, "failed")),
				(long long)json_integer_value(json_object_get(cnt, "error")));
		fprintf(o, "\n");
	}
	num_str(r, sizeof r, cd->reward);
	num_str(pr, sizeof pr, cd->ep.r_process);
	if (cd->ep.scorable)
		fprintf(o, "  reward (%s): %s  [R_format %g, R_outcome %g, R_process %s]\n",
			rwd_episode_mode_name(x->emode), r, cd->ep.r_format, cd->ep.r_outcome, pr);
	else
		fprintf(o, "  reward: null (unscorable: %s)\n", ln_printable(cd->ep.reason));
	json_array_foreach(cd->reasons, i, f)
		fprintf(o, "  rejected: %s\n", ln_printable(json_string_value(f)));
	json_array_foreach(cd->introduced, i, f) {
		const json_t *rg = json_object_get(f, "range");
		fprintf(o, "  new: %s:%lld:%lld: %s: %s\n",
			ln_printable(json_string_value(json_object_get(f, "path"))),
			(long long)json_integer_value(json_array_get(rg, 0)),
			(long long)json_integer_value(json_array_get(rg, 1)),
			json_string_value(json_object_get(f, "severity")),
			ln_printable(json_string_value(json_object_get(f, "message"))));
	}
}

static int parse_episode_mode(struct ectx *x, const char *s)
{
	if (s && rwd_episode_mode_parse(&x->emode, s))
		return ln_error_set(LN_EUSAGE, "--mode must be p-grpo, outcome, process or sum "
				    "(got '%s')", s);
	return 0;
}

int cmd_eval(struct cli *c)
{
	struct ectx x;
	struct cand *cd;
	long long t0 = ln_now_ms();
	int error = 0;

	ectx_init(&x, c);
	if (c->argc > 0) {
		error = ln_error_set(LN_EUSAGE, "eval takes no arguments (see --patch, --task)");
		goto done;
	}
	if (c->npatches > 1) {
		error = ln_error_set(LN_EUSAGE, "eval takes one --patch (for several candidates: "
				     "lanser group)");
		goto done;
	}
	if ((error = load_settings(&x)) ||
	    (error = parse_episode_mode(&x, c->episode_mode ? c->episode_mode : c->mode)))
		goto done;
	if (c->npatches == 1) {
		if (x.t.ncands) {
			error = ln_error_set(LN_EUSAGE, "--patch and a task with a patch: give one");
			goto done;
		}
		error = cand_from_file(&x, "c1", c->patches[0]);
	} else if (x.t.ncands == 1 && x.t.cands[0].patch_path) {
		error = cand_from_file(&x, x.t.cands[0].id, x.t.cands[0].patch_path);
	} else {
		error = ln_error_set(LN_EUSAGE, "eval needs one patch: --patch FILE, or a task "
				     "file with \"patch\"");
	}
	if (error || (error = run_pipeline(&x)))
		goto done;
	cd = &x.v[0];
	score(&x, cd);
	judge(&x, cd);
	if (!cd->have_edits)
		cd->code = cd->apply_code;
	make_bundle(&x, cd, t0);
	trace_candidate(&x, cd);
	if (c->json)
		print_json_line(c, cd->bundle);
	else
		print_verdict(&x, cd);
	if (c->sarif_path && cd->have_edits && (error = write_sarif(&x, cd, c->sarif_path)))
		goto done;
	if (cd->code) {
		error = ln_error_set(cd->code, "%s", cd->have_edits ? cd->ep.reason : cd->apply_msg);
	} else if (!cd->accepted) {
		json_t *r0 = json_array_get(cd->reasons, 0);
		error = ln_error_set(LN_EPOLICY, "the patch is not acceptable: %s%s",
				     json_string_value(r0), json_array_size(cd->reasons) > 1 ?
				     " (and more)" : "");
	}
done:
	ectx_release(&x);
	return error;
}

/* ---- lanser group ---- */

/* --out FILE: every candidate's eval bundle, one per line (JSONL). */
static int write_bundles(struct ectx *x, const char *path)
{
	struct buf abs = BUF_INIT;
	FILE *f;
	size_t i;
	int error = 0;

	if (path[0] == '/')
		buf_adds(&abs, path);
	else
		buf_addf(&abs, "%s/%s", x->c->cwd, path);
	f = fopen(abs.data, "w");
	if (!f) {
		error = ln_error_set(LN_EPERM, "--out %s: %s", path, strerror(errno));
		goto done;
	}
	for (i = 0; i < x->n; i++) {
		char *s = jcs_dumps(x->v[i].bundle);
		if (!s || fprintf(f, "%s\n", s) < 0)
			error = ln_error_set(LN_EPERM, "--out %s: write error", path);
		free(s);
		if (error)
			break;
	}
	if (fclose(f) && !error)
		error = ln_error_set(LN_EPERM, "--out %s: %s", path, strerror(errno));
done:
	buf_release(&abs);
	return error;
}

int cmd_group(struct cli *c)
{
	struct ectx x;
	enum rwd_adv_mode amode = RWD_ADV_GRPO;
	enum rwd_preset preset = RWD_PRESET_TRL;
	struct rwd_group g;
	json_t *rewards = NULL, *adv = NULL, *cands = NULL, *gj = NULL;
	long long t0 = ln_now_ms();
	double eps = -1;
	size_t i;
	int error = 0;

	ectx_init(&x, c);
	memset(&g, 0, sizeof g);
	if (c->mode && rwd_adv_mode_parse(&amode, c->mode)) {
		error = ln_error_set(LN_EUSAGE, "--mode must be grpo, dr_grpo or batch (got '%s')",
				     c->mode);
		goto done;
	}
	if (amode == RWD_ADV_STEP) {
		error = ln_error_set(LN_EUSAGE, "group: --mode step needs per-step rewards (use "
				     "lanser advantages)");
		goto done;
	}
	if (c->preset && rwd_preset_parse(&preset, c->preset)) {
		error = ln_error_set(LN_EUSAGE, "--preset must be trl, verl or openrlhf");
		goto done;
	}
	if (c->eps) {
		char *end;
		eps = strtod(c->eps, &end);
		if (!*c->eps || *end || !(eps >= 0) || !isfinite(eps)) {
			error = ln_error_set(LN_EUSAGE, "--eps needs a non-negative number");
			goto done;
		}
	}
	if ((error = load_settings(&x)))
		goto done;
	if (c->episode_mode && (error = parse_episode_mode(&x, c->episode_mode)))
		goto done;
	/* candidates: the task's, --patch, positional patch files, --in */
	for (i = 0; !error && i < x.t.ncands; i++)
		if (x.t.cands[i].patch_path)
			error = cand_from_file(&x, x.t.cands[i].id, x.t.cands[i].patch_path);
	for (i = 0; !error && i < (size_t)c->npatches; i++) {
		char id[32];
		snprintf(id, sizeof id, "c%zu", x.n + 1);
		error = cand_from_file(&x, id, c->patches[i]);
	}
	for (i = 0; !error && i < (size_t)c->argc; i++) {
		char id[32];
		snprintf(id, sizeof id, "c%zu", x.n + 1);
		error = cand_from_file(&x, id, c->argv[i]);
	}
	if (!error && c->in_path)
		error = read_completions(&x, c->in_path);
	if (error)
		goto done;
	if (x.n == 0) {
		error = ln_error_set(LN_EUSAGE, "group needs candidates: patch files, --patch, a "
				     "task with \"candidates\", or --in completions.jsonl");
		goto done;
	}
	if ((error = run_pipeline(&x)))
		goto done;

	rewards = json_array();
	for (i = 0; i < x.n; i++) {
		struct cand *cd = &x.v[i];
		score(&x, cd);
		judge(&x, cd);
		make_bundle(&x, cd, t0);
		trace_candidate(&x, cd);
		json_array_append_new(rewards, rwd_number(cd->reward));
	}
	gj = json_pack("{s:o, s:O}", "id", x.t.task_id ? json_string(x.t.task_id) :
		       json_string(x.base_oid), "rewards", rewards);
	if ((error = rwd_group_parse(&g, gj)))
		goto done;
	{
		double m, sd;
		rwd_mean_std(g.r, g.n, &m, &sd);
		adv = rwd_group_advantages(&g, amode, preset, eps, sd);
	}
	if (c->trace)
		trace_event(c, "advantages", json_pack("{s:O, s:s, s:s, s:O, s:o, s:O}",
			"group", gj, "mode", rwd_adv_mode_name(amode), "preset",
			rwd_preset_name(preset), "epsilon", json_object_get(adv, "epsilon"),
			"batchStd", amode == RWD_ADV_BATCH ? json_object_get(adv, "std") : json_null(),
			"result", adv));
	cands = json_array();
	for (i = 0; i < x.n; i++) {
		struct cand *cd = &x.v[i];
		const json_t *st = json_object_get(json_object_get(cd->record, "outcome"), "status");
		json_array_append_new(cands, json_pack("{s:s, s:O, s:O, s:b, s:o, s:o, s:o, s:o, "
			"s:o, s:I, s:o, s:O, s:b}", "id", cd->id,
			"bundleId", json_object_get(cd->bundle, "bundleId"),
			"reward", json_array_get(rewards, i), "scorable", cd->ep.scorable,
			"reason", cd->ep.scorable ? json_null() : json_string(cd->ep.reason),
			"rFormat", rwd_number(cd->ep.r_format),
			"rOutcome", cd->ep.scorable ? rwd_number(cd->ep.r_outcome) : json_null(),
			"rProcess", rwd_number(cd->ep.r_process),
			"tests", st ? json_incref((json_t *)st) : json_null(),
			"newErrors", (json_int_t)cd->new_errors,
			"formatNote", cd->have_edits ? json_null() : json_string(cd->format_note),
			"advantage", json_array_get(json_object_get(adv, "advantages"), i),
			"accepted", cd->accepted));
	}
	if (c->out_path && (error = write_bundles(&x, c->out_path)))
		goto done;
	if (c->json) {
		json_t *out = json_pack("{s:s, s:s, s:o, s:s, s:O, s:O}", "schema",
			"lanser.group/1", "base", x.base_oid,
			"task", x.t.task_id ? json_string(x.t.task_id) : json_null(),
			"mode", rwd_episode_mode_name(x.emode), "candidates", cands, "advantages", adv);
		json_object_set_new(out, "volatile", json_pack("{s:I, s:I, s:I}", "totalMs",
			(json_int_t)(ln_now_ms() - t0), "diagnosticsMs", (json_int_t)x.t_diag_ms,
			"testsMs", (json_int_t)x.t_tests_ms));
		print_json_line(c, out);
		json_decref(out);
	} else {
		char a[40], r[40], m[40], s[40];
		fprintf(c->out, "group%s%s at base %.12s: %zu candidates, reward %s, advantages %s "
			"(%s)\n", x.t.task_id ? " " : "", x.t.task_id ? ln_printable(x.t.task_id) : "",
			x.base_oid,
			x.n, rwd_episode_mode_name(x.emode), rwd_adv_mode_name(amode),
			rwd_preset_name(preset));
		for (i = 0; i < x.n; i++) {
			struct cand *cd = &x.v[i];
			const json_t *av = json_array_get(json_object_get(adv, "advantages"), i);
			num_str(r, sizeof r, cd->reward);
			num_str(a, sizeof a, json_is_number(av) ? json_number_value(av) : NAN);
			fprintf(c->out, "  %-10s reward %-20s advantage %-22s", ln_printable(cd->id), r, a);
			if (!cd->have_edits)
				fprintf(c->out, "not a usable patch (R_format 0): %s\n",
					ln_printable(cd->format_note));
			else if (!cd->ep.scorable)
				fprintf(c->out, "UNSCORABLE: %s\n", ln_printable(cd->ep.reason));
			else
				fprintf(c->out, "format %g outcome %g process %.4g, %ld new error%s, "
					"tests %s\n", cd->ep.r_format, cd->ep.r_outcome, cd->ep.r_process,
					cd->new_errors, cd->new_errors == 1 ? "" : "s",
					json_string_value(json_object_get(json_object_get(cd->record,
						"outcome"), "status")));
		}
		num_str(m, sizeof m, json_number_value(json_object_get(adv, "mean")));
		num_str(s, sizeof s, json_is_number(json_object_get(adv, "std")) ?
			json_number_value(json_object_get(adv, "std")) : NAN);
		fprintf(c->out, "  mean %s, std %s, %lld scored%s\n", m, s,
			(long long)json_integer_value(json_object_get(adv, "scored")),
			json_is_true(json_object_get(adv, "allEqual")) ? ", all equal (no signal)" : "");
	}
done:
	json_decref(rewards);
	json_decref(cands);
	json_decref(adv);
	json_decref(gj);
	rwd_group_release(&g);
	ectx_release(&x);
	return error;
}
