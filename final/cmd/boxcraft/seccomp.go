package main

import (
	"github.com/boxcraft/boxcraft/final/seccomp"
	"github.com/boxcraft/boxcraft/final/spec"
)

// defaultSeccomp is Docker's default profile for a container with caps:
// the rules that a capability opens (mount, unshare … with
// CAP_SYS_ADMIN) hold when caps has it.
func defaultSeccomp(caps []string) *spec.Seccomp { return seccomp.Default(caps) }

// loadSeccomp reads a profile in Docker's JSON format, for caps.
func loadSeccomp(path string, caps []string) (*spec.Seccomp, error) {
	return seccomp.LoadFile(path, caps)
}
