package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/boxcraft/boxcraft/final/durable"
	"io"
	"os"
	"slices"

	"github.com/boxcraft/boxcraft/final/image"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// Progress reports long work: what (a layer's blob digest) is done of
// total bytes. It is called as each layer's blob is stored.
type Progress func(what string, done, total int64)

// Load stores img's blobs and layers and names it. Each blob is checked
// against its digest and each layer against its diffID before anything
// is kept under them. A name that named another image moves to this one.
func (s *Store) Load(ctx context.Context, img *image.Image, progress Progress) (ImageRecord, error) {
	return s.LoadConcurrently(ctx, img, progress, 1)
}

// LoadConcurrently is Load with up to n layers fetched and unpacked at
// once: a pull's layers come over the network, each from its own
// stream, and one slow blob need not hold the others up. A blob the
// store has is not read again. Only for images whose layers may be
// opened and read side by side.
func (s *Store) LoadConcurrently(ctx context.Context, img *image.Image, progress Progress, n int) (ImageRecord, error) {
	if progress == nil {
		progress = func(string, int64, int64) {}
	}
	rec, err := newRecord(img)
	if err != nil {
		return rec, err
	}
	names, err := familiarNames(img.Names)
	if err != nil {
		return rec, err
	}
	unlock, err := s.lock(layersLock, durable.Shared)
	if err != nil {
		return rec, err
	}
	defer unlock()
	if err := s.storeLayers(ctx, img.Layers, progress, n); err != nil {
		return rec, err
	}
	// Last: a load that fails leaves no config of an image not stored.
	if err := s.storeConfig(img.ID, img.Config); err != nil {
		return rec, err
	}
	for _, l := range img.Layers {
		rec.Size += folderSize(s.layerPath(asIs, l.DiffID))
	}
	return s.recordImage(rec, names)
}

// storeLayers stores the layers, n at a time; the first failure cancels
// the others, whose half-written blobs and folders go with them.
func (s *Store) storeLayers(ctx context.Context, layers []image.Layer, progress Progress, n int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(n, 1))
	for _, l := range layers {
		g.Go(func() error { return s.storeLayer(ctx, l, progress) })
	}
	return g.Wait()
}

// newRecord checks that img's config is its ID's and lists its layers
// as the config does, and starts its record.
func newRecord(img *image.Image) (ImageRecord, error) {
	rec := ImageRecord{ID: img.ID}
	if got := digestOf(img.Config); got != img.ID {
		return rec, fmt.Errorf("image %s: its config's digest is %s", img.ID, got)
	}
	var config v1.Image
	if err := json.Unmarshal(img.Config, &config); err != nil {
		return rec, fmt.Errorf("image %s: its config: %w", img.ID, err)
	}
	if config.Created != nil {
		rec.Created = *config.Created
	}
	for _, l := range img.Layers {
		if !validDigest(l.Digest) || !validDigest(l.DiffID) {
			return rec, fmt.Errorf("image %s: a layer with blob %q and diffID %q, not sha256 digests", img.ID, l.Digest, l.DiffID)
		}
		rec.DiffIDs = append(rec.DiffIDs, l.DiffID)
		rec.Digests = append(rec.Digests, l.Digest)
	}
	var want []string
	for _, d := range config.RootFS.DiffIDs {
		want = append(want, d.String())
	}
	if !slices.Equal(rec.DiffIDs, want) {
		return rec, fmt.Errorf("image %s: its layers' diffIDs are not its config's", img.ID)
	}
	return rec, nil
}

// familiarNames writes each name as Docker shows it: busybox:latest.
func familiarNames(names []string) ([]string, error) {
	familiar := make([]string, len(names))
	for i, name := range names {
		ref, err := image.ParseReference(name)
		if err != nil {
			return nil, fmt.Errorf("name %q: %w", name, err)
		}
		familiar[i] = ref.Familiar()
	}
	return familiar, nil
}

// storeConfig keeps the image's config as a blob of its own.
func (s *Store) storeConfig(id string, config []byte) error {
	if _, err := os.Stat(s.blobPath(id)); err == nil {
		return nil
	}
	return durable.WriteFile(s.blobPath(id), config)
}

// storeLayer keeps the layer's blob and unpacks it as it is, unless the
// store has them already.
func (s *Store) storeLayer(ctx context.Context, l image.Layer, progress Progress) error {
	if err := s.storeBlob(ctx, l, progress); err != nil {
		return fmt.Errorf("blob %s: %w", l.Digest, err)
	}
	if _, err := s.unpackLayer(ctx, asIs, l.DiffID, l.Digest, nil, nil); err != nil {
		return err
	}
	return nil
}

// storeBlob copies the layer's blob into the store, checked against its
// digest (and size) first: it is written into ROOT/tmp, then renamed.
func (s *Store) storeBlob(ctx context.Context, l image.Layer, progress Progress) error {
	path := s.blobPath(l.Digest)
	if info, err := os.Stat(path); err == nil {
		progress(l.Digest, info.Size(), info.Size())
		return nil
	}
	blob, err := l.Open()
	if err != nil {
		return err
	}
	defer blob.Close()
	f, err := os.CreateTemp(s.path("tmp"), tempName())
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	digest := sha256.New()
	counted := &counter{ctx: ctx, what: l.Digest, total: l.Size, progress: progress}
	size, err := io.Copy(io.MultiWriter(f, digest, counted), blob)
	if err != nil {
		return fmt.Errorf("read it: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(digest.Sum(nil)); got != l.Digest {
		return fmt.Errorf("its content's digest is %s: the blob was changed", got)
	}
	if l.Size > 0 && size != l.Size {
		return fmt.Errorf("%d bytes, where the manifest says %d", size, l.Size)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// counter reports the bytes written through it, and stops the copy
// when ctx is done.
type counter struct {
	ctx         context.Context
	what        string
	done, total int64
	progress    Progress
}

func (c *counter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	c.done += int64(len(p))
	c.progress(c.what, c.done, max(c.total, c.done))
	return len(p), nil
}

// recordImage writes the image's record and moves its names to it.
func (s *Store) recordImage(rec ImageRecord, names []string) (ImageRecord, error) {
	unlock, err := s.lock(namesLock, durable.Exclusive)
	if err != nil {
		return rec, err
	}
	defer unlock()
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return rec, err
	}
	if err := durable.WriteFile(s.path("images", digestHex(rec.ID)+".json"), append(data, '\n')); err != nil {
		return rec, err
	}
	all, err := s.names()
	if err != nil {
		return rec, err
	}
	for _, name := range names {
		all[name] = rec.ID
	}
	if len(names) > 0 {
		if err := s.writeNames(all); err != nil {
			return rec, err
		}
	}
	rec.Names = namesOf(all, rec.ID)
	return rec, nil
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
