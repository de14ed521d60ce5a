package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is an image read from an archive or layout, not yet stored.
type Image struct {
	ID     string   // its config's digest
	Config []byte   // the config blob, as it is
	Layers []Layer  // bottom first
	Names  []string // the names the archive gives it, as Docker shows them
	file   *os.File // docker save's tarball, which the layers are read from
}

// Layer is one layer's blob.
type Layer struct {
	Digest, DiffID, MediaType string
	Size                      int64
	// Open returns the blob; reading it to the end fails when its
	// content does not match Digest (or Size). A reader that stops
	// early (at a tar's end-of-archive blocks, say) checks nothing:
	// read it to io.EOF.
	Open func() (io.ReadCloser, error)
}

// maxLayers is the most layers overlayfs stacks (OVL_MAX_STACK).
const maxLayers = 500

// maxJSON bounds a manifest, an index or a config: a few kB each, so
// 4 MiB is room enough, and keeps a hostile blob from filling the memory.
const maxJSON = 4 << 20

// Read reads an OCI layout (a folder), a docker save tarball, or a bare
// rootfs tarball (plain or gzip).
func Read(path string) (*Image, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	var img *Image
	switch {
	case info.IsDir():
		img, err = readLayout(path)
	case info.Mode().IsRegular():
		img, err = readTarball(path)
	default:
		err = errors.New("neither a file nor a folder")
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	return img, nil
}

// Close releases what Read opened.
func (img *Image) Close() error {
	if img.file == nil {
		return nil
	}
	err := img.file.Close()
	img.file = nil
	return err
}

// ParseConfig reads a config blob.
func ParseConfig(raw []byte) (v1.Image, error) {
	var config v1.Image
	if err := json.Unmarshal(raw, &config); err != nil {
		return v1.Image{}, fmt.Errorf("config: %w", err)
	}
	if config.RootFS.Type != "layers" {
		return v1.Image{}, fmt.Errorf("config: rootfs type %q, where an image has \"layers\"", config.RootFS.Type)
	}
	return config, nil
}

// setConfig keeps the config blob, checked against its digest already,
// and returns its diffIDs, which must be one per layer of the manifest's.
func (img *Image) setConfig(raw []byte, digest string, layers int) ([]string, error) {
	config, err := ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	switch n := len(config.RootFS.DiffIDs); {
	case layers == 0:
		return nil, errors.New("the image has no layer")
	case layers != n:
		return nil, fmt.Errorf("the config lists %d diffIDs, one per layer, for the manifest's %d layers", n, layers)
	case layers > maxLayers:
		return nil, fmt.Errorf("the image has %d layers: overlayfs stacks at most %d", layers, maxLayers)
	}
	diffIDs := make([]string, layers)
	for i, d := range config.RootFS.DiffIDs {
		if err := checkDigest(string(d)); err != nil {
			return nil, fmt.Errorf("config: diffID %w", err)
		}
		diffIDs[i] = string(d)
	}
	img.ID, img.Config = digest, raw
	return diffIDs, nil
}
