/* Named sysfilter, not seccomp: -Isandbox would shadow <seccomp.h>. */
/*
 * sysfilter.h - the system-call filter (seccomp) of the box (docs/sandbox.md, "seccomp").
 *
 * The filter is built once per process with libseccomp and kept as classic
 * BPF; each box gets its own copy in a memfd that bubblewrap reads
 * (`--seccomp FD`) and installs right before it execs the command, after its
 * own mounts. What it denies (EPERM unless said otherwise):
 *   mount, umount2, pivot_root, move_mount, open_tree, fsopen, fsconfig,
 *   fsmount, fspick, mount_setattr, unshare, setns, clone with any
 *   CLONE_NEW* flag, clone3 (ENOSYS, so that libc falls back to clone),
 *   ptrace, process_vm_readv/writev, keyctl, add_key, request_key, bpf,
 *   perf_event_open, userfaultfd, kexec_load, kexec_file_load, init_module,
 *   finit_module, delete_module, open_by_handle_at, name_to_handle_at,
 *   swapon, swapoff, reboot, syslog, acct, quotactl, io_uring_setup/enter/
 *   register, ioctl TIOCSTI and TIOCLINUX, personality other than the
 *   default (0) or a query (0xffffffff);
 * and any system call of a foreign ABI (32-bit x86 or x32 on x86_64) kills
 * the process.
 *
 * Thread-safe.
 */
#ifndef LANSER_SANDBOX_SYSFILTER_H
#define LANSER_SANDBOX_SYSFILTER_H

#include <stddef.h>


/* A filter that only refuses new user namespaces (unshare and clone with
 * CLONE_NEWUSER: EPERM), as a kernel without unprivileged user namespaces
 * does: the test hook LANSER_SANDBOX_SIMULATE_REFUSAL=1 installs it before
 * bubblewrap starts, so the refusal comes from the kernel for real. */
int sbx_seccomp_refuse_userns(const void **out, size_t *len);

/* *out: a new memfd (O_CLOEXEC) holding the box's filter at offset 0, for
 * `bwrap --seccomp FD` (clear FD_CLOEXEC in the child that execs bwrap).
 * 0, or LN_ESANDBOX. */
int sbx_seccomp_memfd(int *out);

#endif
