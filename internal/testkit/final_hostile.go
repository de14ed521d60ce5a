package testkit

// The hostile images of the Breakout suite: a layer that is a gzip bomb.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/internal/oci"
)

// gzipBomb is an image whose one layer, gzip-compressed, holds a file of
// size zeros: about a thousandth of size on disk before it is unpacked.
func gzipBomb(t *testing.T, name string, size int64) namedImage {
	t.Helper()
	var tarred, zipped bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zipped, gzip.BestCompression)
	require.NoError(t, tarOfZeros(io.MultiWriter(&tarred, zw), size))
	require.NoError(t, zw.Close())
	layer := oci.Blob{Descriptor: oci.Descriptor{MediaType: oci.MediaTypeLayer + "+gzip", Digest: oci.Digest(zipped.Bytes()), Size: zipped.Len()}, Data: zipped.Bytes()}
	config := jsonBlob(t, oci.MediaTypeConfig, map[string]any{
		"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z", "config": imageSettings{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{oci.Digest(tarred.Bytes())}},
	})
	manifest := jsonBlob(t, oci.MediaTypeManifest, map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeManifest,
		"config": config.Descriptor, "layers": []oci.Descriptor{layer.Descriptor}})
	desc := manifest.Descriptor
	desc.Annotations = map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "latest"}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeIndex, "manifests": []oci.Descriptor{desc}})
	require.NoError(t, err)
	return namedImage{ID: config.Descriptor.Digest, blobs: []oci.Blob{layer, config, manifest}, index: index, name: name}
}

// tarOfZeros writes a tar of one file, "zeros", of size zero bytes.
func tarOfZeros(w io.Writer, size int64) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: ArchiveTime}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		return err
	}
	return tw.Close()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// hostileImages: a gzip bomb is refused in one line, naming the
// variables that raise the bounds, and leaves nothing; raised, it loads.
func (s *breakoutSuite) hostileImages(t *testing.T) {
	ShareSandbox(t, s.top)
	img := gzipBomb(t, "docker.io/boxcraft/bomb:latest", 32<<20)
	require.Less(t, len(img.blobs[0].Data), 1<<20, "32 MiB of zeros compress to some 32 KiB")
	dir := img.layout(t)
	r := Run(t, "load", "-i", dir)
	assertFailedOneLine(t, r, 125, "gzip bomb")
	assert.Contains(t, r.Stderr, "BOXCRAFT_MAX_LAYER_RATIO", "says how to raise it")
	cmd := Command(t, "load", "-i", dir)
	cmd.Env = append(cmd.Env, "BOXCRAFT_MAX_LAYER_RATIO=100000")
	r = RunCmd(t, cmd)
	assert.Equal(t, 0, r.Code, "raised, the layer loads:\n%s", r)
}
