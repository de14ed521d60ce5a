package monitor

import (
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

// initProgram is the program to start as the container's init, and its
// argv.
func initProgram() (*os.File, []string, error) {
	return inContainerProgram(InitHelper, "init")
}

// initPath is the program mappingNamespace starts, which ends before any
// container runs: the helper's path, or boxcraft's own.
func initPath() (string, []string) {
	if path := security.Helper(InitHelper); path != "" {
		return path, []string{InitHelper}
	}
	return "/proc/self/exe", []string{"boxcraft", "init"}
}

// ExecInitHelper is the program boxcraft exec starts in a container
// when it is beside boxcraft (final/cmd/boxcraft-exec-init): nsenter's
// constructor and containerinit's exec steps alone, so that an exec
// pays a small program's Go start-up after boxcraft's own, not all of
// boxcraft's a second time. Without it, boxcraft is its own exec-init.
const ExecInitHelper = "boxcraft-exec-init"

// execProgram is the program to start as exec-init, and its argv.
func execProgram() (*os.File, []string, error) {
	return inContainerProgram(ExecInitHelper, "exec-init")
}

// inContainerProgram opens the program that runs inside the container
// read-only (the container never reaches a writable binary of the
// host's: CVE-2019-5736): the helper beside boxcraft, or else boxcraft
// itself as `boxcraft subcommand`.
func inContainerProgram(helper, subcommand string) (*os.File, []string, error) {
	if path := security.Helper(helper); path != "" {
		f, err := security.ReadOnlyProgram(path)
		return f, []string{helper}, err
	}
	f, err := security.ReadOnlyExecutable()
	return f, []string{"boxcraft", subcommand}, err
}
