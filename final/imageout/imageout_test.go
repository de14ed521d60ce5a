package imageout_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/final/image"
	"github.com/boxcraft/boxcraft/final/imageout"
	"github.com/boxcraft/boxcraft/internal/testkit"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// fakeImage is an image of two layers, a gzip one and a plain one, named
// names.
func fakeImage(t *testing.T, names ...string) *image.Image {
	plain := testkit.Tar(t, testkit.TarEntry{Name: "b", Body: "b"})
	tars := [][]byte{testkit.Tar(t, testkit.TarEntry{Name: "a", Body: "a"}), plain}
	blobs := [][]byte{testkit.Gzip(t, tars[0]), plain}
	img := &image.Image{Names: names}
	var diffIDs []string
	for i, blob := range blobs {
		mediaType := v1.MediaTypeImageLayer
		if i == 0 {
			mediaType = v1.MediaTypeImageLayerGzip
		}
		img.Layers = append(img.Layers, image.Layer{Digest: sha(blob), DiffID: sha(tars[i]), Size: int64(len(blob)), MediaType: mediaType,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil }})
		diffIDs = append(diffIDs, sha(tars[i]))
	}
	config, err := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	require.NoError(t, err)
	img.Config, img.ID = config, sha(config)
	return img
}

// What each format writes, final/image reads back: the same image, its
// names, its layers' blobs. An image given twice is written once, with
// both names.
func TestWriteReadsBack(t *testing.T) {
	want := fakeImage(t, "busybox:latest")
	for _, format := range []imageout.Format{imageout.DockerArchive, imageout.OCIArchive, imageout.OCIDir} {
		t.Run(string(format), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			require.NoError(t, imageout.WriteFile(context.Background(), path, format, []*image.Image{want, fakeImage(t, "localhost:5000/b:2")}))
			got, err := image.Read(path)
			require.NoError(t, err)
			defer got.Close()
			assert.Equal(t, want.ID, got.ID)
			names := []string{"busybox:latest"} // index.json's first entry's
			if format == imageout.DockerArchive {
				names = append(names, "localhost:5000/b:2") // manifest.json's RepoTags
			}
			assert.Equal(t, names, got.Names)
			require.Len(t, got.Layers, 2)
			for i, l := range got.Layers {
				r, err := l.Open()
				require.NoError(t, err)
				data, err := io.ReadAll(r)
				r.Close()
				require.NoError(t, err, "the blob reads whole, checked against its digest")
				assert.Equal(t, want.Layers[i].Digest, sha(data))
				assert.Equal(t, want.Layers[i].DiffID, l.DiffID)
			}
			if format == imageout.DockerArchive {
				got.Close()
				manifest := readEntry(t, path, "manifest.json")
				assert.Contains(t, manifest, `"RepoTags":["busybox:latest","localhost:5000/b:2"]`, "one entry, both names")
			}
		})
	}
}

// readEntry reads one file of a tarball, with tar(1)'s reader: the
// tarball is a tarball to other tools too.
func readEntry(t *testing.T, path, name string) string {
	t.Helper()
	r := testkit.RunCmd(t, testkit.HostCommand(t, "tar", "-xOf", path, name))
	require.Equal(t, 0, r.Code, r)
	return r.Stdout
}

// A blob that is not its digest's is refused, and nothing is left.
func TestWriteFileRefusesAChangedBlobAndLeavesNothing(t *testing.T) {
	img := fakeImage(t)
	img.Layers[1].Open = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("changed!")), nil }
	img.Layers[1].Size = int64(len("changed!"))
	dir := t.TempDir()
	err := imageout.WriteFile(context.Background(), filepath.Join(dir, "out.tar"), imageout.DockerArchive, []*image.Image{img})
	require.Error(t, err)
	assert.Contains(t, err.Error(), img.Layers[1].Digest)
	left, _ := os.ReadDir(dir)
	assert.Empty(t, left, "nothing left beside")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "full"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "full", "x"), nil, 0o644))
	err = imageout.WriteFile(context.Background(), filepath.Join(dir, "full"), imageout.OCIDir, []*image.Image{fakeImage(t)})
	require.Error(t, err, "a folder with files is not replaced")
	left, _ = os.ReadDir(dir)
	assert.Len(t, left, 1)
}
