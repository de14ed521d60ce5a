//go:build cgo

// nsexec.c: the constructor that joins a running container's namespaces
// for boxcraft exec, before main and so before the Go runtime, and forks
// the child that takes boxcraft exec's plan (plan.c).
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsexec.h"

// fail tells boxcraft exec, on the socket, why there is no child, and
// ends this process.
static void fail(int sock, const char *what)
{
	dprintf(sock, "error %s: %s\n", what, strerror(errno));
	_exit(125);
}

// becomeRoot makes this process the user namespace's root, now that it
// is in it: its ids are still the host's root's, which the container's
// map does not hold (they would read as 65534 inside, and files it made
// would belong to nobody). As init, it keeps every capability in the
// namespace: a change of ids drops them only when leaving root.
static void becomeRoot(int sock)
{
	if (setresgid(0, 0, 0) < 0)
		fail(sock, "setresgid(0) in the container's user namespace");
	// The monitor allowed setgroups (run's GidMappingsEnableSetgroups).
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		fail(sock, "setgroups in the container's user namespace");
	if (setresuid(0, 0, 0) < 0)
		fail(sock, "setresuid(0) in the container's user namespace");
}

// boxcraftNsenter runs in every boxcraft-exec-init process, before main
// and so before the Go runtime has started a thread: the only moment a Go
// program can join a user namespace (the kernel wants one thread) or a
// mount namespace (it wants a working folder that no other thread
// shares). It does nothing unless boxcraft exec asked for it.
__attribute__((constructor)) static void boxcraftNsenter(void)
{
	const char *env = getenv("_BOXCRAFT_NSENTER");
	int pidfd, sock, flags;
	pid_t child;
	char go;

	if (env == NULL)
		return;
	if (sscanf(env, "%d %d %x", &pidfd, &sock, &flags) != 3) {
		dprintf(2, "boxcraft-exec-init: _BOXCRAFT_NSENTER is not PIDFD SOCKET FLAGS\n");
		_exit(125);
	}
	// Not dumpable: until it execs the command, nothing in the container
	// may ptrace this process or open its /proc files, /proc/PID/exe (the
	// host's boxcraft-exec-init) above all (runc's CVE-2016-9962). execve
	// makes the command dumpable again.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(sock, "prctl(PR_SET_DUMPABLE)");
	// Wait until boxcraft exec has put this process in the container's
	// cgroup (v1; on v2 it was cloned into it): what it forks is then
	// in the cgroup from its first instruction.
	if (read(sock, &go, 1) != 1)
		fail(sock, "wait for boxcraft exec");
	// Every namespace at once, the user namespace first, from the
	// container's init's pidfd: its pid cannot be reused meanwhile.
	if (setns(pidfd, flags) < 0)
		fail(sock, "setns into the container's namespaces");
	if (flags & CLONE_NEWUSER)
		becomeRoot(sock);
	// A new anonymous session keyring, as the container's init has: the
	// keys of the caller's session stay out of reach.
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS)
		fail(sock, "join a new session keyring");
	// A pid namespace applies to children only: fork. CLONE_PARENT makes
	// the child boxcraft exec's own, for it to wait for and reap; this
	// process ends at once.
	child = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
	if (child < 0)
		fail(sock, "clone into the container's pid namespace");
	if (child > 0) {
		dprintf(sock, "pid %d\n", child);
		_exit(0);
	}
	close(pidfd);
	close(sock);
	// The child takes boxcraft exec's plan, up to the command's exec,
	// without ever starting the Go runtime.
	run_plan();
}
