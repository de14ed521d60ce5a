package containerinit

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"unsafe"

	"github.com/boxcraft/boxcraft/final/seccomp"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// execUnderMemoryLimits executes the command at path, as execCommand
// does, once the limits on memory are set and, after them, filter (nil
// for none), with nothing of Go's in between.
//
// Init is a Go program, whose runtime has mapped about 1.2 GiB of
// address space by now, most of it reserved and never touched. Under a
// limit below that (an OCI bundle's RLIMIT_AS of 1 GiB), every mmap(2)
// fails, even over memory the runtime reserved, and the runtime cannot
// fail gently: "fatal error: runtime: cannot allocate memory". A garbage
// collection maps memory (its mark bits), as may any allocation that
// needs a new span. So everything is made first (execve's arguments, the
// filter's program), the collector is stopped with no collection under
// way, and the limits, the filter and execve are system calls that
// allocate nothing.
func execUnderMemoryLimits(path string, p spec.Process, memory []spec.Rlimit, filter *spec.Seccomp, tr *trace.Tracer) error {
	argv0, err := syscall.BytePtrFromString(path)
	if err != nil {
		return execFailure(p, err)
	}
	argv, err := syscall.SlicePtrFromStrings(p.Args)
	if err != nil {
		return execFailure(p, err)
	}
	envv, err := syscall.SlicePtrFromStrings(p.Env)
	if err != nil {
		return execFailure(p, err)
	}
	resources, limits := make([]int, len(memory)), make([]unix.Rlimit, len(memory))
	for i, l := range memory {
		resources[i], limits[i] = rlimitNumbers[l.Type], unix.Rlimit{Cur: l.Soft, Max: l.Hard}
	}
	var compiled *seccomp.Filter
	if filter != nil {
		if compiled, err = seccomp.Compile(filter); err != nil {
			return err
		}
	}
	restoreOpenFilesLimit()
	tr.Mark("final/oci", "set the rlimits", func() string { return describeLimits(memory) })
	if compiled != nil {
		tr.Mark("final/security", seccomp.InstallCall, compiled.Describe)
	}
	tr.Mark("step01", "execve", func() string { return fmt.Sprintf("%q %q", path, p.Args) })
	stopCollecting()

	// From here on, nothing allocates until execve has failed.
	for i := range limits {
		if err := unix.Prlimit(0, resources[i], &limits[i], nil); err != nil {
			return fmt.Errorf("setrlimit %s: %w", memory[i].Type, err)
		}
	}
	if compiled != nil {
		if err := compiled.Install(); err != nil {
			return err
		}
	}
	// Raw, as syscall.Exec calls it: no other goroutine runs meanwhile.
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(argv0)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))
	return execFailure(p, errno)
}

// stopCollecting runs a garbage collection to its end, sweep included,
// and lets no other start: SetGCPercent(-1) waits for one under way.
func stopCollecting() {
	debug.SetGCPercent(-1)
	runtime.GC()
}

// restoreOpenFilesLimit puts RLIMIT_NOFILE's soft limit back to what
// init inherited, as syscall.Exec does before its execve: Go raised it
// at start-up, and only its runtime knows the value it raised. An execve
// of the empty path fails at once (ENOENT) and leaves that done. A
// bundle's own RLIMIT_NOFILE, set by a step before, is kept (Go forgets
// the value then).
func restoreOpenFilesLimit() {
	_ = syscall.Exec("", nil, nil)
}

// describeLimits is limits as the trace prints them.
func describeLimits(limits []spec.Rlimit) string {
	parts := make([]string, len(limits))
	for i, l := range limits {
		parts[i] = fmt.Sprintf("%s=%d:%d", l.Type, l.Soft, l.Hard)
	}
	return strings.Join(parts, " ")
}
