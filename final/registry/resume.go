package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// maxAttempts is how often a blob's stream is opened before a dropped
// connection fails the pull.
const maxAttempts = 4

// blobSource opens a layer's blob: from its start through
// go-containerregistry (which checks its digest as it is read), or,
// after a dropped connection, from where it broke with a Range request,
// when the registry allows (206 Partial Content); the store checks the
// digest of the whole blob either way.
type blobSource struct {
	layer  v1.Layer
	digest string
	client *rangeClient
}

// rangeClient makes, on the first resume only, an HTTP client
// authenticated for the repository's pull scope.
type rangeClient struct {
	ctx  context.Context
	repo name.Repository
	o    Options
	once sync.Once
	http *http.Client
	err  error
}

func (c *rangeClient) get() (*http.Client, error) {
	c.once.Do(func() {
		auth, err := authn.DefaultKeychain.Resolve(c.repo)
		if err != nil {
			c.err = err
			return
		}
		rt, err := transport.NewWithContext(c.ctx, c.repo.Registry, auth, c.o.roundTripper(), []string{c.repo.Scope(transport.PullScope)})
		c.http, c.err = &http.Client{Transport: rt}, err
	})
	return c.http, c.err
}

// open returns the blob from offset, or from an earlier place (the
// start, when the registry ignores Range), and says which.
func (b blobSource) open(offset int64) (io.ReadCloser, int64, error) {
	if offset == 0 {
		rc, err := b.layer.Compressed()
		return rc, 0, err
	}
	client, err := b.client.get()
	if err != nil {
		return nil, 0, err
	}
	reg := b.client.repo.Registry
	url := reg.Scheme() + "://" + reg.RegistryStr() + "/v2/" + b.client.repo.RepositoryStr() + "/blobs/" + b.digest
	req, err := http.NewRequestWithContext(b.client.ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		return resp.Body, offset, nil
	case http.StatusOK:
		return resp.Body, 0, nil
	}
	resp.Body.Close()
	return nil, 0, fmt.Errorf("blob %s from byte %d: %s", b.digest, offset, resp.Status)
}

// resuming reads a blob and, when its stream breaks before the end,
// opens it again where it broke: go-containerregistry retries a request
// that fails, not a body cut short.
type resuming struct {
	src      blobSource
	body     io.ReadCloser
	offset   int64 // bytes handed out so far
	attempts int   // opens left
}

func newResuming(src blobSource) *resuming {
	return &resuming{src: src, attempts: maxAttempts}
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
		if n > 0 {
			return n, nil
		}
	}
}

// reopen opens the blob again at the offset, skipping what the registry
// sends again when it does not take Range.
func (r *resuming) reopen() error {
	var err error
	for r.attempts > 0 {
		r.attempts--
		var from int64
		if r.body, from, err = r.src.open(r.offset); err != nil {
			continue
		}
		if _, err = io.CopyN(io.Discard, r.body, r.offset-from); err == nil {
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
