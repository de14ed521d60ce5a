package seccomp

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data, what the kernel hands the filter for
// each call: the number, the caller's architecture, then the six
// arguments as 64-bit words (little-endian here: low word first).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// maxInsns is BPF_MAXINSNS, the kernel's limit on one program.
const maxInsns = 4096

// compiledRule is one rule of the profile for one system call, compiled.
type compiledRule struct {
	action uint32
	args   []spec.SeccompArg
}

// compile turns f into a BPF program. Its shape: refuse a foreign
// architecture; then for each system call the profile names, in
// increasing number, "is it this one? then its rules, in the profile's
// order, the first that holds deciding; else the default"; at the end
// the default action for every call the profile does not name.
func compile(f *spec.Seccomp) ([]unix.SockFilter, error) {
	if nativeAudit == 0 {
		return nil, fmt.Errorf("no system-call table for %s", runtime.GOARCH)
	}
	if len(f.Architectures) > 0 && !slices.Contains(f.Architectures, nativeArch) {
		return nil, fmt.Errorf("the profile's architectures %v leave out this machine's, %s", f.Architectures, nativeArch)
	}
	def, err := actionOf(f.DefaultAction, f.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	rules, err := rulesByNumber(f.Syscalls)
	if err != nil {
		return nil, err
	}
	a := newAssembler()
	a.refuseForeign()
	numbers := make([]uint32, 0, len(rules))
	for nr := range rules {
		numbers = append(numbers, nr)
	}
	slices.Sort(numbers)
	for _, nr := range numbers {
		a.syscall(nr, rules[nr], def)
	}
	a.ret(def)
	prog, err := a.assemble()
	if err == nil && len(prog) > maxInsns {
		err = fmt.Errorf("the filter has %d instructions, more than the kernel's %d", len(prog), maxInsns)
	}
	return prog, err
}

// refuseForeign answers "not implemented" to another architecture's
// calls: their numbers mean other calls, so none is checked. It leaves
// the call's number in A.
func (a *assembler) refuseForeign() {
	native := a.label()
	a.load(offArch)
	a.jump(unix.BPF_JEQ, nativeAudit, native, next)
	a.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	a.mark(native)
	a.load(offNr)
	if x32Bit != 0 {
		notX32 := a.label()
		a.jump(unix.BPF_JGE, x32Bit, next, notX32)
		a.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
		a.mark(notX32)
	}
}

// rulesByNumber groups the rules by system call number. A name this
// architecture does not have (arm_fadvise64_64 on amd64) is left out, as
// runc and libseccomp do: profiles name every architecture's calls.
func rulesByNumber(list []spec.SeccompSyscall) (map[uint32][]compiledRule, error) {
	rules := map[uint32][]compiledRule{}
	for _, r := range list {
		act, err := actionOf(r.Action, r.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("rule for %v: %w", r.Names, err)
		}
		for _, c := range r.Args {
			if c.Index > 5 {
				return nil, fmt.Errorf("rule for %v: argument %d: a system call has six (0 to 5)", r.Names, c.Index)
			}
			if _, ok := comparisons[c.Op]; !ok {
				return nil, fmt.Errorf("rule for %v: unknown comparison %q", r.Names, c.Op)
			}
		}
		for _, name := range r.Names {
			if nr, ok := sysnum[name]; ok {
				rules[nr] = append(rules[nr], compiledRule{act, r.Args})
			}
		}
	}
	return rules, nil
}

// syscall writes one system call's block: if A (the number) is nr, its
// rules decide; if none holds, the default does.
func (a *assembler) syscall(nr uint32, rules []compiledRule, def uint32) {
	end := a.label()
	a.jump(unix.BPF_JEQ, nr, next, end)
	decided := false
	for _, r := range rules {
		fail := a.label()
		for _, c := range r.args {
			comparisons[c.Op](a, c, fail)
		}
		a.ret(r.action)
		a.mark(fail)
		if len(r.args) == 0 {
			decided = true // the rules after it never run
			break
		}
	}
	if !decided {
		a.ret(def)
	}
	a.mark(end)
}

// actionOf is the seccomp return value for an OCI action. An errno not
// given is EPERM (as runc).
func actionOf(name string, errno *uint) (uint32, error) {
	data := uint32(unix.EPERM)
	if errno != nil {
		if *errno > 4095 {
			return 0, fmt.Errorf("errno %d is not an errno (at most 4095)", *errno)
		}
		data = uint32(*errno)
	}
	switch name {
	case "SCMP_ACT_ALLOW":
		return unix.SECCOMP_RET_ALLOW, nil
	case "SCMP_ACT_ERRNO":
		return unix.SECCOMP_RET_ERRNO | data, nil
	case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD":
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case "SCMP_ACT_KILL_PROCESS":
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case "SCMP_ACT_TRAP":
		return unix.SECCOMP_RET_TRAP, nil
	case "SCMP_ACT_LOG":
		return unix.SECCOMP_RET_LOG, nil
	case "SCMP_ACT_NOTIFY":
		// The call waits for the listener's answer (InstallListener): a
		// supervisor outside does the call's work (issue 21's sysinfo).
		return unix.SECCOMP_RET_USER_NOTIF, nil
	case "SCMP_ACT_TRACE":
		if errno == nil {
			data = 0
		}
		return unix.SECCOMP_RET_TRACE | data, nil
	}
	return 0, fmt.Errorf("unknown action %q (boxcraft knows SCMP_ACT_ALLOW, _ERRNO, _KILL, _KILL_THREAD, _KILL_PROCESS, _TRAP, _LOG, _TRACE, _NOTIFY)", name)
}
