package monitor

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/nsenter"
	"github.com/boxcraft/boxcraft/final/seccomp"
	"github.com/boxcraft/boxcraft/final/security"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
)

// execPlan is what exec-init's child does in the container, worked out
// here, where Go runs already: init's process steps
// (containerinit.processSteps), in the same order, with their numbers.
// The child takes them in C (nsenter.Plan), without starting the Go
// runtime a second time (issue 26). pid is the container's init on the
// host: the user is looked up in its root. sysinfo says that the monitor
// takes the command's sysinfo(2) (the /proc view) on execSysinfoFD.
// consoleFD, with -t, is the child's end of the socket on which it sends
// its terminal's master.
//
// A failure here (an unknown user, a profile that does not compile) is
// one before anything starts in the container. The user is read from
// the files of init's root, which is the root of the mount namespace the
// command joins (init pivoted into it); if init died meanwhile and its
// pid was reused, the setns on its pidfd fails, and nothing runs.
func execPlan(c *spec.Container, pid int, sysinfo bool, consoleFD int, tr *trace.Tracer) ([]byte, error) {
	p, sec := &c.Process, c.Security
	if len(p.Args) == 0 {
		return nil, containerinit.NoCommand()
	}
	if err := refuseNUL(p); err != nil {
		return nil, err
	}
	var u spec.User
	err := tr.Do("final/security", "look the user up", func() string { return describeUser(p.User, pid) },
		func() (err error) {
			u, err = containerinit.LookUpUser(fmt.Sprintf("/proc/%d/root", pid), p)
			return err
		})
	if err != nil {
		return nil, err
	}
	l := lines{tr: tr}
	var plan nsenter.Plan
	if tr.Enabled() && c.Trace.FD > 0 {
		plan.Trace(tr.Mode(), c.Trace.FD, c.Trace.Origin)
	}
	if p.Terminal {
		plan.Terminal(consoleFD, u.UID, p.ConsoleWidth, p.ConsoleHeight,
			l.step("final/console", "make the terminal in the container's devpts, send its master", ""))
	}
	plan.Session(p.Terminal, "")
	if sysinfo && c.ProcView && sec.Seccomp != nil {
		prog, _, err := seccomp.Program(containerinit.SysinfoFilter())
		if err != nil {
			return nil, err
		}
		plan.Sysinfo(prog, execSysinfoFD, l.step("final/procfs", "hand sysinfo(2) to the monitor", ""))
	}
	plan.CloseInherited(l.step("step02", "close inherited files", ""))
	plan.Chdir(p.Cwd, l.step("step01", "enter the working folder", ""))
	if p.OOMScoreAdj != nil {
		plan.OOMScore(*p.OOMScoreAdj, l.step("final/oci", "set oom_score_adj", ""))
	}
	filter, err := filterStep(sec.Seccomp, l)
	if err != nil {
		return nil, err
	}
	if !sec.NoNewPrivileges {
		filter(&plan)
	}
	if err := capabilitySteps(&plan, sec, p, u, l); err != nil {
		return nil, err
	}
	if sec.NoNewPrivileges {
		plan.NoNewPrivs(l.step("final/security", "prctl(PR_SET_NO_NEW_PRIVS, 1)", ""))
	}
	if err := rlimitStep(&plan, p.Rlimits, l); err != nil {
		return nil, err
	}
	if sec.NoNewPrivileges {
		filter(&plan)
	}
	plan.Exec(containerinit.PathOf(p.Env), p.Args, p.Env, l.step("step01", "execve", nsenter.PathMark+" "+fmt.Sprintf("%q", p.Args)))
	return plan.Bytes(), nil
}

// filterStep is the step that installs the container's seccomp filter,
// compiled here; it adds nothing when there is none (unconfined).
func filterStep(f *spec.Seccomp, l lines) (func(*nsenter.Plan), error) {
	if f == nil {
		return func(*nsenter.Plan) {}, nil
	}
	prog, n, err := seccomp.Program(f)
	if err != nil {
		return nil, err
	}
	line := l.step("final/security", "seccomp(SECCOMP_SET_MODE_FILTER)", seccomp.Describe(f, n))
	return func(plan *nsenter.Plan) { plan.Seccomp(prog, line) }, nil
}

// capabilitySteps are the bounding set, the user and the capability
// sets, in that order (containerinit.securitySteps says why).
func capabilitySteps(plan *nsenter.Plan, sec spec.Security, p *spec.Process, u spec.User, l lines) error {
	bounding, err := security.Mask(sec.Capabilities)
	if err != nil {
		return err
	}
	names := security.KnownCapabilities()
	plan.Bounding(bounding, security.LastCapability(), names, l.step("final/security", "prctl(PR_CAPBSET_DROP)", containerinit.DescribeBounding(sec.Capabilities)))
	plan.KeepCaps(l.step("final/security", "keep the capabilities across setuid", ""))
	plan.IDs(p.User, u.UID, u.GID, u.AdditionalGids, l.step("final/security", "become the user", ""))
	masks := [4]uint64{bounding, bounding, 0, 0} // root's: effective and permitted as the bounding set
	if sec.CapabilitySets != nil {
		if masks, err = security.SetsMasks(*sec.CapabilitySets); err != nil {
			return err
		}
	}
	plan.Capset(masks[0], masks[1], masks[2], masks[3], names, l.step("final/security", "capset", containerinit.DescribeCapset(sec)))
	return nil
}

// rlimitStep sets an OCI process's rlimits, if it has any.
func rlimitStep(plan *nsenter.Plan, limits []spec.Rlimit, l lines) error {
	if len(limits) == 0 {
		return nil
	}
	var list []nsenter.Rlimit
	for _, r := range limits {
		n, ok := containerinit.RlimitNumber(r.Type)
		if !ok {
			return fmt.Errorf("rlimit %s: unknown", r.Type)
		}
		list = append(list, nsenter.Rlimit{Name: r.Type, Resource: n, Soft: r.Soft, Hard: r.Hard})
	}
	plan.Rlimits(list, l.step("final/oci", "set the rlimits", ""))
	return nil
}

// lines renders the trace lines of a plan's steps, as init's would be
// (trace.Rest), or nothing when not traced.
type lines struct{ tr *trace.Tracer }

func (l lines) step(lesson, call, args string) nsenter.Line {
	if !l.tr.Enabled() {
		return ""
	}
	return trace.Rest(trace.Event{Proc: trace.Init, Call: call, Args: args, Lesson: lesson}, l.tr.Mode() == trace.ModeJSON)
}

// describeUser is the lookup as the trace prints it.
func describeUser(name string, pid int) string {
	if name == "" {
		name = "root"
	}
	return fmt.Sprintf("%s, in /proc/%d/root/etc/passwd", name, pid)
}

// refuseNUL refuses a NUL byte in the command, its environment or its
// working folder: none can hold one (execve(2) and chdir(2) take C
// strings), and the plan would carry it cut short.
func refuseNUL(p *spec.Process) error {
	for _, list := range [][]string{p.Args, p.Env, {p.Cwd, p.User}} {
		for _, s := range list {
			if strings.IndexByte(s, 0) >= 0 {
				return &containerinit.Failure{Status: 125, Message: fmt.Sprintf("%q holds a NUL byte, which no command line, environment or path can", s)}
			}
		}
	}
	return nil
}
