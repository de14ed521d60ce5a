package containerinit

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/seccomp"
	"github.com/boxcraft/boxcraft/final/security"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
)

// securitySteps are init's last steps (issue 20), once the root and its
// mounts are made and the working folder entered, in runc's order
// (finalizeNamespace, then standard_init_linux.go):
//
//  0. the user looked up in the root's /etc/passwd (reading files a
//     filter may not allow);
//  1. seccomp, when no_new_privs is off: installing a filter then needs
//     CAP_SYS_ADMIN, which the next steps take away;
//  2. the bounding set, while init still holds CAP_SETPCAP;
//  3. the user (-u), with the capabilities kept across setuid(2), and
//     the terminal (-t) given to it just before (runc's
//     fixStdioPermissions);
//  4. the capability sets: permitted and effective for root, emptied by
//     execve for any other user; inheritable and ambient empty;
//  5. no_new_privs;
//  6. seccomp, when no_new_privs is on: last, so that the filter need
//     allow nothing that only init calls.
//
// With a start fifo (an OCI create), init waits for start between 5 and 6.
// The rlimits come between 5 and 6 too; those on memory (RLIMIT_AS,
// RLIMIT_DATA), and the filter after them, at the execve
// (execUnderMemoryLimits).
func securitySteps(c *spec.Container, wait *startWait, tr *trace.Tracer) []step {
	sec := c.Security
	filter := func() error { return seccomp.Install(sec.Seccomp, tr) }
	var list []step
	add := func(when bool, name string, do func() error) {
		if when {
			list = append(list, step{"issue20", name, do})
		}
	}
	var u spec.User
	add(true, "look the user up", func() (err error) { u, err = LookUpUser("/", &c.Process); return err })
	add(sec.Seccomp != nil && !sec.NoNewPrivileges, "install the seccomp filter", filter)
	add(true, "drop capabilities from the bounding set", func() error {
		return tr.Do("final/security", "prctl(PR_CAPBSET_DROP)", func() string { return DescribeBounding(sec.Capabilities) },
			func() error { return security.DropBounding(sec.Capabilities) })
	})
	add(true, "keep the capabilities across setuid", security.KeepCapabilitiesAcrossSetuid)
	list = append(list, ownTerminalStep(c, &u)...)
	add(true, "become the user", func() error { return becomeUser(&c.Process, u) })
	add(true, "set the capabilities", func() error { return setCapabilities(sec, tr) })
	add(sec.NoNewPrivileges, "set no_new_privs", func() error {
		return tr.Do("final/security", "prctl(PR_SET_NO_NEW_PRIVS, 1)", nil, security.SetNoNewPrivileges)
	})
	if wait != nil {
		list = append(list, step{"issue23", "wait for start", func() error { return wait.waitForStart(c) }})
	}
	// The rlimits last but for a filter. Those on memory and the filter
	// after them wait for the execve (execUnderMemoryLimits): a limit
	// below what Go's runtime has mapped fails its next mmap(2).
	if _, others := memoryLimits(c.Process.Rlimits); len(others) > 0 {
		list = append(list, step{"issue23", "set the rlimits", func() error { return setRlimits(others) }})
	}
	add(sec.Seccomp != nil && sec.NoNewPrivileges && atExecOf(c).filter == nil, "install the seccomp filter", filter)
	return list
}

// setCapabilities sets the capability sets (capset(2)), reporting them.
func setCapabilities(sec spec.Security, tr *trace.Tracer) error {
	describe := func() string { return DescribeCapset(sec) }
	if sec.CapabilitySets != nil {
		s := *sec.CapabilitySets
		return tr.Do("final/security", "capset", describe, func() error { return security.SetCapabilitySets(s) })
	}
	return tr.Do("final/security", "capset", describe, func() error { return security.SetCapabilities(sec.Capabilities) })
}

// DescribeBounding is the bounding set's step as the trace prints it:
// init's, and boxcraft exec's plan's.
func DescribeBounding(keep []string) string { return "keeping " + capList(keep) }

// DescribeCapset is the capability sets' step as the trace prints it,
// init's and boxcraft exec's plan's alike.
func DescribeCapset(sec spec.Security) string {
	if s := sec.CapabilitySets; s != nil {
		return fmt.Sprintf("effective=%s permitted=%s inheritable=%s ambient=%s",
			capList(s.Effective), capList(s.Permitted), capList(s.Inheritable), capList(s.Ambient))
	}
	return "effective=permitted=" + capList(sec.Capabilities) + " inheritable=ambient=none"
}

// capList is a capability set as the trace prints it: the names without
// CAP_, or none.
func capList(caps []string) string {
	if len(caps) == 0 {
		return "none"
	}
	short := make([]string, len(caps))
	for i, c := range caps {
		short[i] = strings.ToLower(strings.TrimPrefix(c, "CAP_"))
	}
	return strings.Join(short, ",")
}

// hideInit makes init not dumpable until it executes the command, so
// that nothing in the container can ptrace it or open its /proc/PID
// files (its descriptors, its binary) meanwhile. With a user namespace
// it stays dumpable, as runc's init does: a process that is not dumpable
// has /proc/self files that belong to the host's root, which init's own
// root, mapped to another uid, may not open (rootfs reads
// /proc/self/mountinfo and /proc/self/fd); and a container in a user
// namespace cannot reach the host's binary through its copy anyway.
func hideInit(c *spec.Container) error {
	if c.Namespaces.User() {
		return nil
	}
	return security.SetNotDumpable()
}
