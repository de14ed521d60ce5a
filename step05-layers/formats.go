// This file reads an image's layers, bottom first, and the digests that
// say what each must be, from an OCI image layout (as skopeo, `docker
// save` and commit write it) or a bare rootfs tarball (one layer). A
// digest is only a promise: every blob is checked against it before use.
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
	digest string // the blob's digest, "" in a bare tarball
	diffID string // the unzipped tar's digest, "" in a bare tarball
	open   func() (io.ReadCloser, error)
}

// descriptor is how OCI points at a blob; a manifest, at an image's parts.
type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

// readImage reads the image at path: a folder is an OCI layout, a file a
// bare tarball of one layer, whose diffID is known once it is unpacked.
func readImage(path string) (*image, error) {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return readOCILayout(path)
	}
	// Anything else is a bare tarball: opening it says what is wrong.
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	return &image{path: path, layers: []layer{{open: open}}}, nil
}

// readOCILayout reads the first manifest index.json lists, its config and
// its layers, each with its diffID from the config. (An index of images
// for several platforms is refused: boxcraft picks one, final/image.)
func readOCILayout(dir string) (*image, error) {
	if _, err := readLayoutJSON(dir, "oci-layout", "", &struct{}{}); errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("a folder, but not an OCI image layout (it has no oci-layout file): give an unpacked root with --rootfs")
	} else if err != nil {
		return nil, err
	}
	var index struct{ Manifests []descriptor }
	if _, err := readLayoutJSON(dir, "index.json", "", &index); err != nil {
		return nil, err
	}
	switch {
	case len(index.Manifests) == 0:
		return nil, errors.New("index.json lists no image")
	case index.Manifests[0].MediaType == "application/vnd.oci.image.index.v1+json":
		return nil, fmt.Errorf("index.json points to an index of images (%s), not to one image's manifest", index.Manifests[0].Digest)
	}
	var m manifest
	if _, err := readBlob(dir, index.Manifests[0].Digest, &m); err != nil {
		return nil, err
	}
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	raw, err := readBlob(dir, m.Config.Digest, &config)
	diffIDs := config.RootFS.DiffIDs
	switch {
	case err != nil:
		return nil, err
	case len(m.Layers) == 0:
		return nil, errors.New("the image has no layer")
	case len(m.Layers) != len(diffIDs):
		return nil, fmt.Errorf("the config lists %d diffIDs, one per layer, for the manifest's %d", len(diffIDs), len(m.Layers))
	}
	img := &image{path: dir, config: raw}
	for i, d := range m.Layers {
		if err := checkDigest(d.Digest); err != nil {
			return nil, err
		}
		if err := checkDigest(diffIDs[i]); err != nil {
			return nil, fmt.Errorf("config: diffID: %w", err)
		}
		open := func() (io.ReadCloser, error) { return openInLayout(dir, blobName(d.Digest)) }
		img.layers = append(img.layers, layer{digest: d.Digest, diffID: diffIDs[i], open: open})
	}
	return img, nil
}

// checkDigest refuses a digest that is not sha256's: its hex names a file.
func checkDigest(digest string) error {
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
		return fmt.Errorf("digest %q: "+program+" reads only sha256 digests, 64 hex digits", digest)
	}
	return nil
}

// blobName is where a blob is in a layout: named by its digest.
func blobName(digest string) string { return "blobs/sha256/" + digestHex(digest) }

// openInLayout opens the file name of the layout folder dir, someone
// else's, as root: openat2(2) resolves name beneath the folder and through
// no symlink, which could lead to the host's /etc/shadow; O_PATH only finds
// it (opening a FIFO would wait forever). Only a regular file, as fstat(2)
// says, is opened, through /proc/self/fd: the very file that was checked.
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
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a file: "+program+" reads only files of a layout", name)
	}
	return os.Open("/proc/self/fd/" + strconv.Itoa(fd))
}

// readBlob reads a small blob (a manifest, a config) into v.
func readBlob(dir, digest string, v any) ([]byte, error) {
	if err := checkDigest(digest); err != nil {
		return nil, err
	}
	return readLayoutJSON(dir, blobName(digest), digest, v)
}

// readLayoutJSON decodes the JSON file name of the layout dir into v, once
// checked against digest (unless ""). A manifest or a config is a few kB:
// 4 MiB is room enough, and keeps a hostile file from filling the memory.
func readLayoutJSON(dir, name, digest string, v any) ([]byte, error) {
	f, err := openInLayout(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if got, _ := sha256Of(bytes.NewReader(data)); err == nil && digest != "" && got != digest {
		err = mismatch(got)
	}
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return data, nil
}

// mismatch is the error of a blob whose content is not its digest's.
func mismatch(got string) error {
	return fmt.Errorf("its content does not match its digest: it is %s (changed or damaged)", got)
}

// verify checks a layer's blob against its digest, before it is used.
func (l *layer) verify() error {
	blob, err := l.open()
	if err != nil {
		return err
	}
	defer blob.Close()
	got, err := sha256Of(blob)
	if err == nil && got != l.digest {
		err = mismatch(got)
	}
	return err
}
