/*
 * gitlib.c - libgit2's one initialisation, and repositories opened with
 * their own configuration filtered (core/gitlib.h).
 *
 * libgit2 reads path-valued settings of a repository's .git/config on its
 * own (core.excludesFile when it answers "is this ignored?",
 * core.attributesFile on checkout). A repository is untrusted input: the
 * configuration libgit2 sees is rebuilt from the user's files and an
 * in-memory backend holding an allowlist of the repository's keys.
 */
#include "core/gitlib.h"

#include "core/err.h"
#include "core/gitvet.h"
#include "core/trust.h"
#include "core/xalloc.h"

#include <git2/sys/config.h>
#include <git2/sys/repository.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void git_init_once(void)
{
	git_libgit2_init();
}

void ln_git_init(void)
{
	pthread_once(&git_once, git_init_once);
}

/* The repository's keys libgit2 may still see: how files are checked out
 * and compared, and who commits. Nothing names a file or a program. */
static const char *const kept_keys[] = {
	"core.repositoryformatversion", "core.bare", "core.filemode", "core.symlinks",
	"core.ignorecase", "core.precomposeunicode", "core.autocrlf", "core.eol",
	"core.safecrlf", "core.logallrefupdates", "core.trustctime", "core.checkstat",
	"user.name", "user.email", NULL,
};

static bool kept(const char *name)
{
	size_t i;

	for (i = 0; kept_keys[i]; i++)
		if (!strcmp(kept_keys[i], name))
			return true;
	return false;
}

/* ---- a read-only in-memory configuration backend ---- */

struct mem_entry {
	char *name, *value;
};

struct mem_backend {
	git_config_backend parent;   /* first: libgit2 holds a pointer to it */
	struct mem_entry *v;
	size_t n;
	git_config_level_t level;
};

struct mem_iter {
	git_config_iterator parent;
	struct mem_backend *b;
	size_t i;
	git_config_entry e;
};

static struct mem_backend *mem_new(void);

static void mem_add(struct mem_backend *b, const char *name, const char *value)
{
	b->v = xrealloc(b->v, (b->n + 1) * sizeof *b->v);
	b->v[b->n].name = xstrdup(name);
	b->v[b->n].value = xstrdup(value ? value : "");
	b->n++;
}

static int mem_open(git_config_backend *gb, git_config_level_t level, const git_repository *repo)
{
	(void)repo;
	((struct mem_backend *)gb)->level = level;
	return 0;
}

static void entry_free(git_config_entry *e)
{
	free(e);
}

/* The last value of a key wins, as in a file. */
static int mem_get(git_config_backend *gb, const char *key, git_config_entry **out)
{
	struct mem_backend *b = (struct mem_backend *)gb;
	size_t i;

	for (i = b->n; i-- > 0;)
		if (!strcmp(b->v[i].name, key)) {
			git_config_entry *e = xcalloc(1, sizeof *e);
			e->name = b->v[i].name;
			e->value = b->v[i].value;
			e->level = b->level;
			e->free = entry_free;
			*out = e;
			return 0;
		}
	return GIT_ENOTFOUND;
}

static int mem_readonly(void)
{
	git_error_set_str(GIT_ERROR_CONFIG, "lanser's copy of the repository configuration is "
			  "read-only");
	return -1;
}

static int mem_set(git_config_backend *gb, const char *k, const char *v)
{
	(void)gb, (void)k, (void)v;
	return mem_readonly();
}

static int mem_set_multivar(git_config_backend *gb, const char *k, const char *re, const char *v)
{
	(void)gb, (void)k, (void)re, (void)v;
	return mem_readonly();
}

static int mem_del(git_config_backend *gb, const char *k)
{
	(void)gb, (void)k;
	return mem_readonly();
}

static int mem_del_multivar(git_config_backend *gb, const char *k, const char *re)
{
	(void)gb, (void)k, (void)re;
	return mem_readonly();
}

static int iter_next(git_config_entry **out, git_config_iterator *gi)
{
	struct mem_iter *it = (struct mem_iter *)gi;

	if (it->i >= it->b->n)
		return GIT_ITEROVER;
	memset(&it->e, 0, sizeof it->e);
	it->e.name = it->b->v[it->i].name;
	it->e.value = it->b->v[it->i].value;
	it->e.level = it->b->level;
	it->i++;
	*out = &it->e;
	return 0;
}

static void iter_free(git_config_iterator *gi)
{
	free(gi);
}

static int mem_iterator(git_config_iterator **out, git_config_backend *gb)
{
	struct mem_iter *it = xcalloc(1, sizeof *it);

	it->parent.backend = gb;
	it->parent.next = iter_next;
	it->parent.free = iter_free;
	it->b = (struct mem_backend *)gb;
	*out = &it->parent;
	return 0;
}

static int mem_snapshot(git_config_backend **out, git_config_backend *gb)
{
	struct mem_backend *b = (struct mem_backend *)gb, *s = mem_new();
	size_t i;

	for (i = 0; i < b->n; i++)
		mem_add(s, b->v[i].name, b->v[i].value);
	s->parent.readonly = 1;
	*out = &s->parent;
	return 0;
}

static int mem_lock(git_config_backend *gb)
{
	(void)gb;
	return 0;
}

static int mem_unlock(git_config_backend *gb, int success)
{
	(void)gb, (void)success;
	return 0;
}

static void mem_free(git_config_backend *gb)
{
	struct mem_backend *b = (struct mem_backend *)gb;
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->v[i].name);
		free(b->v[i].value);
	}
	free(b->v);
	free(b);
}

static struct mem_backend *mem_new(void)
{
	struct mem_backend *b = xcalloc(1, sizeof *b);

	git_config_init_backend(&b->parent, GIT_CONFIG_BACKEND_VERSION);
	b->parent.open = mem_open;
	b->parent.get = mem_get;
	b->parent.set = mem_set;
	b->parent.set_multivar = mem_set_multivar;
	b->parent.del = mem_del;
	b->parent.del_multivar = mem_del_multivar;
	b->parent.iterator = mem_iterator;
	b->parent.snapshot = mem_snapshot;
	b->parent.lock = mem_lock;
	b->parent.unlock = mem_unlock;
	b->parent.free = mem_free;
	return b;
}

/* ---- the filtered configuration ---- */

/* The repository's own level (LOCAL; its includes excluded), kept keys. */
static struct mem_backend *kept_local(git_repository *repo)
{
	struct mem_backend *b = mem_new();
	git_config *full = NULL, *local = NULL;
	git_config_iterator *it = NULL;
	git_config_entry *e;

	if (git_repository_config(&full, repo) == 0 &&
	    git_config_open_level(&local, full, GIT_CONFIG_LEVEL_LOCAL) == 0 &&
	    git_config_iterator_new(&it, local) == 0)
		while (git_config_next(&e, it) == 0)
			if (e->include_depth == 0 && kept(e->name))
				mem_add(b, e->name, e->value);
	git_config_iterator_free(it);
	git_config_free(local);
	git_config_free(full);
	git_error_clear();
	return b;
}

static int restrict_config(git_repository *repo)
{
	static const struct {
		int (*find)(git_buf *out);
		git_config_level_t level;
	} user[] = {
		{ git_config_find_programdata, GIT_CONFIG_LEVEL_PROGRAMDATA },
		{ git_config_find_system, GIT_CONFIG_LEVEL_SYSTEM },
		{ git_config_find_xdg, GIT_CONFIG_LEVEL_XDG },
		{ git_config_find_global, GIT_CONFIG_LEVEL_GLOBAL },
	};
	git_config *cfg = NULL;
	struct mem_backend *local;
	size_t i;
	int error;

	if ((error = git_config_new(&cfg)) < 0)
		return error;
	for (i = 0; i < sizeof user / sizeof user[0]; i++) {
		git_buf path = { 0 };
		if (user[i].find(&path) == 0 &&
		    git_config_add_file_ondisk(cfg, path.ptr, user[i].level, repo, 0) < 0)
			git_error_clear();   /* as libgit2 itself: an unreadable file is none */
		git_buf_dispose(&path);
	}
	git_error_clear();
	local = kept_local(repo);
	error = git_config_add_backend(cfg, &local->parent, GIT_CONFIG_LEVEL_LOCAL, repo, 0);
	if (error < 0)
		mem_free(&local->parent);
	if (!error)
		error = git_repository_set_config(repo, cfg);
	git_config_free(cfg);
	return error;
}

int ln_git_open(git_repository **out, const char *path, unsigned int flags)
{
	int error;

	ln_git_init();
	*out = NULL;
	/* what libgit2 reads while it opens: checked first (core/gitvet.h) */
	if (!ln_trust_cli_trust() &&
	    ln_git_vet(path, !(flags & GIT_REPOSITORY_OPEN_NO_SEARCH)) < 0) {
		git_error_set_str(GIT_ERROR_CONFIG, ln_error_msg());
		return GIT_ERROR;
	}
	if ((error = git_repository_open_ext(out, path, flags, NULL)) < 0)
		return error;
	if (ln_trust_cli_trust())
		return 0;
	if ((error = restrict_config(*out)) < 0) {
		git_repository_free(*out);
		*out = NULL;
	}
	return error;
}
