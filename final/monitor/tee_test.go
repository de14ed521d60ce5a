package monitor

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failing is a writer whose every write fails, as a full disk's or a
// closed pipe's does.
type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// A log that fails is dropped, and the caller still gets the output: the
// container's writes do not stop for it.
func TestATeeDropsAFailedLog(t *testing.T) {
	var caller bytes.Buffer
	w := &tee{log: failing{}, caller: &caller}
	for _, line := range []string{"one\n", "two\n"} {
		n, err := w.Write([]byte(line))
		require.NoError(t, err)
		assert.Equal(t, len(line), n)
	}
	assert.Equal(t, "one\ntwo\n", caller.String())
	assert.Nil(t, w.log)
}

// A caller that fails ends the copy, and the log has had what was written.
func TestATeeEndsWhenTheCallerGoes(t *testing.T) {
	var log bytes.Buffer
	w := &tee{log: &log, caller: failing{}}
	_, err := w.Write([]byte("one\n"))
	assert.ErrorIs(t, err, errCallerGone)
	assert.Equal(t, "one\n", log.String())
}
