// Package store: API sketch, filled in from step05's layers.go and
// inventory.go.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/boxcraft/boxcraft/final/image"
	"github.com/boxcraft/boxcraft/final/mount"
	"github.com/boxcraft/boxcraft/final/spec"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrNotFound: no image has that name or ID.
var ErrNotFound = errors.New("no such image")

// Store holds layers by diffID and images by ID, with their names.
type Store struct{}

// Open opens (making it when missing) the store at root.
func Open(root string) (*Store, error) { panic("todo") }

// ImageRecord is a stored image.
type ImageRecord struct {
	ID      string    `json:"id"`
	Names   []string  `json:"names"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
	DiffIDs []string  `json:"diffIDs"`
}

// Progress reports long work.
type Progress func(what string, done, total int64)

// Load stores img's blobs and layers and names it.
func (s *Store) Load(ctx context.Context, img *image.Image, progress Progress) (ImageRecord, error) {
	panic("todo")
}

// Images lists the stored images.
func (s *Store) Images() ([]ImageRecord, error) { panic("todo") }

// Lookup finds an image by name or ID prefix.
func (s *Store) Lookup(ref string) (ImageRecord, error) { panic("todo") }

// Config is an image's config.
func (s *Store) Config(id string) (v1.Image, error) { panic("todo") }

// Remove untags ref, and deletes the image when no name is left.
func (s *Store) Remove(ref string, force bool) (untagged, deleted []string, err error) {
	panic("todo")
}

// Prepare plans a container's root in dir.
func (s *Store) Prepare(ctx context.Context, id string, uidMap, gidMap []spec.IDMap, dir string, keep bool) (mount.Overlay, error) {
	panic("todo")
}
