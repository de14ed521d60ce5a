package seccomp

import (
	"fmt"
	"unsafe"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// Install compiles f and makes it the filter of every thread of the
// calling process, and of whatever it execs: nil installs nothing
// (unconfined). The kernel takes a filter only from a process with
// no_new_privs set, or with CAP_SYS_ADMIN (else EACCES), and the filter
// holds from the next call on: install it last before execve, once
// nothing else init does needs a call the profile refuses. It is reported
// to tr (--trace; nil when not traced) with the filter's size.
func Install(f *spec.Seccomp, tr *trace.Tracer) error {
	if f == nil {
		return nil
	}
	prog, err := compile(f)
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	return tr.Do("final/security", "seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)", func() string {
		return fmt.Sprintf("a BPF program of %d instructions, %d rules, default action %s", len(prog), len(f.Syscalls), f.DefaultAction)
	}, func() error { return install(prog) })
}

// install makes prog the filter of every thread.
func install(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// seccomp(2) with TSYNC rather than prctl(PR_SET_SECCOMP): a filter
	// binds one thread, and a Go program has several; TSYNC puts it on
	// all of them at once, so that the thread that execs has it whichever
	// it is. On failure the kernel returns the id of the thread it could
	// not sync.
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("seccomp: install the filter: %w", errno)
	}
	if r != 0 {
		return fmt.Errorf("seccomp: install the filter: thread %d could not take it", r)
	}
	return nil
}
