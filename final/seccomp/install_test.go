package seccomp

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// childEnv carries the profile (JSON, "null" for none) to the test binary
// re-executed as a child: a filter cannot be taken off, so each is tried
// in a process of its own.
const childEnv = "BOXCRAFT_SECCOMP_TEST_PROFILE"

func TestMain(m *testing.M) {
	if profile, ok := os.LookupEnv(childEnv); ok {
		if n, err := strconv.Atoi(os.Getenv(benchEnv)); err == nil {
			var f *spec.Seccomp
			if err := json.Unmarshal([]byte(profile), &f); err != nil {
				os.Exit(fail(err))
			}
			os.Exit(getpidLoop(f, n))
		}
		os.Exit(child(profile))
	}
	os.Exit(m.Run())
}

// child sets no_new_privs (as init does), installs the profile, makes
// each call and prints the errno each returned (0 for success) as JSON.
func child(profile string) int {
	var f *spec.Seccomp
	if err := json.Unmarshal([]byte(profile), &f); err != nil {
		return fail(err)
	}
	// no_new_privs: what lets a process without CAP_SYS_ADMIN install a
	// filter (the test binary has it; init may not).
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail(err)
	}
	if err := Install(f, nil); err != nil {
		return fail(err)
	}
	out := map[string]any{}
	for name, try := range tries {
		out[name] = errnoOf(try())
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			out["status"] = strings.TrimSpace(v)
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return fail(err)
	}
	return 0
}

func fail(err error) int {
	os.Stderr.WriteString(err.Error() + "\n")
	return 3
}

func errnoOf(err error) int {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	if err != nil {
		return -1
	}
	return 0
}

// tries are calls whose errno tells the filter's refusal from the
// kernel's, each harmless if it went through: the child only.
var tries = map[string]func() error{
	"getpid": func() error { _, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0); return errOrNil(e) },
	"getcwd": func() error { _, err := unix.Getcwd(make([]byte, 4096)); return err },
	// KEYCTL_GET_KEYRING_ID of the session keyring: reads an id.
	"keyctl": func() error {
		_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
		return err
	},
	// A file system type that does not exist, on a folder that does not:
	// the kernel says ENODEV or ENOENT, the filter EPERM.
	"mount": func() error { return unix.Mount("none", "/nonexistent-boxcraft-seccomp", "boxcraft-no-such-fs", 0, "") },
	// A mount namespace of the child's own (or EINVAL, where the kernel
	// will not unshare a multi-threaded process's fs); the filter: EPERM.
	"unshare": func() error { return unix.Unshare(unix.CLONE_NEWNS) },
	// clone3 with no arguments: the kernel says EINVAL, the filter ENOSYS.
	"clone3": func() error { _, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0); return errOrNil(e) },
	// CLONE_NEWUSER with CLONE_FS is always EINVAL from the kernel, so
	// the call never forks; the filter says EPERM first.
	"clone_newuser": func() error {
		_, _, e := unix.RawSyscall(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS, 0, 0)
		return errOrNil(e)
	},
	"fork":              func() error { return exec.Command("/bin/true").Run() },
	"personality_query": func() error { return personality(0xffffffff) },
	// ADDR_NO_RANDOMIZE: allowed by the kernel, refused by the profile.
	"personality_set": func() error { return personality(0x0040000) },
}

func personality(persona uintptr) error {
	_, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, persona, 0, 0)
	return errOrNil(e)
}

func errOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// inChild runs the tries under f in a child, and returns their errnos.
func inChild(t *testing.T, f *spec.Seccomp) map[string]any {
	t.Helper()
	profile, err := json.Marshal(f)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+string(profile))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "the child")
	var got map[string]any
	require.NoError(t, json.Unmarshal(out, &got), "the child's report: %s", out)
	return got
}

func errnos(names ...unix.Errno) []any {
	var list []any
	for _, e := range names {
		list = append(list, float64(e))
	}
	return list
}

func TestInstallDefault(t *testing.T) {
	testkit.RequireRoot(t) // the unconfined control's mount must reach the kernel's checks
	got := inChild(t, Default(dockerCaps))
	assert.Equal(t, "2", got["status"], "/proc/self/status's Seccomp: 2 is a filter")
	for _, ok := range []string{"getpid", "getcwd", "fork", "personality_query"} {
		assert.Equal(t, float64(0), got[ok], ok)
	}
	for _, refused := range []string{"keyctl", "mount", "unshare", "clone_newuser", "personality_set"} {
		assert.Equal(t, float64(unix.EPERM), got[refused], refused)
	}
	assert.Equal(t, float64(unix.ENOSYS), got["clone3"], "clone3")

	control := inChild(t, nil)
	assert.Equal(t, "0", control["status"], "no filter")
	assert.Equal(t, float64(0), control["keyctl"], "keyctl unconfined")
	assert.Contains(t, errnos(unix.ENODEV, unix.ENOENT), control["mount"], "mount unconfined")
	assert.Equal(t, float64(unix.EINVAL), control["clone3"], "clone3 unconfined")
	assert.Equal(t, float64(unix.EINVAL), control["clone_newuser"], "clone unconfined")
	assert.Contains(t, errnos(0, unix.EINVAL), control["unshare"], "unshare unconfined")
	assert.Equal(t, float64(0), control["personality_set"], "personality unconfined")
}

func TestInstallDefaultWithSysAdmin(t *testing.T) {
	testkit.RequireRoot(t)
	got := inChild(t, Default(append([]string{"CAP_SYS_ADMIN"}, dockerCaps...)))
	assert.Contains(t, errnos(unix.ENODEV, unix.ENOENT), got["mount"], "mount reaches the kernel")
	assert.Equal(t, float64(unix.EINVAL), got["clone3"], "clone3 reaches the kernel")
	assert.Equal(t, float64(unix.EINVAL), got["clone_newuser"], "clone reaches the kernel")
	assert.Equal(t, float64(unix.EPERM), got["keyctl"], "keyctl is still refused")
}

func TestInstallCustomErrno(t *testing.T) {
	eacces := uint(unix.EACCES)
	got := inChild(t, &spec.Seccomp{DefaultAction: "SCMP_ACT_ALLOW", Syscalls: []spec.SeccompSyscall{
		{Names: []string{"getcwd"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &eacces},
	}})
	assert.Equal(t, float64(unix.EACCES), got["getcwd"])
	assert.Equal(t, float64(0), got["getpid"])
	assert.Equal(t, float64(0), got["keyctl"], "the default here is to allow")
}

func TestInstallNilIsUnconfined(t *testing.T) {
	require.NoError(t, Install(nil, nil))
}
