package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/boxcraft/boxcraft/final/durable"
)

// Remove untags ref, and deletes the image when no name is left, as
// docker rmi does: a name is untagged alone; an ID untags every name and
// deletes the image, but an image with several names only when forced.
// A deleted image's layers and blobs go unless another image has them.
// It returns the names untagged, and the image's ID and the diffIDs of
// the layers deleted. The caller checks that no container uses it.
func (s *Store) Remove(ref string, force bool) (untagged, deleted []string, err error) {
	unlockLayers, err := s.lock(layersLock, durable.Exclusive)
	if err != nil {
		return nil, nil, err
	}
	defer unlockLayers()
	unlockNames, err := s.lock(namesLock, durable.Exclusive)
	if err != nil {
		return nil, nil, err
	}
	defer unlockNames()
	rec, name, err := s.resolve(ref)
	if err != nil {
		return nil, nil, err
	}
	untagged = []string{name}
	if name == "" {
		if len(rec.Names) > 1 && !force {
			return nil, nil, fmt.Errorf("image %s has %d names: remove them one by one, or force", shortID(rec.ID), len(rec.Names))
		}
		untagged = rec.Names
	}
	if err := s.untag(untagged); err != nil {
		return nil, nil, err
	}
	if name != "" && len(rec.Names) > 1 {
		return untagged, nil, nil
	}
	deleted, err = s.deleteImage(rec)
	return untagged, deleted, err
}

// untag removes names from names.json.
func (s *Store) untag(names []string) error {
	if len(names) == 0 {
		return nil
	}
	all, err := s.names()
	if err != nil {
		return err
	}
	for _, name := range names {
		delete(all, name)
	}
	return s.writeNames(all)
}

// deleteImage deletes the image's record, then what no image has left.
func (s *Store) deleteImage(rec ImageRecord) ([]string, error) {
	if err := os.Remove(s.path("images", digestHex(rec.ID)+".json")); err != nil {
		return nil, fmt.Errorf("delete image %s: %w", rec.ID, err)
	}
	layers, err := s.collect()
	return append([]string{rec.ID}, layers...), err
}

// Prune deletes the layers and blobs no image has, in every set, and
// what dead processes left in ROOT/tmp. It returns the diffIDs of the
// layers deleted. The caller checks that no container uses them.
func (s *Store) Prune() ([]string, error) {
	unlock, err := s.lock(layersLock, durable.Exclusive)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.removeLeftovers(); err != nil {
		return nil, err
	}
	return s.collect()
}

// collect deletes the layers and blobs that no image's record names,
// and returns the diffIDs of the layers. Its caller holds layersLock
// alone: no one is adding any.
func (s *Store) collect() ([]string, error) {
	records, err := s.records()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, rec := range records {
		used[digestHex(rec.ID)] = true
		for i := range rec.DiffIDs {
			used[digestHex(rec.DiffIDs[i])] = true
			used[digestHex(rec.Digests[i])] = true
		}
	}
	// A folder of links (keepLinks) is named HEX-SET, HEX its image's ID.
	// It goes first: one that is there links layers that all are, even
	// if this removal is cut short.
	linksImage := func(path string) string {
		image, _, _ := strings.Cut(filepath.Base(path), "-")
		return image
	}
	if _, err := removeUnused(s.path("links", "*"), used, linksImage); err != nil {
		return nil, err
	}
	layers, err := removeUnused(s.path("layers", "*", "*"), used, filepath.Base)
	if err != nil {
		return nil, err
	}
	if _, err := removeUnused(s.path("blobs", "sha256", "*"), used, filepath.Base); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var deleted []string
	for _, layer := range layers {
		if id := "sha256:" + filepath.Base(layer); !seen[id] {
			seen[id] = true
			deleted = append(deleted, id)
		}
	}
	return deleted, nil
}

// removeUnused removes the files or folders pattern matches whose key
// (keyOf their path: the name of a layer or blob, the image of a folder
// of links) is not used, and returns them.
func removeUnused(pattern string, used map[string]bool, keyOf func(path string) string) ([]string, error) {
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, path := range paths {
		if used[keyOf(path)] {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			return removed, fmt.Errorf("delete %s: %w", path, err)
		}
		removed = append(removed, path)
	}
	return removed, nil
}

// shortID is an ID as docker images shows it: 12 hex digits.
func shortID(id string) string {
	hex := digestHex(id)
	return hex[:min(12, len(hex))]
}
