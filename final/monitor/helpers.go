package monitor

import (
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/security"
)

// InitHelper is the program that becomes a container's init when it is
// beside boxcraft (final/cmd/boxcraft-init): containerinit alone, a
// quarter of boxcraft's size, with none of the registry, FUSE or
// netlink packages whose start-up (package init, page faults) boxcraft
// pays in every process. Without it, boxcraft is its own init
// (`boxcraft init`), as before issue 26.
const InitHelper = "boxcraft-init"

// initProgram opens the program to start as the container's init
// read-only (the container never reaches a writable binary of the
// host's: CVE-2019-5736), and gives its argv: the helper beside
// boxcraft, or else boxcraft itself as `boxcraft init`.
func initProgram() (*os.File, []string, error) {
	if path := security.Helper(InitHelper); path != "" {
		f, err := security.ReadOnlyProgram(path)
		return f, []string{InitHelper}, err
	}
	f, err := security.ReadOnlyExecutable()
	return f, []string{"boxcraft", "init"}, err
}

// initPath is the program mappingNamespace starts, which ends before any
// container runs: the helper's path, or boxcraft's own.
func initPath() (string, []string) {
	if path := security.Helper(InitHelper); path != "" {
		return path, []string{InitHelper}
	}
	return "/proc/self/exe", []string{"boxcraft", "init"}
}

// ExecInitHelper is the program boxcraft exec (and boxcraft-runc exec)
// starts in a container, from beside itself
// (final/cmd/boxcraft-exec-init): nsexec's C constructor, and its child
// that takes execPlan's steps. It has no fallback, as init has: it is the
// one program of boxcraft's built with cgo, so that boxcraft and
// boxcraft-runc start without cgo's cost.
const ExecInitHelper = "boxcraft-exec-init"

// execProgram opens boxcraft-exec-init read-only (the container never
// reaches a writable binary of the host's: CVE-2019-5736), or says in
// which folder it is missing.
func execProgram() (*os.File, error) {
	path := security.Helper(ExecInitHelper)
	if path == "" {
		return nil, fmt.Errorf("%w (looked in %s)", ErrNoExecInit, security.HelperFolder())
	}
	return security.ReadOnlyProgram(path)
}

// WarmUp makes, beside the caller's own work, the check that Go makes
// once in a process before the first process it starts: that pidfds
// work, by starting a child and waiting for it (0.2 to 2 ms here). A
// command that will start a container's init, or an exec's process,
// calls it first, so that the start does not wait for the check (issue
// 26).
func WarmUp() {
	go func() {
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Release()
		}
	}()
}
