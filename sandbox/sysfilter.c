#include "sandbox/sysfilter.h"

#include "core/err.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

struct blob {
	void *data;
	size_t len;
	int error;          /* 0 or an errno value of libseccomp */
	const char *what;
};

static struct blob box_blob, userns_blob;
static pthread_once_t box_once = PTHREAD_ONCE_INIT, userns_once = PTHREAD_ONCE_INIT;

/* libseccomp exports to a descriptor only: a memfd, read back. */
static int export(struct blob *b, scmp_filter_ctx ctx)
{
	int fd = memfd_create("lanser-seccomp", MFD_CLOEXEC), e;
	off_t len;

	if (fd < 0)
		return errno;
	if ((e = seccomp_export_bpf(ctx, fd)) < 0) {
		close(fd);
		return -e;
	}
	len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len > (1 << 20)) {
		close(fd);
		return EINVAL;
	}
	b->data = xmalloc((size_t)len);
	if (pread(fd, b->data, (size_t)len, 0) != len) {
		e = errno ? errno : EIO;
		close(fd);
		free(b->data);
		b->data = NULL;
		return e;
	}
	b->len = (size_t)len;
	close(fd);
	return 0;
}

#define DENY(ctx, err, name, ...)                                                           \
	do {                                                                                \
		int r_ = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), SCMP_SYS(name), __VA_ARGS__); \
		if (r_ < 0 && r_ != -EFAULT) /* -EFAULT: unknown on this arch */             \
			return -r_;                                                         \
	} while (0)

static int box_rules(scmp_filter_ctx ctx)
{
	static const unsigned long ns_flags[] = {
		CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
		CLONE_NEWPID, CLONE_NEWNET,
	};
	size_t i;
	int r;

	/* a foreign ABI (32-bit x86, x32) is a way around every rule below */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
		return -r;
	DENY(ctx, EPERM, mount, 0);
	DENY(ctx, EPERM, umount2, 0);
	DENY(ctx, EPERM, umount, 0);
	DENY(ctx, EPERM, pivot_root, 0);
	DENY(ctx, EPERM, chroot, 0);
	DENY(ctx, EPERM, move_mount, 0);
	DENY(ctx, EPERM, open_tree, 0);
	DENY(ctx, EPERM, fsopen, 0);
	DENY(ctx, EPERM, fsconfig, 0);
	DENY(ctx, EPERM, fsmount, 0);
	DENY(ctx, EPERM, fspick, 0);
	DENY(ctx, EPERM, mount_setattr, 0);
	DENY(ctx, EPERM, unshare, 0);
	DENY(ctx, EPERM, setns, 0);
	for (i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++)
		DENY(ctx, EPERM, clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
	/* clone3 passes its flags in memory, out of a filter's sight: ENOSYS
	 * makes glibc fall back to clone, which is checked above */
	DENY(ctx, ENOSYS, clone3, 0);
	DENY(ctx, EPERM, ptrace, 0);
	DENY(ctx, EPERM, process_vm_readv, 0);
	DENY(ctx, EPERM, process_vm_writev, 0);
	DENY(ctx, EPERM, keyctl, 0);
	DENY(ctx, EPERM, add_key, 0);
	DENY(ctx, EPERM, request_key, 0);
	DENY(ctx, EPERM, bpf, 0);
	DENY(ctx, EPERM, perf_event_open, 0);
	DENY(ctx, EPERM, userfaultfd, 0);
	DENY(ctx, EPERM, kexec_load, 0);
	DENY(ctx, EPERM, kexec_file_load, 0);
	DENY(ctx, EPERM, init_module, 0);
	DENY(ctx, EPERM, finit_module, 0);
	DENY(ctx, EPERM, delete_module, 0);
	DENY(ctx, EPERM, open_by_handle_at, 0);
	DENY(ctx, EPERM, name_to_handle_at, 0);
	DENY(ctx, EPERM, swapon, 0);
	DENY(ctx, EPERM, swapoff, 0);
	DENY(ctx, EPERM, reboot, 0);
	DENY(ctx, EPERM, syslog, 0);
	DENY(ctx, EPERM, acct, 0);
	DENY(ctx, EPERM, quotactl, 0);
	DENY(ctx, EPERM, io_uring_setup, 0);
	DENY(ctx, EPERM, io_uring_enter, 0);
	DENY(ctx, EPERM, io_uring_register, 0);
	/* the request is an int: compare its low 32 bits only */
	DENY(ctx, EPERM, ioctl, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, TIOCSTI));
	DENY(ctx, EPERM, ioctl, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, TIOCLINUX));
	/* personality(0) and the query personality(0xffffffff) only: any
	 * other value has some bit below 31 set and bit 31 clear (no
	 * personality uses bit 31; the query has every bit set) */
	for (i = 0; i < 31; i++)
		DENY(ctx, EPERM, personality, 1,
		     SCMP_A0(SCMP_CMP_MASKED_EQ, (1UL << i) | 0x80000000UL, 1UL << i));
	return 0;
}

static void build(struct blob *b, int (*rules)(scmp_filter_ctx))
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	if (!ctx) {
		b->error = ENOMEM;
		b->what = "seccomp_init";
		return;
	}
	/* bwrap sets no_new_privs itself; the filter must not need it here */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	b->what = "seccomp rules";
	b->error = rules(ctx);
	if (!b->error) {
		b->what = "seccomp_export_bpf";
		b->error = export(b, ctx);
	}
	seccomp_release(ctx);
}

static void build_box(void)
{
	build(&box_blob, box_rules);
}

static int userns_rules(scmp_filter_ctx ctx)
{
	DENY(ctx, EPERM, unshare, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	DENY(ctx, EPERM, clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	DENY(ctx, ENOSYS, clone3, 0);
	return 0;
}

static void build_userns(void)
{
	build(&userns_blob, userns_rules);
}

static int get(const struct blob *b, const void **out, size_t *len)
{
	if (b->error)
		return ln_error_set(LN_ESANDBOX, "sandbox: cannot build the seccomp filter (%s: %s)",
				    b->what, strerror(b->error));
	*out = b->data;
	*len = b->len;
	return 0;
}

/* The box's filter as BPF (struct sock_filter[], *len bytes). The memory
 * is the process's, never freed. 0, or LN_ESANDBOX (message set). */
static int sbx_seccomp_filter(const void **out, size_t *len)
{
	pthread_once(&box_once, build_box);
	return get(&box_blob, out, len);
}

int sbx_seccomp_refuse_userns(const void **out, size_t *len)
{
	pthread_once(&userns_once, build_userns);
	return get(&userns_blob, out, len);
}

int sbx_seccomp_memfd(int *out)
{
	const void *data = NULL;
	size_t len = 0;
	int fd, error;

	*out = -1;
	if ((error = sbx_seccomp_filter(&data, &len)))
		return error;
	fd = memfd_create("lanser-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return ln_error_set(LN_ESANDBOX, "sandbox: memfd_create: %s", strerror(errno));
	if (ln_write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) != 0) {
		error = ln_error_set(LN_ESANDBOX, "sandbox: cannot write the seccomp filter: %s",
				     strerror(errno));
		close(fd);
		return error;
	}
	*out = fd;
	return 0;
}
