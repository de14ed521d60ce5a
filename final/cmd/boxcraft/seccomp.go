package main

// A stand-in for security.go's --security-opt (issue 20's CAPS part owns
// the flag and its other options): seccomp=unconfined|FILE alone, so
// that the seccomp filter can be tested end to end before that lands.
// The lead folds it into security.go.

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/seccomp"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/spf13/pflag"
)

// dockerCapabilities is Docker's default set, whose rules of the profile
// hold until the CLI fills spec.Security.Capabilities itself.
var dockerCapabilities = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

func addSeccompFlags(flags *pflag.FlagSet) {
	flags.StringArray("security-opt", nil, "seccomp=unconfined, or seccomp=FILE (a profile in Docker's JSON format)")
}

// parseSeccomp sets the container's system-call filter: Docker's default
// profile for its capabilities, a profile from a file, or none. A file
// that is not a profile is refused here, before anything is made.
func parseSeccomp(flags *pflag.FlagSet, sec *spec.Security) error {
	caps := sec.Capabilities
	if caps == nil {
		caps = dockerCapabilities
	}
	sec.Seccomp = seccomp.Default(caps)
	opts, _ := flags.GetStringArray("security-opt")
	for _, opt := range opts {
		value, ok := strings.CutPrefix(opt, "seccomp=")
		switch {
		case !ok:
			return fmt.Errorf("--security-opt %q: boxcraft knows seccomp=unconfined and seccomp=FILE", opt)
		case value == "unconfined":
			sec.Seccomp = nil
		default:
			f, err := seccomp.LoadFile(value, caps)
			if err != nil {
				return fmt.Errorf("--security-opt: %w", err)
			}
			sec.Seccomp = f
		}
	}
	return nil
}
