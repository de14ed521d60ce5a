package archive

import (
	"archive/tar"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// smallTmpfs is a tmpfs of size bytes, unmounted when the test ends: a
// disk that fills.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	testkit.RequireRoot(t)
	dir := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size))
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// TestUnpackNamesTheFileAFullDiskStopped: the small files are filled
// on the filler's goroutine, and a write that fails there (a full disk)
// still stops the unpacking, in one line naming its entry.
func TestUnpackNamesTheFileAFullDiskStopped(t *testing.T) {
	dir := smallTmpfs(t, "256k")
	var entries []testkit.TarEntry
	for i := range 200 {
		entries = append(entries, testkit.TarEntry{Name: fmt.Sprintf("f%03d", i), Body: strings.Repeat("x", 10_000)})
	}
	err := unpack(testkit.Tar(t, asMe(entries...)...), dir, Options{})
	require.Error(t, err)
	assert.Regexp(t, `^entry "f\d{3}": copying its content: .*no space left on device$`, err.Error())
	made, _ := filepath.Glob(filepath.Join(dir, "f*"))
	assert.Less(t, len(made), 200, "the unpacking stopped at the failure, not at the archive's end")
}

// TestUnpackFailsForTheLastFileFilled: the filler's failure counts when
// it comes after the last entry, and before a later entry's own.
func TestUnpackFailsForTheLastFileFilled(t *testing.T) {
	err := unpack(testkit.Tar(t, asMe(testkit.TarEntry{Name: "only", Body: strings.Repeat("x", 10_000)})...), smallTmpfs(t, "4k"), Options{})
	require.Error(t, err, "one small file, on a disk too small for it")
	assert.Contains(t, err.Error(), `entry "only"`)

	// fill fails on the filler (or small after it); large, in line, would
	// fail too, later: the first to fail is named.
	err = unpack(testkit.Tar(t, asMe(
		testkit.TarEntry{Name: "fill", Body: strings.Repeat("x", 60_000)},
		testkit.TarEntry{Name: "small", Body: strings.Repeat("s", 20_000)},
		testkit.TarEntry{Name: "large", Body: strings.Repeat("L", 200_000)},
	)...), smallTmpfs(t, "64k"), Options{})
	require.Error(t, err)
	assert.Regexp(t, `^entry "(fill|small)": `, err.Error())
}

// TestUnpackFillsAsGNUTarDoes: files the filler fills and files too
// large for it, in a setgid directory, with setuid and setgid bits, owners
// of their own or the directory's group, hard links to them and a name
// made twice, end as GNU tar leaves them, with ids kept and shifted; and
// files in a setgid root ("./") take their own group too.
func TestUnpackFillsAsGNUTarDoes(t *testing.T) {
	testkit.RequireRoot(t)
	if _, err := exec.LookPath("tar"); err != nil {
		testkit.Skip(t, "GNU tar is not installed")
	}
	large := strings.Repeat("L", fillSize+1)
	archives := map[string][]testkit.TarEntry{
		"setgid folder": {
			{Name: "srv/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "srv/shared/", Type: tar.TypeDir, Mode: 0o2775, Gid: 50},
			{Name: "srv/shared/a", Mode: 0o644, Body: "a"},
			{Name: "srv/shared/b", Mode: 0o644, Gid: 50, Body: "b"},
			{Name: "srv/shared/c", Mode: 0o2755, Body: "c"},
			{Name: "srv/shared/d", Mode: 0o6755, Uid: 7, Gid: 50, Body: "d"},
			{Name: "srv/shared/e", Mode: 0o644, Body: large},
			{Name: "srv/shared/f", Mode: 0o4755, Gid: 50, Body: large},
			{Name: "srv/shared/link", Type: tar.TypeLink, Linkname: "srv/shared/d"},
			{Name: "srv/shared/g", Mode: 0o4700, Uid: 1000, Gid: 1000, Body: "g"},
		},
		"setgid root": {
			{Name: "./", Type: tar.TypeDir, Mode: 0o2775, Gid: 50},
			{Name: "./a", Mode: 0o644, Body: "a"},
			{Name: "./e", Mode: 0o644, Body: large},
		},
		"a name made twice": {
			{Name: "a", Mode: 0o4755, Uid: 3, Gid: 4, Body: "first"},
			{Name: "l", Type: tar.TypeLink, Linkname: "a"},
			{Name: "a", Mode: 0o600, Uid: 5, Gid: 6, Body: "second"},
			{Name: "b", Mode: 0o644, Body: "b"},
			{Name: "b/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "b/c", Mode: 0o644, Body: "c"},
		},
	}
	for name, entries := range archives {
		for ids, opt := range map[string]Options{"ids kept": {}, "ids shifted": shifted(100000)} {
			t.Run(name+", "+ids, func(t *testing.T) {
				assertUnpacksAsGNUTar(t, testkit.Tar(t, entries...), opt)
			})
		}
	}
}
