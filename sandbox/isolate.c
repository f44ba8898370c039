#include "isolate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The pids controller of the cgroup v1 hierarchy (the only one seen on
 * the machines this runs on; cgroup v2 needs delegation: docs/sandbox.md). */
#define CG_PIDS_ROOT "/sys/fs/cgroup/pids"
#define CG_DIR CG_PIDS_ROOT "/lanser"

static atomic_uint id_seq;

unsigned sbx_pick_id(void)
{
	unsigned seq = atomic_fetch_add(&id_seq, 1);

	return SBX_UID_BASE + (((unsigned)getpid() * 61u + seq) & 0xffffu);
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

int sbx_write_maps(pid_t pid, bool privileged, unsigned id, const char **what)
{
	char path[64], map[64];
	int e;

	if (!privileged) {
		snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
		*what = "setgroups";
		if ((e = write_file(path, "deny")))
			return e;
	}
	snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
	snprintf(map, sizeof map, "0 %u 1\n", privileged ? id : (unsigned)getuid());
	*what = "uid_map";
	if ((e = write_file(path, map)))
		return e;
	snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
	snprintf(map, sizeof map, "0 %u 1\n", privileged ? id : (unsigned)getgid());
	*what = "gid_map";
	return write_file(path, map);
}

int sbx_idmap_tree(int tree_fd, pid_t pid)
{
	char path[64];
	struct mount_attr a;
	int ufd, e = 0;

	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	ufd = open(path, O_RDONLY | O_CLOEXEC);
	if (ufd < 0)
		return errno;
	memset(&a, 0, sizeof a);
	a.attr_set = MOUNT_ATTR_IDMAP;
	a.userns_fd = (unsigned long long)ufd;
	if (mount_setattr(tree_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0)
		e = errno;
	close(ufd);
	return e;
}

/* --- supervisor side: async-signal-safe only --- */

SBX_CHILD_CODE static size_t s_len(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* mkdir -p of an absolute path on the fresh tmpfs (components that exist
 * are fine). */
SBX_CHILD_CODE static int mkdir_p(const char *path)
{
	char p[4096];
	size_t n = s_len(path), i;

	if (n == 0 || n >= sizeof p)
		return ENAMETOOLONG;
	memcpy(p, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return errno;
		p[i] = path[i];
	}
	return 0;
}

SBX_CHILD_CODE static void fmt_size(char *out, const char *prefix, long long bytes)
{
	/* "<prefix><bytes>" without snprintf (not async-signal-safe) */
	char digits[24];
	int n = 0;
	size_t pl = s_len(prefix);

	if (bytes <= 0)
		bytes = 1;
	while (bytes > 0 && n < 23) {
		digits[n++] = (char)('0' + bytes % 10);
		bytes /= 10;
	}
	memcpy(out, prefix, pl);
	while (n > 0)
		out[pl++] = digits[--n];
	out[pl] = '\0';
}

SBX_CHILD_CODE int sbx_child_setup(const char *writable, const char *hide, int tree_fd, long long tmp_bytes,
		    bool privileged, const char **stage)
{
	struct mount_attr ro;
	struct ifreq ifr;
	char opts[96];
	int s;

	/* raw system calls: glibc's set*id() would try to broadcast the change
	 * to the threads of the lanser process we were cloned from, which do
	 * not exist here, and wait for them forever */
	*stage = "become root in the user namespace";
	if (syscall(SYS_setresgid, 0, 0, 0) < 0)
		return errno;
	if (privileged && syscall(SYS_setgroups, 0, NULL) < 0)
		return errno;
	if (syscall(SYS_setresuid, 0, 0, 0) < 0)
		return errno;

	*stage = "make mounts private";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return errno;
	if (writable && tree_fd < 0) {
		/* not root: no idmap is needed (our uid is the sandbox's root),
		 * and only here, in our own mount namespace, may we clone it */
		*stage = "clone the worktree's mount";
		tree_fd = open_tree(AT_FDCWD, writable, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				    AT_RECURSIVE);
		if (tree_fd < 0)
			return errno;
	}
	*stage = "make the file system read-only";
	/* not nodev: /dev/null and /dev/zero must keep working */
	memset(&ro, 0, sizeof ro);
	ro.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
	if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) < 0)
		return errno;
	*stage = "mount a private /tmp";
	fmt_size(opts, "mode=1777,size=", tmp_bytes);
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return errno;
	*stage = "mount a private /dev/shm";
	if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=16m") < 0 &&
	    errno != ENOENT)
		return errno;
	if (hide && hide[0]) {
		*stage = "hide the worktree's private ancestors";
		if (mount("tmpfs", hide, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
			return errno;
	}
	if (writable && tree_fd >= 0) {
		int e;
		*stage = "recreate the worktree's path";
		if ((e = mkdir_p(writable)))
			return e;
		*stage = "mount the worktree";
		if (move_mount(tree_fd, "", AT_FDCWD, writable, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return errno;
	}
	*stage = "mount /proc";
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return errno;

	*stage = "bring up the loopback interface";
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		int e = errno;
		close(s);
		return e;
	}
	ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		int e = errno;
		close(s);
		return e;
	}
	close(s);
	*stage = "set the host name";
	if (sethostname(SBX_HOSTNAME, sizeof SBX_HOSTNAME - 1) < 0)
		return errno;
	(void)privileged;
	return 0;
}

void sbx_hide_for(const char *writable, char *out, size_t n)
{
	char p[4096];
	size_t len = strlen(writable), i;

	out[0] = '\0';
	if (len == 0 || len >= sizeof p || writable[0] != '/' || !strncmp(writable, "/tmp/", 5))
		return;
	memcpy(p, writable, len + 1);
	for (i = 1; i <= len; i++) {
		struct stat st;
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && !(st.st_mode & S_IXOTH)) {
			if (i < n)
				memcpy(out, p, i + 1);
			return;
		}
		p[i] = writable[i];
	}
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
	snprintf(cg->path, sizeof cg->path, "%s/%d.%u", CG_DIR, (int)getpid(),
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
		long owner = strtol(de->d_name, &end, 10);

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
