package rootfs

import (
	"os"
	"path/filepath"
	"testing"

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
