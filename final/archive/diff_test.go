package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/internal/testkit"
)

// upperLayer makes what overlayfs leaves in an upper layer, owned by the
// host's ids of a user namespace (100000 is the container's root): a
// file, two names of one file, a whiteout, an opaque folder, overlayfs's
// bookkeeping on a file, and an attribute of the file's own (trusted.*:
// the v2 VM's root is a tmpfs, which on Debian 12's kernel has no user.*).
func upperLayer(t *testing.T) string {
	testkit.RequireRoot(t)
	upper := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(upper, "etc/opaque"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(upper, "etc/new"), []byte("new"), 0o640))
	require.NoError(t, os.Link(filepath.Join(upper, "etc/new"), filepath.Join(upper, "etc/again")))
	// Device 0:0: overlayfs's whiteout.
	require.NoError(t, unix.Mknod(filepath.Join(upper, "etc/gone"), unix.S_IFCHR, 0))
	require.NoError(t, unix.Setxattr(filepath.Join(upper, "etc/opaque"), "trusted.overlay.opaque", []byte("y"), 0))
	require.NoError(t, unix.Setxattr(filepath.Join(upper, "etc/new"), "trusted.overlay.origin", []byte("x"), 0))
	require.NoError(t, unix.Setxattr(filepath.Join(upper, "etc/new"), "trusted.note", []byte("kept"), 0))
	require.NoError(t, filepath.Walk(upper, func(path string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Lchown(path, 100000, 100007)
		}
		return err
	}))
	return upper
}

var hostRange = []spec.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}

// Diff writes the upper layer as an image's layer: whiteouts as .wh.
// files, the opaque folder with .wh..wh..opq, owners back in the
// container's ids, overlayfs's attributes left out, a second name a hard
// link; and the layer unpacks back into the same upper layer.
func TestDiffWritesALayer(t *testing.T) {
	upper := upperLayer(t)
	var layer bytes.Buffer
	require.NoError(t, Diff(context.Background(), &layer, upper, hostRange, hostRange, LeaveOut{}))
	entries := map[string]*tar.Header{}
	r := tar.NewReader(bytes.NewReader(layer.Bytes()))
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		entries[hdr.Name] = hdr
	}
	for _, name := range []string{"etc/", "etc/new", "etc/again", "etc/.wh.gone", "etc/opaque/", "etc/opaque/.wh..wh..opq"} {
		require.Contains(t, entries, name)
	}
	assert.NotContains(t, entries, "etc/gone", "a whiteout is .wh.NAME, not NAME")
	// A walk goes in lexical order: etc/again is the file's first name.
	first := entries["etc/again"]
	assert.Equal(t, 0, first.Uid, "owners back in the container's ids")
	assert.Equal(t, 7, first.Gid)
	assert.Equal(t, "kept", first.PAXRecords["SCHILY.xattr.trusted.note"])
	assert.NotContains(t, first.PAXRecords, "SCHILY.xattr.trusted.overlay.origin", "overlayfs's attributes are left out")
	assert.Equal(t, byte(tar.TypeLink), entries["etc/new"].Typeflag, "the second name of a file is a hard link")
	assert.Equal(t, "etc/again", entries["etc/new"].Linkname)

	back := t.TempDir()
	require.NoError(t, Unpack(context.Background(), bytes.NewReader(layer.Bytes()), back, Options{Overlay: true, UIDMap: hostRange, GIDMap: hostRange}))
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(back, "etc/gone"), &st))
	assert.Equal(t, uint32(unix.S_IFCHR), st.Mode&unix.S_IFMT, "the whiteout again")
	assert.Equal(t, "y", xattr(t, filepath.Join(back, "etc/opaque"), "trusted.overlay.opaque"))
	require.NoError(t, unix.Lstat(filepath.Join(back, "etc/new"), &st))
	assert.Equal(t, uint32(100000), st.Uid, "shifted into the range again")
}

// A file the container named .wh.… would delete, in a layer: refused,
// by name. So is an owner no map gives.
func TestDiffRefuses(t *testing.T) {
	upper := upperLayer(t)
	require.NoError(t, os.WriteFile(filepath.Join(upper, "etc/.wh.x"), nil, 0o644))
	err := Diff(context.Background(), io.Discard, upper, nil, nil, LeaveOut{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "etc/.wh.x")
	require.NoError(t, os.Remove(filepath.Join(upper, "etc/.wh.x")))

	err = Diff(context.Background(), io.Discard, upper, []spec.IDMap{{ContainerID: 0, HostID: 200000, Size: 10}}, nil, LeaveOut{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "100000")
}

// The files a runtime wrote into the root are left out by name, and so
// is a folder they alone changed (as the layers below have it, AsBelow);
// a folder that holds anything else, whose mode or owner the container
// changed, or that hides the layers below (opaque) stays, with what
// else it holds.
func TestDiffLeavesOut(t *testing.T) {
	testkit.RequireRoot(t)
	files := []string{"etc/hosts", "etc/hostname", "etc/resolv.conf"}
	asBelow := func(folder string, st *unix.Stat_t) bool {
		return folder == "etc" && st.Mode&0o7777 == 0o755 && st.Uid == 0 && st.Gid == 0
	}
	layerOf := func(upper string) []string {
		var layer bytes.Buffer
		require.NoError(t, Diff(context.Background(), &layer, upper, nil, nil, LeaveOut{Files: files, AsBelow: asBelow}))
		var names []string
		r := tar.NewReader(&layer)
		for {
			hdr, err := r.Next()
			if err == io.EOF {
				return names
			}
			require.NoError(t, err)
			names = append(names, hdr.Name)
		}
	}
	write := func(upper, name string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(upper, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(upper, name), []byte(name), 0o644))
	}
	upperWith := func(names ...string) string {
		upper := t.TempDir()
		for _, name := range names {
			write(upper, name)
		}
		require.NoError(t, os.Chmod(filepath.Join(upper, "etc"), 0o755)) // whatever the umask
		return upper
	}

	alone := upperWith(append(files, "data/hosts")...) // the same base name elsewhere is the container's
	assert.Equal(t, []string{"data/", "data/hosts"}, layerOf(alone), "etc held the runtime's files alone")

	more := upperWith(append(files, "etc/motd")...)
	assert.Equal(t, []string{"etc/", "etc/motd"}, layerOf(more), "etc holds the container's motd too")

	chmodded := upperWith(files...)
	require.NoError(t, os.Chmod(filepath.Join(chmodded, "etc"), 0o750))
	assert.Equal(t, []string{"etc/"}, layerOf(chmodded), "the container changed etc's mode: etc stays, without the runtime's files")

	opaque := upperWith("etc/hosts")
	require.NoError(t, unix.Setxattr(filepath.Join(opaque, "etc"), "trusted.overlay.opaque", []byte("y"), 0))
	assert.Equal(t, []string{"etc/", "etc/.wh..wh..opq"}, layerOf(opaque), "an opaque etc hides the image's: it stays")
}
