package procfs

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// notification is struct seccomp_notif: the call a filter handed over,
// with the caller's pid (in the listener's pid namespace: the host's).
type notification struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

// response is struct seccomp_notif_resp: the call's return value, or an
// error number (negative).
type response struct {
	id    uint64
	val   int64
	err   int32
	flags uint32
}

// AnswerSysinfo answers the sysinfo(2) calls of the container, from v
// (init's filter hands every sysinfo to listener: containerinit),
// until no process is left under the filter (the container ended), then
// closes listener. It is the supervisor of seccomp_unotify(2):
//
//	container's process          kernel                  monitor (here)
//	sysinfo(&info)  ──────▶  filter: USER_NOTIF  ──▶  NOTIF_RECV: id, pid, args
//	  (waits)                                          open /proc/PID/mem
//	                                                   NOTIF_ID_VALID (still that call?)
//	                                                   write the answer at args[0]
//	returns 0      ◀──────  ◀────────────────────────  NOTIF_SEND: id, 0
func AnswerSysinfo(listener *os.File, v *View) {
	defer listener.Close()
	fd := int(listener.Fd())
	for {
		// poll first: NOTIF_RECV would wait on, where poll reports
		// POLLHUP once the filter has no process left.
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			return // POLLHUP: the container ended
		}
		var n notification // the kernel wants it zeroed
		if err := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n)); err != nil {
			continue // EINTR, or ENOENT: the caller died meanwhile
		}
		r := answer(fd, &n, v)
		_ = ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r)) // ENOENT: it died meanwhile
	}
}

// answer does sysinfo's work for the caller of n: it writes the
// container's struct sysinfo where the caller's argument points.
func answer(fd int, n *notification, v *View) response {
	r := response{id: n.id}
	if n.nr != unix.SYS_SYSINFO {
		r.err = -int32(unix.ENOSYS)
		return r
	}
	info := v.Sysinfo()
	if err := writeInto(fd, n, unsafe.Slice((*byte)(unsafe.Pointer(&info)), unsafe.Sizeof(info))); err != nil {
		r.err = -int32(unix.EFAULT)
	}
	return r
}

// writeInto writes data at the caller's first argument, through its
// /proc/PID/mem. The pid could name another process by now (the caller
// killed, its pid reused): the file is opened first, then the kernel
// asked whether the call still waits (NOTIF_ID_VALID): if so, the open
// file is the caller's memory, whatever happens to the pid after.
func writeInto(fd int, n *notification, data []byte) error {
	mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", n.pid), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer mem.Close()
	if err := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&n.id)); err != nil {
		return err
	}
	_, err = mem.WriteAt(data, int64(n.args[0]))
	return err
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}
