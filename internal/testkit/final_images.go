package testkit

// The images the Commands suite loads into boxcraft: written as Docker
// writes them (an OCI layout whose index names the image, as `docker
// save` since Docker 25 does, and that same layout in a tarball with
// manifest.json beside it), with a config of the test's choosing, so
// that the suite can check that run honours Env, Entrypoint, Cmd and
// WorkingDir.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/internal/oci"
)

// imageSettings is the "config" part of an image's config: what a
// container of the image runs, and how.
type imageSettings struct {
	Env        []string          `json:"Env,omitempty"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	User       string            `json:"User,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

// dockerPath is Docker's default PATH, which an image's Env usually holds.
const dockerPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// namedImage is an image written for a test: its blobs and the index
// that names it, and its ID (the config's digest, as Docker's image IDs
// are).
type namedImage struct {
	ID    string     // sha256:HEX
	blobs []oci.Blob // layers, config, manifest
	index []byte
	name  string // the full name the index gives it, or ""
}

// newNamedImage makes an image of layers (bottom first) with settings,
// named name (a full reference, docker.io/library/busybox:latest) unless
// name is "".
func newNamedImage(t testing.TB, name string, settings imageSettings, layers ...[]byte) namedImage {
	t.Helper()
	var diffIDs []string
	var layerDescs []oci.Descriptor
	var blobs []oci.Blob
	for _, layer := range layers {
		b := oci.Blob{Descriptor: oci.Descriptor{MediaType: oci.MediaTypeLayer, Digest: oci.Digest(layer), Size: len(layer)}, Data: layer}
		diffIDs = append(diffIDs, b.Descriptor.Digest)
		layerDescs = append(layerDescs, b.Descriptor)
		blobs = append(blobs, b)
	}
	config := jsonBlob(t, oci.MediaTypeConfig, map[string]any{
		"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
		"config": settings,
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	manifest := jsonBlob(t, oci.MediaTypeManifest, map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeManifest,
		"config": config.Descriptor, "layers": layerDescs})
	desc := manifest.Descriptor
	if name != "" {
		// As Docker 25's docker save names an image in its index.
		tag := name[strings.LastIndexByte(name, ':')+1:]
		desc.Annotations = map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag}
	}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeIndex, "manifests": []oci.Descriptor{desc}})
	require.NoError(t, err)
	return namedImage{ID: config.Descriptor.Digest, blobs: append(blobs, config, manifest), index: index, name: name}
}

// jsonBlob is v as a blob of the given media type.
func jsonBlob(t testing.TB, mediaType string, v any) oci.Blob {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return oci.Blob{Descriptor: oci.Descriptor{MediaType: mediaType, Digest: oci.Digest(data), Size: len(data)}, Data: data}
}

// ShortID is an image's or container's ID as Docker shows it: 12 hex
// digits, without "sha256:".
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// layout writes the image as an OCI image layout, in a new folder of the
// test's, and returns its path.
func (img namedImage) layout(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci-layout")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "blobs/sha256"), 0o755))
	for _, b := range img.blobs {
		require.NoError(t, os.WriteFile(filepath.Join(dir, b.Name()), b.Data, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.json"), img.index, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
	return dir
}

// dockerSave writes the image as docker save has since Docker 25: the
// OCI layout, and manifest.json naming its blobs with the image's
// familiar name (repoTag, busybox:latest) as RepoTags.
func (img namedImage) dockerSave(t testing.TB, repoTag string) string {
	t.Helper()
	entries := []TarEntry{{Name: "blobs/", Type: '5'}, {Name: "blobs/sha256/", Type: '5'}}
	var layerPaths []string
	for i, b := range img.blobs {
		entries = append(entries, TarEntry{Name: b.Name(), Body: string(b.Data)})
		if i < len(img.blobs)-2 {
			layerPaths = append(layerPaths, b.Name())
		}
	}
	config := img.blobs[len(img.blobs)-2]
	manifest, err := json.Marshal([]map[string]any{{"Config": config.Name(), "RepoTags": []string{repoTag}, "Layers": layerPaths}})
	require.NoError(t, err)
	repo, tag, _ := strings.Cut(repoTag, ":")
	repositories, err := json.Marshal(map[string]map[string]string{repo: {tag: strings.TrimPrefix(config.Descriptor.Digest, "sha256:")}})
	require.NoError(t, err)
	entries = append(entries, TarEntry{Name: "index.json", Body: string(img.index)},
		TarEntry{Name: "oci-layout", Body: `{"imageLayoutVersion":"1.0.0"}`},
		TarEntry{Name: "manifest.json", Body: string(manifest)},
		TarEntry{Name: "repositories", Body: string(repositories)})
	path := filepath.Join(t.TempDir(), "docker-save.tar")
	require.NoError(t, os.WriteFile(path, Tar(t, entries...), 0o644))
	return path
}

// kitImageID is the ID of an image that OCILayout or DockerSave wrote of
// layers: the digest of the config they write.
func kitImageID(t testing.TB, layers ...[]byte) string {
	t.Helper()
	config, err := oci.Config(layers)
	require.NoError(t, err)
	return oci.Digest(config)
}
