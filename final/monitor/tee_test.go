package monitor

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failing is a writer whose every write fails with err.
type failing struct{ err error }

func (f failing) Write([]byte) (int, error) { return 0, f.err }

var errFull = errors.New("no space left on device")

// A log that fails is dropped, and the caller still gets the output: the
// container's writes do not stop for it.
func TestATeeDropsAFailedLog(t *testing.T) {
	var caller bytes.Buffer
	w := &tee{log: failing{errFull}, caller: &caller}
	for _, line := range []string{"one\n", "two\n"} {
		n, err := w.Write([]byte(line))
		require.NoError(t, err)
		assert.Equal(t, len(line), n)
	}
	assert.Equal(t, "one\ntwo\n", caller.String())
	assert.Nil(t, w.log)
}

// A caller whose reader went (EPIPE) ends the copy, and the log has had
// what was written.
func TestATeeEndsWhenTheCallersReaderGoes(t *testing.T) {
	var log bytes.Buffer
	w := &tee{log: &log, caller: failing{&pathError{syscall.EPIPE}}}
	_, err := w.Write([]byte("one\n"))
	assert.ErrorIs(t, err, errCallerGone)
	assert.Equal(t, "one\n", log.String())
}

// A caller that fails otherwise (a full disk under run … > file) is
// dropped, and the log gets the rest.
func TestATeeDropsACallerThatFails(t *testing.T) {
	var log bytes.Buffer
	w := &tee{log: &log, caller: failing{errFull}}
	for _, line := range []string{"one\n", "two\n"} {
		_, err := w.Write([]byte(line))
		require.NoError(t, err)
	}
	assert.Equal(t, "one\ntwo\n", log.String())
	assert.Equal(t, errFull, w.callerErr)
}

// pathError wraps an errno as a write to a file's does.
type pathError struct{ errno syscall.Errno }

func (e *pathError) Error() string { return "write /dev/stdout: " + e.errno.Error() }
func (e *pathError) Unwrap() error { return e.errno }
