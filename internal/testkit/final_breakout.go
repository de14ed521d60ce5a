package testkit

// Breakout is the end-to-end suite of final/'s security (issue 20, its
// CAPS part): each attack runs as root inside a default container and
// must fail, asserted by the errno or the state observed; a harmless
// control under --privileged shows that the test could fail, and where
// none is harmless the protection's mechanism is checked directly.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// breakoutSuite is what the subtests share: the top test, whose sandbox
// holds busybox with the probe, and a setuid-root copy of the probe.
type breakoutSuite struct{ top *testing.T }

// Breakout runs the attacks.
func Breakout(t *testing.T) {
	RequireRoot(t)
	s := &breakoutSuite{top: t}
	base := BaseLayer(t)
	suid := Tar(t, TarEntry{Name: "probe-suid", Body: string(readFile(t, ProbeBinary(t))), Mode: 0o4755})
	busybox := newNamedImage(t, "docker.io/library/busybox:latest", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, base, suid)
	loaded(t, Run(t, "load", "-i", busybox.layout(t)), "Loaded image: busybox:latest")

	t.Run("Capabilities", s.capabilities)
	t.Run("ClimbOutOfTheRoot", s.climb)
	t.Run("Mount", s.mount)
	t.Run("KernelModule", s.module)
	t.Run("SysrqAndSysctls", s.sysrqAndSysctls)
	t.Run("RuntimeBinary", s.runtimeBinary)
	t.Run("LeakedDescriptorsAndCwd", s.leaks)
	t.Run("PtraceAHostProcess", s.ptrace)
	t.Run("MaskedProcAndSys", s.masked)
	t.Run("Setuid", s.setuid)
	t.Run("UserNamespaceRegained", s.userns)
	t.Run("WithAUserNamespace", s.withUserNamespace)
	t.Run("HostileImages", s.hostileImages)
	t.Run("Refused", s.refused)
}

// attacks runs the probe in busybox with args (boxcraft's flags, then
// the probe's experiments after "--") and returns its facts.
func (s *breakoutSuite) attacks(t *testing.T, args ...string) facts.Facts {
	t.Helper()
	ShareSandbox(t, s.top)
	flags, experiments := args, []string(nil)
	for i, a := range args {
		if a == "--" {
			flags, experiments = args[:i], args[i+1:]
		}
	}
	run := append(append([]string{"run", "--rm"}, flags...), append([]string{"busybox", "/probe"}, experiments...)...)
	return Probe(t, Run(t, run...))
}

// attack is one attempt of f, which must be there.
func attack(t *testing.T, f facts.Facts, name string) *facts.Attempt {
	t.Helper()
	a := f.Experiments.Attacks[name]
	require.NotNil(t, a, "the probe reported %s", name)
	return a
}

// dockerDefaultCaps is Docker's 14 capabilities as a mask.
const dockerDefaultCaps = 0x00000000a80425fb

func capMask(t *testing.T, hex string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(hex, 16, 64)
	require.NoError(t, err, "a capability mask: %q", hex)
	return n
}

// capabilities: Docker's 14 for root, none for another user, the host's
// bounding set with --privileged, and --cap-add/--cap-drop.
func (s *breakoutSuite) capabilities(t *testing.T) {
	f := s.attacks(t)
	assert.Equal(t, uint64(dockerDefaultCaps), capMask(t, f.Caps.Effective), "root inside: Docker's 14 effective")
	assert.Equal(t, uint64(dockerDefaultCaps), capMask(t, f.Caps.Permitted), "and permitted")
	assert.Zero(t, capMask(t, f.Caps.Inheritable), "inheritable empty (CVE-2022-24769)")
	f = s.attacks(t, "-u", "1000")
	assert.Zero(t, capMask(t, f.Caps.Effective), "-u 1000: no capability effective")
	assert.Zero(t, capMask(t, f.Caps.Permitted), "-u 1000: none permitted")
	f = s.attacks(t, "--privileged")
	assert.Equal(t, hostBounding(t), capMask(t, f.Caps.Effective), "--privileged: the host's whole bounding set")
	f = s.attacks(t, "--cap-drop", "ALL", "--cap-add", "net_admin", "--cap-add", "CAP_CHOWN")
	assert.Equal(t, uint64(1<<unix.CAP_NET_ADMIN|1<<unix.CAP_CHOWN), capMask(t, f.Caps.Effective), "--cap-drop ALL --cap-add …")
	f = s.attacks(t, "--cap-drop", "chown,kill")
	assert.Equal(t, uint64(dockerDefaultCaps&^(1<<unix.CAP_CHOWN|1<<unix.CAP_KILL)), capMask(t, f.Caps.Effective), "--cap-drop a,b")
}

// hostBounding is this process's bounding set.
func hostBounding(t *testing.T) uint64 {
	for _, line := range strings.Split(string(readFile(t, "/proc/self/status")), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return capMask(t, strings.TrimSpace(v))
		}
	}
	t.Fatal("no CapBnd in /proc/self/status")
	return 0
}

// climb: step01's escape (chroot deeper, fchdir out, climb "..") ends
// at the container's own root: pivot_root left nothing above it.
func (s *breakoutSuite) climb(t *testing.T) {
	var host unix.Stat_t
	require.NoError(t, unix.Stat("/", &host))
	for _, flags := range [][]string{nil, {"--privileged"}} {
		f := s.attacks(t, append(flags, "--", "escape")...)
		require.NotNil(t, f.Experiments.Escape, "%v", flags)
		e := f.Experiments.Escape
		assert.False(t, e.RootDev == host.Dev && e.RootIno == host.Ino, "%v: the climb must not end at the host's / (%v)", flags, e.RootEntries)
	}
}

// mount: mount(2) and the remount that would undo --read-only are
// refused (no CAP_SYS_ADMIN); under --privileged both work, in the
// container's own mount namespace.
func (s *breakoutSuite) mount(t *testing.T) {
	f := s.attacks(t, "--read-only", "--", "mount", "remount-root", "create=/made")
	for _, name := range []string{"mount", "remount-root"} {
		a := attack(t, f, name)
		assert.False(t, a.OK, "%s must fail by default", name)
		assert.Equal(t, "EPERM", a.Errno, "%s: %s", name, a.Error)
	}
	assert.False(t, f.Experiments.Creates["/made"].OK, "the root stays read-only")
	f = s.attacks(t, "--read-only", "--privileged", "--", "mount", "remount-root", "create=/made")
	for _, name := range []string{"mount", "remount-root"} {
		assert.True(t, attack(t, f, name).OK, "control: %s works under --privileged: %s", name, attack(t, f, name).Error)
	}
	assert.True(t, f.Experiments.Creates["/made"].OK, "control: --privileged can undo --read-only: %s", f.Experiments.Creates["/made"].Error)
}

// module: init_module with an image that is not a module. The host's own
// answer (as root here) says what the kernel does with it: ENOEXEC or
// EINVAL (it looked), EKEYREJECTED (unsigned), ENOSYS (no modules),
// EPERM (modules disabled). Inside, EPERM: from seccomp by default, and
// from the missing CAP_SYS_MODULE without it (unless the kernel has no
// modules at all: ENOSYS); under --privileged, the host's answer.
func (s *breakoutSuite) module(t *testing.T) {
	image, params := []byte("boxcraft: not a kernel module\x00"), []byte{0}
	_, _, hostErrno := unix.Syscall(unix.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&image[0])), uintptr(len(image)), uintptr(unsafe.Pointer(&params[0])))
	require.NotZero(t, hostErrno, "the host refuses a bogus module")
	a := attack(t, s.attacks(t, "--", "module"), "module")
	assert.False(t, a.OK)
	assert.Equal(t, "EPERM", a.Errno, "init_module inside: %s", a.Error)
	want := "EPERM"
	if hostErrno == unix.ENOSYS {
		want = "ENOSYS" // a kernel built without modules: nothing to load
	}
	a = attack(t, s.attacks(t, "--security-opt", "seccomp=unconfined", "--", "module"), "module")
	assert.Equal(t, want, a.Errno, "init_module without seccomp: the capability is missing: %s", a.Error)
	a = attack(t, s.attacks(t, "--privileged", "--", "module"), "module")
	assert.Equal(t, unix.ErrnoName(hostErrno), a.Errno, "control: --privileged gets the host's answer: %s", a.Error)
}

// sysrqAndSysctls: /proc/sysrq-trigger opened for writing, and sysctls
// written with the value they have, are refused (read-only paths);
// under --privileged they are not (kernel/hostname is the container's
// UTS namespace's own; the sysrq file is only opened).
func (s *breakoutSuite) sysrqAndSysctls(t *testing.T) {
	_, err := os.Stat("/proc/sysrq-trigger")
	hasSysrq := err == nil
	exp := []string{"sysrq", "sysctl=kernel/hostname", "sysctl=kernel/randomize_va_space"}
	f := s.attacks(t, append([]string{"--"}, exp...)...)
	a := attack(t, f, "sysrq")
	assert.False(t, a.OK)
	if hasSysrq {
		assert.Equal(t, "EROFS", a.Errno, a.Error)
	} else {
		assert.Equal(t, "ENOENT", a.Errno, "this kernel has no sysrq: %s", a.Error)
	}
	for _, name := range []string{"kernel/hostname", "kernel/randomize_va_space"} {
		if w := f.Experiments.Sysctls[name]; assert.NotNil(t, w) {
			assert.False(t, w.OK, name)
			assert.Equal(t, "EROFS", w.Errno, "%s: %s", name, w.Error)
		}
	}
	f = s.attacks(t, "--privileged", "--", "sysrq", "sysctl=kernel/hostname")
	assert.Equal(t, hasSysrq, attack(t, f, "sysrq").OK, "control: --privileged opens sysrq-trigger if the kernel has it: %s", attack(t, f, "sysrq").Error)
	assert.True(t, f.Experiments.Sysctls["kernel/hostname"].OK, "control: --privileged writes a sysctl")
}

// runtimeBinary (CVE-2019-5736): a command that is /proc/self/exe,
// resolved by the runtime's process in the container (exec's:
// boxcraft-exec-init), runs the runtime's binary there. Given
// _BOXCRAFT_NSENTER naming its stdin as the socket, as an attacker may,
// that binary's constructor waits on the socket, so it stays while the
// test holds stdin.
// What it runs must be read-only: a read-only bind mount of the binary,
// or a sealed copy in memory. An open for writing is refused (EROFS, or
// ETXTBSY while it runs), and the file is on a read-only mount or sealed
// against writes. (A container's init, boxcraft-init, is made read-only
// the same way; started by hand, it ends at once.)
func (s *breakoutSuite) runtimeBinary(t *testing.T) {
	ShareSandbox(t, s.top)
	r := Run(t, "run", "-d", "busybox", "sleep", "600")
	require.Equal(t, 0, r.Code, r)
	id := strings.TrimSpace(r.Stdout)
	removeWhenDone(t, id)
	cmd := Command(t, "exec", "-i", "-e", "_BOXCRAFT_NSENTER=0 0 0", id, "/proc/self/exe")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	held := Start(t, cmd)
	defer func() { stdin.Close(); held.Wait(t) }()
	init := strconv.Itoa(inspectOne(t, id).State.Pid)
	var initNS unix.Stat_t
	require.NoError(t, unix.Stat("/proc/"+init+"/ns/pid", &initNS))
	var pid string
	require.Eventually(t, func() bool {
		for _, p := range processesInCgroup(t, id) {
			// In the container's pid namespace: the command, not
			// exec-init's first process, which is in the cgroup for the
			// moment it takes to fork, and then gone.
			var ns unix.Stat_t
			if p != init && unix.Stat("/proc/"+p+"/ns/pid", &ns) == nil && ns.Ino == initNS.Ino {
				pid = p
			}
		}
		return pid != ""
	}, 10*time.Second, 20*time.Millisecond, "the runtime runs in the container (its constructor waits)")
	exe := "/proc/" + pid + "/exe"
	for _, flag := range []int{unix.O_WRONLY, unix.O_RDWR} {
		fd, err := unix.Open(exe, flag|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		assert.True(t, err == unix.EROFS || err == unix.ETXTBSY, "the runtime's binary cannot be opened for writing: %v", err)
	}
	fd, err := unix.Open(exe, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	assertSameSize(t, fd, execProgramOf(t))
	var st unix.Statfs_t
	require.NoError(t, unix.Fstatfs(fd, &st))
	seals, _ := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0) // EINVAL: not a memfd
	readOnly, sealed := st.Flags&unix.ST_RDONLY != 0, seals > 0 && seals&unix.F_SEAL_WRITE != 0
	assert.True(t, readOnly || sealed, "on a read-only mount (flags %#x) or sealed (%#x)", st.Flags, seals)
	hostBinary, err := os.Open(Binary(t))
	require.NoError(t, err)
	defer hostBinary.Close()
	var host unix.Statfs_t
	require.NoError(t, unix.Fstatfs(int(hostBinary.Fd()), &host))
	if host.Flags&unix.ST_RDONLY == 0 && readOnly {
		assert.NotEqual(t, host.Flags, st.Flags, "the read-only view is not the binary's own writable mount")
	}
}

// execProgramOf is the program exec runs in a container: the helper
// boxcraft-exec-init beside the binary under test.
func execProgramOf(t *testing.T) string {
	helper := filepath.Join(filepath.Dir(Binary(t)), "boxcraft-exec-init")
	_, err := os.Stat(helper)
	require.NoError(t, err, "boxcraft-exec-init beside boxcraft")
	return helper
}

// assertSameSize checks that the file open at fd is as long as the
// program at path: the process runs that program, not another.
func assertSameSize(t *testing.T, fd int, path string) {
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, info.Size(), st.Size, "the process in the container runs %s", filepath.Base(path))
}

// leaks (CVE-2024-21626): no descriptor of the runtime's reaches the
// command, and a working folder through one (-w /proc/self/fd/N) is
// refused rather than entered.
func (s *breakoutSuite) leaks(t *testing.T) {
	a := attack(t, s.attacks(t, "--", "fds"), "fds")
	assert.False(t, a.OK, "no descriptor beyond stdio: %s", a.Error)
	ShareSandbox(t, s.top)
	for fd := 3; fd <= 7; fd++ {
		r := Run(t, "run", "--rm", "-w", fmt.Sprintf("/proc/self/fd/%d", fd), "busybox", "/probe")
		assertFailedOneLine(t, r, 125, "working folder")
	}
}

// ptrace: a host process is out of reach: the container's pid namespace
// does not show it (ESRCH), and CAP_SYS_PTRACE is not among its
// capabilities. Control: with --pid host and --privileged it is seen
// (signal 0 does nothing to it).
func (s *breakoutSuite) ptrace(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	f := s.attacks(t, "--", "signal="+me)
	a := attack(t, f, "signal="+me)
	assert.Equal(t, "ESRCH", a.Errno, "the test's own process is not visible inside: %s", a.Error)
	assert.Zero(t, capMask(t, f.Caps.Effective)&(1<<unix.CAP_SYS_PTRACE), "no CAP_SYS_PTRACE")
	f = s.attacks(t, "--pid", "host", "--privileged", "--", "signal="+me)
	assert.True(t, attack(t, f, "signal="+me).OK, "control: --pid host --privileged sees it")
}

// masked: /proc/kcore, /proc/keys, /proc/config.gz, /sys/kernel/
// vmcoreinfo read empty or are gone, /sys/block is empty; under
// --privileged each that the host has is readable.
func (s *breakoutSuite) masked(t *testing.T) {
	files := []string{"/proc/kcore", "/proc/keys", "/proc/config.gz", "/sys/kernel/vmcoreinfo"}
	exp := []string{"listdir=/sys/block"}
	for _, file := range files {
		exp = append(exp, "readfile="+file)
	}
	f := s.attacks(t, append([]string{"--"}, exp...)...)
	for _, e := range exp {
		a := attack(t, f, e)
		assert.False(t, a.OK, "%s must be masked: %s", e, a.Error)
	}
	f = s.attacks(t, append([]string{"--privileged", "--"}, exp...)...)
	for _, file := range files {
		if _, err := os.Stat(file); err == nil {
			a := attack(t, f, "readfile="+file)
			assert.True(t, a.OK, "control: --privileged reads %s: %s", file, a.Error)
		}
	}
	if entries, _ := os.ReadDir("/sys/block"); len(entries) > 0 {
		assert.True(t, attack(t, f, "listdir=/sys/block").OK, "control: --privileged lists /sys/block")
	}
}

// setuid: a setuid-root copy of the probe, run by user 1000, stays user
// 1000 without capabilities (no_new_privs); without no_new_privs
// (--privileged), it becomes root.
func (s *breakoutSuite) setuid(t *testing.T) {
	a := attack(t, s.attacks(t, "-u", "1000", "--", "setuid=/probe-suid"), "setuid=/probe-suid")
	assert.False(t, a.OK, "no_new_privs: %s", a.Error)
	assert.Contains(t, a.Error, "euid 1000", "the setuid bit was ignored")
	a = attack(t, s.attacks(t, "-u", "1000", "--security-opt", "no-new-privileges=false", "--", "setuid=/probe-suid"), "setuid=/probe-suid")
	assert.True(t, a.OK, "control: without no_new_privs the setuid bit makes root, still within the bounding set: %s", a.Error)
}

// userns: a new user namespace inside gives root every capability
// there, none of which reaches the host: remounting the --read-only root
// (a locked mount), loading a module, writing sysrq-trigger or a sysctl
// all fail (or the unshare itself is refused).
func (s *breakoutSuite) userns(t *testing.T) {
	a := attack(t, s.attacks(t, "--read-only", "--", "userns"), "userns")
	assert.False(t, a.OK, "nothing against the host from a new user namespace: %s", a.Error)
	assert.Equal(t, "EPERM", a.Errno, "the remount (or the unshare) is refused: %s", a.Error)
}

// withUserNamespace: with --uidmap every layer holds too: the same
// capabilities, no_new_privs, masked paths, and no mount.
func (s *breakoutSuite) withUserNamespace(t *testing.T) {
	const uidmap = "0:100000:65536"
	f := s.attacks(t, "--uidmap", uidmap, "--", "mount", "readfile=/proc/keys", "listdir=/sys/block", "sysrq")
	assert.Equal(t, uint64(dockerDefaultCaps), capMask(t, f.Caps.Effective), "Docker's 14, in the user namespace")
	for _, name := range []string{"mount", "readfile=/proc/keys", "listdir=/sys/block", "sysrq"} {
		assert.False(t, attack(t, f, name).OK, "%s with --uidmap: %s", name, attack(t, f, name).Error)
	}
	f = s.attacks(t, "--uidmap", uidmap, "-u", "1000")
	assert.Zero(t, capMask(t, f.Caps.Effective), "-u 1000 in a user namespace: none")
}

// refused: a bad security flag is refused in one line, before anything
// is made.
func (s *breakoutSuite) refused(t *testing.T) {
	ShareSandbox(t, s.top)
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--cap-add", "NOT_A_CAP"}, "capability"},
		{[]string{"--cap-drop", "bogus"}, "capability"},
		{[]string{"--security-opt", "label=disable"}, "label"},
		{[]string{"--security-opt", "apparmor=unconfined"}, "apparmor"},
		{[]string{"--security-opt", "no-new-privileges=maybe"}, "no-new-privileges"},
		{[]string{"--security-opt", "what"}, "security-opt"},
	} {
		assertLeavesNothing(t, strings.Join(tc.args, " "), func() {
			r := Run(t, append(append([]string{"run", "--rm"}, tc.args...), "busybox", "/probe")...)
			assertFailedOneLine(t, r, 125, tc.says)
		})
	}
}
