package logs

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStreamsAreLoggedLineByLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	f, err := Create(path)
	require.NoError(t, err)
	out, errs := f.Stream("stdout"), f.Stream("stderr")
	_, _ = out.Write([]byte("one\ntw"))
	_, _ = errs.Write([]byte("oops\n"))
	_, _ = out.Write([]byte("o\nprompt$ "))
	require.NoError(t, out.Close())
	require.NoError(t, errs.Close())
	require.NoError(t, f.Close())

	var got []string
	require.NoError(t, Read(path, nil, func(e Entry) error {
		assert.False(t, e.Time.IsZero())
		got = append(got, e.Stream+":"+e.Log)
		return nil
	}))
	assert.Equal(t, []string{"stdout:one\n", "stderr:oops\n", "stdout:two\n", "stdout:prompt$ "}, got)
}

func TestLongLinesAreSplit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	f, err := Create(path)
	require.NoError(t, err)
	w := f.Stream("stdout")
	_, _ = w.Write([]byte(strings.Repeat("x", 40<<10) + "\n"))
	require.NoError(t, w.Close())
	n, total := 0, 0
	require.NoError(t, Read(path, nil, func(e Entry) error { n++; total += len(e.Log); return nil }))
	assert.Greater(t, n, 1)
	assert.Equal(t, 40<<10+1, total)
}

func TestFollowReadsUntilDone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	f, err := Create(path)
	require.NoError(t, err)
	w := f.Stream("stdout")
	_, _ = w.Write([]byte("first\n"))
	polls := 0
	var got []string
	require.NoError(t, Read(path, func() bool {
		polls++
		if polls == 2 {
			_, _ = w.Write([]byte("second\n")) // written while following
		}
		return polls >= 3
	}, func(e Entry) error { got = append(got, e.Log); return nil }))
	assert.Equal(t, []string{"first\n", "second\n"}, got)
}
