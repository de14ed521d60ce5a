package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestStatBeneathFollowsNoSymlink: a name that a container gives is
// looked at in a layer, whose symlinks the image chose: one on the way
// is refused (ELOOP), never followed out of the layer; one at the end is
// itself.
func TestStatBeneathFollowsNoSymlink(t *testing.T) {
	layer := t.TempDir()
	require.NoError(t, os.Symlink("/", filepath.Join(layer, "out")))
	require.NoError(t, os.Mkdir(filepath.Join(layer, "in"), 0o755))
	_, err := statBeneath(layer, "out/etc")
	assert.ErrorIs(t, err, unix.ELOOP, "a symlink on the way")
	st, err := statBeneath(layer, "out")
	require.NoError(t, err)
	assert.Equal(t, uint32(unix.S_IFLNK), st.Mode&unix.S_IFMT, "the symlink itself")
	st, err = statBeneath(layer, "in")
	require.NoError(t, err)
	assert.Equal(t, uint32(unix.S_IFDIR), st.Mode&unix.S_IFMT)
	_, err = statBeneath(layer, "../etc")
	assert.Error(t, err, "nothing outside the layer")
}
