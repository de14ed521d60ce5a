package testkit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TreeEntry is what a file in a tree is, as far as unpacking an archive
// decides it: its type and permission bits, owner, times, device
// numbers, symlink target, content, extended attributes, and the other
// names of the same file (hard links).
type TreeEntry struct {
	Mode       string // as ls shows it: -rwsr-xr-x, drwxrwxrwt, …
	UID, GID   uint32
	Mtime      int64 // nanoseconds
	Rdev       string
	Link       string
	SHA256     string
	Xattrs     map[string]string
	HardLinked []string // every name of this file in the tree, when there are several
}

// Tree walks dir without following symlinks and describes each entry by
// its path below dir ("." for dir itself).
func Tree(t testing.TB, dir string) map[string]TreeEntry {
	t.Helper()
	return treeBut(t, dir, "")
}

// treeBut is Tree, leaving out the folder leaveOut below dir ("" for
// none) and what it holds.
func treeBut(t testing.TB, dir, leaveOut string) map[string]TreeEntry {
	t.Helper()
	tree := map[string]TreeEntry{}
	names := map[uint64][]string{} // inode → paths
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == leaveOut {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(dir, path)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := TreeEntry{Mode: info.Mode().String(), UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Nano(), Xattrs: xattrs(t, path)}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
		case unix.S_IFLNK:
			e.Link, err = os.Readlink(path)
		case unix.S_IFREG:
			e.SHA256 = fileSHA256(t, path)
			if st.Nlink > 1 {
				names[st.Ino] = append(names[st.Ino], rel)
			}
		default:
			e.Rdev = fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		tree[rel] = e
		return err
	})
	require.NoError(t, err)
	for _, paths := range names {
		sort.Strings(paths)
		for _, path := range paths {
			e := tree[path]
			e.HardLinked = paths
			tree[path] = e
		}
	}
	return tree
}

// AssertSameTree checks that got holds the same tree as want, with every
// owner's uid and gid moved up by shift (a user namespace's range), but
// for the folders' times: a folder the test or the runtime made (the
// tree's own, proc, sys) has the time it was made.
func AssertSameTree(t testing.TB, want, got string, shift uint32) {
	t.Helper()
	expected, actual := Tree(t, want), Tree(t, got)
	for path, e := range expected {
		e.UID += shift
		e.GID += shift
		expected[path] = e
	}
	for _, tree := range []map[string]TreeEntry{expected, actual} {
		for path, e := range tree {
			if strings.HasPrefix(e.Mode, "d") {
				e.Mtime = 0
				tree[path] = e
			}
		}
	}
	assert.Equal(t, expected, actual)
}

// Listing describes every file below dir but those in the folder leaveOut
// ("" for none), in one string each, for a test to compare before and
// after: what an escape from leaveOut, or into dir, would change. A hard
// link to a file from outside the listing shows too: the file's
// HardLinked names it.
func Listing(t testing.TB, dir, leaveOut string) []string {
	t.Helper()
	var lines []string
	for path, e := range treeBut(t, dir, leaveOut) {
		lines = append(lines, fmt.Sprintf("%s %+v", path, e))
	}
	sort.Strings(lines)
	return lines
}

// xattrs reads a file's extended attributes, without following a symlink.
func xattrs(t testing.TB, path string) map[string]string {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(path, buf)
	require.NoError(t, err, "list the xattrs of %s", path)
	found := map[string]string{}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		value := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(path, name, value)
		require.NoError(t, err, "read xattr %s of %s", name, path)
		found[name] = string(value[:m])
	}
	if len(found) == 0 {
		return nil
	}
	return found
}

// fileSHA256 is the hex SHA-256 of a file's content.
func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// AssertUnpacksAsGNUTar unpacks image with GNU tar and with unpack, into
// a folder of its own owned by shift (as a runtime gives the root to the
// container's root in a user namespace, or 0), checks that the two trees
// are the same with the owners moved up by shift, and returns unpack's.
func AssertUnpacksAsGNUTar(t *testing.T, image []byte, shift int, unpack func(dir string) error) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "image.tar")
	require.NoError(t, os.WriteFile(file, image, 0o644))
	byTar := t.TempDir()
	GNUTarExtract(t, file, byTar)
	dir := t.TempDir()
	if shift != 0 {
		require.NoError(t, os.Chown(dir, shift, shift))
	}
	require.NoError(t, unpack(dir))
	AssertSameTree(t, byTar, dir, uint32(shift))
	return dir
}
