package image

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/internal/oci"
	"github.com/boxcraft/boxcraft/internal/testkit"
)

func layers(t *testing.T) [][]byte {
	return [][]byte{
		testkit.Tar(t, testkit.TarEntry{Name: "a", Body: "one"}),
		testkit.Tar(t, testkit.TarEntry{Name: "b", Body: "two"}),
		testkit.Tar(t, testkit.TarEntry{Name: "a", Body: "one"}), // a layer twice: docker save links it
	}
}

// readAll reads a layer's blob to its end, as the store does.
func readAll(t *testing.T, l Layer) ([]byte, error) {
	r, err := l.Open()
	require.NoError(t, err)
	defer r.Close()
	return io.ReadAll(r)
}

// Every form gives the layers bottom first with their diffIDs, the
// config as it is and its digest as the ID, and the names Docker shows.
func TestReadEachForm(t *testing.T) {
	ls := layers(t)
	config, err := oci.Config(ls)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		path  string
		names []string
	}{
		"OCI layout":       {testkit.OCILayout(t, false, ls...), nil}, // ref.name "latest" names no repository
		"OCI layout, gzip": {testkit.OCILayout(t, true, ls...), nil},
		"docker save":      {testkit.DockerSave(t, false, ls...), []string{"boxcraft/test:latest"}},
		"docker save, OCI": {testkit.DockerSave(t, true, ls...), []string{"boxcraft/test:latest"}},
	} {
		t.Run(name, func(t *testing.T) {
			img, err := Read(tc.path)
			require.NoError(t, err)
			defer img.Close()
			assert.Equal(t, oci.Digest(config), img.ID)
			assert.Equal(t, config, img.Config)
			assert.Equal(t, tc.names, img.Names)
			require.Len(t, img.Layers, len(ls))
			for i, l := range img.Layers {
				assert.Equal(t, testkit.DiffID(ls[i]), l.DiffID)
				blob, err := readAll(t, l)
				require.NoError(t, err)
				assert.Equal(t, l.Digest, oci.Digest(blob))
				assert.Equal(t, l.Size, int64(len(blob)))
			}
			parsed, err := ParseConfig(img.Config)
			require.NoError(t, err)
			assert.Len(t, parsed.RootFS.DiffIDs, len(ls))
		})
	}
}

// A bare rootfs tarball is one layer, plain or gzip, with a config made
// up for it whose diffID is the tar's digest.
func TestReadBareTarball(t *testing.T) {
	tarball := testkit.DockerExportTar(t, false)
	for name, data := range map[string][]byte{"plain": tarball, "gzip": testkit.Gzip(t, tarball)} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rootfs.tar")
			require.NoError(t, os.WriteFile(path, data, 0o644))
			img, err := Read(path)
			require.NoError(t, err)
			defer img.Close()
			require.Len(t, img.Layers, 1)
			l := img.Layers[0]
			assert.Equal(t, testkit.DiffID(tarball), l.DiffID)
			assert.Equal(t, oci.Digest(data), l.Digest)
			assert.Equal(t, int64(len(data)), l.Size)
			assert.Equal(t, oci.Digest(img.Config), img.ID)
			config, err := ParseConfig(img.Config)
			require.NoError(t, err)
			assert.Equal(t, runtime.GOARCH, config.Architecture)
			assert.Equal(t, []string{l.DiffID}, []string{string(config.RootFS.DiffIDs[0])})
			blob, err := readAll(t, l)
			require.NoError(t, err)
			assert.Equal(t, data, blob)
		})
	}
	t.Run("not a tar", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "text")
		require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("not a tar\n", 100)), 0o644))
		_, err := Read(path)
		assert.ErrorContains(t, err, "neither an image nor a rootfs tarball")
	})
	t.Run("docker save, compressed", func(t *testing.T) {
		data, err := os.ReadFile(testkit.DockerSave(t, false, layers(t)...))
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "save.tar.gz")
		require.NoError(t, os.WriteFile(path, testkit.Gzip(t, data), 0o644))
		_, err = Read(path)
		assert.ErrorContains(t, err, "docker save's tarball, compressed: gunzip it first")
	})
}

// A changed layer blob fails at the end of its reading, naming the blob;
// a changed manifest or config fails Read.
func TestReadChecksDigests(t *testing.T) {
	t.Run("layer", func(t *testing.T) {
		dir := testkit.OCILayout(t, false, layers(t)...)
		img, err := Read(dir)
		require.NoError(t, err)
		blob := filepath.Join(dir, "blobs/sha256", digestHex(img.Layers[1].Digest))
		data, err := os.ReadFile(blob)
		require.NoError(t, err)
		data[600] ^= 1 // in the file's content, the same size
		require.NoError(t, os.WriteFile(blob, data, 0o644))
		_, err = readAll(t, img.Layers[1])
		assert.ErrorContains(t, err, "blob "+img.Layers[1].Digest+": its content does not match its digest")
	})
	t.Run("config", func(t *testing.T) {
		dir := testkit.OCILayout(t, false, layers(t)...)
		img, err := Read(dir)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "blobs/sha256", digestHex(img.ID)), []byte("{}"), 0o644))
		_, err = Read(dir)
		assert.ErrorContains(t, err, "blob "+img.ID+": its content does not match its digest")
	})
}

// A layout's files are opened beneath it, through no symlink, and only
// when they are files (issue 16).
func TestReadLayoutRefusesSymlinksAndNonFiles(t *testing.T) {
	testkit.RequireRoot(t)
	dir := testkit.OCILayout(t, false, layers(t)...)
	outside := filepath.Join(t.TempDir(), "index.json")
	require.NoError(t, os.Rename(filepath.Join(dir, "index.json"), outside))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "index.json")))
	_, err := Read(dir)
	assert.ErrorContains(t, err, "index.json leads through a symlink")

	require.NoError(t, os.Remove(filepath.Join(dir, "index.json")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "index.json"), 0o755))
	_, err = Read(dir)
	assert.ErrorContains(t, err, "index.json is not a file")

	_, err = Read(t.TempDir())
	assert.ErrorContains(t, err, "not an OCI image layout")
}

// In an index of images for several platforms, this machine's is read;
// a full name in ref.name is the image's name.
func TestReadMultiPlatformIndex(t *testing.T) {
	dir := testkit.OCILayout(t, false, layers(t)...)
	var index map[string]any
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &index))
	ours := index["manifests"].([]any)[0].(map[string]any)
	ours["platform"] = map[string]string{"os": "linux", "architecture": runtime.GOARCH}
	other := map[string]any{"mediaType": oci.MediaTypeManifest, "digest": "sha256:" + strings.Repeat("0", 64), "size": 2,
		"platform": map[string]string{"os": "linux", "architecture": "s390x"}}
	inner, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeIndex, "manifests": []any{other, ours}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "blobs/sha256", digestHex(oci.Digest(inner))), inner, 0o644))
	top, err := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{"mediaType": oci.MediaTypeIndex,
		"digest": oci.Digest(inner), "size": len(inner), "annotations": map[string]string{"org.opencontainers.image.ref.name": "docker.io/library/busybox:1.36"}}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.json"), top, 0o644))
	img, err := Read(dir)
	require.NoError(t, err)
	assert.Len(t, img.Layers, 3)
	assert.Equal(t, []string{"busybox:1.36"}, img.Names)
}

func TestParseReference(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	for in, want := range map[string][2]string{
		"busybox":                       {"docker.io/library/busybox:latest", "busybox:latest"},
		"busybox:1.36":                  {"docker.io/library/busybox:1.36", "busybox:1.36"},
		"library/busybox":               {"docker.io/library/busybox:latest", "busybox:latest"},
		"index.docker.io/x/y":           {"docker.io/x/y:latest", "x/y:latest"},
		"boxcraft/test:latest":          {"docker.io/boxcraft/test:latest", "boxcraft/test:latest"},
		"localhost/x":                   {"localhost/x:latest", "localhost/x:latest"},
		"localhost:5000/x":              {"localhost:5000/x:latest", "localhost:5000/x:latest"},
		"registry.example/ns/x:tag":     {"registry.example/ns/x:tag", "registry.example/ns/x:tag"},
		"busybox@" + digest:             {"docker.io/library/busybox@" + digest, "busybox@" + digest},
		"busybox:1@" + digest:           {"docker.io/library/busybox:1@" + digest, "busybox:1@" + digest},
		"Registry.Example:5000/a/b_c-d": {"Registry.Example:5000/a/b_c-d:latest", "Registry.Example:5000/a/b_c-d:latest"},
	} {
		r, err := ParseReference(in)
		require.NoError(t, err, in)
		assert.Equal(t, want[0], r.String(), in)
		assert.Equal(t, want[1], r.Familiar(), in)
	}
	for in, want := range map[string]string{
		"Busybox":               `invalid reference "Busybox": repository name "library/Busybox" must be lower case`,
		"busybox:-bad":          `invalid reference "busybox:-bad": tag "-bad": a tag is up to 128 letters, digits, _, . and -, not starting with . or -`,
		"busybox@sha256:12":     `invalid reference "busybox@sha256:12": digest "sha256:12": only sha256 digests, 64 hex digits, are read`,
		"":                      `invalid reference "": no name`,
		"a//b":                  `invalid reference "a//b": repository name "a//b": lower-case letters and digits, in parts joined by . _ __ - or /`,
		strings.Repeat("a", 64): `invalid reference "` + strings.Repeat("a", 64) + `": 64 hex digits are an image ID, not a name`,
	} {
		_, err := ParseReference(in)
		assert.EqualError(t, err, want, in)
	}
}
