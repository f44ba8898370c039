/*
 * settings.c - the settings of a test run or an evaluation: configuration,
 * task file, options (engine/engine.h, eng_settings_load). One loader for
 * `lanser test`, `lanser eval` and `lanser group`: they differ only in
 * where the configuration comes from (the working tree, or the base
 * revision), and every message names the configuration as .lanser.json.
 */
#include "engine/engine.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/gitlib.h"
#include "core/path.h"
#include "core/trust.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <git2.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void policy_default(struct eng_policy *p)
{
	p->max_new_errors = 0;
	p->require_tests = true;
	p->has_min_reward = false;
	p->min_reward = 0;
}

static int policy_member(struct eng_policy *p, const char *k, const json_t *v)
{
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
	return 0;
}

int eng_policy_parse(struct eng_policy *p, const json_t *cfg)
{
	const json_t *pol = json_object_get(cfg, "policy"), *v;
	const char *k;
	int error;

	policy_default(p);
	if (!pol)
		return 0;
	if (!json_is_object(pol))
		return ln_error_set(LN_ECONFIG, ".lanser.json: policy must be an object");
	json_object_foreach((json_t *)pol, k, v)
		if ((error = policy_member(p, k, v)))
			return error;
	return 0;
}

json_t *eng_policy_json(const struct eng_policy *p)
{
	return xjson_pack("{s:o, s:b, s:o}", "maxNewErrors",
			  p->max_new_errors < 0 ? json_null() : json_integer(p->max_new_errors),
			  "requireTests", p->require_tests, "minReward",
			  p->has_min_reward ? rwd_number(p->min_reward) : json_null());
}

/* The blob `id` when it is at most `max` bytes, its size read first (a
 * huge blob of the base is never loaded): 0, 1 too large (*size set), or -1
 * when it cannot be read. */
static int bounded_blob(git_blob **out, size_t *size, git_repository *repo, const git_oid *id,
			size_t max)
{
	git_odb *odb = NULL;
	git_object_t type;
	int r = -1;

	*out = NULL;
	*size = 0;
	if (git_repository_odb(&odb, repo) == 0 && git_odb_read_header(size, &type, odb, id) == 0)
		r = *size > max ? 1 : git_blob_lookup(out, repo, id) == 0 ? 0 : -1;
	git_odb_free(odb);
	return r;
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
	size_t size;
	int error = -1, size_r;

	buf_addf(&origin, "%s:%s", rev, LN_CONFIG_FILE);
	if (ln_trust_cli_config()) {
		error = ln_config_load_text(out, root, NULL, 0, origin.data);
		goto done;
	}
	ln_git_init();
	if (ln_git_open(&repo, root, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0) {
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
	    (size_r = bounded_blob(&blob, &size, repo, git_tree_entry_id(e),
				   LN_CONFIG_MAX_BYTES)) < 0) {
		error = ln_error_set(LN_ECONFIG, "%s is not a file", origin.data);
		goto done;
	}
	if (size_r > 0) {
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

/* Discovery over the base commit's tree (sbx_task_discover): what
 * scores the candidates is decided by the base, like its .lanser.json; a
 * dirty or different working tree cannot change the test command. */
struct base_tree {
	git_repository *repo;
	git_tree *tree;
};

static int tree_kind(void *ctx, const char *rel)
{
	struct base_tree *bt = ctx;
	git_tree_entry *e = NULL;
	int kind = SBX_FILE_NONE;

	if (git_tree_entry_bypath(&e, bt->tree, rel) == 0) {
		if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
			kind = SBX_FILE_DIR;
		else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB &&
			 git_tree_entry_filemode(e) != GIT_FILEMODE_LINK)
			kind = SBX_FILE_REG;
	}
	git_tree_entry_free(e);
	return kind;
}

static char *tree_read(void *ctx, const char *rel, size_t max)
{
	struct base_tree *bt = ctx;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	char *out = NULL;
	size_t n;

	if (tree_kind(ctx, rel) != SBX_FILE_REG || git_tree_entry_bypath(&e, bt->tree, rel) ||
	    bounded_blob(&blob, &n, bt->repo, git_tree_entry_id(e), max) != 0)
		goto done;
	n = (size_t)git_blob_rawsize(blob);
	out = xmalloc(n + 1);
	memcpy(out, git_blob_rawcontent(blob), n);
	out[n] = '\0';
done:
	git_blob_free(blob);
	git_tree_entry_free(e);
	return out;
}

static char **tree_list(void *ctx, const char *rel)
{
	struct base_tree *bt = ctx;
	git_tree_entry *e = NULL;
	git_tree *sub = NULL;
	char **v = NULL;
	size_t i, n;

	if (git_tree_entry_bypath(&e, bt->tree, rel) ||
	    git_tree_entry_type(e) != GIT_OBJECT_TREE ||
	    git_tree_lookup(&sub, bt->repo, git_tree_entry_id(e)))
		goto done;
	n = git_tree_entrycount(sub);
	if (n > SBX_DISCOVER_MAX_NAMES)
		n = SBX_DISCOVER_MAX_NAMES;
	v = xcalloc(n + 1, sizeof *v);
	for (i = 0; i < n; i++)
		v[i] = xstrdup(git_tree_entry_name(git_tree_entry_byindex(sub, i)));
done:
	git_tree_free(sub);
	git_tree_entry_free(e);
	return v;
}

/* The default test command of `rev` in the repository at `root`, from the
 * files of that commit (docs/eval.md, "Which test command"). */
static int discover_base(struct sbx_task *t, const char *root, const char *rev)
{
	struct base_tree bt = { NULL, NULL };
	const struct sbx_files files = { &bt, tree_kind, tree_read, tree_list };
	git_object *obj = NULL;
	git_commit *commit = NULL;
	struct buf why = BUF_INIT;
	int error;

	ln_git_init();
	if (ln_git_open(&bt.repo, root, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0) {
		error = ln_error_set(LN_EINPUT, "evaluation needs a git repository at %s: %s", root,
				     git_error_last() ? git_error_last()->message : "?");
		goto done;
	}
	if (git_revparse_single(&obj, bt.repo, rev) < 0 ||
	    git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) < 0 ||
	    git_commit_tree(&bt.tree, commit) < 0) {
		error = ln_error_set(LN_ENOTFOUND, "base revision '%s' does not exist (%s)", rev,
				     git_error_last() ? git_error_last()->message : "?");
		goto done;
	}
	if ((error = sbx_task_discover(t, &files))) {
		ln_error_set(error, "%s (in the files of the base commit %s)", ln_error_msg(),
			     rev);
		goto done;
	}
	buf_addf(&why, "%s (the files of the base commit %s)", t->test_reason, rev);
	free(t->test_reason);
	t->test_reason = buf_detach(&why, NULL);
done:
	buf_release(&why);
	git_tree_free(bt.tree);
	git_commit_free(commit);
	git_object_free(obj);
	git_repository_free(bt.repo);
	return error;
}

/* The task file's "workspace" (*other_root, canonical) and "base", read
 * before anything else: the workspace decides which configuration applies. */
static int probe_task(const struct eng_source *src, char **other_root, char **base)
{
	struct sbx_task probe;
	int error;

	sbx_task_init(&probe);
	error = sbx_task_load(&probe, src->task_path);
	if (!error && probe.workspace)
		error = ln_workspace_find_root(other_root, probe.workspace, src->cwd);
	if (!error && probe.base)
		*base = xstrdup(probe.base);
	sbx_task_release(&probe);
	return error;
}

/* The configuration: the base revision's, or the working tree's (the
 * dispatcher's copy when the task names no other workspace). */
static int load_config(struct eng_settings *out, const struct eng_source *src, bool other,
		       const char *task_base, struct ln_config *own)
{
	const struct ln_config *cfg = own;
	const json_t *servers;
	int error;

	if (src->from == ENG_CONFIG_BASE) {
		/* docs/eval.md, "Configuration": --base, else the task's, else HEAD */
		const char *base = src->base ? src->base : task_base ? task_base : "HEAD";
		error = load_base_config(own, out->root, base);
	} else if (other) {
		error = ln_config_load(own, out->root);
	} else {
		cfg = src->cfg;
		error = cfg ? 0 : ln_error_set(LN_ECONFIG, "no configuration loaded for %s",
					       out->root);
	}
	if (error)
		return error;
	memcpy(out->digest, cfg->digest, sizeof out->digest);
	if (json_array_size(cfg->ignored))
		out->ignored = json_incref(cfg->ignored);
	if (cfg->source)
		out->config_source = xstrdup(cfg->source);
	servers = json_object_get(cfg->json, "servers");
	out->servers = servers ? json_deep_copy(servers) : json_object();
	error = sbx_task_apply(&out->task, cfg->json, LN_CONFIG_FILE, NULL, false);
	if (!error && src->from == ENG_CONFIG_BASE)
		error = eng_policy_parse(&out->policy, cfg->json);
	return error;
}

int eng_settings_load(struct eng_settings *out, const struct eng_source *src)
{
	struct ln_config own;
	char *other_root = NULL, *task_base = NULL;
	size_t i;
	int error = 0;

	memset(out, 0, sizeof *out);
	memset(&own, 0, sizeof own);
	sbx_task_init(&out->task);
	policy_default(&out->policy);
	if (src->task_path)
		error = probe_task(src, &other_root, &task_base);
	if (error)
		goto done;
	out->root = xstrdup(other_root ? other_root : src->root);
	error = load_config(out, src, other_root != NULL, task_base, &own);
	if (!error && src->task_path)
		error = sbx_task_load(&out->task, src->task_path);
	for (i = 0; !error && src->from == ENG_CONFIG_WORKTREE && i < src->npatches; i++)
		error = sbx_task_add_patch(&out->task, src->patches[i], src->cwd);
	if (!error && src->base) {
		free(out->task.base);
		out->task.base = xstrdup(src->base);
	}
	if (!error && src->tests)
		error = sbx_task_set_tests(&out->task, src->tests);
	for (i = 0; !error && i < src->ntest_files; i++)
		error = sbx_task_add_test_file(&out->task, src->test_files[i], i == 0);
	if (!error && src->no_isolation)
		out->task.iso = SBX_ISO_NONE;
	if (!error && src->from == ENG_CONFIG_BASE && !out->task.base)
		out->task.base = xstrdup("HEAD");
	if (!error && !out->task.test_argv)
		error = src->from == ENG_CONFIG_BASE
				? discover_base(&out->task, out->root, out->task.base)
				: sbx_task_default_test(&out->task, out->root);
done:
	ln_config_release(&own);
	free(other_root);
	free(task_base);
	return error;
}

void eng_settings_release(struct eng_settings *s)
{
	sbx_task_release(&s->task);
	free(s->root);
	json_decref(s->servers);
	json_decref(s->ignored);
	free(s->config_source);
	memset(s, 0, sizeof *s);
}
