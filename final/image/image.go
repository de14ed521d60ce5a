// Package image: API sketch, filled in from step05's formats.go.
package image

import (
	"fmt"
	"io"
	"strings"

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
// TEMPORARY (store's branch): a tiny stand-in until the image helper's lands.
func ParseReference(s string) (Reference, error) {
	var r Reference
	rest, digest, _ := strings.Cut(s, "@")
	r.Digest = digest
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, r.Tag = rest[:i], rest[i+1:]
	}
	first, path, ok := strings.Cut(rest, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Domain, rest = first, path
	} else {
		r.Domain = "docker.io"
	}
	if r.Domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	if rest == "" || rest != strings.ToLower(rest) || strings.ContainsAny(rest, " \t") {
		return r, fmt.Errorf("invalid reference format: %q", s)
	}
	r.Path = rest
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

// String is the full name: docker.io/library/busybox:latest.
func (r Reference) String() string { return r.Domain + "/" + r.Path + r.suffix() }

func (r Reference) suffix() string {
	s := ""
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Familiar is the name as Docker shows it: busybox:latest.
func (r Reference) Familiar() string {
	if r.Domain != "docker.io" {
		return r.String()
	}
	return strings.TrimPrefix(r.Path, "library/") + r.suffix()
}
