//go:build cgo

// terminal.c: exec -t's terminal, made in the container as init makes
// its own (package console): a pty from the container's /dev/ptmx, its
// master sent to boxcraft exec (or to boxcraft-runc's --console-socket)
// over a unix socket, its slave the child's stdio. The session step
// after it makes it the session's terminal.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <termios.h>
#include <unistd.h>

#include "nsexec.h"

#define PTS "/dev/pts"
#define PTMX PTS "/ptmx"

// send_master sends fd over sock, one message whose ancillary data
// (SCM_RIGHTS) carries it, its name as the data: runc's way, and
// console.Send's.
static int send_master(int sock, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = PTMX, .iov_len = sizeof PTMX - 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
	struct cmsghdr *cm;

	memset(&control, 0, sizeof control);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

// no_devpts is the failure to find the container's devpts behind
// /dev/ptmx, in console.Open's words: why, then the likely cause.
static int no_devpts(struct failure *f, const char *why, int err)
{
	failf(f, 125, 0, "a terminal needs the container's devpts: open %s: %s (does a mount over /dev or /dev/pts hide it?)", PTMX, why);
	f->err = err; // the trace names it; the words say it already
	return 125;
}

// open_peer unlocks the master's terminal and opens it through the
// master (TIOCGPTPEER, Linux 4.13), never by a path; it checks that it is
// a devpts's.
static int open_peer(int master, struct failure *f)
{
	int unlock = 0, slave;
	struct statfs fs;

	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return -failf(f, 125, errno, "%s is no terminal multiplexer: unlock its terminal", PTMX);
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return -failf(f, 125, errno, "open the terminal of %s", PTMX);
	if (fstatfs(slave, &fs) < 0 || fs.f_type != DEVPTS_SUPER_MAGIC) {
		close(slave);
		return -no_devpts(f, "not a devpts", 0);
	}
	return slave;
}

// open_ptmx opens the ptmx of the devpts at /dev/pts, once that is
// checked to be a devpts, beneath it and never through a symlink: the
// container's root (its /dev/ptmx, a volume over /dev/pts) cannot have
// this root process open another file (console.Open's way).
static int open_ptmx(struct failure *f)
{
	struct statfs fs;
	int pts, master, err;

	pts = open(PTS, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pts < 0) {
		err = errno;
		return -no_devpts(f, lower_strerror(err), err);
	}
	if (fstatfs(pts, &fs) < 0 || fs.f_type != DEVPTS_SUPER_MAGIC) {
		close(pts);
		return -no_devpts(f, "not a devpts", 0);
	}
	master = openat(pts, "ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
	err = errno;
	close(pts);
	if (master < 0)
		return -no_devpts(f, lower_strerror(err), err);
	return master;
}

// make_terminal: socket, uid, columns, rows.
int make_terminal(const struct step *s, struct failure *f)
{
	int sock = (int)number(s->args[0], 1 << 20);
	unsigned long long uid = number(s->args[1], UINT32_MAX - 1);
	struct winsize ws = {.ws_col = (unsigned short)number(s->args[2], 65535), .ws_row = (unsigned short)number(s->args[3], 65535)};
	int master, slave, fd;

	master = open_ptmx(f);
	if (master < 0)
		return -master;
	slave = open_peer(master, f);
	if (slave < 0) {
		close(master);
		return -slave;
	}
	if (ws.ws_col > 0 && ws.ws_row > 0 && ioctl(master, TIOCSWINSZ, &ws) < 0)
		return failf(f, 125, errno, "size the terminal");
	// The user the command runs as owns it, as runc gives it; a uid the
	// user namespace does not map (EINVAL) is the user step's to say.
	if (fchown(slave, (uid_t)uid, (gid_t)-1) < 0 && errno != EINVAL)
		return failf(f, 125, errno, "give the terminal to uid %llu", uid);
	if (send_master(sock, master) < 0)
		return failf(f, 125, errno, "send the terminal's master");
	close(master);
	close(sock);
	for (fd = 0; fd <= 2; fd++) {
		if (dup2(slave, fd) < 0)
			return failf(f, 125, errno, "make the terminal fd %d", fd);
	}
	close(slave);
	return 0;
}
