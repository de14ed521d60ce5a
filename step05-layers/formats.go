// This file reads an image and finds its layers, bottom first, with the
// digests that say what each must be. An image is an OCI image layout, a
// folder (oci-layout, index.json, and every file, a blob, in blobs/sha256/
// named by its digest: index.json points to the manifest, which lists the
// config and the layers), as skopeo, `docker save` (Docker 25 and later)
// and commit write it; or a bare rootfs tarball, as step04 took: one layer.
// A digest is only a promise: every blob is checked against it before use.
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
	path    string
	config  json.RawMessage // nil for a bare tarball, which has none
	layers  []layer         // the bottom first
	folders []string        // each layer's in the store, once stored (layers.go)
}

// layer is one layer of an image and where its blob is.
type layer struct {
	name   string // for messages: "layer 2 of 3 (blob sha256:…)", "" in a bare tarball
	digest string // the blob's digest, "" in a bare tarball
	diffID string // the unzipped tar's digest, "" in a bare tarball
	open   func() (io.ReadCloser, error)
}

// descriptor is how OCI points at a blob.
type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
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
// a bare tarball, an image of one layer (read once: it may be a FIFO).
// A tarball says no digest: its diffID is known once it is unpacked.
func readImage(path string) (*image, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return readOCILayout(path)
	}
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	return &image{path: path, layers: []layer{{open: open}}}, nil
}

// readOCILayout reads an OCI image layout folder: the manifest index.json
// lists first, its config and its layers. (An index of images for several
// platforms is refused: boxcraft picks this machine's, final/image.)
func readOCILayout(dir string) (*image, error) {
	if err := readLayoutJSON(dir, "oci-layout", &struct{}{}); errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("a folder, but not an OCI image layout (it has no oci-layout file): give an unpacked root with --rootfs")
	} else if err != nil {
		return nil, err
	}
	var index ociIndex
	if err := readLayoutJSON(dir, "index.json", &index); err != nil {
		return nil, err
	}
	switch {
	case len(index.Manifests) == 0:
		return nil, errors.New("index.json lists no image")
	case index.Manifests[0].MediaType == mediaTypeIndex:
		return nil, fmt.Errorf("index.json points to an index of images (%s), not to one image's manifest", index.Manifests[0].Digest)
	}
	var manifest ociManifest
	if _, err := readBlob(dir, index.Manifests[0], &manifest); err != nil {
		return nil, err
	}
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	img := &image{path: dir}
	var err error
	if img.config, err = readBlob(dir, manifest.Config, &config); err != nil {
		return nil, err
	}
	return img, img.addLayers(dir, manifest.Layers, config.RootFS.DiffIDs)
}

// openBlob opens the blob d of the layout folder dir.
func openBlob(dir string, d descriptor) (io.ReadCloser, error) {
	if !digestPattern.MatchString(d.Digest) {
		return nil, fmt.Errorf("digest %q: "+program+" reads only sha256 digests, 64 hex digits", d.Digest)
	}
	return openInLayout(dir, "blobs/sha256/"+digestHex(d.Digest))
}

// openInLayout opens the file name of the layout folder dir for reading.
// A layout is someone else's folder, and the runtime reads it as root:
// openat2(2) resolves name beneath the folder and through no symlink,
// which would lead anywhere (the host's /etc/shadow); O_PATH only finds
// the file, since opening a FIFO would wait for a writer forever. Only a
// regular file, as fstat(2) says, is opened, through /proc/self/fd: the
// very file that was checked.
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

// readBlob reads a small blob (a manifest, a config), checks it against
// its digest, and decodes it into v.
func readBlob(dir string, d descriptor, v any) ([]byte, error) {
	r, err := openBlob(dir, d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// A manifest or a config is a few kB: 4 MiB is room enough, and keeps
	// a hostile blob from filling the memory.
	data, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if got, _ := sha256Of(bytes.NewReader(data)); err == nil && got != d.Digest {
		err = mismatch(got)
	}
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	return data, nil
}

// mismatch is the error of a blob whose content is not what its digest
// says.
func mismatch(got string) error {
	return fmt.Errorf("its content does not match its digest: it is %s (changed or damaged)", got)
}

// addLayers adds the manifest's layers, each with its diffID from the
// config, which must list one per layer.
func (img *image) addLayers(dir string, descriptors []descriptor, diffIDs []string) error {
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
			digest: d.Digest, diffID: diffIDs[i], open: func() (io.ReadCloser, error) { return openBlob(dir, d) }})
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
	got, err := sha256Of(blob)
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
