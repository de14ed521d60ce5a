package monitor

import (
	"errors"
	"io"
)

// tee writes what the container writes to its log and, when attached, to
// the caller. A failed write to the log drops the log from then on: a
// full disk must neither block the container nor cut its output to the
// caller. A failed write to the caller ends the copy (errCallerGone):
// its reader went (boxcraft run … | head), and stdio.callerWent says so
// to the container.
type tee struct {
	log    io.Writer // nil without one, or once it failed
	caller io.Writer // nil when detached
}

// errCallerGone ends a copy whose caller's side failed.
var errCallerGone = errors.New("the caller's side of the output failed")

func (t *tee) Write(p []byte) (int, error) {
	if t.log != nil {
		if _, err := t.log.Write(p); err != nil {
			t.log = nil
		}
	}
	if t.caller != nil {
		if _, err := t.caller.Write(p); err != nil {
			return 0, errCallerGone
		}
	}
	return len(p), nil
}
