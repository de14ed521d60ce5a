package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxAttempts is how often a blob's stream is opened before a dropped
// connection fails the pull.
const maxAttempts = 4

// resuming reads a blob and, when its stream breaks before the end,
// opens it again and skips what was read: go-containerregistry retries
// a request that fails, not a body cut short. The digest is checked by
// whoever reads it to the end (go-containerregistry's verifying reader,
// and the store), so a resumed blob is checked whole.
type resuming struct {
	open     func() (io.ReadCloser, error)
	body     io.ReadCloser
	offset   int64 // bytes handed out so far
	attempts int   // opens left
}

func newResuming(open func() (io.ReadCloser, error), attempts int) *resuming {
	return &resuming{open: open, attempts: attempts}
}

func (r *resuming) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			if err := r.reopen(); err != nil {
				return 0, err
			}
		}
		n, err := r.body.Read(p)
		r.offset += int64(n)
		if err == nil || errors.Is(err, io.EOF) || !retryable(err) || r.attempts == 0 {
			return n, err
		}
		r.body.Close()
		r.body = nil
	}
}

// reopen opens the blob again and skips the bytes already handed out.
func (r *resuming) reopen() error {
	var err error
	for r.attempts > 0 {
		r.attempts--
		if r.body, err = r.open(); err != nil {
			continue
		}
		if _, err = io.CopyN(io.Discard, r.body, r.offset); err == nil {
			return nil
		}
		r.body.Close()
		r.body = nil
	}
	return fmt.Errorf("the connection broke %d times: %w", maxAttempts, err)
}

// retryable: a broken stream, not a cancelled pull nor a blob whose
// digest does not match.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return !strings.Contains(err.Error(), "error verifying")
}

func (r *resuming) Close() error {
	if r.body == nil {
		return nil
	}
	return r.body.Close()
}
