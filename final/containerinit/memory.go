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

// atExec is what init does as it executes the command, with nothing of
// Go's in between (execUnderMemoryLimits): set the limits on memory and,
// after them, install the no_new_privs seccomp filter. Without limits on
// memory it is empty, and steps do both (securitySteps).
type atExec struct {
	memory []spec.Rlimit
	filter *spec.Seccomp
}

func atExecOf(c *spec.Container) atExec {
	memory, _ := memoryLimits(c.Process.Rlimits)
	if len(memory) == 0 {
		return atExec{}
	}
	a := atExec{memory: memory}
	if c.Security.NoNewPrivileges {
		a.filter = c.Security.Seccomp
	}
	return a
}

// execUnderMemoryLimits executes the command at path, as execCommand
// does, once a's limits are set and its filter installed.
//
// Init is a Go program, whose runtime has mapped about 1.2 GiB of
// address space by now, most of it reserved and never touched. Under a
// limit below that (an OCI bundle's RLIMIT_AS of 1 GiB), every mmap(2)
// fails, even over memory the runtime reserved, and the runtime cannot
// fail gently: "fatal error: runtime: cannot allocate memory". A garbage
// collection maps memory (its mark bits), as may any allocation that
// needs a new span, or a new thread. So everything is made first
// (lastCalls), and then the calls are made raw, by the one goroutine
// that may run.
func execUnderMemoryLimits(path string, p spec.Process, a atExec, tr *trace.Tracer) error {
	calls, err := prepareLastCalls(path, p, a)
	if err != nil {
		return err
	}
	tr.Mark("final/oci", "set the rlimits", func() string { return describeLimits(a.memory) })
	if calls.filter != nil {
		tr.Mark("final/security", seccomp.InstallCall, calls.filter.Describe)
	}
	tr.Mark("step01", "execve", func() string { return fmt.Sprintf("%q %q", path, p.Args) })
	start := tr.Start()
	call, err := calls.make()
	// Only a failure comes back: the trace says it again, as its last
	// line, with its errno.
	switch call {
	case "execve":
		tr.Done(start, "step01", "execve", err, func() string { return fmt.Sprintf("%q %q", path, p.Args) })
		return execFailure(p, err)
	case "seccomp":
		tr.Done(start, "final/security", seccomp.InstallCall, err, calls.filter.Describe)
	default:
		tr.Done(start, "final/oci", "set the rlimits", err, func() string { return describeLimits(a.memory) })
	}
	return err
}

// lastCalls are init's last system calls, ready to be made without
// allocating: execve's arguments as C strings, the limits as the kernel
// takes them, the filter compiled.
type lastCalls struct {
	argv0      *byte
	argv, envv []*byte
	memory     []spec.Rlimit // the limits as the bundle names them
	resources  []int
	limits     []unix.Rlimit
	filter     *seccomp.Filter
}

func prepareLastCalls(path string, p spec.Process, a atExec) (*lastCalls, error) {
	c := lastCalls{memory: a.memory}
	var err error
	if c.argv0, err = syscall.BytePtrFromString(path); err != nil {
		return nil, execFailure(p, err)
	}
	if c.argv, err = syscall.SlicePtrFromStrings(p.Args); err != nil {
		return nil, execFailure(p, err)
	}
	if c.envv, err = syscall.SlicePtrFromStrings(p.Env); err != nil {
		return nil, execFailure(p, err)
	}
	for _, l := range a.memory {
		c.resources = append(c.resources, rlimitNumbers[l.Type])
		c.limits = append(c.limits, unix.Rlimit{Cur: l.Soft, Max: l.Hard})
	}
	if a.filter != nil {
		if c.filter, err = seccomp.Compile(a.filter); err != nil {
			return nil, err
		}
	}
	restoreOpenFilesLimit()
	return &c, nil
}

// make makes the calls. It returns only when one failed: which, and why.
func (c *lastCalls) make() (string, error) {
	// One P: no other goroutine (a finalizer the collection queued) runs
	// while this one makes raw calls, which never give theirs up.
	runtime.GOMAXPROCS(1)
	stopCollecting()
	for i := range c.limits {
		// prlimit64 on this process (0): its limits, inherited across
		// execve.
		_, _, errno := unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(c.resources[i]), uintptr(unsafe.Pointer(&c.limits[i])), 0, 0, 0)
		if errno != 0 {
			return "setrlimit", fmt.Errorf("setrlimit %s: %w", c.memory[i].Type, errno)
		}
	}
	if c.filter != nil {
		if err := c.filter.Install(); err != nil {
			return "seccomp", err
		}
	}
	// execve, raw as syscall.Exec makes it.
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(c.argv0)),
		uintptr(unsafe.Pointer(&c.argv[0])), uintptr(unsafe.Pointer(&c.envv[0])))
	runtime.KeepAlive(c)
	return "execve", errno
}

// stopCollecting runs a garbage collection to its end, sweep included,
// and lets no other start: SetGCPercent(-1) waits for one under way.
func stopCollecting() {
	debug.SetGCPercent(-1)
	runtime.GC()
}

// restoreOpenFilesLimit puts RLIMIT_NOFILE's soft limit back to what
// init inherited, as syscall.Exec does before its execve: Go raised it
// at start-up, and only its syscall package knows the value it raised
// (and forgets it once a bundle's own RLIMIT_NOFILE is set, by a step
// before). syscall.Exec restores it before it calls execve; an execve of
// the empty path then fails at once (ENOENT) and leaves that done.
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
