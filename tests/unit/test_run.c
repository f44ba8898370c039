/* The sandboxed runner (sandbox/run.h): status, output caps, timeouts,
 * exec failures, descriptors, and the isolation layers, each in both the
 * namespace mode and the forced fallback. */
#include "tests/unit/harness.h"

#include "core/err.h"
#include "sandbox/run.h"

#include <dirent.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const test_env[] = { "PATH=/usr/bin:/bin", "HOME=/tmp", "LC_ALL=C", NULL };

static int run_sh(struct sbx_result *r, const char *script, enum sbx_iso iso, long long wall_ms)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct sbx_opts o;

	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.cwd = "/";
	o.env = test_env;
	sbx_limits_default(&o.limits);
	o.limits.wall_ms = wall_ms;
	o.limits.nproc = 64;
	o.limits.mem_bytes = 512LL << 20;
	o.iso = iso;
	sbx_result_init(r);
	return sbx_run(r, &o);
}

/* Is a process whose command line contains `marker` still alive? */
static int procs_with(const char *marker)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int found = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char path[64], cl[512];
		FILE *f;
		size_t n, i;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%.20s/cmdline", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		n = fread(cl, 1, sizeof cl - 1, f);
		fclose(f);
		for (i = 0; i < n; i++)
			if (!cl[i])
				cl[i] = ' ';
		cl[n] = '\0';
		if (strstr(cl, marker))
			found++;
	}
	closedir(d);
	return found;
}

/* "sleep N.<pid>": a command line no other process on the machine has
 * (other suites may run their own sleeps at the same time) */
static const char *uniq(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *uniq(const char *fmt, ...)
{
	static char out[8][256];
	static int k;
	char *o = out[k++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o, 256, fmt, ap);
	va_end(ap);
	return o;
}

/*
 * Whether the box can be built on this machine (bubblewrap present, user
 * namespaces allowed), decided once by a boxed run of `true`. When it
 * cannot, the run failed closed (LN_ESANDBOX, checked here) and the tests
 * that need the box skip that part, printing why. A required run that
 * succeeds must have run boxed: there is no fallback to accept.
 */
static bool box_works(void)
{
	static int works = -1;
	static char why[512];

	if (works < 0) {
		struct sbx_result r;
		int e = run_sh(&r, "true", SBX_ISO_REQUIRED, 20000);
		works = e == 0;
		if (e)
			snprintf(why, sizeof why, "%s (exit code %d%s)", ln_error_msg(), -e,
				 e == LN_ESANDBOX ? "" : ", not LN_ESANDBOX: a bug");
		sbx_result_release(&r);
		if (e && e != LN_ESANDBOX)
			works = 2;   /* not a refusal of the machine: the tests fail */
	}
	if (works == 0)
		fprintf(stderr, "  SKIP (the box): bubblewrap cannot run here: %s\n", why);
	return works != 0;
}

TEST(sbx_run__captures_output_and_exit_status)
{
	enum sbx_iso modes[] = { SBX_ISO_REQUIRED, SBX_ISO_NONE };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct sbx_result r;
		if (modes[i] == SBX_ISO_REQUIRED && !box_works())
			continue;
		CHECK_EQ_INT(run_sh(&r, "echo out; echo err >&2; exit 3", modes[i], 20000), 0);
		CHECK(r.exited);
		CHECK_EQ_INT(r.exitcode, 3);
		CHECK_EQ_STR(r.out.data, "out\n");
		CHECK_EQ_STR(r.err.data, "err\n");
		CHECK(!r.timed_out && !r.truncated);
		if (modes[i] == SBX_ISO_NONE) {
			CHECK(!r.isolated);
			CHECK(strstr(r.iso_note, "--no-isolation") != NULL);
		} else {
			CHECK(r.isolated);   /* required and it ran: boxed, never a fallback */
		}
		sbx_result_release(&r);
	}
}

TEST(sbx_run__reports_exec_failure_not_exit_127)
{
	const char *argv[] = { "lanser-no-such-program", NULL };
	const char *argv2[] = { "/etc/passwd", NULL };
	struct sbx_opts o;
	struct sbx_result r;

	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.cwd = "/";
	o.env = test_env;
	sbx_limits_default(&o.limits);
	sbx_result_init(&r);
	CHECK_EQ_INT(sbx_run(&r, &o), LN_ENOTFOUND);
	CHECK(strstr(ln_error_msg(), "lanser-no-such-program") != NULL);
	sbx_result_release(&r);

	o.argv = argv2; /* exists, not executable: the exec itself fails */
	sbx_result_init(&r);
	CHECK_EQ_INT(sbx_run(&r, &o), LN_ENOTFOUND);
	CHECK(strstr(ln_error_msg(), "Permission denied") != NULL);
	sbx_result_release(&r);

	o.argv = (const char *[]){ "/bin/true", NULL };
	o.cwd = "/lanser-no-such-dir";
	sbx_result_init(&r);
	CHECK_EQ_INT(sbx_run(&r, &o), LN_ENOTFOUND);
	CHECK(strstr(ln_error_msg(), "chdir") != NULL);
	sbx_result_release(&r);
}

TEST(sbx_run__times_out_and_kills_the_tree)
{
	enum sbx_iso modes[] = { SBX_ISO_REQUIRED, SBX_ISO_NONE };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct sbx_result r;
		CHECK_EQ_INT(run_sh(&r, uniq("sleep 1001.%d & sleep 1002.%d; echo never", (int)getpid(), (int)getpid()), modes[i], 300), 0);
		CHECK(r.timed_out);
		CHECK(r.hits & SBX_HIT_WALL);
		CHECK(!r.exited);
		CHECK_EQ_INT(r.signal, SIGKILL);
		CHECK_EQ_INT(procs_with(uniq("sleep 1001.%d", (int)getpid())), 0);
		CHECK_EQ_INT(procs_with(uniq("sleep 1002.%d", (int)getpid())), 0);
		sbx_result_release(&r);
	}
}

TEST(sbx_run__closed_stdout_still_times_out)
{
	enum sbx_iso modes[] = { SBX_ISO_REQUIRED, SBX_ISO_NONE };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct sbx_result r;
		CHECK_EQ_INT(run_sh(&r, uniq("echo before; exec >&- 2>&-; sleep 1003.%d", (int)getpid()), modes[i], 300), 0);
		CHECK(r.timed_out);
		CHECK_EQ_STR(r.out.data, "before\n");
		CHECK_EQ_INT(procs_with(uniq("sleep 1003.%d", (int)getpid())), 0);
		sbx_result_release(&r);
	}
}

TEST(sbx_run__daemonized_grandchild_is_killed)
{
	enum sbx_iso modes[] = { SBX_ISO_REQUIRED, SBX_ISO_NONE };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct sbx_result r;
		/* double fork + setsid, holding no pipe: invisible to the caller */
		CHECK_EQ_INT(run_sh(&r, uniq("(setsid sh -c 'sleep 1004.%d' </dev/null >/dev/null 2>&1 &); "
					 "echo started", (int)getpid()), modes[i], 20000), 0);
		CHECK(r.exited);
		CHECK_EQ_INT(r.exitcode, 0);
		CHECK(!r.timed_out);
		CHECK_EQ_INT(procs_with(uniq("sleep 1004.%d", (int)getpid())), 0);
		sbx_result_release(&r);
	}
}

TEST(sbx_run__caps_output)
{
	const char *argv[] = { "/bin/sh", "-c", "head -c 300000 /dev/zero; echo tail >&2", NULL };
	struct sbx_opts o;
	struct sbx_result r;

	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.cwd = "/";
	o.env = test_env;
	sbx_limits_default(&o.limits);
	o.limits.out_bytes = 1000;
	sbx_result_init(&r);
	CHECK_EQ_INT(sbx_run(&r, &o), 0);
	if (r.out.len != 1000)
		fprintf(stderr, "  stderr: %s\n", r.err.data);
	CHECK_EQ_INT(r.out.len, 1000);
	CHECK(r.truncated);
	CHECK(r.hits & SBX_HIT_OUTPUT);
	CHECK_EQ_STR(r.err.data, "tail\n");
	CHECK_EQ_INT(r.exitcode, 0);
	sbx_result_release(&r);
}

TEST(sbx_run__feeds_stdin)
{
	const char *argv[] = { "/bin/cat", NULL };
	struct sbx_opts o;
	struct sbx_result r;
	static char big[200000];

	memset(big, 'x', sizeof big);
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.cwd = "/";
	o.env = test_env;
	sbx_limits_default(&o.limits);
	o.stdin_data = big;
	o.stdin_len = sizeof big;
	sbx_result_init(&r);
	CHECK_EQ_INT(sbx_run(&r, &o), 0);
	CHECK_EQ_INT(r.out.len, sizeof big);
	sbx_result_release(&r);
}

TEST(sbx_run__leaks_no_descriptors)
{
	struct sbx_result r;
	/* only 0, 1, 2 and the directory ls itself opens */
	CHECK_EQ_INT(run_sh(&r, "ls /proc/self/fd | wc -l", SBX_ISO_REQUIRED, 20000), 0);
	CHECK_EQ_STR(r.out.data, "4\n");
	sbx_result_release(&r);
	CHECK_EQ_INT(run_sh(&r, "ls /proc/self/fd | wc -l", SBX_ISO_NONE, 20000), 0);
	CHECK_EQ_STR(r.out.data, "4\n");
	sbx_result_release(&r);
}

TEST(sbx_run__namespaces_isolate_host_uid_and_files)
{
	struct sbx_result r;

	CHECK_EQ_INT(run_sh(&r, "hostname; echo uid=$(id -u); grep CapEff /proc/self/status; "
			    "echo x > /etc/lanser-sbx-probe 2>/dev/null && echo wrote; "
			    "echo y > /tmp/private && echo tmp-ok; ps -e -o pid= | wc -l",
			    SBX_ISO_REQUIRED, 20000), 0);
	CHECK(r.isolated);
	CHECK(strstr(r.out.data, "lanser-sandbox\n") != NULL);
	CHECK(strstr(r.out.data, "wrote") == NULL);
	CHECK(access("/etc/lanser-sbx-probe", F_OK) != 0);
	CHECK(strstr(r.out.data, "tmp-ok") != NULL);
	CHECK(access("/tmp/private", F_OK) != 0);
	CHECK(strstr(r.out.data, "uid=1000\n") != NULL);   /* not 0 inside */
	CHECK(strstr(r.out.data, "CapEff:\t0000000000000000") != NULL);
	if (geteuid() == 0) /* an unprivileged id outside, never 0 */
		CHECK(r.uid >= 400000);
	sbx_result_release(&r);
}

TEST(sbx_run__fork_bomb_is_contained)
{
	enum sbx_iso modes[] = { SBX_ISO_REQUIRED, SBX_ISO_NONE };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct sbx_result r;
		/* bounded by the limits (nproc 64) and the wall clock */
		CHECK_EQ_INT(run_sh(&r, uniq("b() { b | b & }; b; sleep 1005.%d", (int)getpid()), modes[i], 1500), 0);
		/* the shell may give up when it cannot fork any more: either way
		 * the run ends, and as root the pids cgroup says it refused forks */
		CHECK(r.timed_out || !r.exited || r.exitcode != 0);
		if (geteuid() == 0)
			CHECK(r.hits & SBX_HIT_PROCS);
		CHECK_EQ_INT(procs_with(uniq("sleep 1005.%d", (int)getpid())), 0);
		sbx_result_release(&r);
	}
}

TEST(sbx_run__fails_closed_when_the_kernel_refuses_user_namespaces)
{
	struct sbx_result r;
	int e;

	/* the hook makes the kernel refuse for real (a seccomp filter on
	 * unshare/clone(CLONE_NEWUSER) before bwrap starts) */
	setenv("LANSER_SANDBOX_SIMULATE_REFUSAL", "1", 1);
	e = run_sh(&r, "echo ran", SBX_ISO_REQUIRED, 20000);
	unsetenv("LANSER_SANDBOX_SIMULATE_REFUSAL");
	CHECK_EQ_INT(e, LN_ESANDBOX);
	CHECK(strstr(ln_error_msg(), "--no-isolation") != NULL);
	CHECK(strstr(ln_error_msg(), "bwrap") != NULL);
	CHECK(!r.isolated);
	CHECK(strstr(r.out.data, "ran") == NULL);
	sbx_result_release(&r);
	/* the same without the hook runs boxed */
	if (!box_works())
		return;
	CHECK_EQ_INT(run_sh(&r, "echo ran", SBX_ISO_REQUIRED, 20000), 0);
	CHECK(r.isolated);
	CHECK_EQ_STR(r.out.data, "ran\n");
	sbx_result_release(&r);
}

TEST(sbx_run__fails_closed_without_bubblewrap)
{
	struct sbx_result r;
	int e;

	setenv("LANSER_BWRAP", "/nonexistent/bwrap", 1);
	e = run_sh(&r, "echo ran", SBX_ISO_REQUIRED, 20000);
	unsetenv("LANSER_BWRAP");
	CHECK_EQ_INT(e, LN_ESANDBOX);
	CHECK(strstr(ln_error_msg(), "--no-isolation") != NULL);
	CHECK(strstr(r.out.data, "ran") == NULL);
	sbx_result_release(&r);
}

TEST(sbx_run__disk_quota_kills_a_filler)
{
	char top[] = "/var/tmp/lanser-sbx-XXXXXX", file[160];
	/* 64 MiB in 1 MiB writes against a 16 MiB quota: killed long before */
	const char *argv[] = { "/bin/sh", "-c", "i=0; while [ $i -lt 64 ]; do "
			       "head -c 1048576 /dev/zero >> fill.bin || exit 9; i=$((i+1)); "
			       "sleep 0.02; done; echo done", NULL };
	struct sbx_opts o;
	struct sbx_result r;
	struct stat st;

	CHECK(mkdtemp(top) != NULL);
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.cwd = top;
	o.writable = top;
	o.env = test_env;
	sbx_limits_default(&o.limits);
	o.limits.disk_bytes = 16LL << 20;
	sbx_result_init(&r);
	CHECK_EQ_INT(sbx_run(&r, &o), 0);
	snprintf(file, sizeof file, "%s/fill.bin", top);
	CHECK_EQ_INT(stat(file, &st), 0);
	unlink(file);
	rmdir(top);
	CHECK(r.hits & SBX_HIT_DISK);
	CHECK(strstr(r.out.data, "done") == NULL);
	CHECK(st.st_size < (48LL << 20));
	CHECK(r.disk_added > (16LL << 20));
	sbx_result_release(&r);
}

TEST(sbx_limits__parse_rejects_bad_members)
{
	struct sbx_limits l;
	json_t *j;

	sbx_limits_default(&l);
	j = json_loads("{\"wallMs\": 5000, \"memoryMiB\": 64}", 0, NULL);
	CHECK_EQ_INT(sbx_limits_parse(&l, j, "task"), 0);
	CHECK_EQ_INT(l.wall_ms, 5000);
	CHECK_EQ_INT(l.mem_bytes, 64LL << 20);
	json_decref(j);
	j = json_loads("{\"wallMs\": -1}", 0, NULL);
	CHECK_EQ_INT(sbx_limits_parse(&l, j, "task"), LN_ECONFIG);
	CHECK(strstr(ln_error_msg(), "limits.wallMs") != NULL);
	json_decref(j);
	j = json_loads("{\"bogus\": 1}", 0, NULL);
	CHECK_EQ_INT(sbx_limits_parse(&l, j, "task"), LN_ECONFIG);
	json_decref(j);
	j = json_loads("{\"processes\": \"10\"}", 0, NULL);
	CHECK_EQ_INT(sbx_limits_parse(&l, j, "task"), LN_ECONFIG);
	json_decref(j);
}

TEST(sbx_run__worktree_is_writable_under_a_private_folder)
{
	char top[] = "/var/tmp/lanser-sbx-XXXXXX", wt[128], file[160];
	const char *argv[] = { "/bin/sh", "-c", "echo made > made.txt && cat made.txt && "
			       "echo x > ../sibling.txt 2>/dev/null; ls ..", NULL };
	struct sbx_opts o;
	struct sbx_result r;
	struct stat st;

	CHECK(mkdtemp(top) != NULL); /* mode 0700: the sandbox uid cannot search it */
	snprintf(wt, sizeof wt, "%s/wt", top);
	CHECK_EQ_INT(mkdir(wt, 0755), 0);
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.cwd = wt;
	o.writable = wt;
	o.env = test_env;
	sbx_limits_default(&o.limits);
	if (!box_works()) {
		rmdir(wt);
		rmdir(top);
		return;
	}
	sbx_result_init(&r);
	CHECK_EQ_INT(sbx_run(&r, &o), 0);
	CHECK(r.isolated);
	CHECK_EQ_INT(r.exitcode, 0);
	CHECK(strstr(r.out.data, "made\n") != NULL);
	snprintf(file, sizeof file, "%s/made.txt", wt);
	CHECK_EQ_INT(stat(file, &st), 0);
	CHECK_EQ_INT(st.st_uid, geteuid()); /* owned by lanser's user, not the sandbox's */
	snprintf(file, sizeof file, "%s/sibling.txt", top);
	CHECK(access(file, F_OK) != 0);  /* outside the worktree: not written */
	sbx_result_release(&r);
	snprintf(file, sizeof file, "%s/made.txt", wt);
	unlink(file);
	snprintf(file, sizeof file, "%s/sibling.txt", top);
	unlink(file);
	rmdir(wt);
	rmdir(top);
}
