package build

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChownIDs: --chown's numbers as they are (a lone UID is the GID),
// names from the image's own /etc/passwd and /etc/group.
func TestChownIDs(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nalice:x:1234:2345::/home/alice:/bin/sh\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nstaff:x:3456:alice\n"), 0o644))
	for chown, want := range map[string][2]int{
		"1000":        {1000, 1000},
		"1000:50":     {1000, 50},
		"alice":       {1234, 2345}, // the primary group, from /etc/passwd
		"alice:staff": {1234, 3456},
		"alice:77":    {1234, 77},
		"5:staff":     {5, 3456},
		"root":        {0, 0},
	} {
		uid, gid, err := chownIDs(root, chown)
		require.NoError(t, err, chown)
		assert.Equal(t, want, [2]int{uid, gid}, chown)
	}
	for chown, want := range map[string]string{
		"bob":         "--chown=bob: unable to find user bob: no matching entries in passwd file",
		"alice:wheel": "--chown=alice:wheel: unable to find group wheel: no matching entries in group file",
		"alice:":      "--chown=alice:",
		"-1":          "unable to find user -1",
	} {
		_, _, err := chownIDs(root, chown)
		if assert.Error(t, err, chown) {
			assert.Contains(t, err.Error(), want, chown)
		}
	}
}
