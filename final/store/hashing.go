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
//
// What is fed is copied into one of a few large buffers, handed to the
// goroutine once full and handed back once hashed: a copy of every read
// of its own (110 MB of garbage for a 110 MB layer) made the garbage
// collector run, return the memory and fault it in again, which cost
// more than the hashing it moved to another core.
type hasher struct {
	full chan []byte // buffers to hash, in order
	free chan []byte // buffers hashed, to fill again
	made int         // buffers made so far, at most hashBuffers
	cur  []byte      // the buffer being filled
	done chan struct{}
	sum  hash.Hash
	stop sync.Once
}

// hashBuffers of hashBufferSize each: enough for the goroutine to lag
// behind a burst of reads without holding them up.
const (
	hashBuffers    = 4
	hashBufferSize = 256 << 10
)

func newHasher() *hasher {
	h := &hasher{full: make(chan []byte, hashBuffers), free: make(chan []byte, hashBuffers),
		done: make(chan struct{}), sum: sha256.New()}
	go func() {
		defer close(h.done)
		for chunk := range h.full {
			h.sum.Write(chunk)
			h.free <- chunk[:0]
		}
	}()
	return h
}

// feed copies p for the hashing goroutine: the caller reuses p at once.
func (h *hasher) feed(p []byte) {
	for len(p) > 0 {
		if h.cur == nil {
			h.cur = h.buffer()
		}
		n := copy(h.cur[len(h.cur):cap(h.cur)], p)
		h.cur, p = h.cur[:len(h.cur)+n], p[n:]
		if len(h.cur) == cap(h.cur) {
			h.full <- h.cur
			h.cur = nil
		}
	}
}

// buffer is an empty buffer to fill: a new one while fewer than
// hashBuffers are made, else the next one the goroutine hands back.
func (h *hasher) buffer() []byte {
	select {
	case b := <-h.free:
		return b
	default:
	}
	if h.made < hashBuffers {
		h.made++
		return make([]byte, 0, hashBufferSize)
	}
	return <-h.free
}

// Digest ends the hashing and returns the digest of all that was fed, as
// "sha256:HEX".
func (h *hasher) Digest() string {
	h.Stop()
	return "sha256:" + hex.EncodeToString(h.sum.Sum(nil))
}

// Stop hashes what is left and ends the hashing goroutine. Call it, or
// Digest, once the reading or writing is over; more than once is
// harmless.
func (h *hasher) Stop() {
	h.stop.Do(func() {
		if len(h.cur) > 0 {
			h.full <- h.cur
		}
		close(h.full)
	})
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
