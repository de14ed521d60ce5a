package archive

import (
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is a layer that expands past its Limits: a gzip bomb (a
// few kilobytes of compressed zeros unzip to gigabytes), or a committed
// sparse file whose holes the layer would hold in full.
var ErrTooLarge = errors.New("too large")

// Limits bound what one layer may expand to (issue 20: hostile images).
// Zero fields take the defaults.
type Limits struct {
	// MaxBytes is the most one layer may unzip to, or one committed
	// file hold beyond what it takes on disk.
	MaxBytes int64
	// MaxRatio is the most a layer may unzip to per compressed byte
	// (beyond a first mebibyte), and a committed file's length per byte
	// it takes on disk.
	MaxRatio int64
}

// The defaults: real layers unzip to 2 to 10 times their size, and
// gzip's best, on zeros, is about 1000; 32 GiB is more than any layer
// of a public image.
const (
	DefaultMaxBytes = 32 << 30
	DefaultMaxRatio = 100
	ratioSlack      = 1 << 20 // small layers may be all zeros
)

// orDefaults fills the zero fields.
func (l Limits) orDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultMaxRatio
	}
	return l
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// bounded reads a decompressed stream and stops it, with ErrTooLarge,
// once it is past the limits: so that a bomb fills neither the disk nor
// the time of whoever loads it, and stops after a few megabytes.
type bounded struct {
	r          io.Reader
	compressed *counter // nil for a plain tar: only MaxBytes holds
	limits     Limits
	n          int64
}

func (b *bounded) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limits.MaxBytes {
		return n, fmt.Errorf("the layer unpacks to more than %d bytes: %w", b.limits.MaxBytes, ErrTooLarge)
	}
	if b.compressed != nil && b.n > b.limits.MaxRatio*b.compressed.n+ratioSlack {
		return n, fmt.Errorf("the layer unzips to more than %d times its compressed size (%d bytes from %d), as a gzip bomb does: %w",
			b.limits.MaxRatio, b.n, b.compressed.n, ErrTooLarge)
	}
	return n, err
}

// checkSparse refuses a committed file whose length is far beyond what
// it takes on disk (a file of holes: `truncate -s 1T`): a tar holds it
// in full, zeros and all, and archive/tar writes no sparse entries (nor
// does Unpack read them).
func checkSparse(size, onDisk int64, l Limits) error {
	l = l.orDefaults()
	holes := size - onDisk
	if holes <= ratioSlack {
		return nil
	}
	if holes > l.MaxBytes || size > l.MaxRatio*onDisk+ratioSlack {
		return fmt.Errorf("a sparse file, %d bytes long but %d on disk: a layer would hold its holes as zeros in full: remove it or fill it, and commit again: %w", size, onDisk, ErrTooLarge)
	}
	return nil
}
