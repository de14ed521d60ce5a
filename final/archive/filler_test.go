package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestUnpackNamesTheFileAFullDiskStopped: the small files are filled
// on the filler's goroutine, and a write that fails there (a full disk)
// still stops the unpacking, in one line naming its entry; the filler's
// goroutine ends with it.
func TestUnpackNamesTheFileAFullDiskStopped(t *testing.T) {
	testkit.RequireRoot(t)
	dir := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"))
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	var entries []testkit.TarEntry
	for i := range 200 {
		entries = append(entries, testkit.TarEntry{Name: fmt.Sprintf("f%03d", i), Body: strings.Repeat("x", 10_000)})
	}
	goroutines := runtime.NumGoroutine()
	err := unpack(testkit.Tar(t, asMe(entries...)...), dir, Options{})
	require.Error(t, err)
	assert.Regexp(t, `^entry "f\d{3}": copying its content: .*no space left on device$`, err.Error())
	made, _ := filepath.Glob(filepath.Join(dir, "f*"))
	assert.Less(t, len(made), 200, "the unpacking stopped at the failure, not at the archive's end")
	// Unpack has waited for the filler: its goroutine is gone already.
	assert.LessOrEqual(t, runtime.NumGoroutine(), goroutines, "the filler's goroutine ended with the unpacking")
}

// TestUnpackFillsSmallAndLargeFilesAlike: a file the filler fills and
// one too large for it get the same content, owner, mode and times.
func TestUnpackFillsSmallAndLargeFilesAlike(t *testing.T) {
	dir := t.TempDir()
	small, large := strings.Repeat("s", 100), strings.Repeat("L", fillSize+1)
	data := testkit.Tar(t, asMe(
		testkit.TarEntry{Name: "small", Body: small, Mode: 0o640},
		testkit.TarEntry{Name: "large", Body: large, Mode: 0o640},
	)...)
	require.NoError(t, unpack(data, dir, Options{}))
	for name, body := range map[string]string{"small": small, "large": large} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, body, string(got), name)
		info, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o640), info.Mode().Perm(), name)
		assert.True(t, info.ModTime().Equal(testkit.ArchiveTime), "%s: %s", name, info.ModTime())
	}
}
