package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// call is a struct seccomp_data: what the kernel hands the filter.
type call struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

// run is a classic BPF interpreter for the instructions compile writes:
// the test runs the very program Install would hand the kernel.
func run(t *testing.T, prog []unix.SockFilter, c call) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[offNr:], c.nr)
	binary.LittleEndian.PutUint32(data[offArch:], c.arch)
	for i, v := range c.args {
		binary.LittleEndian.PutUint64(data[offArgs+8*i:], v)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		jump := func(holds bool) {
			if holds {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			require.Less(t, int(in.K), len(data)-3, "load out of seccomp_data")
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			jump(acc == in.K)
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			jump(acc > in.K)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			jump(acc >= in.K)
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: code %#x the interpreter does not know", pc, in.Code)
		}
	}
	t.Fatal("the program ran off its end without a return")
	return 0
}

// dockerCaps is Docker's default capability set.
var dockerCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

const (
	allow  uint32 = unix.SECCOMP_RET_ALLOW
	eperm  uint32 = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosys uint32 = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

func native(name string, args ...uint64) call {
	c := call{nr: sysnum()[name], arch: nativeAudit}
	copy(c.args[:], args)
	return c
}

func compiled(t *testing.T, f *spec.Seccomp) []unix.SockFilter {
	t.Helper()
	prog, err := compile(f)
	require.NoError(t, err)
	return prog
}

// TestDefaultCompiles compiles the default profile for each of its
// rules' capability conditions, and for all of them at once, on this
// machine's architecture and kernel: Default does not compile it at each
// run, init does.
func TestDefaultCompiles(t *testing.T) {
	requireNative(t)
	var p profile
	require.NoError(t, json.Unmarshal(defaultJSON, &p))
	// No capability (every excludes rule holds), each includes rule's
	// own, and all of them at once (--cap-add ALL: the longest program).
	capSets := [][]string{nil}
	var all []string
	for _, r := range p.Syscalls {
		if r.Includes != nil && len(r.Includes.Caps) > 0 {
			capSets = append(capSets, r.Includes.Caps)
			all = append(all, r.Includes.Caps...)
		}
	}
	capSets = append(capSets, all)
	for _, caps := range capSets {
		_, err := compile(Default(caps))
		require.NoError(t, err, "the default profile for %v", caps)
	}
}

func TestDefaultProfile(t *testing.T) {
	requireNative(t)
	prog := compiled(t, Default(dockerCaps))
	cases := []struct {
		why  string
		call call
		want uint32
	}{
		{"getpid is allowed", native("getpid"), allow},
		{"keyctl is refused (the host's keyrings)", native("keyctl"), eperm},
		{"add_key is refused", native("add_key"), eperm},
		{"mount needs CAP_SYS_ADMIN", native("mount"), eperm},
		{"unshare needs CAP_SYS_ADMIN", native("unshare", unix.CLONE_NEWNS), eperm},
		{"setns needs CAP_SYS_ADMIN", native("setns"), eperm},
		{"clone3 answers ENOSYS, for libc to fall back to clone", native("clone3"), enosys},
		{"a plain fork's clone is allowed", native("clone", uint64(unix.SIGCHLD)), allow},
		{"a thread's clone is allowed", native("clone", unix.CLONE_VM|unix.CLONE_FS|unix.CLONE_FILES|unix.CLONE_SIGHAND|unix.CLONE_THREAD), allow},
		{"clone with CLONE_NEWUSER is refused", native("clone", unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)), eperm},
		{"clone with CLONE_NEWNS is refused", native("clone", unix.CLONE_NEWNS), eperm},
		{"personality's query is allowed", native("personality", 0xffffffff), allow},
		{"personality(PER_LINUX) is allowed", native("personality", 0), allow},
		{"personality(ADDR_NO_RANDOMIZE) is refused", native("personality", 0x0040000), eperm},
		{"socket(AF_INET) is allowed", native("socket", unix.AF_INET), allow},
		{"socket(AF_VSOCK) is refused", native("socket", unix.AF_VSOCK), eperm},
		{"socket(AF_KCM, 41) is allowed", native("socket", 41), allow},
		{"reboot needs CAP_SYS_BOOT", native("reboot"), eperm},
		{"init_module needs CAP_SYS_MODULE", native("init_module"), eperm},
		{"a number no profile names gets the default", call{nr: 4000, arch: nativeAudit}, eperm},
		{"another architecture's call is refused", call{nr: 20, arch: unix.AUDIT_ARCH_I386}, enosys},
	}
	if x32Bit != 0 {
		cases = append(cases, struct {
			why  string
			call call
			want uint32
		}{"an x32 call is refused", call{nr: x32Bit | sysnum()["getpid"], arch: nativeAudit}, enosys})
	}
	for _, c := range cases {
		assert.Equal(t, c.want, run(t, prog, c.call), c.why)
	}
}

func TestDefaultProfileWithSysAdmin(t *testing.T) {
	requireNative(t)
	prog := compiled(t, Default(append([]string{"CAP_SYS_ADMIN"}, dockerCaps...)))
	for _, c := range []call{
		native("mount"), native("unshare", unix.CLONE_NEWNS), native("setns"), native("clone3"),
		native("clone", unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)),
	} {
		assert.Equal(t, allow, run(t, prog, c), "call %d with CAP_SYS_ADMIN", c.nr)
	}
	assert.Equal(t, eperm, run(t, prog, native("keyctl")), "keyctl is refused even with CAP_SYS_ADMIN")
}

// TestComparisons checks each comparison against Go's own on values
// around the 32-bit boundary, where two-word comparisons go wrong.
func TestComparisons(t *testing.T) {
	requireNative(t)
	values := []uint64{0, 1, 0xfffffffe, 0xffffffff, 1 << 32, 1<<32 + 1, 0xffffffff00000000, ^uint64(0)}
	ops := map[string]func(arg, v uint64) bool{
		"SCMP_CMP_EQ": func(a, v uint64) bool { return a == v },
		"SCMP_CMP_NE": func(a, v uint64) bool { return a != v },
		"SCMP_CMP_GT": func(a, v uint64) bool { return a > v },
		"SCMP_CMP_GE": func(a, v uint64) bool { return a >= v },
		"SCMP_CMP_LT": func(a, v uint64) bool { return a < v },
		"SCMP_CMP_LE": func(a, v uint64) bool { return a <= v },
	}
	for op, holds := range ops {
		for _, v := range values {
			prog := compiled(t, argProfile(spec.SeccompArg{Index: 2, Value: v, Op: op}))
			for _, arg := range values {
				want := map[bool]uint32{true: allow, false: eperm}[holds(arg, v)]
				assert.Equal(t, want, run(t, prog, native("getpid", 0, 0, arg)), "%#x %s %#x", arg, op, v)
			}
		}
	}
	masked := argProfile(spec.SeccompArg{Index: 5, Value: 0xff000000ff, ValueTwo: 0x1200000034, Op: "SCMP_CMP_MASKED_EQ"})
	prog := compiled(t, masked)
	assert.Equal(t, allow, run(t, prog, native("getpid", 0, 0, 0, 0, 0, 0xab12cd00ef34)))
	assert.Equal(t, eperm, run(t, prog, native("getpid", 0, 0, 0, 0, 0, 0xab13cd00ef34)))
	assert.Equal(t, eperm, run(t, prog, native("getpid", 0, 0, 0, 0, 0, 0xab12cd00ef35)))
}

// argProfile allows getpid when c holds, and refuses everything else.
func argProfile(c spec.SeccompArg) *spec.Seccomp {
	return &spec.Seccomp{DefaultAction: "SCMP_ACT_ERRNO", Syscalls: []spec.SeccompSyscall{
		{Names: []string{"getpid"}, Action: "SCMP_ACT_ALLOW", Args: []spec.SeccompArg{c}},
	}}
}

// TestRulesInOrder: several rules for one call, the first that holds
// decides; none holding leaves the default.
func TestRulesInOrder(t *testing.T) {
	requireNative(t)
	eacces := uint(unix.EACCES)
	prog := compiled(t, &spec.Seccomp{DefaultAction: "SCMP_ACT_ALLOW", Syscalls: []spec.SeccompSyscall{
		{Names: []string{"getcwd", "no_such_call"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &eacces,
			Args: []spec.SeccompArg{{Index: 1, Value: 10, Op: "SCMP_CMP_LT"}}},
		{Names: []string{"getcwd"}, Action: "SCMP_ACT_KILL_PROCESS", Args: []spec.SeccompArg{{Index: 1, Value: 99, Op: "SCMP_CMP_EQ"}}},
	}})
	assert.Equal(t, unix.SECCOMP_RET_ERRNO|uint32(unix.EACCES), run(t, prog, native("getcwd", 0, 5)))
	assert.Equal(t, uint32(unix.SECCOMP_RET_KILL_PROCESS), run(t, prog, native("getcwd", 0, 99)))
	assert.Equal(t, allow, run(t, prog, native("getcwd", 0, 50)))
	assert.Equal(t, allow, run(t, prog, native("getpid")))
}

func requireNative(t *testing.T) {
	if nativeAudit == 0 {
		t.Fatal("no system-call table for this architecture: the filter is built for amd64 and arm64")
	}
}

// linear is the program compile wrote before its search (issue 26), and
// writes still where the search is too long (list): for each call the
// profile names, in increasing number, "is it this one? then its rules
// decide". It is the reference the search must agree with, call by call.
func linear(t *testing.T, f *spec.Seccomp) []unix.SockFilter {
	t.Helper()
	def, err := actionOf(f.DefaultAction, f.DefaultErrnoRet)
	require.NoError(t, err)
	rules, err := rulesByNumber(f.Syscalls)
	require.NoError(t, err)
	prog, err := assembled(func(a *assembler) { a.list(rules, def) })
	require.NoError(t, err)
	return prog
}

// searched is f's program as the search writes it, however long.
func searched(t *testing.T, f *spec.Seccomp) []unix.SockFilter {
	t.Helper()
	def, err := actionOf(f.DefaultAction, f.DefaultErrnoRet)
	require.NoError(t, err)
	rules, err := rulesByNumber(f.Syscalls)
	require.NoError(t, err)
	prog, err := assembled(func(a *assembler) { a.search(spans(rules, def), def) })
	require.NoError(t, err)
	return prog
}

// TestSearchDecidesAsTheList runs every call number the tables know, and
// a few past them, with a few sets of arguments, through the compiled
// program and through the list of tests it replaced (linear): Docker's
// profile for no capability, Docker's and all, a profile that allows by
// default, and random profiles (seeded: a failure repeats).
func TestSearchDecidesAsTheList(t *testing.T) {
	requireNative(t)
	profiles := map[string]*spec.Seccomp{
		"default, no capability": Default(nil),
		"default, Docker's":      Default(dockerCaps),
		"default, all":           Default(append([]string{"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_MODULE", "CAP_SYSLOG", "CAP_SYS_PTRACE", "CAP_SYS_TIME"}, dockerCaps...)),
		"allow by default": {DefaultAction: "SCMP_ACT_ALLOW", Syscalls: []spec.SeccompSyscall{
			{Names: []string{"keyctl", "add_key", "request_key"}, Action: "SCMP_ACT_ERRNO"},
			{Names: []string{"mount"}, Action: "SCMP_ACT_KILL_PROCESS", Args: []spec.SeccompArg{{Index: 3, Value: 1, Op: "SCMP_CMP_EQ"}}},
		}},
	}
	rnd := rand.New(rand.NewPCG(26, 1))
	names := slices.Sorted(maps.Keys(sysnum()))
	actions := []string{"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG"}
	for i := range 20 {
		f := &spec.Seccomp{DefaultAction: actions[rnd.IntN(2)]}
		for range 1 + rnd.IntN(60) {
			r := spec.SeccompSyscall{Action: actions[rnd.IntN(len(actions))]}
			for range 1 + rnd.IntN(40) {
				r.Names = append(r.Names, names[rnd.IntN(len(names))])
			}
			if rnd.IntN(4) == 0 {
				r.Args = []spec.SeccompArg{{Index: uint(rnd.IntN(6)), Value: uint64(rnd.IntN(3)), Op: "SCMP_CMP_EQ"}}
			}
			f.Syscalls = append(f.Syscalls, r)
		}
		profiles[fmt.Sprintf("random %d", i)] = f
	}
	top := slices.Max(slices.Collect(maps.Values(sysnum()))) + 8
	argSets := [][6]uint64{{}, {1, 1, 1, 1, 1, 1}, {2, 0, 1, 0, 2, 1}}
	for name, f := range profiles {
		search, list := compiled(t, f), linear(t, f)
		if f.DefaultAction == "SCMP_ACT_ERRNO" && len(f.Syscalls) > 60 { // Docker's, not the random ones
			assert.Less(t, len(search), len(list)/2, "%s: the search is less than half the list", name)
		}
		for nr := range top {
			for _, args := range argSets {
				c := call{nr: nr, arch: nativeAudit, args: args}
				require.Equal(t, run(t, list, c), run(t, search, c), "%s: call %d with %v", name, nr, args)
			}
		}
		for _, nr := range []uint32{4000, 1<<30 - 1, 1 << 30, ^uint32(0)} {
			c := call{nr: nr, arch: nativeAudit}
			require.Equal(t, run(t, list, c), run(t, search, c), "%s: call %d", name, nr)
		}
	}
}

// TestPrecompiledIsTheSameProgram: the profile the monitor compiles for
// init, through JSON as init reads it, is the program init would have
// compiled, and the trace still counts the profile's rules.
func TestPrecompiledIsTheSameProgram(t *testing.T) {
	requireNative(t)
	f := Default(dockerCaps)
	pre, err := Precompile(f)
	require.NoError(t, err)
	require.Nil(t, pre.Syscalls, "the rules stay behind")
	data, err := json.Marshal(pre)
	require.NoError(t, err)
	var got spec.Seccomp
	require.NoError(t, json.Unmarshal(data, &got))
	filter, err := Compile(&got)
	require.NoError(t, err)
	assert.Equal(t, compiled(t, f), filter.prog)
	assert.Equal(t, Describe(f, len(filter.prog)), filter.Describe())
	for _, bad := range [][]byte{nil, {1, 2, 3}, make([]byte, 8*(maxInsns+1))} {
		_, err := Compile(&spec.Seccomp{Compiled: &spec.CompiledSeccomp{Program: bad}})
		assert.Error(t, err, "%d bytes", len(bad))
	}
}

// TestTheListWhereTheSearchIsTooLong: a profile whose every call has
// conditions of its own merges into no span, and its search is longer
// than the list it replaced (two instructions a span, where the list has
// one a call): a profile the list fitted in the kernel's 4096
// instructions must still compile, and decide as before.
func TestTheListWhereTheSearchIsTooLong(t *testing.T) {
	requireNative(t)
	names := slices.Sorted(maps.Keys(sysnum()))
	f := &spec.Seccomp{DefaultAction: "SCMP_ACT_ALLOW"}
	for _, name := range names {
		f.Syscalls = append(f.Syscalls, spec.SeccompSyscall{Names: []string{name}, Action: "SCMP_ACT_ERRNO",
			Args: []spec.SeccompArg{{Index: 5, Value: 0xdeadbeef, Op: "SCMP_CMP_EQ"}}})
	}
	// One more condition a call, call after call, until the search no
	// longer fits.
	for i := 0; len(searched(t, f)) <= maxInsns; i++ {
		r := &f.Syscalls[i%len(f.Syscalls)]
		r.Args = append(r.Args, spec.SeccompArg{Index: 4, Value: 0xdeadbeef, Op: "SCMP_CMP_EQ"})
	}
	list := linear(t, f)
	require.LessOrEqual(t, len(list), maxInsns, "the list fits where the search does not (%d)", len(searched(t, f)))

	prog, err := compile(f)
	require.NoError(t, err, "a profile of %d instructions as a list", len(list))
	top := slices.Max(slices.Collect(maps.Values(sysnum()))) + 8
	for nr := range top {
		for _, args := range [][6]uint64{{}, {4: 0xdeadbeef, 5: 0xdeadbeef}, {5: 0xdeadbeef}} {
			c := call{nr: nr, arch: nativeAudit, args: args}
			require.Equal(t, run(t, list, c), run(t, prog, c), "call %d with %v", nr, args)
		}
	}
	// The kernel takes it: the tries pass (the conditions never hold).
	got := inChild(t, f)
	assert.Equal(t, "2", got["status"], "a filter")
	assert.Equal(t, float64(0), got["getpid"], "getpid")
}
