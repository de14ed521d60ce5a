package seccomp

import (
	_ "embed"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// defaultJSON is Docker's default profile, as its file says it.
//
//go:embed default.json
var defaultJSON []byte

// TestDefaultProfileIsDefaultJSON: the Go value a start builds the
// default profile from (default_profile.go) is default.json decoded, and
// the profile Default makes of it, for Docker's capabilities and for
// none, is the one the file makes. After a change to default.json, run
// go generate ./final/seccomp/.
func TestDefaultProfileIsDefaultJSON(t *testing.T) {
	var p profile
	require.NoError(t, json.Unmarshal(defaultJSON, &p))
	require.Equal(t, p, defaultProfile(), "default_profile.go is out of date: go generate ./final/seccomp/")
	for _, caps := range [][]string{dockerCaps, nil} {
		fromFile, err := convert(defaultJSON, caps)
		require.NoError(t, err)
		assert.Equal(t, fromFile, Default(caps))
	}
}

func writeProfile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.json")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestLoadFile(t *testing.T) {
	requireNative(t)
	path := writeProfile(t, `{
		"defaultAction": "SCMP_ACT_ALLOW",
		"archMap": [{"architecture": "`+nativeArch+`", "subArchitectures": []}],
		"syscalls": [
			{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "EACCES"},
			{"name": "mount", "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
			{"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["no-such-arch"]}},
			{"names": ["sync"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "3.0"}},
			{"names": ["syncfs"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "99.0"}}
		]}`)
	f, err := LoadFile(path, dockerCaps)
	require.NoError(t, err)
	assert.Equal(t, []string{nativeArch}, f.Architectures)
	prog := compiled(t, f)
	assert.Equal(t, unix.SECCOMP_RET_ERRNO|uint32(unix.EACCES), run(t, prog, native("getcwd")))
	assert.Equal(t, eperm, run(t, prog, native("mount")), "excluded only with CAP_SYS_ADMIN")
	assert.Equal(t, allow, run(t, prog, native("chroot")), "another architecture's rule")
	assert.Equal(t, eperm, run(t, prog, native("sync")), "a kernel since 3.0")
	assert.Equal(t, allow, run(t, prog, native("syncfs")), "a kernel not yet 99.0")

	f, err = LoadFile(path, append(dockerCaps, "CAP_SYS_ADMIN"))
	require.NoError(t, err)
	assert.Equal(t, allow, run(t, compiled(t, f), native("mount")), "with CAP_SYS_ADMIN")
}

func TestLoadFileRefuses(t *testing.T) {
	for why, text := range map[string]string{
		"not JSON":                `{"defaultAction": "SCMP_ACT_ERRNO",`,
		"no default action":       `{"syscalls": []}`,
		"an unknown action":       `{"defaultAction": "SCMP_ACT_MAYBE"}`,
		"an unknown rule action":  `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["getpid"], "action": "ALLOW"}]}`,
		"an unknown comparison":   `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}`,
		"a seventh argument":      `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`,
		"an errno out of range":   `{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}`,
		"name and names":          `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "getpid", "names": ["getppid"], "action": "SCMP_ACT_ALLOW"}]}`,
		"a bad kernel version":    `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "five"}}]}`,
		"architectures and map":   `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}`,
		"not this machine's arch": `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_S390X"]}`,
	} {
		_, err := LoadFile(writeProfile(t, text), dockerCaps)
		assert.Error(t, err, why)
	}
	_, err := LoadFile(filepath.Join(t.TempDir(), "missing.json"), nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestMajorMinor(t *testing.T) {
	for release, want := range map[string][2]int{
		"6.1.0-18-amd64": {6, 1}, "6.18.0-rc1": {6, 18}, "6.8.0-45-generic": {6, 8}, "5.8": {5, 8}, "6.18-rc1": {6, 18},
	} {
		got, err := majorMinor(release)
		require.NoError(t, err, release)
		assert.Equal(t, want, got, release)
	}
	for _, bad := range []string{"6", "", "x.1", "6.y"} {
		_, err := majorMinor(bad)
		assert.Error(t, err, bad)
	}
}
