package testkit

// Seccomp is the end-to-end suite of boxcraft's system-call filter
// (issue 20): Docker's default profile refuses, inside a default
// container, the calls a container has no business making, each told
// from the kernel's own answer by a control run with
// --security-opt seccomp=unconfined; a profile from a file applies its
// own errno; a malformed one is refused before anything is made.

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/boxcraft/boxcraft/internal/facts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type seccompSuite struct{ top *testing.T }

// Seccomp checks the filter, end to end.
func Seccomp(t *testing.T) {
	RequireRoot(t)
	s := &seccompSuite{top: t}
	busybox := newNamedImage(t, "docker.io/library/busybox:latest", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, BaseLayer(t))
	loaded(t, Run(t, "load", "-i", busybox.layout(t)), "Loaded image: busybox:latest")
	t.Run("DefaultProfileRefuses", s.defaultRefuses)
	t.Run("Status", s.status)
	t.Run("NonRootUser", s.nonRootUser)
	t.Run("ProfileFromFile", s.profileFromFile)
	t.Run("MalformedProfileRefused", s.malformed)
}

// seccompAttacks are the probe's attempts (internal/probe/attack_seccomp.go).
var seccompAttacks = []string{"sc-keyctl", "sc-add_key", "sc-unshare-user", "sc-unshare-ns", "sc-clone3", "sc-mount", "sc-personality"}

func attempts(t *testing.T, flags ...string) (facts.Facts, map[string]*facts.Attempt) {
	t.Helper()
	args := append(append([]string{"run", "--rm"}, flags...), append([]string{"busybox", "/probe"}, seccompAttacks...)...)
	f := Probe(t, Run(t, args...))
	for _, name := range seccompAttacks {
		require.NotNil(t, f.Experiments.Attacks[name], "the probe tried %s", name)
	}
	return f, f.Experiments.Attacks
}

// defaultRefuses: EPERM (clone3: ENOSYS) by default; unconfined, the
// same calls reach the kernel and it answers otherwise.
func (s *seccompSuite) defaultRefuses(t *testing.T) {
	ShareSandbox(t, s.top)
	_, got := attempts(t)
	for _, name := range seccompAttacks {
		want := map[string]string{"sc-clone3": "ENOSYS"}[name]
		if want == "" {
			want = "EPERM"
		}
		assert.Equal(t, want, got[name].Errno, "%s by default: %+v", name, got[name])
	}

	f, control := attempts(t, "--security-opt", "seccomp=unconfined")
	assert.True(t, control["sc-keyctl"].OK, "keyctl unconfined: %+v", control["sc-keyctl"])
	assert.Equal(t, "ENODEV", control["sc-add_key"].Errno, "add_key unconfined")
	assert.Equal(t, "EINVAL", control["sc-unshare-user"].Errno, "unshare(CLONE_NEWUSER) unconfined, several threads")
	assert.Equal(t, "EINVAL", control["sc-clone3"].Errno, "clone3 unconfined")
	assert.True(t, control["sc-personality"].OK, "personality unconfined: %+v", control["sc-personality"])
	// mount and unshare(CLONE_NEWNS) answer EPERM from the kernel too
	// when the container lacks CAP_SYS_ADMIN: the control tells them apart
	// only when it holds it.
	if hasCapability(t, f.Caps.Effective, 21) {
		assert.Contains(t, []string{"ENODEV", "ENOENT"}, control["sc-mount"].Errno, "mount unconfined, with CAP_SYS_ADMIN")
		assert.NotEqual(t, "EPERM", control["sc-unshare-ns"].Errno, "unshare(CLONE_NEWNS) unconfined, with CAP_SYS_ADMIN")
	} else {
		// The kernel looks the target up before it checks the
		// capability: a missing target is ENOENT first.
		assert.Contains(t, []string{"EPERM", "ENOENT"}, control["sc-mount"].Errno, "mount unconfined, without CAP_SYS_ADMIN")
	}
}

// hasCapability reads bit from a capability mask as /proc/self/status
// prints it.
func hasCapability(t *testing.T, mask string, bit uint) bool {
	t.Helper()
	v, err := strconv.ParseUint(mask, 16, 64)
	require.NoError(t, err, "capability mask %q", mask)
	return v&(1<<bit) != 0
}

// status: the kernel's own word, /proc/self/status's Seccomp line: 2 is
// a filter, 0 none.
func (s *seccompSuite) status(t *testing.T) {
	ShareSandbox(t, s.top)
	for flags, want := range map[string]string{"": "Seccomp:\t2\n", "seccomp=unconfined": "Seccomp:\t0\n"} {
		args := []string{"run", "--rm"}
		if flags != "" {
			args = append(args, "--security-opt", flags)
		}
		r := Run(t, append(args, "busybox", "grep", "^Seccomp:", "/proc/self/status")...)
		require.Equal(t, 0, r.Code, r)
		assert.Equal(t, want, r.Stdout, "--security-opt %q", flags)
	}
}

// nonRootUser: the filter is in place for a user that is not root too
// (installed while init still held CAP_SYS_ADMIN, or with no_new_privs).
func (s *seccompSuite) nonRootUser(t *testing.T) {
	ShareSandbox(t, s.top)
	r := Run(t, "run", "--rm", "-u", "65534:65534", "busybox", "sh", "-c", "id -u; grep ^Seccomp: /proc/self/status")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "65534\nSeccomp:\t2\n", r.Stdout)
}

// profileFromFile: a profile in Docker's JSON format, which allows every
// call but getcwd, and answers that one EACCES.
func (s *seccompSuite) profileFromFile(t *testing.T) {
	ShareSandbox(t, s.top)
	path := filepath.Join(t.TempDir(), "profile.json")
	require.NoError(t, os.WriteFile(path, []byte(`{
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
	}`), 0o644))
	f := Probe(t, Run(t, "run", "--rm", "--security-opt", "seccomp="+path, "busybox", "/probe", "sc-getcwd", "sc-keyctl"))
	if got := f.Experiments.Attacks["sc-getcwd"]; assert.NotNil(t, got) {
		assert.Equal(t, "EACCES", got.Errno, "getcwd under the file's profile: %+v", got)
	}
	if got := f.Experiments.Attacks["sc-keyctl"]; assert.NotNil(t, got) {
		assert.True(t, got.OK, "keyctl: the file's profile allows it: %+v", got)
	}
}

// malformed: a file that is not a profile, or names an action boxcraft
// does not know, or is missing, is refused in one line naming it, and
// nothing is made.
func (s *seccompSuite) malformed(t *testing.T) {
	ShareSandbox(t, s.top)
	dir := t.TempDir()
	for name, text := range map[string]string{
		"truncated.json": `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [`,
		"action.json":    `{"defaultAction": "SCMP_ACT_SOMETIMES"}`,
		"missing.json":   "",
	} {
		path := filepath.Join(dir, name)
		if text != "" {
			require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		}
		assertLeavesNothing(t, name, func() {
			assertFailedOneLine(t, Run(t, "run", "--rm", "--security-opt", "seccomp="+path, "busybox", "true"), 125, path)
		})
	}
}
