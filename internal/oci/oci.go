// Package oci writes images as the OCI image spec lays them out: layers,
// a config that lists their diffIDs, a manifest, and an index that points
// to it. The tests (internal/testkit) and the benchmarks (internal/bench)
// write their images with it; the steps read such images themselves.
package oci

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The media types of what a layout holds.
const (
	MediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar"
)

// Digest is data's sha256 digest, as OCI writes it: a layer tar's is its
// diffID.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Descriptor is how OCI points at a blob.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Platform is what an index says a manifest's image runs on.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// Blob is a file of a layout, named by its digest's hex part.
type Blob struct {
	Descriptor Descriptor
	Data       []byte
}

// Name is where the blob is in a layout: blobs/sha256/HEX.
func (b Blob) Name() string {
	return "blobs/sha256/" + strings.TrimPrefix(b.Descriptor.Digest, "sha256:")
}

func newBlob(mediaType string, data []byte) Blob {
	return Blob{Descriptor{MediaType: mediaType, Digest: Digest(data), Size: len(data)}, data}
}

// Config is an image's config as Docker writes it, with the layers'
// diffIDs and a line of history for each.
func Config(layers [][]byte) ([]byte, error) {
	var diffIDs []string
	var history []map[string]string
	for i, layer := range layers {
		diffIDs = append(diffIDs, Digest(layer))
		history = append(history, map[string]string{"created": "2026-01-01T00:00:00Z", "created_by": fmt.Sprintf("layer %d, by boxcraft", i)})
	}
	return json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
		"config":  map[string]any{"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, "Cmd": []string{"/bin/sh"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": history,
	})
}

// Blobs are an image's blobs, the layers first (in order), then the
// config, then the manifest; and the index.json that points to the
// manifest. Layers are gzip-compressed when zip is true, as registries
// keep them.
func Blobs(layers [][]byte, zip bool) (index []byte, blobs []Blob, err error) {
	var descriptors []Descriptor
	for _, layer := range layers {
		b := newBlob(MediaTypeLayer, layer)
		if zip {
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			if _, err := w.Write(layer); err != nil {
				return nil, nil, err
			}
			if err := w.Close(); err != nil {
				return nil, nil, err
			}
			b = newBlob(MediaTypeLayer+"+gzip", buf.Bytes())
		}
		blobs = append(blobs, b)
		descriptors = append(descriptors, b.Descriptor)
	}
	configData, err := Config(layers)
	if err != nil {
		return nil, nil, err
	}
	config := newBlob(MediaTypeConfig, configData)
	manifestData, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": MediaTypeManifest,
		"config": config.Descriptor, "layers": descriptors})
	if err != nil {
		return nil, nil, err
	}
	manifest := newBlob(MediaTypeManifest, manifestData)
	manifest.Descriptor.Annotations = map[string]string{"org.opencontainers.image.ref.name": "latest"}
	index, err = json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": MediaTypeIndex,
		"manifests": []Descriptor{manifest.Descriptor}})
	return index, append(blobs, config, manifest), err
}

// WriteLayout writes an image of the given layers (bottom first) as an
// OCI image layout in dir, which must not exist yet.
func WriteLayout(dir string, zip bool, layers [][]byte) error {
	index, blobs, err := Blobs(layers, zip)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs/sha256"), 0o755); err != nil {
		return err
	}
	for _, b := range blobs {
		if err := os.WriteFile(filepath.Join(dir, b.Name()), b.Data, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}
