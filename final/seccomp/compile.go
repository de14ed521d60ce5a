package seccomp

import (
	"fmt"
	"maps"
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
// architecture; then a binary search on the call's number over the spans
// of numbers that one decision covers (spans), down to that decision:
// an action for the whole span, or one call's rules, in the profile's
// order, the first that holds deciding, else the default.
//
// A list of "is it this call?" tests, one for each call the profile
// names, would be simpler, and is what a profile reads like; but every
// system call of the container runs the filter, and Docker's default
// profile names some 350 calls: a call near the list's end made 300
// comparisons, and the list was 676 instructions, which the kernel
// checks and compiles at every start (issue 26). The search makes
// about nine, and the program about 250 instructions.
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
	prog, err := assembled(func(a *assembler) { a.search(spans(rules, def), def) })
	if err == nil && len(prog) > maxInsns {
		// The search costs a span two instructions, the list a call one:
		// where (nearly) every call has conditions of its own, nothing
		// merges, and the search is the longer. A profile the list fits
		// in the kernel's limit must not be refused for the search's sake.
		if list, lerr := assembled(func(a *assembler) { a.list(rules, def) }); lerr == nil && len(list) <= maxInsns {
			return list, nil
		}
		err = fmt.Errorf("the filter has %d instructions, more than the kernel's %d", len(prog), maxInsns)
	}
	return prog, err
}

// assembled is the program write writes after refuseForeign.
func assembled(write func(a *assembler)) ([]unix.SockFilter, error) {
	a := newAssembler()
	a.refuseForeign()
	write(a)
	return a.assemble()
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
			if nr, ok := sysnum()[name]; ok {
				rules[nr] = append(rules[nr], compiledRule{act, r.Args})
			}
		}
	}
	return rules, nil
}

// span is a run of system call numbers, from lo to the next span's lo,
// that one decision covers: action for every number of it, or, when
// rules is not nil, the rules of the one call lo.
type span struct {
	lo     uint32
	action uint32
	rules  []compiledRule
}

// spans cuts the numbers 0 to 2^32-1 into spans, in order: each call
// whose first rule looks at no argument decides by that rule's action
// alone, and joins its neighbours of the same action, as do the numbers
// the profile does not name (the default). Docker's profile allows most
// calls: its 350 names make some 60 spans.
func spans(rules map[uint32][]compiledRule, def uint32) []span {
	numbers := make([]uint32, 0, len(rules))
	for nr := range rules {
		numbers = append(numbers, nr)
	}
	slices.Sort(numbers)
	list := []span{{lo: 0, action: def}}
	add := func(s span) {
		if list[len(list)-1].lo == s.lo {
			list = list[:len(list)-1] // the previous span was empty
		}
		if n := len(list); n > 0 && s.rules == nil && list[n-1].rules == nil && list[n-1].action == s.action {
			return // the previous span goes on
		}
		list = append(list, s)
	}
	for _, nr := range numbers {
		if r := rules[nr]; len(r[0].args) == 0 {
			add(span{lo: nr, action: r[0].action}) // the rules after it never run
		} else {
			add(span{lo: nr, rules: r})
		}
		if nr < ^uint32(0) {
			add(span{lo: nr + 1, action: def})
		}
	}
	return list
}

// search writes the decision for the number in A, among list (in order,
// the first starting at the smallest number A can hold): while there are
// two spans or more, "A at or past the middle one's start? then search
// the upper half, else the lower". A conditional jump reaches 255
// instructions at most, so the upper half is reached by an unconditional
// jump (BPF_JA), which reaches any length.
func (a *assembler) search(list []span, def uint32) {
	if len(list) == 1 {
		a.decide(list[0], def)
		return
	}
	mid := len(list) / 2
	lower, upper := a.label(), a.label()
	a.jump(unix.BPF_JGE, list[mid].lo, next, lower)
	a.goTo(upper)
	a.mark(lower)
	a.search(list[:mid], def)
	a.mark(upper)
	a.search(list[mid:], def)
}

// decide writes one span's decision: its action, or its call's rules, in
// order, the first that holds deciding; if none holds, the default does.
func (a *assembler) decide(s span, def uint32) {
	if s.rules == nil {
		a.ret(s.action)
		return
	}
	decided := false
	for _, r := range s.rules {
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
}

// list writes the program compile wrote before its search, which it
// writes still where the search is too long for the kernel: for each
// call the profile names, in increasing number, "is it this one? then
// its rules decide"; the default for every other number.
func (a *assembler) list(rules map[uint32][]compiledRule, def uint32) {
	for _, nr := range slices.Sorted(maps.Keys(rules)) {
		end := a.label()
		a.jump(unix.BPF_JEQ, nr, next, end)
		a.decide(span{lo: nr, rules: rules[nr]}, def)
		a.mark(end)
	}
	a.ret(def)
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
