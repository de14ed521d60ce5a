//go:build cgo

// steps.c: the calls each step of a plan makes, in the container, as
// root of its user namespace, one thread: containerinit's exec steps
// (the process's own: working folder, user, capabilities, no_new_privs,
// rlimits, seccomp) with the numbers boxcraft exec worked out.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsexec.h"

// failed writes "WHAT: …: ERR" into msg and returns 125, the set-up's
// status.
static int failed(const struct step *s, char *msg, size_t n, int err, const char *format, ...)
{
	size_t at = (size_t)snprintf(msg, n, "%s", s->what);
	va_list ap;

	if (format != NULL && at < n) {
		at += (size_t)snprintf(msg + at, n - at, ": ");
		va_start(ap, format);
		if (at < n)
			at += (size_t)vsnprintf(msg + at, n - at, format, ap);
		va_end(ap);
	}
	if (at < n)
		snprintf(msg + at, n - at, ": %s", lower_strerror(err));
	return 125;
}

static uint64_t number(const char *s) { return strtoull(s, NULL, 10); }

// install_filter is seccomp(2) of a BPF program boxcraft exec compiled
// (package seccomp): one thread, so no TSYNC. flags may ask for a
// listener, which it returns.
static int install_filter(const struct step *s, unsigned int flags)
{
	struct sock_fprog prog = {
		.len = (unsigned short)(s->lens[0] / sizeof(struct sock_filter)),
		.filter = (struct sock_filter *)s->args[0],
	};

	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

// session: a session leader, as init is, with no way into the caller's
// terminal; with -t its pty (stdin) becomes the session's terminal, so
// that a Ctrl-C typed into it is its SIGINT.
static int session(const struct step *s, char *msg, size_t n)
{
	if (setsid() < 0)
		return failed(s, msg, n, errno, NULL);
	if (strcmp(s->args[0], "tty") == 0 && ioctl(0, TIOCSCTTY, 0) < 0)
		return failed(s, msg, n, errno, "make the pty the session's terminal");
	return 0;
}

// sysinfo hands the monitor a listener for sysinfo(2) (its /proc view's
// answer), over the socket it gave: a filter of its own, beside the
// container's profile.
static int sysinfo(const struct step *s, char *msg, size_t n)
{
	int sock = atoi(s->args[1]);
	int listener = install_filter(s, SECCOMP_FILTER_FLAG_NEW_LISTENER);
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = "sysinfo", .iov_len = 7};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	if (listener < 0)
		return failed(s, msg, n, errno, "install the filter with a listener");
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &listener, sizeof(int));
	if (sendmsg(sock, &mh, 0) < 0)
		return failed(s, msg, n, errno, NULL);
	close(listener);
	close(sock);
	return 0;
}

// working_folder makes the folder if missing (Docker does, for an
// image's WorkingDir or -w), enters it, and checks that it is below the
// container's root (CVE-2024-21626: getcwd(2) names a folder the root
// cannot reach "(unreachable)…").
static int working_folder(const struct step *s, char *msg, size_t n)
{
	const char *dir = s->args[0][0] ? s->args[0] : "/";
	char path[4096], cwd[4096];
	size_t i;

	snprintf(path, sizeof path, "%s", dir);
	for (i = 1; i <= strlen(dir) && i < sizeof path; i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return failed(s, msg, n, errno, "mkdir %s", path);
		path[i] = dir[i];
	}
	if (chdir(dir) < 0)
		return failed(s, msg, n, errno, "chdir %s", dir);
	if (getcwd(cwd, sizeof cwd) == NULL || cwd[0] != '/')
		return failed(s, msg, n, ENOENT, "not inside the container's root");
	return 0;
}

static int oom_score(const struct step *s, char *msg, size_t n)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, s->args[0], strlen(s->args[0])) < 0)
		return failed(s, msg, n, errno, NULL);
	close(fd);
	return 0;
}

// last_capability is the highest capability the running kernel knows:
// dropping a higher one is EINVAL.
static int last_capability(void)
{
	char text[16] = {0};
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, text, sizeof text - 1) <= 0)
		return CAP_LAST_CAP;
	close(fd);
	return atoi(text);
}

// bounding drops, one at a time (prctl(PR_CAPBSET_DROP)), every
// capability the mask does not keep, while CAP_SETPCAP is still held.
static int bounding(const struct step *s, char *msg, size_t n)
{
	uint64_t keep = number(s->args[0]);
	int cap, last = last_capability();

	for (cap = 0; cap <= last; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return failed(s, msg, n, errno, "capability %d", cap);
	}
	return 0;
}

// id_failed is a failure of setgroups, setresgid or setresuid (call, as
// the message names it): EINVAL, an id outside the user namespace's map,
// is said in words.
static int id_failed(const struct step *s, char *msg, size_t n, int err, const char *call)
{
	if (err != EINVAL)
		return failed(s, msg, n, err, "%s", call);
	snprintf(msg, n, "%s: %s: not mapped in the container's user namespace (--uidmap, --gidmap)", s->what, call);
	return 125;
}

// ids: the groups, then the group, then the user; once the user is not
// root it may change neither.
static int ids(const struct step *s, char *msg, size_t n)
{
	uint32_t count = s->nargs - 2, i;
	gid_t *groups = calloc(count + 1, sizeof(gid_t));
	unsigned long long gid = number(s->args[0]), uid = number(s->args[1]);
	char call[64];

	if (groups == NULL)
		return failed(s, msg, n, ENOMEM, "setgroups");
	for (i = 0; i < count; i++)
		groups[i] = (gid_t)number(s->args[2 + i]);
	if (setgroups(count, groups) < 0)
		return id_failed(s, msg, n, errno, "setgroups");
	free(groups);
	if (setresgid(gid, gid, gid) < 0) {
		snprintf(call, sizeof call, "setgid %llu", gid);
		return id_failed(s, msg, n, errno, call);
	}
	if (setresuid(uid, uid, uid) < 0) {
		snprintf(call, sizeof call, "setuid %llu", uid);
		return id_failed(s, msg, n, errno, call);
	}
	return 0;
}

// capabilities: the ambient set cleared (EINVAL before Linux 4.3, which
// has none), capset(2) of the three sets, each ambient one raised: the
// kernel raises it only when permitted and inheritable.
static int capabilities(const struct step *s, char *msg, size_t n)
{
	uint64_t effective = number(s->args[0]), permitted = number(s->args[1]);
	uint64_t inheritable = number(s->args[2]), ambient = number(s->args[3]);
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	int i;

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return failed(s, msg, n, errno, "clear the ambient set");
	for (i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(effective >> (32 * i));
		data[i].permitted = (uint32_t)(permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &header, data) < 0)
		return failed(s, msg, n, errno, "capset");
	for (i = 0; i < 64; i++) {
		if ((ambient & (1ULL << i)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
			return failed(s, msg, n, errno, "raise capability %d in the ambient set", i);
	}
	return 0;
}

// rlimits: each limit, which the command inherits across execve.
static int rlimits(const struct step *s, char *msg, size_t n)
{
	uint32_t i;

	for (i = 0; i + 3 < s->nargs; i += 4) {
		struct rlimit rl = {.rlim_cur = number(s->args[i + 2]), .rlim_max = number(s->args[i + 3])};
		if (setrlimit(atoi(s->args[i + 1]), &rl) < 0)
			return failed(s, msg, n, errno, "%s", s->args[i]);
	}
	return 0;
}

// exec_command is the last step (exec.c).
int exec_command(const struct step *s, char *msg, size_t n);

int take_step(const struct step *s, char *msg, size_t n)
{
	switch (s->op) {
	case 's':
		return session(s, msg, n);
	case 'i':
		return sysinfo(s, msg, n);
	case 'c':
		// Every descriptor from 3 on closes at execve: the command
		// inherits none of boxcraft's (the trace and report pipes too).
		if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
			return failed(s, msg, n, errno, NULL);
		return 0;
	case 'd':
		return working_folder(s, msg, n);
	case 'o':
		return oom_score(s, msg, n);
	case 'f':
		return install_filter(s, 0) < 0 ? failed(s, msg, n, errno, NULL) : 0;
	case 'b':
		return bounding(s, msg, n);
	case 'k':
		// The permitted set survives setuid away from root: capset,
		// after it, still chooses the sets. execve clears the flag.
		return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ? failed(s, msg, n, errno, NULL) : 0;
	case 'u':
		return ids(s, msg, n);
	case 'p':
		return capabilities(s, msg, n);
	case 'n':
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? failed(s, msg, n, errno, NULL) : 0;
	case 'r':
		return rlimits(s, msg, n);
	case 'x':
		return exec_command(s, msg, n);
	}
	snprintf(msg, n, "boxcraft-exec-init: a plan's step %c is unknown", s->op);
	return 125;
}
