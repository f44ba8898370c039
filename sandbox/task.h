/*
 * task.h - what to test: the task file (docs/task.schema.json,
 * docs/sandbox.md "Task files") and the test settings of .lanser.json.
 *
 * A task names a workspace and a base revision, one patch or several
 * candidate patches, build and test commands, the results format,
 * FAIL_TO_PASS / PASS_TO_PASS test ids, limits, the isolation mode and
 * extra environment variables. .lanser.json may hold the same members
 * "build", "test", "results", "limits", "isolation" and "env"; a task file
 * overrides them member by member, command-line options override both.
 *
 * A command is either an array of strings (argv, no shell) or one string
 * (run as /bin/sh -c STRING). Everything read here is untrusted: sizes are
 * bounded (task file 1 MiB, 256 arguments, 64 KiB per argument, 1024
 * candidates, 10000 test ids) and every error is LN_ECONFIG (a malformed
 * file or a wrong member: the message names the file and the member, with
 * line and column for JSON syntax errors) or LN_ENOTFOUND / LN_EINPUT for
 * unreadable files.
 */
#ifndef LANSER_SANDBOX_TASK_H
#define LANSER_SANDBOX_TASK_H

#include <stdbool.h>

#include <jansson.h>

#include "sandbox/edit.h"   /* SBX_PATCH_MAX_BYTES: the applier's bound on a patch */

#include "sandbox/outcome.h"
#include "sandbox/run.h"

#define SBX_TASK_SCHEMA "lanser.task/1"
#define SBX_TASK_MAX_BYTES (1 << 20)

struct sbx_candidate {
	char *id;           /* "c1", ... or the task's */
	char *patch_path;   /* absolute; NULL: the base revision itself */
};

struct sbx_task {
	char *workspace;            /* absolute; NULL: the current workspace */
	char *base;                 /* git revision; NULL: run in place (no worktree) */
	struct sbx_candidate *cands;
	size_t ncands;
	char **build_argv;          /* NULL-terminated, or NULL: no build step */
	char **test_argv;           /* NULL-terminated, or NULL: not configured */
	enum sbx_format format;
	char *junit_path;           /* relative to the worktree, or NULL */
	json_t *f2p, *p2p;          /* arrays of strings (never NULL after init) */
	struct sbx_limits limits;
	enum sbx_iso iso;
	json_t *env;                /* object NAME -> value (never NULL after init) */
	char *task_id;              /* "id" of the task file, or NULL */
	char *test_reason;          /* why this test command (discovery), or NULL */
	json_t *test_files;         /* "testFiles": globs of the files a candidate may
				       not change (array of strings, never NULL after
				       init; empty: none) */
};

void sbx_task_init(struct sbx_task *t);
void sbx_task_release(struct sbx_task *t);

/* Applies the test members of a configuration object (.lanser.json) or of
 * a task file; `what` names the file in messages. `dir` resolves relative
 * patch paths and "workspace" (task files only: is_task). */
int sbx_task_apply(struct sbx_task *t, const json_t *obj, const char *what, const char *dir,
		   bool is_task);

/* Loads a task file (relative paths in it are relative to its directory). */
int sbx_task_load(struct sbx_task *t, const char *path);

/* Adds a candidate patch (absolute or relative to cwd). */
int sbx_task_add_patch(struct sbx_task *t, const char *path, const char *cwd);

/*
 * "testFiles" (docs/sandbox.md, "Test files"): at most SBX_TEST_FILES_MAX
 * globs of 1 to SBX_TEST_FILE_GLOB_MAX bytes each, matched with fnmatch(3)
 * without FNM_PATHNAME ('*' also matches '/') against a path relative to
 * the worktree, or against any folder above it ("tests" and "tests/" cover
 * tests/a/b.c), as the jail's patterns are. A task file's list replaces the
 * configuration's; --test-files replaces both.
 */
#define SBX_TEST_FILES_MAX 256
#define SBX_TEST_FILE_GLOB_MAX 4096
/* Whether `v` is a valid "testFiles" value (an array within the bounds
 * above): 0, or LN_ECONFIG naming `what`. */
int sbx_task_check_test_files(const json_t *v, const char *what);
/* Appends one glob (--test-files, repeatable): LN_EUSAGE when it is empty,
 * too long, or one too many. `first`: the command line's first one, which
 * drops the files' list. */
int sbx_task_add_test_file(struct sbx_task *t, const char *glob, bool first);
/* Whether `rel` (relative, '/') is a test file of the task. */
bool sbx_task_is_test_file(const struct sbx_task *t, const char *rel);

/* Sets FAIL_TO_PASS from a comma-separated list (--tests). */
int sbx_task_set_tests(struct sbx_task *t, const char *csv);

/*
 * Test discovery (sandbox/discover.c, docs/sandbox.md "Test discovery"): a
 * default test command for a workspace without one, from the files at
 * `root`, first match wins:
 *   CMakeLists.txt        build: cmake configure + build in .lanser-build/
 *                         (unless a build is set); test: ctest, results from
 *                         its JUnit output (.lanser-build/ctest-junit.xml)
 *   configure(.ac)        build: (autoreconf -fi,) ./configure, make; test: make check
 *   Makefile test:/check: make test, else make check
 *   package.json          npm test, when scripts.test is set (not npm's placeholder)
 *   tox.ini, pyproject.toml, setup.cfg, pytest.ini, conftest.py, tests/
 *                         pytest (/usr/bin/python3 -m pytest -q -rA); with a
 *                         src/ layout (a package under src/, none at the
 *                         top) PYTHONPATH=src is added to the environment
 *                         unless the task sets PYTHONPATH
 * 0 with t->test_argv (and maybe build_argv, format, junit_path, env) and
 * t->test_reason set, or LN_ECONFIG. Files read are bounded (1 MiB) and
 * untrusted: a malformed one is passed over.
 */
int sbx_task_default_test(struct sbx_task *t, const char *root);

/*
 * The files discovery looks at: a folder on disk (sbx_task_default_test),
 * or a commit's tree (engine/settings.c: eval and group discover from the
 * --base commit, never from the working tree). Paths are relative, with
 * '/'. Every callback is given `ctx`.
 *   kind   SBX_FILE_REG, SBX_FILE_DIR, or SBX_FILE_NONE (absent, or
 *          anything else: a tree reader does not follow symbolic links)
 *   read   the text of a regular file of at most `max` bytes (heap,
 *          NUL-terminated, the caller frees it), or NULL
 *   list   the names in a folder (heap, NULL-terminated, at most
 *          SBX_DISCOVER_MAX_NAMES, freed with sbx_names_free), or NULL
 */
enum { SBX_FILE_NONE, SBX_FILE_REG, SBX_FILE_DIR };
#define SBX_DISCOVER_MAX_NAMES 4096
struct sbx_files {
	void *ctx;
	int (*kind)(void *ctx, const char *rel);
	char *(*read)(void *ctx, const char *rel, size_t max);
	char **(*list)(void *ctx, const char *rel);
};

/* sbx_task_default_test over any `files`. */
int sbx_task_discover(struct sbx_task *t, const struct sbx_files *files);

void sbx_names_free(char **names);

/* A command as a JSON array of strings (new reference). */
json_t *sbx_argv_json(char *const *argv);

#endif
