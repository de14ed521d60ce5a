// Package archive: API sketch, filled in from step04's unpack.go and
// step05's whiteouts.
package archive

import (
	"context"
	"io"

	"github.com/boxcraft/boxcraft/final/spec"
)

// Options say how to unpack.
type Options struct {
	UIDMap, GIDMap []spec.IDMap // owners are shifted into these ranges
	Overlay        bool         // a layer: whiteouts become overlayfs's
}

// Decompress returns r unzipped when it is gzip, as it is when it is a
// plain tar; anything else is refused.
func Decompress(r io.Reader) (io.Reader, error) { panic("todo") }

// Unpack unpacks the tar r into the empty folder dir, safely.
func Unpack(ctx context.Context, r io.Reader, dir string, opt Options) error { panic("todo") }
