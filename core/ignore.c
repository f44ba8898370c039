/*
 * ignore.c - .gitignore (through libgit2) and the "exclude" globs.
 */
#include "core/ignore.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/gitlib.h"
#include "core/limits.h"
#include "core/snapshot.h"
#include "core/xalloc.h"

#include <fnmatch.h>
#include <git2.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ln_ignore {
	git_repository *repo;   /* NULL outside a work tree */
	git_index *index;       /* tracked paths are never ignored */
	char *root;
	char *prefix;           /* the workspace root below the work tree: "" or "sub/" */
	char **globs;
	size_t nglobs;
};

static void load_globs(struct ln_ignore *ig, const json_t *exclude)
{
	size_t i;
	json_t *g;

	/* ln_config_load checked the list (LN_CONFIG_MAX_EXCLUDE); a list
	 * handed in directly gets the same filter */
	if (!json_is_array(exclude) || json_array_size(exclude) > LN_CONFIG_MAX_EXCLUDE)
		return;
	ig->globs = xcalloc(json_array_size(exclude) + 1, sizeof *ig->globs);
	json_array_foreach(exclude, i, g)
		if (json_is_string(g) && json_string_length(g) &&
		    strlen(json_string_value(g)) == json_string_length(g))
			ig->globs[ig->nglobs++] = xstrdup(json_string_value(g));
}

static void open_repo(struct ln_ignore *ig, const char *root)
{
	char *real = realpath(root, NULL);
	const char *wd;
	size_t n;

	ln_git_init();
	if (!real || ln_git_open(&ig->repo, real, 0) < 0)
		goto fail;
	wd = git_repository_workdir(ig->repo);
	n = wd ? strlen(wd) : 0;
	if (!wd || git_repository_is_bare(ig->repo))
		goto fail;
	/* wd ends with '/'; the root is wd itself or below it */
	if (!strncmp(real, wd, n))
		ig->prefix = xasprintf("%s/", real + n);
	else if (strlen(real) + 1 == n && !strncmp(real, wd, n - 1))
		ig->prefix = xstrdup("/");
	else
		goto fail;
	if (!strcmp(ig->prefix, "/"))
		ig->prefix[0] = '\0';
	if (git_repository_index(&ig->index, ig->repo) < 0)
		ig->index = NULL;
	free(real);
	return;
fail:
	git_error_clear();
	git_repository_free(ig->repo);
	ig->repo = NULL;
	free(real);
}

struct ln_ignore *ln_ignore_new(const char *root, const json_t *exclude)
{
	struct ln_ignore *ig = xcalloc(1, sizeof *ig);

	ig->root = xstrdup(root);
	if (exclude) {
		load_globs(ig, exclude);
	} else {
		struct ln_config cfg;
		if (ln_config_load(&cfg, root) == 0) {
			load_globs(ig, json_object_get(cfg.json, "exclude"));
			ln_config_release(&cfg);
		}
		ln_error_clear();
	}
	open_repo(ig, root);
	return ig;
}

void ln_ignore_free(struct ln_ignore *ig)
{
	size_t i;

	if (!ig)
		return;
	for (i = 0; i < ig->nglobs; i++)
		free(ig->globs[i]);
	free(ig->globs);
	git_index_free(ig->index);
	git_repository_free(ig->repo);
	free(ig->prefix);
	free(ig->root);
	free(ig);
}

bool ln_ignore_has_git(const struct ln_ignore *ig)
{
	return ig && ig->repo;
}

static bool glob_match(const struct ln_ignore *ig, const char *rel)
{
	size_t i;

	for (i = 0; i < ig->nglobs; i++) {
		const char *g = ig->globs[i], *p;
		if (strchr(g, '/')) {
			/* the path, then each leading folder of it */
			struct buf b = BUF_INIT;
			bool hit = fnmatch(g, rel, 0) == 0;
			for (p = rel; !hit && (p = strchr(p, '/')); p++) {
				buf_reset(&b);
				buf_add(&b, rel, (size_t)(p - rel));
				hit = fnmatch(g, b.data, 0) == 0;
			}
			buf_release(&b);
			if (hit)
				return true;
		} else {
			const char *c = rel;
			while (c) {
				const char *end = strchr(c, '/');
				size_t len = end ? (size_t)(end - c) : strlen(c);
				char comp[NAME_MAX + 1];
				if (len <= NAME_MAX) {
					memcpy(comp, c, len);
					comp[len] = '\0';
					if (fnmatch(g, comp, 0) == 0)
						return true;
				}
				c = end ? end + 1 : NULL;
			}
		}
	}
	return false;
}

/* git's answer for the path and, since git_ignore_path_is_ignored looks
 * at the path alone, for each folder above it. */
static bool git_ignored(struct ln_ignore *ig, const char *rel, bool is_dir)
{
	struct buf p = BUF_INIT;
	int ignored = 0;

	buf_addf(&p, "%s%s%s", ig->prefix, rel, is_dir ? "/" : "");
	if (ig->index) {
		size_t at;
		if (!is_dir && git_index_get_bypath(ig->index, p.data, 0))
			goto done; /* tracked */
		if (is_dir && git_index_find_prefix(&at, ig->index, p.data) == 0)
			goto done; /* holds tracked files: walk into it */
	}
	if (git_ignore_path_is_ignored(&ignored, ig->repo, p.data) < 0)
		ignored = 0;
done:
	git_error_clear();
	buf_release(&p);
	return ignored == 1;
}

static const char *base_name(const char *rel)
{
	const char *s = strrchr(rel, '/');
	return s ? s + 1 : rel;
}

/* A generated compilation database is what clangd reads: it stays in the
 * snapshot (a change to it changes answers), and so does the folder that
 * holds one (build/), whose other files are ignored one by one. */
static bool keeps_cdb(const char *root, const char *rel, bool is_dir)
{
	struct buf b = BUF_INIT;
	bool found;

	if (!is_dir)
		return !strcmp(base_name(rel), "compile_commands.json") ||
		       !strcmp(base_name(rel), "compile_flags.txt");
	buf_addf(&b, "%s/%s/compile_commands.json", root, rel);
	found = access(b.data, F_OK) == 0;
	buf_release(&b);
	return found;
}

const char *ln_ignore_reason(struct ln_ignore *ig, const char *rel, bool is_dir)
{
	if (!ig || !*rel || rel[0] == '/' || !strncmp(rel, "../", 3) || !strcmp(rel, ".."))
		return NULL;
	if (!strcmp(rel, ".lanser.json") || keeps_cdb(ig->root, rel, is_dir))
		return NULL;
	if (ig->nglobs && glob_match(ig, rel))
		return "exclude";
	if (ig->repo && git_ignored(ig, rel, is_dir))
		return ".gitignore";
	return NULL;
}

bool ln_ignore_path(struct ln_ignore *ig, const char *rel, bool is_dir)
{
	return ln_ignore_reason(ig, rel, is_dir) != NULL;
}

bool ln_ignore_skip(void *ctx, const char *rel, bool is_dir)
{
	return ln_ignore_path(ctx, rel, is_dir);
}

static bool same_base(const char *rel, void *ctx)
{
	return !strcmp(base_name(rel), ctx);
}

void ln_ignore_twin(struct ln_ignore *ig, const char *rel, char **out)
{
	struct buf mine = BUF_INIT, other = BUF_INIT, p = BUF_INIT;
	json_t *files = NULL, *f;
	const char *hit = NULL;
	size_t i, n = 0;

	*out = NULL;
	if (!ln_ignore_path(ig, rel, false))
		return;
	buf_addf(&p, "%s/%s", ig->root, rel);
	if (buf_read_file(&mine, p.data, LN_FILE_MAX_BYTES) ||
	    ln_tree_files(&files, ig->root, same_base, (void *)base_name(rel), ln_ignore_skip, ig,
			  LN_SNAPSHOT_MAX_FILES))
		goto done;
	json_array_foreach(files, i, f) {
		buf_reset(&p);
		buf_reset(&other);
		buf_addf(&p, "%s/%s", ig->root, json_string_value(f));
		if (buf_read_file(&other, p.data, LN_FILE_MAX_BYTES) == 0 && other.len == mine.len &&
		    !memcmp(other.data, mine.data, mine.len)) {
			hit = json_string_value(f);
			n++;
		}
		ln_error_clear();
	}
	if (n == 1)
		*out = xstrdup(hit);
done:
	ln_error_clear();
	json_decref(files);
	buf_release(&mine);
	buf_release(&other);
	buf_release(&p);
}
