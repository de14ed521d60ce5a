package network

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// What an image may have put at /etc/hosts is never followed out of its
// place, nor opened unless it is a regular file: a FIFO (whose open
// would block), a device (whose open alone may act), a symlink to
// another of the image's files (which the write would change, and a
// commit keep) or to nowhere are replaced by a regular file; a regular
// file is rewritten in place, the same inode.
func TestChangeInRootWritesOnlyARegularFile(t *testing.T) {
	testkit.RequireRoot(t)
	owner := Owner{UID: 100000, GID: 100000}
	for name, plant := range map[string]func(etc string) error{
		"missing": func(string) error { return nil },
		"fifo":    func(etc string) error { return unix.Mkfifo(filepath.Join(etc, "hosts"), 0o644) },
		"device": func(etc string) error {
			return unix.Mknod(filepath.Join(etc, "hosts"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5)))
		},
		"symlink": func(etc string) error { return os.Symlink("/data/mine", filepath.Join(etc, "hosts")) },
		"dangling": func(etc string) error {
			return os.Symlink("../run/systemd/resolve/stub-resolv.conf", filepath.Join(etc, "hosts"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			etc := filepath.Join(root, "etc")
			require.NoError(t, os.MkdirAll(filepath.Join(root, "data"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(root, "data/mine"), []byte("10.1.2.3 db\n"), 0o644))
			require.NoError(t, os.Mkdir(etc, 0o755))
			require.NoError(t, plant(etc))
			require.NoError(t, writeInRoot(root, "etc/hosts", "127.0.0.1\tlocalhost\n", owner))
			var st unix.Stat_t
			require.NoError(t, unix.Lstat(filepath.Join(etc, "hosts"), &st))
			assert.Equal(t, uint32(unix.S_IFREG), st.Mode&unix.S_IFMT, "a regular file now")
			assert.Equal(t, uint32(100000), st.Uid)
			data, err := os.ReadFile(filepath.Join(etc, "hosts"))
			require.NoError(t, err)
			assert.Equal(t, "127.0.0.1\tlocalhost\n", string(data))
			data, err = os.ReadFile(filepath.Join(root, "data/mine"))
			require.NoError(t, err)
			assert.Equal(t, "10.1.2.3 db\n", string(data), "the file a symlink named is the image's, untouched")
		})
	}

	t.Run("regular", func(t *testing.T) {
		root := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
		hosts := filepath.Join(root, "etc/hosts")
		require.NoError(t, os.WriteFile(hosts, []byte("a\n"), 0o644))
		var before, after unix.Stat_t
		require.NoError(t, unix.Lstat(hosts, &before))
		require.NoError(t, changeInRoot(root, "etc/hosts", owner, func(old string) string { return old + "b\n" }))
		require.NoError(t, unix.Lstat(hosts, &after))
		assert.Equal(t, before.Ino, after.Ino, "rewritten in place: a running container keeps it open")
		data, err := os.ReadFile(hosts)
		require.NoError(t, err)
		assert.Equal(t, "a\nb\n", string(data))
	})

	t.Run("no etc", func(t *testing.T) {
		root := t.TempDir()
		require.NoError(t, writeInRoot(root, "etc/hosts", "x\n", owner))
		var st unix.Stat_t
		require.NoError(t, unix.Lstat(filepath.Join(root, "etc"), &st))
		assert.Equal(t, uint32(100000), st.Uid, "a made /etc is the container's root's")
		assert.Equal(t, uint32(0o755), st.Mode&0o7777)
	})

	t.Run("a folder", func(t *testing.T) {
		root := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(root, "etc/hosts"), 0o755))
		err := writeInRoot(root, "etc/hosts", "x\n", owner)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "/etc/hosts")
	})
}
