package image

// This file reads an OCI image layout: a folder, or the same files in a
// tarball (an OCI archive).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// opener opens a file of an image by its name: a layout's file, or a
// tarball's entry.
type opener func(name string) (io.ReadCloser, error)

// The annotations that name an image: the OCI one, whose value is a
// full name or (as Docker and the test kit write it) a bare tag, and
// containerd's, always a full name.
const (
	annotationRefName   = v1.AnnotationRefName
	annotationImageName = "io.containerd.image.name"
	maxIndexDepth       = 2 // index.json, then at most one index below it
	notALayout          = "a folder, but not an OCI image layout (it has no oci-layout file)"
)

// readLayout reads an OCI image layout folder.
func readLayout(dir string) (*Image, error) {
	open := func(name string) (io.ReadCloser, error) { return openInLayout(dir, name) }
	r, err := open(v1.ImageLayoutFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New(notALayout)
	}
	if err != nil {
		return nil, err
	}
	r.Close()
	return readOCI(open)
}

// readOCI reads an image through index.json.
func readOCI(open opener) (*Image, error) {
	var index v1.Index
	if err := readJSON(open, "index.json", &index); err != nil {
		return nil, err
	}
	top, manifest, err := findManifest(index, open)
	if err != nil {
		return nil, err
	}
	img := &Image{Names: layoutNames(top)}
	if err := checkDigest(string(manifest.Config.Digest)); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	config, err := readBlob(open, manifest.Config)
	if err != nil {
		return nil, err
	}
	diffIDs, err := img.setConfig(config, string(manifest.Config.Digest), len(manifest.Layers))
	if err != nil {
		return nil, err
	}
	for i, d := range manifest.Layers {
		if err := checkDigest(string(d.Digest)); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		img.Layers = append(img.Layers, Layer{Digest: string(d.Digest), DiffID: diffIDs[i], MediaType: d.MediaType,
			Size: d.Size, Open: blobOpener(open, d)})
	}
	return img, nil
}

// blobOpener opens a layer's blob, checked as it is read.
func blobOpener(open opener, d v1.Descriptor) func() (io.ReadCloser, error) {
	name := "blob " + string(d.Digest)
	return func() (io.ReadCloser, error) {
		r, err := open(blobPath(string(d.Digest)))
		if err != nil {
			return nil, err
		}
		return verified(r, name, string(d.Digest), d.Size), nil
	}
}

// blobPath is where a blob is in a layout; digest is checked already.
func blobPath(digest string) string { return "blobs/sha256/" + digestHex(digest) }

// findManifest picks the image's manifest from index.json: the only one,
// or in an index of images for several platforms, this machine's. It
// returns index.json's descriptor that led there, whose annotations name
// the image.
func findManifest(index v1.Index, open opener) (v1.Descriptor, v1.Manifest, error) {
	var top v1.Descriptor
	for depth := range maxIndexDepth {
		chosen, err := choose(index.Manifests)
		if err != nil && depth == 0 {
			return top, v1.Manifest{}, fmt.Errorf("index.json: %w", err) // the file to look at
		} else if err != nil {
			return top, v1.Manifest{}, err
		}
		if depth == 0 {
			top = chosen
		}
		if err := checkDigest(string(chosen.Digest)); err != nil {
			return top, v1.Manifest{}, fmt.Errorf("manifest: %w", err)
		}
		data, err := readBlob(open, chosen)
		if err != nil {
			return top, v1.Manifest{}, err
		}
		if chosen.MediaType == v1.MediaTypeImageIndex {
			index = v1.Index{}
			if err := json.Unmarshal(data, &index); err != nil {
				return top, v1.Manifest{}, fmt.Errorf("index %s: %w", chosen.Digest, err)
			}
			continue
		}
		var manifest v1.Manifest
		if err := json.Unmarshal(data, &manifest); err != nil {
			return top, v1.Manifest{}, fmt.Errorf("manifest %s: %w", chosen.Digest, err)
		}
		return top, manifest, nil
	}
	return top, v1.Manifest{}, errors.New("index.json: an index of indexes of indexes, which is not followed")
}

// choose picks this machine's manifest from an index's list: the one
// for linux and this architecture when any says its platform, else the
// first.
func choose(manifests []v1.Descriptor) (v1.Descriptor, error) {
	if len(manifests) == 0 {
		return v1.Descriptor{}, errors.New("the index lists no image")
	}
	var platforms []string
	for _, d := range manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			return d, nil
		}
		platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
	}
	if len(platforms) == 0 {
		return manifests[0], nil
	}
	return v1.Descriptor{}, fmt.Errorf("the index has no image for linux/%s, only for %v", runtime.GOARCH, platforms)
}

// layoutNames are the names index.json gives the image, familiar. A bare
// tag ("latest") names no repository, and so no image.
func layoutNames(d v1.Descriptor) []string {
	var names []string
	for _, key := range []string{annotationImageName, annotationRefName} {
		ref, err := ParseReference(d.Annotations[key])
		if err != nil || !isFullName(d.Annotations[key]) {
			continue
		}
		if name := ref.Familiar(); len(names) == 0 || names[0] != name {
			names = append(names, name)
		}
	}
	return names
}

// readBlob reads a manifest, an index or a config, and checks it.
func readBlob(open opener, d v1.Descriptor) ([]byte, error) {
	r, err := open(blobPath(string(d.Digest)))
	if err != nil {
		return nil, err
	}
	return readChecked(r, "blob "+string(d.Digest), string(d.Digest))
}

// readJSON decodes the JSON file name.
func readJSON(open opener, name string, v any) error {
	r, err := open(name)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := json.NewDecoder(io.LimitReader(r, maxJSON)).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// openInLayout opens the file name of the layout folder dir (oci-layout,
// index.json, blobs/sha256/HEX) for reading. A layout is someone else's
// folder, read as root:
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
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV):
		return nil, fmt.Errorf("%s leads through a symlink, which is not followed in a layout", name)
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: filepath.Join(dir, name), Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a file: only files of a layout are read", name)
	}
	return os.Open("/proc/self/fd/" + strconv.Itoa(fd))
}
