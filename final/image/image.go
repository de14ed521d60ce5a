// Package image: API sketch, filled in from step05's formats.go.
package image

import (
	"io"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is an image read from an archive or layout, not yet stored.
type Image struct {
	ID     string   // its config's digest
	Config []byte   // the config blob, as it is
	Layers []Layer  // bottom first
	Names  []string // the names the archive gives it, as Docker shows them
}

// Layer is one layer's blob.
type Layer struct {
	Digest, DiffID, MediaType string
	Size                      int64
	// Open returns the blob; reading it to the end fails when its
	// content does not match Digest.
	Open func() (io.ReadCloser, error)
}

// Read reads an OCI layout (a folder), a docker save tarball, or a bare
// rootfs tarball.
func Read(path string) (*Image, error) { panic("todo") }

// Close releases what Read opened.
func (img *Image) Close() error { panic("todo") }

// ParseConfig reads a config blob.
func ParseConfig(raw []byte) (v1.Image, error) { panic("todo") }

// Reference is an image's name as Docker reads it.
type Reference struct{ Domain, Path, Tag, Digest string }

// ParseReference reads busybox, busybox:1.36, localhost:5000/x, …
func ParseReference(s string) (Reference, error) { panic("todo") }

// String is the full name: docker.io/library/busybox:latest.
func (r Reference) String() string { panic("todo") }

// Familiar is the name as Docker shows it: busybox:latest.
func (r Reference) Familiar() string { panic("todo") }
