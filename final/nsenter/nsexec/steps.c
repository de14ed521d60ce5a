//go:build cgo

// steps.c: the calls each step of a plan makes, in the container, as
// root of its user namespace, one thread: containerinit's process steps
// (working folder, bounding set, user, capabilities, no_new_privs,
// rlimits, seccomp), with the numbers boxcraft exec worked out, and
// their failures in containerinit's words.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
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

// cap_name is capability n by the kernel's name, from the names the
// step carries after its own arguments (from), or its number.
static const char *cap_name(const struct step *s, uint32_t from, int n)
{
	static char number_only[32];

	if (n >= 0 && from + (uint32_t)n < s->nargs)
		return s->args[from + n];
	snprintf(number_only, sizeof number_only, "capability %d", n);
	return number_only;
}

// install_filter is seccomp(2) of a BPF program boxcraft exec compiled
// (package seccomp), copied where it is aligned: one thread, so no
// TSYNC. flags may ask for a listener, which it returns.
static int install_filter(const struct step *s, unsigned int flags)
{
	uint32_t size = s->lens[0];
	struct sock_fprog prog;
	int r;

	if (size == 0 || size % sizeof(struct sock_filter) != 0 || size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		errno = EINVAL;
		return -1;
	}
	prog.len = (unsigned short)(size / sizeof(struct sock_filter));
	prog.filter = malloc(size);
	if (prog.filter == NULL)
		return -1;
	memcpy(prog.filter, s->args[0], size);
	r = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	free(prog.filter);
	return r;
}

// session: a session leader, as init is, with no way into the caller's
// terminal; with -t its pty (stdin) becomes the session's terminal, so
// that a Ctrl-C typed into it is its SIGINT.
static int session(const struct step *s, struct failure *f)
{
	if (setsid() < 0)
		return failf(f, 125, errno, "setsid");
	if (strcmp(s->args[0], "tty") == 0 && ioctl(0, TIOCSCTTY, 0) < 0)
		return failf(f, 125, errno, "make the pty the session's terminal");
	return 0;
}

// sysinfo hands the monitor a listener for sysinfo(2) (its /proc view's
// answer), over the socket it gave: a filter of its own, beside the
// container's profile.
static int sysinfo(const struct step *s, struct failure *f)
{
	int sock = (int)number(s->args[1], 1 << 20);
	int listener = install_filter(s, SECCOMP_FILTER_FLAG_NEW_LISTENER);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = "sysinfo", .iov_len = 7};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
	struct cmsghdr *cm;

	if (listener < 0)
		return failf(f, 125, errno, "seccomp: install the filter with a listener");
	memset(&control, 0, sizeof control);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &listener, sizeof(int));
	if (sendmsg(sock, &mh, 0) < 0)
		return failf(f, 125, errno, "send the sysinfo listener to the monitor");
	close(listener);
	close(sock);
	return 0;
}

// working_folder makes the folder if missing (Docker does, for an
// image's WorkingDir or -w), enters it, and checks that it is below the
// container's root (CVE-2024-21626: getcwd(2) names a folder the root
// cannot reach "(unreachable)…").
static int working_folder(const struct step *s, struct failure *f)
{
	const char *dir = s->args[0][0] ? s->args[0] : "/";
	size_t len = strlen(dir), i;
	char path[4096], cwd[4096];

	if (len >= sizeof path)
		return failf(f, 125, ENAMETOOLONG, "working folder %s", dir);
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return failf(f, 125, errno, "working folder %s: mkdir %s", dir, path);
		path[i] = dir[i];
	}
	if (chdir(dir) < 0)
		return failf(f, 125, errno, "working folder %s: chdir %s", dir, dir);
	if (getcwd(cwd, sizeof cwd) == NULL || cwd[0] != '/')
		return failf(f, 125, ENOENT, "working folder %s: not inside the container's root", dir);
	return 0;
}

static int oom_score(const struct step *s, struct failure *f)
{
	const char *file = "/proc/self/oom_score_adj";
	int fd = open(file, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return failf(f, 125, errno, "write oom_score_adj: open %s", file);
	if (write(fd, s->args[0], strlen(s->args[0])) < 0)
		return failf(f, 125, errno, "write oom_score_adj: write %s", file);
	close(fd);
	return 0;
}

// bounding drops, one at a time (prctl(PR_CAPBSET_DROP)), every
// capability the kernel knows (cap_last_cap, read by boxcraft exec on
// the host) that the mask does not keep, while CAP_SETPCAP is still
// held: the one change no process can undo.
static int bounding(const struct step *s, struct failure *f)
{
	unsigned long long keep = number(s->args[0], ULLONG_MAX);
	int cap, last = (int)number(s->args[1], 63);

	// Beyond last too, as long as the kernel knows the capability
	// (PR_CAPBSET_READ): none it knows is left in the set by mistake.
	for (cap = 0; cap < 64; cap++) {
		if (cap > last && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break;
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return failf(f, 125, errno, "drop %s from the bounding set", cap_name(s, 2, cap));
	}
	return 0;
}

// id_failed is a failure of setgroups, setresgid or setresuid (call, as
// the message names it): EINVAL, an id outside the user namespace's map,
// is said in words.
static int id_failed(const struct step *s, struct failure *f, int err, const char *call)
{
	if (err != EINVAL)
		return failf(f, 125, err, "%s: %s", s->args[0], call);
	failf(f, 125, 0, "%s: %s: not mapped in the container's user namespace (--uidmap, --gidmap)", s->args[0], call);
	f->err = err; // the trace names it; the words say what it means
	return 125;
}

// ids: the groups, then the group, then the user; once the user is not
// root it may change neither. Its first argument names the user for a
// failure (-u's value).
static int ids(const struct step *s, struct failure *f)
{
	uint32_t count = s->nargs - 3, i;
	gid_t *groups;
	// (uid_t)-1 asks setresuid for no change: never an id.
	unsigned long long gid = number(s->args[1], UINT32_MAX - 1), uid = number(s->args[2], UINT32_MAX - 1);
	char call[64];

	if (count > (uint32_t)sysconf(_SC_NGROUPS_MAX))
		return failf(f, 125, EINVAL, "%s: setgroups: %u groups, more than the kernel takes", s->args[0], count);
	groups = calloc(count + 1, sizeof(gid_t));
	if (groups == NULL)
		return failf(f, 125, ENOMEM, "%s: setgroups", s->args[0]);
	for (i = 0; i < count; i++)
		groups[i] = (gid_t)number(s->args[3 + i], UINT32_MAX - 1);
	if (setgroups(count, groups) < 0)
		return id_failed(s, f, errno, "setgroups");
	free(groups);
	if (setresgid(gid, gid, gid) < 0) {
		snprintf(call, sizeof call, "setgid %llu", gid);
		return id_failed(s, f, errno, call);
	}
	if (setresuid(uid, uid, uid) < 0) {
		snprintf(call, sizeof call, "setuid %llu", uid);
		return id_failed(s, f, errno, call);
	}
	return 0;
}

// capabilities: the ambient set cleared (EINVAL before Linux 4.3, which
// has none), capset(2) of the three sets, each ambient one raised: the
// kernel raises it only when permitted and inheritable.
static int capabilities(const struct step *s, struct failure *f)
{
	unsigned long long effective = number(s->args[0], ULLONG_MAX), permitted = number(s->args[1], ULLONG_MAX);
	unsigned long long inheritable = number(s->args[2], ULLONG_MAX), ambient = number(s->args[3], ULLONG_MAX);
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	int i;

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return failf(f, 125, errno, "clear the ambient capabilities");
	for (i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(effective >> (32 * i));
		data[i].permitted = (uint32_t)(permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &header, data) < 0)
		return failf(f, 125, errno, "set the capabilities (capset)");
	for (i = 0; i < 64; i++) {
		if ((ambient & (1ULL << i)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
			return failf(f, 125, errno, "raise %s in the ambient set", cap_name(s, 4, i));
	}
	return 0;
}

// rlimits: each limit, which the command inherits across execve.
static int rlimits(const struct step *s, struct failure *f)
{
	uint32_t i;

	for (i = 0; i + 3 < s->nargs; i += 4) {
		struct rlimit rl = {.rlim_cur = number(s->args[i + 2], ULLONG_MAX), .rlim_max = number(s->args[i + 3], ULLONG_MAX)};
		if (setrlimit((int)number(s->args[i + 1], RLIM_NLIMITS), &rl) < 0)
			return failf(f, 125, errno, "setrlimit %s", s->args[i]);
	}
	return 0;
}

int take_step(const struct step *s, struct failure *f)
{
	switch (s->op) {
	case 't':
		return make_terminal(s, f);
	case 's':
		return session(s, f);
	case 'i':
		return sysinfo(s, f);
	case 'c':
		// Every descriptor from 3 on closes at execve: the command
		// inherits none of boxcraft's (the trace and report pipes too).
		if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
			return failf(f, 125, errno, "close inherited files");
		return 0;
	case 'd':
		return working_folder(s, f);
	case 'o':
		return oom_score(s, f);
	case 'f':
		return install_filter(s, 0) < 0 ? failf(f, 125, errno, "seccomp: install the filter") : 0;
	case 'b':
		return bounding(s, f);
	case 'k':
		// The permitted set survives setuid away from root: capset,
		// after it, still chooses the sets. execve clears the flag.
		return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ? failf(f, 125, errno, "keep the capabilities across setuid") : 0;
	case 'u':
		return ids(s, f);
	case 'p':
		return capabilities(s, f);
	case 'n':
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? failf(f, 125, errno, "set no_new_privs") : 0;
	case 'r':
		return rlimits(s, f);
	case 'x':
		return exec_command(s, f);
	}
	return failf(f, 125, 0, "boxcraft-exec-init: a plan's step %c is of no kind known", s->op);
}
