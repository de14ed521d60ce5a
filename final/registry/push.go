package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/boxcraft/boxcraft/final/image"
	"github.com/boxcraft/boxcraft/final/store"
)

// PushOptions are docker push's.
type PushOptions struct {
	Options
	// Progress hears of each blob's bytes as they are uploaded.
	Progress chan v1.Update
}

// Push uploads the stored image named ref to the registry its name
// says, as an OCI manifest over its config and layer blobs as they are
// stored (gzip, zstd or plain tar). go-containerregistry asks the
// registry first for each blob (HEAD) and uploads only those it lacks,
// several at once. It returns the manifest's digest.
func Push(ctx context.Context, s *store.Store, ref string, opts PushOptions) (string, error) {
	parsed, gref, err := opts.reference(ref)
	if err != nil {
		return "", err
	}
	if parsed.Digest != "" {
		return "", fmt.Errorf("push %s: a name with a digest names content already: push NAME[:TAG]", ref)
	}
	stored, err := s.Image(ref)
	if err != nil {
		return "", err
	}
	img, err := asRemote(stored)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	remoteOpts := opts.remoteOptions(ctx)
	if opts.Progress != nil {
		remoteOpts = append(remoteOpts, remote.WithProgress(opts.Progress))
	}
	if err := remote.Write(gref, img, remoteOpts...); err != nil {
		return "", describePush(parsed, err)
	}
	digest, err := img.Digest()
	return digest.String(), err
}

func describePush(ref image.Reference, err error) error {
	if msg := err.Error(); strings.Contains(msg, "UNAUTHORIZED") || strings.Contains(msg, "DENIED") || strings.Contains(msg, "status code 401") {
		return fmt.Errorf("push %s: unauthorized: authentication required (boxcraft login %s)", ref.Familiar(), ref.Domain)
	}
	return fmt.Errorf("push %s: %w", ref.Familiar(), err)
}

// storedImage is a stored image as go-containerregistry's
// CompressedImageCore: an OCI manifest written here, its blobs read
// from the store.
type storedImage struct {
	img      *image.Image
	manifest []byte
}

func asRemote(img *image.Image) (v1.Image, error) {
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(img.Config))},
	}
	var err error
	if m.Config.Digest, err = v1.NewHash(img.ID); err != nil {
		return nil, err
	}
	for _, l := range img.Layers {
		d := v1.Descriptor{MediaType: types.MediaType(l.MediaType), Size: l.Size}
		if d.Digest, err = v1.NewHash(l.Digest); err != nil {
			return nil, err
		}
		m.Layers = append(m.Layers, d)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&storedImage{img: img, manifest: raw})
}

func (s *storedImage) RawConfigFile() ([]byte, error) { return s.img.Config, nil }

func (s *storedImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (s *storedImage) RawManifest() ([]byte, error) { return s.manifest, nil }

func (s *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range s.img.Layers {
		if l.Digest == h.String() {
			return storedBlob{l: l, hash: h}, nil
		}
	}
	return nil, fmt.Errorf("image %s has no layer %s", s.img.ID, h)
}

// storedBlob is one stored layer's blob.
type storedBlob struct {
	l    image.Layer
	hash v1.Hash
}

func (b storedBlob) Digest() (v1.Hash, error)            { return b.hash, nil }
func (b storedBlob) Compressed() (io.ReadCloser, error)  { return b.l.Open() }
func (b storedBlob) Size() (int64, error)                { return b.l.Size, nil }
func (b storedBlob) MediaType() (types.MediaType, error) { return types.MediaType(b.l.MediaType), nil }
