package security

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// SetNoNewPrivileges sets no_new_privs: from here on, execve grants
// nothing that the caller does not have already. A setuid-root file runs
// with the caller's ids; file capabilities are ignored. It is inherited
// by every child and cannot be unset. It is also what lets an
// unprivileged process install a seccomp filter.
func SetNoNewPrivileges() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}

// SetNotDumpable makes the process not dumpable until it executes its
// command: its /proc/PID files belong to the host's root, and no process
// of the container may ptrace it or open its /proc/PID/exe or fd/ while
// it still holds the runtime's descriptors and binary (CVE-2016-9962).
// execve makes the new program dumpable again.
func SetNotDumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("make init not dumpable: %w", err)
	}
	return nil
}
