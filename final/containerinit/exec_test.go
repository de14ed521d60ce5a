package containerinit

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lookPath runs in the container, after pivot_root; here it looks in a
// folder of the test's own, with the same rules.
func TestLookPathTellsMissingFromUnrunnable(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data"), nil, 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "folder"), 0o755))

	path, err := lookPath("tool", "/nonexistent:"+dir)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "tool"), path)

	for name, status := range map[string]int{
		"nosuch":                     127,
		filepath.Join(dir, "nosuch"): 127,
		filepath.Join(dir, "folder"): 126,
		"folder":                     126,
		filepath.Join(dir, "data"):   126,
	} {
		_, err := lookPath(name, dir)
		var failure *Failure
		require.True(t, errors.As(err, &failure), "%s: %v", name, err)
		assert.Equal(t, status, failure.Status, name)
	}
}

func TestPathOfTakesTheLastPATH(t *testing.T) {
	assert.Equal(t, DefaultPath, PathOf([]string{"HOME=/root"}))
	assert.Equal(t, "/b", PathOf([]string{"PATH=/a", "PATH=/b"}))
}
