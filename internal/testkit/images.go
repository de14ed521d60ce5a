package testkit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/internal/oci"
)

// The images tests write, layer by layer, in the forms images travel in:
// an OCI image layout, and docker save's tarball, before Docker 25 and
// since. Each form's files are written as Docker and the OCI image spec
// write them, so that a runtime that reads them reads real images.

// DiffID is a layer tar's digest, as an image's config lists it.
func DiffID(layer []byte) string { return oci.Digest(layer) }

// imageConfig is an image's config as Docker writes it.
func imageConfig(t testing.TB, layers [][]byte) []byte {
	t.Helper()
	config, err := oci.Config(layers)
	require.NoError(t, err)
	return config
}

// OCILayout writes an image of the given layers (bottom first) as an OCI
// image layout in a new folder of the test's, and returns its path.
// Layers are gzip-compressed when gzipped is true, as registries keep them.
func OCILayout(t testing.TB, gzipped bool, layers ...[]byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci-image")
	require.NoError(t, oci.WriteLayout(dir, gzipped, layers))
	return dir
}

// DockerSave writes an image of the given layers (bottom first) as
// docker save writes it, in a new tarball of the test's, and returns its
// path. Before Docker 25 (modern false): a folder per layer, named by a
// v1 id, holding VERSION, json and layer.tar, where a layer saved before
// is a symlink to the first; the config as HEX.json; manifest.json and
// repositories. Since Docker 25: an OCI layout, and manifest.json and
// repositories beside it, naming blobs.
func DockerSave(t testing.TB, modern bool, layers ...[]byte) string {
	t.Helper()
	const repo, tag = "boxcraft/test", "latest"
	var entries []TarEntry
	var config, top string
	var paths []string
	if modern {
		index, blobs, err := oci.Blobs(layers, false)
		require.NoError(t, err)
		entries = append(entries, TarEntry{Name: "blobs/", Type: '5', Mode: 0o755}, TarEntry{Name: "blobs/sha256/", Type: '5', Mode: 0o755})
		written := map[string]bool{} // a layer twice is one blob
		for _, b := range blobs {
			if !written[b.Name()] {
				entries = append(entries, TarEntry{Name: b.Name(), Mode: 0o644, Body: string(b.Data)})
				written[b.Name()] = true
			}
		}
		for _, b := range blobs[:len(layers)] {
			paths = append(paths, b.Name())
		}
		config = blobs[len(layers)].Name()
		top = strings.TrimPrefix(blobs[len(blobs)-1].Descriptor.Digest, "sha256:")
		entries = append(entries, TarEntry{Name: "index.json", Mode: 0o644, Body: string(index)},
			TarEntry{Name: "oci-layout", Mode: 0o644, Body: `{"imageLayoutVersion":"1.0.0"}`})
	} else {
		saved := map[string]string{} // diffID → the path of its layer.tar
		parent := ""
		for _, layer := range layers {
			// A v1 id is the digest of the layer's v1 json without its
			// id, the parent's id and this layer's diffID in it.
			v1 := map[string]any{"parent": parent, "created": "2026-01-01T00:00:00Z", "os": "linux",
				"container_config": map[string]any{"Hostname": "", "Cmd": nil}, "layer_id": DiffID(layer)}
			unnamed, err := json.Marshal(v1)
			require.NoError(t, err)
			id := strings.TrimPrefix(DiffID(unnamed), "sha256:")
			v1["id"] = id
			named, err := json.Marshal(v1)
			require.NoError(t, err)
			path := id + "/layer.tar"
			entries = append(entries, TarEntry{Name: id + "/", Type: '5', Mode: 0o755},
				TarEntry{Name: id + "/VERSION", Mode: 0o644, Body: "1.0"},
				TarEntry{Name: id + "/json", Mode: 0o644, Body: string(named)})
			if first, ok := saved[DiffID(layer)]; ok {
				entries = append(entries, TarEntry{Name: path, Type: '2', Linkname: "../" + first})
			} else {
				entries = append(entries, TarEntry{Name: path, Mode: 0o644, Body: string(layer)})
				saved[DiffID(layer)] = path
			}
			paths = append(paths, path)
			parent, top = id, id
		}
		data := imageConfig(t, layers)
		config = strings.TrimPrefix(DiffID(data), "sha256:") + ".json"
		entries = append(entries, TarEntry{Name: config, Mode: 0o644, Body: string(data)})
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": config, "RepoTags": []string{repo + ":" + tag}, "Layers": paths}})
	require.NoError(t, err)
	repositories, err := json.Marshal(map[string]map[string]string{repo: {tag: top}})
	require.NoError(t, err)
	entries = append(entries, TarEntry{Name: "manifest.json", Mode: 0o644, Body: string(manifest)},
		TarEntry{Name: "repositories", Mode: 0o644, Body: string(repositories)})
	path := filepath.Join(t.TempDir(), "docker-save.tar")
	require.NoError(t, os.WriteFile(path, Tar(t, entries...), 0o644))
	return path
}

// BaseLayer is the test image with the probe in it, as a layer's tar.
func BaseLayer(t *testing.T) []byte {
	t.Helper()
	return readFile(t, ImageWithProbe(t))
}

// readFile reads a file of the test's.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}
