package seccomp

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// InstallListener installs f, as Install does, and returns its listener:
// the descriptor from which a supervisor receives each call that f
// answers with SCMP_ACT_NOTIFY (SECCOMP_RET_USER_NOTIF), and to which it
// sends the call's result (seccomp_unotify(2)). The caller hands it to
// the supervisor and closes its own copy. A filter whose listener is
// closed fails those calls with ENOSYS.
//
// It is a filter of its own, added to any other: for each call the
// kernel runs every filter and takes the strictest answer (KILL, TRAP,
// ERRNO, USER_NOTIF, TRACE, LOG, ALLOW, in that order), so a profile that
// refuses the call still refuses it.
func InstallListener(f *spec.Seccomp) (*os.File, error) {
	prog, err := compile(f)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// NEW_LISTENER and TSYNC together need TSYNC_ESRCH (Linux 5.7): the
	// return value is then the listener, and a thread that cannot sync
	// is reported as ESRCH rather than as its id.
	const flags = unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return nil, fmt.Errorf("seccomp: install the filter with a listener: %w", errno)
	}
	return os.NewFile(fd, "seccomp-listener"), nil
}
