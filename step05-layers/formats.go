// This file reads an image and finds its layers, bottom first, with the
// digests that say what each must be. An image comes in one of two forms:
//
//   - an OCI image layout, a folder: oci-layout, index.json, and every
//     file (blob) in blobs/sha256/, named by its digest. index.json points
//     to the image's manifest, which lists the config and the layers; the
//     config lists each layer's diffID, the digest of its tar unzipped.
//     It is the form the OCI standard gives images, which `docker save`
//     (Docker 25 and later), skopeo and buildah write, and which commit
//     writes (commit.go).
//   - a bare rootfs tarball, as step04 took, plain or gzip: one layer.
//
// docker save's own tarballs, indexes of images for several platforms and
// zstd layers are boxcraft's to read (final/image, final/archive).
//
// A blob is someone else's bytes, and a digest is only a promise: every
// blob is checked against its digest before the runtime uses it.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"golang.org/x/sys/unix"
)

// image is what the runtime needs of an image.
type image struct {
	path   string
	config json.RawMessage // nil for a bare tarball, which has none
	layers []layer         // the bottom first
}

// layer is one layer of an image and where its blob is.
type layer struct {
	name   string // for messages: "layer 2 of 3 (blob sha256:…)", "" in a bare tarball
	digest string // the blob's digest, "" in a bare tarball
	diffID string // the unzipped tar's digest, "" in a bare tarball
	size   int64
	open   func() (io.ReadCloser, error)
}

// descriptor is how OCI points at a blob.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ociIndex is index.json: a list of manifests.
type ociIndex struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []descriptor `json:"manifests"`
}

// ociManifest lists an image's config and layers.
type ociManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

// imageConfig is the part of an image's config the runtime reads.
type imageConfig struct {
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// The media types of OCI's manifests and indexes.
const (
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar"
)

// digestPattern is a sha256 digest, the only kind the runtime checks. Its hex
// part names a file: nothing else may get into the path.
var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// readImage reads the image at path: a folder is an OCI layout, a file
// a bare tarball.
func readImage(path string) (*image, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return readOCILayout(path)
	}
	return bareTarball(path), nil
}

// bareTarball is an image of one layer, the tarball itself (a file, or a
// FIFO: it is read once). It says no digest: there is nothing to check
// it against, and its diffID is known once it is unpacked.
func bareTarball(path string) *image {
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	return &image{path: path, layers: []layer{{open: open}}}
}

// readOCILayout reads an OCI image layout folder.
func readOCILayout(dir string) (*image, error) {
	var layout struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	if err := readLayoutJSON(dir, "oci-layout", &layout); errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("a folder, but not an OCI image layout (it has no oci-layout file): give an unpacked root with --rootfs")
	} else if err != nil {
		return nil, err
	}
	var index ociIndex
	if err := readLayoutJSON(dir, "index.json", &index); err != nil {
		return nil, err
	}
	img := &image{path: dir}
	blob := func(d descriptor) (io.ReadCloser, error) {
		if !digestPattern.MatchString(d.Digest) {
			return nil, fmt.Errorf("digest %q: "+program+" reads only sha256 digests, 64 hex digits", d.Digest)
		}
		return openInLayout(dir, "blobs/sha256/"+digestHex(d.Digest))
	}
	manifest, err := findManifest(index, blob)
	if err != nil {
		return nil, err
	}
	if img.config, err = readBlob(manifest.Config, blob); err != nil {
		return nil, err
	}
	return img, img.addLayers(manifest.Layers, blob)
}

// openInLayout opens the file name of the layout folder dir (oci-layout,
// index.json, blobs/sha256/HEX) for reading. A layout is someone else's
// folder, and the runtime reads it as root:
//
//   - openat2(2) resolves name beneath the folder (RESOLVE_BENEATH) and
//     follows no symlink on the way (RESOLVE_NO_SYMLINKS): a symlink
//     would lead anywhere, such as to the host's /etc/shadow.
//   - O_PATH only finds the file. Opening it to read would wait forever
//     for a FIFO's writer, and would start some devices.
//   - fstat(2) then says what it is, and only a regular file is opened
//     for reading, through /proc/self/fd: the very file that was checked,
//     not whatever its name may lead to by then.
func openInLayout(dir, name string) (*os.File, error) {
	layout, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer layout.Close()
	fd, err := unix.Openat2(int(layout.Fd()), name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	})
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("%s leads through a symlink, which "+program+" does not follow in a layout", name)
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: filepath.Join(dir, name), Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a file: "+program+" reads only files of a layout", name)
	}
	return os.Open("/proc/self/fd/" + strconv.Itoa(fd))
}

// findManifest reads the image's manifest, the first that index.json
// lists. (An index of images for several platforms, which points to an
// index rather than a manifest, is refused: boxcraft picks this
// machine's, final/image.)
func findManifest(index ociIndex, blob func(descriptor) (io.ReadCloser, error)) (ociManifest, error) {
	if len(index.Manifests) == 0 {
		return ociManifest{}, errors.New("index.json lists no image")
	}
	chosen := index.Manifests[0]
	if chosen.MediaType == mediaTypeIndex {
		return ociManifest{}, fmt.Errorf("index.json points to an index of images (%s), not to one image's manifest", chosen.Digest)
	}
	data, err := readBlob(chosen, blob)
	if err != nil {
		return ociManifest{}, err
	}
	var manifest ociManifest
	if err := json.Unmarshal(data, &manifest); err != nil {
		return ociManifest{}, fmt.Errorf("manifest %s: %w", chosen.Digest, err)
	}
	return manifest, nil
}

// readBlob reads a small blob (a manifest, a config) and checks it
// against its digest and size.
func readBlob(d descriptor, open func(descriptor) (io.ReadCloser, error)) ([]byte, error) {
	r, err := open(d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// A manifest or a config is a few kB: 4 MiB is room enough, and keeps
	// a hostile blob from filling the memory.
	data, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if got, _ := sha256Of(bytes.NewReader(data)); got != d.Digest {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, mismatch(got))
	}
	return data, nil
}

// mismatch is the error of a blob whose content is not what its digest
// says.
func mismatch(got string) error {
	return fmt.Errorf("its content does not match its digest: it is %s (changed or damaged)", got)
}

// addLayers adds the manifest's layers, each with its diffID from the
// config, which must list one per layer, and its blob, which blob opens.
func (img *image) addLayers(descriptors []descriptor, blob func(descriptor) (io.ReadCloser, error)) error {
	var config imageConfig
	if err := json.Unmarshal(img.config, &config); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	diffIDs := config.RootFS.DiffIDs
	switch {
	case len(descriptors) == 0:
		return errors.New("the image has no layer")
	case len(descriptors) != len(diffIDs):
		return fmt.Errorf("the config lists %d diffIDs, one per layer, for the manifest's %d", len(diffIDs), len(descriptors))
	}
	for i, d := range descriptors {
		if !digestPattern.MatchString(diffIDs[i]) {
			return fmt.Errorf("config: diffID %q: "+program+" reads only sha256 digests, 64 hex digits", diffIDs[i])
		}
		img.layers = append(img.layers, layer{name: fmt.Sprintf("layer %d of %d (blob %s)", i+1, len(descriptors), d.Digest),
			digest: d.Digest, diffID: diffIDs[i], size: d.Size, open: func() (io.ReadCloser, error) { return blob(d) }})
	}
	return nil
}

// verify checks a layer's blob against its digest, before it is
// unpacked.
func (l *layer) verify() error {
	blob, err := l.open()
	if err != nil {
		return err
	}
	defer blob.Close()
	content := io.Reader(blob)
	if l.size > 0 {
		// A byte past the size the descriptor gives is a mismatch
		// already: reading stops there.
		content = io.LimitReader(content, l.size+1)
	}
	got, err := sha256Of(content)
	if err != nil {
		return err
	}
	if got != l.digest {
		return mismatch(got)
	}
	return nil
}

// readLayoutJSON decodes the JSON file name of the layout folder dir.
func readLayoutJSON(dir, name string, v any) error {
	f, err := openInLayout(dir, name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := json.NewDecoder(io.LimitReader(f, 4<<20)).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
	}
	return nil
}
