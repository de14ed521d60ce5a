package store

// This file adds images the other way than Load: a new layer on top of a
// stored image (boxcraft commit: a container's upper layer, written as a
// layer's tar by final/archive's Diff), and a new name for an image
// (boxcraft tag).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/boxcraft/boxcraft/final/durable"
	"github.com/boxcraft/boxcraft/final/image"
)

// Commit is what Commit makes an image of.
type Commit struct {
	Parent    string                // the ID of the image the layer goes on ("": none, scratch)
	Layer     func(io.Writer) error // writes the layer's tar
	CreatedBy string                // the history's line: what made the layer
	Comment   string                // docker commit -m
	Author    string                // docker commit -a
	Names     []string              // NAME[:TAG], as the user gave them
}

// Commit stores a new layer, the tar c.Layer writes, and a new image: the
// image c.Parent with the layer on top, its config the parent's with the
// layer's diffID and a line of history added, named c.Names. The layer is
// kept as a plain tar, so its digest is its diffID, and unpacked (and so
// read as a tar, and checked) when a container first needs it (Prepare):
// c.Layer must write a tar, as archive.Diff does. On a failure nothing
// new is left.
func (s *Store) Commit(_ context.Context, c Commit) (ImageRecord, error) {
	names, err := tagNames(c.Names)
	if err != nil {
		return ImageRecord{}, err
	}
	unlock, err := s.lock(layersLock, durable.Shared)
	if err != nil {
		return ImageRecord{}, err
	}
	defer unlock()
	parent, parentConfig, err := s.parentOf(c.Parent) // "" is scratch
	if err != nil {
		return ImageRecord{}, err
	}
	diffID, size, isNew, err := s.writeLayerBlob(c.Layer)
	if err != nil {
		return ImageRecord{}, fmt.Errorf("write the new layer: %w", err)
	}
	rec, err := s.commitImage(parent, parentConfig, diffID, size, c, names)
	if err != nil && isNew {
		// Only this commit had the blob: no image names it yet. A folder
		// of the layer, unpacked, is not this commit's (it unpacks
		// nothing): another image with the same layer, from a blob of
		// its own (gzip), may be using it.
		_ = os.Remove(s.blobPath(diffID))
	}
	return rec, err
}

// commitImage writes the new config with the layer diffID of size bytes,
// and records the image. The layer is unpacked when a container first
// needs it (Prepare): a commit, and a build's step, pay for the tar
// alone.
func (s *Store) commitImage(parent ImageRecord, parentConfig []byte, diffID string, size int64, c Commit, names []string) (ImageRecord, error) {
	now := time.Now().UTC()
	rec := ImageRecord{Created: now, Size: parent.Size + size,
		DiffIDs: append(parent.DiffIDs[:len(parent.DiffIDs):len(parent.DiffIDs)], diffID),
		Digests: append(parent.Digests[:len(parent.Digests):len(parent.Digests)], diffID)}
	config, err := commitConfig(parentConfig, rec.DiffIDs, now, c)
	if err != nil {
		return ImageRecord{}, fmt.Errorf("the config of image %s: %w", parent.ID, err)
	}
	rec.ID = digestOf(config)
	if err := s.storeConfig(rec.ID, config); err != nil {
		return ImageRecord{}, err
	}
	return s.recordImage(rec, names)
}

// writeLayerBlob writes the layer's tar as a blob, named by its digest,
// and says whether the store did not have it before.
func (s *Store) writeLayerBlob(write func(io.Writer) error) (string, int64, bool, error) {
	f, err := os.CreateTemp(s.path("tmp"), tempName())
	if err != nil {
		return "", 0, false, err
	}
	defer os.Remove(f.Name()) // after the rename, there is nothing to remove
	defer f.Close()
	// A tar writer writes a header, the content and the padding of each
	// file apart: buffered, they reach the file in large writes. The
	// digest is made on another core meanwhile.
	hashed := newHashingWriter(f)
	defer hashed.Stop()
	buffered := bufio.NewWriterSize(hashed, 256<<10)
	if err := write(buffered); err != nil {
		return "", 0, false, err
	}
	if err := buffered.Flush(); err != nil {
		return "", 0, false, err
	}
	// fsync before the rename: a crash never leaves a blob that is not
	// what its name says.
	if err := f.Sync(); err != nil {
		return "", 0, false, err
	}
	digest := hashed.Digest()
	info, err := f.Stat()
	if err != nil {
		return "", 0, false, err
	}
	_, statErr := os.Stat(s.blobPath(digest))
	if err := os.Rename(f.Name(), s.blobPath(digest)); err != nil {
		return "", 0, false, err
	}
	return digest, info.Size(), errors.Is(statErr, fs.ErrNotExist), durable.SyncFolder(s.path("blobs", "sha256"))
}

// commitConfig is the parent's config with the new list of diffIDs, the
// time, and a line of history saying where the layer came from. The
// parent's fields are kept as they are, those boxcraft does not know
// included.
func commitConfig(parent []byte, diffIDs []string, now time.Time, c Commit) ([]byte, error) {
	config := map[string]any{}
	decoder := json.NewDecoder(bytes.NewReader(parent))
	decoder.UseNumber() // numbers as they are written, not as float64
	if err := decoder.Decode(&config); err != nil {
		return nil, err
	}
	created := now.Format(time.RFC3339Nano)
	config["created"] = created
	config["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}
	entry := map[string]any{"created": created, "created_by": c.CreatedBy}
	if c.Comment != "" {
		entry["comment"] = c.Comment
	}
	if c.Author != "" {
		config["author"], entry["author"] = c.Author, c.Author
	}
	history, _ := config["history"].([]any)
	config["history"] = append(history, entry)
	return json.Marshal(config)
}

// Tag gives the image ref (a name, an ID or a prefix of one) the name
// name, which moves to it from any image it named before.
func (s *Store) Tag(ref, name string) (ImageRecord, error) {
	names, err := tagNames([]string{name})
	if err != nil {
		return ImageRecord{}, err
	}
	unlock, err := s.lock(namesLock, durable.Exclusive)
	if err != nil {
		return ImageRecord{}, err
	}
	defer unlock()
	rec, _, err := s.resolve(ref)
	if err != nil {
		return rec, err
	}
	all, err := s.names()
	if err != nil {
		return rec, err
	}
	all[names[0]] = rec.ID
	if err := s.writeNames(all); err != nil {
		return rec, err
	}
	rec.Names = namesOf(all, rec.ID)
	return rec, nil
}

// tagNames are the names an image is given, as Docker shows them. A name
// with a digest names content, not a tag: it is refused.
func tagNames(names []string) ([]string, error) {
	for _, name := range names {
		if ref, err := image.ParseReference(name); err == nil && ref.Digest != "" {
			return nil, fmt.Errorf("name %q: a name with a digest cannot be given to an image, only NAME[:TAG]", name)
		}
	}
	return familiarNames(names)
}
