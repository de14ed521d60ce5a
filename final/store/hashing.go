package store

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"sync"
)

// hasher makes a SHA-256 digest on a goroutine of its own, and so on
// another core: the hashing of a layer overlaps with its unpacking, or
// with its writing, rather than adding to it.
type hasher struct {
	chunks chan []byte // copies of what was read or written
	done   chan struct{}
	sum    hash.Hash
	stop   sync.Once
}

func newHasher() *hasher {
	h := &hasher{chunks: make(chan []byte, 8), done: make(chan struct{}), sum: sha256.New()}
	go func() {
		defer close(h.done)
		for chunk := range h.chunks {
			h.sum.Write(chunk)
		}
	}()
	return h
}

// feed hands p to the hashing goroutine: a copy, since the caller
// reuses p at once.
func (h *hasher) feed(p []byte) {
	if len(p) > 0 {
		h.chunks <- append([]byte(nil), p...)
	}
}

// Digest ends the hashing and returns the digest of all that was fed, as
// "sha256:HEX".
func (h *hasher) Digest() string {
	h.Stop()
	return "sha256:" + hex.EncodeToString(h.sum.Sum(nil))
}

// Stop ends the hashing goroutine. Call it, or Digest, once the reading
// or writing is over; more than once is harmless.
func (h *hasher) Stop() {
	h.stop.Do(func() { close(h.chunks) })
	<-h.done
}

// hashingReader passes on what it reads from r, and hashes it.
type hashingReader struct {
	r io.Reader
	*hasher
}

func newHashingReader(r io.Reader) hashingReader { return hashingReader{r, newHasher()} }

func (h hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.feed(p[:n])
	return n, err
}

// hashingWriter passes on what is written to w, and hashes it.
type hashingWriter struct {
	w io.Writer
	*hasher
}

func newHashingWriter(w io.Writer) hashingWriter { return hashingWriter{w, newHasher()} }

func (h hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.feed(p[:n])
	return n, err
}
