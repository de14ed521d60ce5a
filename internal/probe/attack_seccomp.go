package main

// The system calls the seccomp filter refuses (issue 20), each chosen so
// that the filter's answer differs from the kernel's own and so that it
// harms nothing if it goes through: the kernel's answer, in the control
// run with --security-opt seccomp=unconfined, is a harmless success or
// another errno.

import (
	"github.com/boxcraft/boxcraft/internal/facts"
	"golang.org/x/sys/unix"
)

func init() {
	// keyctl reads the id of the session keyring: the keyrings are not
	// namespaced, and the filter refuses every key call.
	attacks["sc-keyctl"] = func(string) *facts.Attempt {
		_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
		return facts.Tried(err)
	}
	// add_key of a type no kernel has: ENODEV from the kernel.
	attacks["sc-add_key"] = func(string) *facts.Attempt {
		_, err := unix.AddKey("boxcraft-no-such-type", "boxcraft", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return facts.Tried(err)
	}
	// unshare(CLONE_NEWUSER) in a process of several threads (the probe
	// is a Go program): EINVAL from the kernel, whatever the caps.
	attacks["sc-unshare-user"] = func(string) *facts.Attempt { return facts.Tried(unix.Unshare(unix.CLONE_NEWUSER)) }
	// unshare(CLONE_NEWNS): a mount namespace of the probe's own, or
	// EPERM from the kernel without CAP_SYS_ADMIN.
	attacks["sc-unshare-ns"] = func(string) *facts.Attempt { return facts.Tried(unix.Unshare(unix.CLONE_NEWNS)) }
	// clone3 with no arguments: EINVAL from the kernel, and from the
	// filter ENOSYS, which sends libcs back to clone.
	attacks["sc-clone3"] = func(string) *facts.Attempt {
		_, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
		return facts.Tried(errnoOrNil(e))
	}
	// mount of a file system type that does not exist on a folder that
	// does not: ENODEV or ENOENT from the kernel with CAP_SYS_ADMIN.
	attacks["sc-mount"] = func(string) *facts.Attempt {
		return facts.Tried(unix.Mount("none", "/nonexistent", "boxcraft-no-such-fs", 0, ""))
	}
	// personality(ADDR_NO_RANDOMIZE) for the probe alone: the profile
	// allows only a few personas.
	attacks["sc-personality"] = func(string) *facts.Attempt {
		_, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, 0x0040000, 0, 0)
		return facts.Tried(errnoOrNil(e))
	}
	// getcwd, which a custom profile refuses with EACCES.
	attacks["sc-getcwd"] = func(string) *facts.Attempt {
		_, err := unix.Getcwd(make([]byte, 4096))
		return facts.Tried(err)
	}
}

func errnoOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}
