package store

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/boxcraft/boxcraft/final/image"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is the stored image ref (a name, an ID or a prefix of one) as
// final/image reads one, the other way round from Load: its config, and
// its layers' blobs as they were loaded or committed (gzip, zstd or plain),
// for boxcraft save to write out. Its Names are ref, as Docker shows it,
// when ref is a name, and none when ref is an ID, as docker save does.
func (s *Store) Image(ref string) (*image.Image, error) {
	rec, name, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	img := &image.Image{ID: rec.ID}
	if name != "" {
		img.Names = []string{name}
	}
	if img.Config, err = os.ReadFile(s.blobPath(rec.ID)); err != nil {
		return nil, fmt.Errorf("read the config of image %s: %w", rec.ID, err)
	}
	for i, digest := range rec.Digests {
		l, err := s.storedLayer(digest, rec.DiffIDs[i])
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", rec.ID, err)
		}
		img.Layers = append(img.Layers, l)
	}
	return img, nil
}

// storedLayer is a stored blob as an image's layer: its size, its media
// type as its first bytes say, and what opens it.
func (s *Store) storedLayer(digest, diffID string) (image.Layer, error) {
	path := s.blobPath(digest)
	f, err := os.Open(path)
	if err != nil {
		return image.Layer{}, fmt.Errorf("blob %s: %w", digest, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return image.Layer{}, fmt.Errorf("blob %s: %w", digest, err)
	}
	magic := make([]byte, 4)
	_, _ = io.ReadFull(f, magic) // a blob too short for a magic is a plain tar
	mediaType := v1.MediaTypeImageLayer
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		mediaType = v1.MediaTypeImageLayerGzip
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		mediaType = v1.MediaTypeImageLayerZstd
	}
	return image.Layer{Digest: digest, DiffID: diffID, MediaType: mediaType, Size: info.Size(),
		Open: func() (io.ReadCloser, error) { return os.Open(path) }}, nil
}

// HasBlob tells whether the store keeps the blob with that digest: a
// pull does not fetch it again.
func (s *Store) HasBlob(digest string) bool {
	if !validDigest(digest) {
		return false
	}
	_, err := os.Stat(s.blobPath(digest))
	return err == nil
}
