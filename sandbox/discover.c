/*
 * discover.c - test discovery: which build and test commands a workspace
 * without a configured "test" gets, and why (sandbox/task.h,
 * docs/sandbox.md "Test discovery").
 */
#include "sandbox/task.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DISCOVER_MAX_BYTES (1 << 20)

/* The build folder of CMake projects, inside the workspace (or worktree). */
#define CMAKE_DIR ".lanser-build"

/* The files of a folder on disk (sbx_task_default_test). */
static int dir_kind(void *ctx, const char *rel)
{
	struct buf b = BUF_INIT;
	struct stat st;
	int kind = SBX_FILE_NONE;

	buf_addf(&b, "%s/%s", (const char *)ctx, rel);
	if (stat(b.data, &st) == 0)
		kind = S_ISREG(st.st_mode) ? SBX_FILE_REG : S_ISDIR(st.st_mode) ? SBX_FILE_DIR :
									     SBX_FILE_NONE;
	buf_release(&b);
	return kind;
}

static char *dir_read(void *ctx, const char *rel, size_t max)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	char *out = NULL;

	buf_addf(&path, "%s/%s", (const char *)ctx, rel);
	if (buf_read_file(&text, path.data, max) == 0)
		out = buf_detach(&text, NULL);
	ln_error_clear();
	buf_release(&path);
	buf_release(&text);
	return out;
}

static char **dir_list(void *ctx, const char *rel)
{
	struct buf path = BUF_INIT;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;
	DIR *d;

	buf_addf(&path, "%s/%s", (const char *)ctx, rel);
	d = opendir(path.data);
	buf_release(&path);
	if (!d)
		return NULL;
	v = xcalloc(1, sizeof *v);
	while ((de = readdir(d)) && n < SBX_DISCOVER_MAX_NAMES) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		v = xreallocarray(v, n + 2, sizeof *v);
		v[n++] = xstrdup(de->d_name);
		v[n] = NULL;
	}
	closedir(d);
	return v;
}

void sbx_names_free(char **names)
{
	size_t i;

	for (i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

static bool exists(const struct sbx_files *f, const char *rel, bool want_dir)
{
	return f->kind(f->ctx, rel) == (want_dir ? SBX_FILE_DIR : SBX_FILE_REG);
}

/* The text of rel (bounded), or NULL. */
static char *slurp(const struct sbx_files *f, const char *rel)
{
	return f->read(f->ctx, rel, DISCOVER_MAX_BYTES);
}

/* Whether `text` has a line starting with `prefix`. */
static bool has_line(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n))
			return true;
	return false;
}

/* A make target `name` defined in the Makefile text ("name:" or "name ...:"). */
static bool make_target(const char *text, const char *name)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	bool ok;

	buf_addf(&a, "%s:", name);
	buf_addf(&b, "%s ", name);
	ok = text && (has_line(text, a.data) || has_line(text, b.data));
	buf_release(&a);
	buf_release(&b);
	return ok;
}

static char **argv_of(const char *const *src)
{
	size_t n, i;
	char **v;

	for (n = 0; src[n]; n++)
		;
	v = xcalloc(n + 1, sizeof *v);
	for (i = 0; i < n; i++)
		v[i] = xstrdup(src[i]);
	return v;
}

/* package.json "scripts.test", unless absent or npm's placeholder. */
static bool npm_test(const struct sbx_files *root)
{
	char *text = slurp(root, "package.json");
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	const char *s = json_string_value(json_object_get(json_object_get(j, "scripts"), "test"));
	bool ok = s && *s && !strstr(s, "no test specified");

	json_decref(j);
	free(text);
	return ok;
}

/* A folder under src/ that is a Python package, and none at the top with
 * the same name: the src layout. */
static bool src_layout(const struct sbx_files *root)
{
	struct buf rel = BUF_INIT;
	char **names = root->list(root->ctx, "src");
	bool found = false;
	size_t i;

	for (i = 0; names && names[i] && !found; i++) {
		if (names[i][0] == '.')
			continue;
		buf_reset(&rel);
		buf_addf(&rel, "src/%s/__init__.py", names[i]);
		if (!exists(root, rel.data, false))
			continue;
		buf_reset(&rel);
		buf_addf(&rel, "%s/__init__.py", names[i]);
		found = !exists(root, rel.data, false);
	}
	sbx_names_free(names);
	buf_release(&rel);
	return found;
}

/* Why pytest, or NULL when nothing says pytest. */
static const char *pytest_reason(const struct sbx_files *root)
{
	char *text;
	const char *why = NULL;

	if ((text = slurp(root, "tox.ini"))) {
		if (strstr(text, "pytest"))
			why = "pytest: tox.ini runs pytest";
		free(text);
	}
	if (!why && (text = slurp(root, "pyproject.toml"))) {
		if (strstr(text, "[tool.pytest"))
			why = "pytest: pyproject.toml has [tool.pytest.ini_options]";
		else if (strstr(text, "pytest"))
			why = "pytest: pyproject.toml names pytest";
		free(text);
	}
	if (!why && (text = slurp(root, "setup.cfg"))) {
		if (strstr(text, "[tool:pytest]"))
			why = "pytest: setup.cfg has [tool:pytest]";
		free(text);
	}
	if (!why && exists(root, "pytest.ini", false))
		why = "pytest: a pytest.ini";
	if (!why && exists(root, "conftest.py", false))
		why = "pytest: a conftest.py";
	if (!why && exists(root, "tests", true))
		why = "pytest: a tests/ folder";
	if (!why && exists(root, "pyproject.toml", false))
		why = "pytest: a pyproject.toml";
	return why;
}

/* t->test_reason = a + b */
static void set_reason(struct sbx_task *t, const char *a, const char *b_)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s%s", a, b_);
	free(t->test_reason);
	t->test_reason = buf_detach(&b, NULL);
}

int sbx_task_discover(struct sbx_task *t, const struct sbx_files *root)
{
	static const char *const make_test[] = { "make", "test", NULL };
	static const char *const make_check[] = { "make", "check", NULL };
	static const char *const npm[] = { "npm", "test", "--silent", NULL };
	static const char *const pytest[] = { "/usr/bin/python3", "-m", "pytest", "-q", "-rA",
					      "-p", "no:cacheprovider", NULL };
	static const char *const ctest[] = { "ctest", "--test-dir", CMAKE_DIR,
					     "--output-on-failure", "--output-junit",
					     "ctest-junit.xml", NULL };
	static const char *const cmake_build[] = { "/bin/sh", "-c",
		"cmake -S . -B " CMAKE_DIR " -DCMAKE_BUILD_TYPE=Debug >/dev/null && "
		"cmake --build " CMAKE_DIR " -j2", NULL };
	static const char *const autotools_build[] = { "/bin/sh", "-c",
		"{ [ -x ./configure ] || autoreconf -fi; } && ./configure && make", NULL };
	char *makefile = slurp(root, "Makefile");
	const char *why;
	int error = 0;

	if (exists(root, "CMakeLists.txt", false)) {
		t->test_argv = argv_of(ctest);
		if (!t->build_argv)
			t->build_argv = argv_of(cmake_build);
		if (t->format == SBX_FMT_AUTO && !t->junit_path) {
			t->format = SBX_FMT_JUNIT;
			t->junit_path = xstrdup(CMAKE_DIR "/ctest-junit.xml");
		}
		set_reason(t, "", "CMakeLists.txt: a CMake project; built in " CMAKE_DIR "/, "
			   "tested by ctest, per-test results from its JUnit output");
	} else if (!makefile && (exists(root, "configure.ac", false) ||
				 exists(root, "configure", false))) {
		t->test_argv = argv_of(make_check);
		if (!t->build_argv)
			t->build_argv = argv_of(autotools_build);
		set_reason(t, "", "configure(.ac) and no Makefile: an autotools project; "
			   "./configure && make, then make check");
	} else if (make_target(makefile, "test")) {
		t->test_argv = argv_of(make_test);
		set_reason(t, "", "the Makefile has a test target");
	} else if (make_target(makefile, "check")) {
		t->test_argv = argv_of(make_check);
		set_reason(t, "", "the Makefile has a check target");
	} else if (npm_test(root)) {
		t->test_argv = argv_of(npm);
		set_reason(t, "", "package.json has a scripts.test");
	} else if ((why = pytest_reason(root))) {
		t->test_argv = argv_of(pytest);
		if (src_layout(root) && !json_object_get(t->env, "PYTHONPATH")) {
			json_object_set_new(t->env, "PYTHONPATH", json_string("src"));
			set_reason(t, why, "; a src/ layout: PYTHONPATH=src");
		} else {
			set_reason(t, why, "");
		}
	} else {
		error = ln_error_set(LN_ECONFIG, "no test command: set \"test\" in .lanser.json or "
				     "the task file (docs/config.md); found no CMakeLists.txt, "
				     "configure, Makefile test/check target, package.json "
				     "scripts.test or pytest settings");
	}
	free(makefile);
	return error;
}

int sbx_task_default_test(struct sbx_task *t, const char *root)
{
	const struct sbx_files files = { (void *)root, dir_kind, dir_read, dir_list };

	return sbx_task_discover(t, &files);
}
