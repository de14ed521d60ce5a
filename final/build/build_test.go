package build

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "EMPTY": ""}
	for in, want := range map[string]string{
		"$A/x":          "1/x",
		"${A}x":         "1x",
		"${NONE:-def}":  "def",
		"${EMPTY:-def}": "def",
		"${A:+alt}":     "alt",
		"${NONE:+alt}":  "",
		`\$A`:           "$A",
		"$NONE.":        ".",
	} {
		got, err := expand(in, vars)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := expand("${A", vars)
	assert.Error(t, err)
}

func TestIgnore(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("# comment\n*.log\nbuild/\n**/secret\n!keep.log\n"), 0o644))
	ig, err := readIgnore(dir)
	require.NoError(t, err)
	for path, want := range map[string]bool{
		"a.log": true, "keep.log": false, "sub/a.log": false, "build/x": true,
		"deep/er/secret": true, "secret": true, "src/main.go": false,
	} {
		assert.Equal(t, want, ig.excludes(path), path)
	}
}
