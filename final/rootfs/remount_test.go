package rootfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/boxcraft/boxcraft/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestRemountAllReachesSubmounts checks the read-only bind of a kernel
// without mount_setattr (before 5.12), which this one has: remountAll
// makes a mount and the one below it read-only, and leaves a mount
// beside it as it was.
func TestRemountAllReachesSubmounts(t *testing.T) {
	testkit.RequireRoot(t)
	dir := t.TempDir()
	top, sub, beside := filepath.Join(dir, "top"), filepath.Join(dir, "top", "sub"), filepath.Join(dir, "top-beside")
	mount := func(point string) {
		require.NoError(t, os.MkdirAll(point, 0o755))
		require.NoError(t, unix.Mount("tmpfs", point, "tmpfs", 0, "size=1m"))
		t.Cleanup(func() { _ = unix.Unmount(point, unix.MNT_DETACH) })
	}
	mount(top)
	mount(sub)
	mount(beside)
	require.NoError(t, remountAll(top, unix.MS_RDONLY))
	for _, d := range []string{top, sub} {
		err := os.WriteFile(filepath.Join(d, "file"), nil, 0o644)
		assert.ErrorIs(t, err, unix.EROFS, "%s is read-only", d)
	}
	assert.NoError(t, os.WriteFile(filepath.Join(beside, "file"), nil, 0o644), "a mount whose name only starts alike stays writable")
}

// refusedEnv, set to two folders (a:b), makes the test binary a process
// under a sandbox whose seccomp filter refuses mount_setattr(2) with
// EPERM (a container engine's profile older than the call, or one that
// refuses what it does not know), which makes a the read-only bind's
// way (recursive) and b a mount's (remountReadOnly).
const refusedEnv = "BOXCRAFT_ROOTFS_TEST_SETATTR_REFUSED"

func readOnlyRefused(dirs []string) error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // the call's number
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_MOUNT_SETATTR, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return errno
	}
	if err := unix.MountSetattr(unix.AT_FDCWD, dirs[0], 0, &unix.MountAttr{}); err != unix.EPERM {
		return fmt.Errorf("the sandbox: mount_setattr says %v, not EPERM", err)
	}
	if err := setReadOnly(dirs[0], true); err != nil {
		return err
	}
	return remountReadOnly(dirs[1])
}

// TestReadOnlyWhereMountSetattrIsRefused: a sandbox that refuses
// mount_setattr(2) with EPERM, as a profile that does not know it does
// (Docker's refuses what it does not name with EPERM), must not stop a
// read-only bind that a remount makes, as it did before the call.
func TestReadOnlyWhereMountSetattrIsRefused(t *testing.T) {
	testkit.RequireRoot(t)
	dir := t.TempDir()
	top, sub, other := filepath.Join(dir, "top"), filepath.Join(dir, "top", "sub"), filepath.Join(dir, "other")
	for _, point := range []string{top, sub, other} {
		require.NoError(t, os.MkdirAll(point, 0o755))
		require.NoError(t, unix.Mount("tmpfs", point, "tmpfs", unix.MS_NOSUID, "size=1m"))
		t.Cleanup(func() { _ = unix.Unmount(point, unix.MNT_DETACH) })
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), refusedEnv+"="+top+":"+other)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "read-only under a sandbox that refuses mount_setattr: %s", out)
	for _, d := range []string{top, sub, other} {
		err := os.WriteFile(filepath.Join(d, "file"), nil, 0o644)
		assert.ErrorIs(t, err, unix.EROFS, "%s is read-only", d)
		var st unix.Statfs_t
		require.NoError(t, unix.Statfs(d, &st))
		assert.NotZero(t, st.Flags&unix.ST_NOSUID, "%s keeps nosuid", d)
	}
}
