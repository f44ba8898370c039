#include "sandbox/isolate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The pids controller of the cgroup v1 hierarchy (the only one seen on
 * the machines this runs on; cgroup v2 needs delegation: docs/sandbox.md). */
#define CG_PIDS_ROOT "/sys/fs/cgroup/pids"
#define CG_DIR CG_PIDS_ROOT "/lanser"

static atomic_uint id_seq;

/* The inode of this process's pid namespace: pids are unique only inside
 * one, and lanser processes in several (containers, a bootstrapped root
 * beside the host) share one cgroup hierarchy. 0 when /proc cannot say. */
static unsigned long pidns_id(void)
{
	static atomic_ulong ino;
	unsigned long v = atomic_load(&ino);
	struct stat st;

	if (v == 0 && stat("/proc/self/ns/pid", &st) == 0) {
		v = (unsigned long)st.st_ino;
		atomic_store(&ino, v);
	}
	return v;
}

unsigned sbx_pick_id(void)
{
	unsigned seq = atomic_fetch_add(&id_seq, 1);

	return SBX_UID_BASE +
	       (((unsigned)getpid() * 61u + (unsigned)pidns_id() * 977u + seq) & 0xffffu);
}

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), e = 0;
	size_t n = strlen(data);

	if (fd < 0)
		return errno;
	if (write(fd, data, n) != (ssize_t)n)
		e = errno ? errno : EIO;
	close(fd);
	return e;
}

SBX_CHILD_CODE static size_t s_len(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* --- cgroups --- */

int sbx_cgroup_create(struct sbx_cgroup *cg, long max_pids)
{
	static atomic_uint seq;
	char file[260], val[32];
	int e;

	cg->path[0] = '\0';
	if (mkdir(CG_DIR, 0755) < 0 && errno != EEXIST)
		return errno;
	/* "<pid namespace>-<pid>.<seq>": unique across namespaces, and the
	 * owner's namespace tells sbx_cgroup_prune whether it may judge it */
	snprintf(cg->path, sizeof cg->path, "%s/%lu-%d.%u", CG_DIR, pidns_id(), (int)getpid(),
		 atomic_fetch_add(&seq, 1));
	if (mkdir(cg->path, 0755) < 0) {
		e = errno;
		cg->path[0] = '\0';
		return e;
	}
	if (max_pids > 0) {
		snprintf(file, sizeof file, "%s/pids.max", cg->path);
		snprintf(val, sizeof val, "%ld", max_pids);
		if ((e = write_file(file, val))) {
			rmdir(cg->path);
			cg->path[0] = '\0';
			return e;
		}
	}
	return 0;
}

long sbx_cgroup_max_events(const struct sbx_cgroup *cg)
{
	char file[260], text[128];
	long v = -1;
	ssize_t n;
	int fd;

	if (!cg->path[0])
		return -1;
	snprintf(file, sizeof file, "%s/pids.events", cg->path);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n > 0) {
		text[n] = '\0';
		if (!strncmp(text, "max ", 4))
			v = strtol(text + 4, NULL, 10);
	}
	return v;
}

SBX_CHILD_CODE int sbx_child_cgroup_kill(const char *cg_path)
{
	char file[260], text[4096];
	size_t pl = s_len(cg_path);
	ssize_t n, i;
	int fd, count = 0;
	long pid = 0;
	bool in_num = false;

	if (pl == 0 || pl + 14 >= sizeof file)
		return 0;
	memcpy(file, cg_path, pl);
	memcpy(file + pl, "/cgroup.procs", 14);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* read in chunks; a number split across chunks carries over */
	while ((n = read(fd, text, sizeof text)) > 0) {
		for (i = 0; i < n; i++) {
			if (text[i] >= '0' && text[i] <= '9') {
				pid = pid * 10 + (text[i] - '0');
				in_num = true;
			} else if (in_num) {
				if (pid > 1 && pid != (long)getpid() && kill((pid_t)pid, SIGKILL) == 0)
					count++;
				pid = 0;
				in_num = false;
			}
		}
	}
	if (in_num && pid > 1 && pid != (long)getpid() && kill((pid_t)pid, SIGKILL) == 0)
		count++;
	close(fd);
	return count;
}

void sbx_cgroup_kill(const struct sbx_cgroup *cg)
{
	int i;

	if (!cg->path[0])
		return;
	/* a fork bomb may fork between the read and the kill: repeat until
	 * the group is empty (each pass can only shrink it: pids.max) */
	for (i = 0; i < 1000; i++) {
		if (sbx_child_cgroup_kill(cg->path) == 0)
			return;
		usleep(1000);
	}
}

void sbx_cgroup_destroy(struct sbx_cgroup *cg)
{
	int i;

	if (!cg->path[0])
		return;
	for (i = 0; i < 200; i++) {
		sbx_cgroup_kill(cg);
		if (rmdir(cg->path) == 0 || errno == ENOENT)
			break;
		usleep(5000); /* killed members are still exiting */
	}
	cg->path[0] = '\0';
}

int sbx_cgroup_prune(void)
{
	DIR *d = opendir(CG_DIR);
	struct dirent *de;
	int removed = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct sbx_cgroup cg;
		char *end;
		unsigned long ns = strtoul(de->d_name, &end, 10);
		long owner;

		/* only a cgroup of a lanser in this pid namespace: another
		 * namespace's pid says nothing here (it may be alive there) */
		if (*end != '-' || ns != pidns_id() || ns == 0)
			continue;
		owner = strtol(end + 1, &end, 10);
		if (owner <= 0 || *end != '.' || strlen(de->d_name) > 64)
			continue;
		if (kill((pid_t)owner, 0) == 0 || errno == EPERM)
			continue; /* its lanser still runs */
		snprintf(cg.path, sizeof cg.path, "%s/%.64s", CG_DIR, de->d_name);
		sbx_cgroup_destroy(&cg);
		removed++;
	}
	closedir(d);
	return removed;
}
