// This file is the commit command: it turns what a kept container changed, its
// upper layer, into a new layer, and writes a new image, the container's
// image with that layer on top, as an OCI layout. This is how every step
// of making an image (each RUN of a Dockerfile) makes a layer: run a
// container, keep what it changed, commit.
//
// The upper layer is overlayfs's record of the changes, and the new layer
// is the image's: overlayfs's whiteouts become .wh. files again (see
// layers.go), and the owners move back out of the user namespace's range.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const commitUsage = "usage: " + program + " commit CONTAINER IMAGE_OUT (CONTAINER: a folder " + program + " run --keep kept, e.g. kept-20260101-120000-4242; IMAGE_OUT: a new folder, for the OCI layout)"

// commit writes the image IMAGE_OUT: the kept container's image, and its
// upper layer on top.
func commit(args []string) error {
	if len(args) != 2 {
		return errors.New(commitUsage)
	}
	out, err := filepath.Abs(args[1])
	if err != nil {
		return err
	}
	if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is there already: name a new folder for the image", args[1])
	}
	dir, err := findKept(args[0])
	if err != nil {
		return err
	}
	var rec containerRecord
	data, err := os.ReadFile(filepath.Join(dir, "container.json"))
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil {
		return fmt.Errorf("container %s: %w", args[0], err)
	}
	base, err := readImage(rec.Image)
	if err != nil {
		return fmt.Errorf("the container's image %s: %w", rec.Image, err)
	}
	// Mkdir, not MkdirAll: IMAGE_OUT is a new folder, in one that exists.
	if err := os.Mkdir(out, 0o755); err != nil {
		return fmt.Errorf("make the image: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(out, "blobs/sha256"), 0o755); err != nil {
		os.RemoveAll(out)
		return fmt.Errorf("make the image: %w", err)
	}
	added, err := writeImage(out, base, rec, dir)
	if err != nil {
		os.RemoveAll(out)
		return err
	}
	fmt.Printf("committed %s as %s: %d layers, the new one %s\n", filepath.Base(dir), out, len(base.layers)+1, added)
	return nil
}

// findKept finds a kept container's folder by its name, or its path.
func findKept(name string) (string, error) {
	dir := name
	if !strings.Contains(name, "/") {
		dir = filepath.Join(stateRoot, name)
	}
	dir, err := filepath.Abs(strings.TrimSuffix(filepath.Clean(dir), "/upper"))
	if err != nil {
		return "", err
	}
	if filepath.Dir(dir) != stateRoot || !strings.HasPrefix(filepath.Base(dir), "kept-") {
		return "", fmt.Errorf("%s is no kept container: name a kept-… folder in %s ("+program+" run --keep makes one)", name, stateRoot)
	}
	if _, err := os.Stat(filepath.Join(dir, "upper")); err != nil {
		return "", fmt.Errorf("container %s: %w", name, err)
	}
	return dir, nil
}

// writeImage writes the layout's blobs (the base image's layers, copied
// and checked, and the new one), config, manifest and index, and returns
// the new layer's diffID.
func writeImage(out string, base *image, rec containerRecord, dir string) (string, error) {
	if len(base.layers) != len(rec.DiffIDs) {
		return "", fmt.Errorf("the image %s has changed since the container ran: it has %d layers, not %d", base.path, len(base.layers), len(rec.DiffIDs))
	}
	var layers []descriptor
	for i := range base.layers {
		d, err := copyLayer(out, &base.layers[i], rec.DiffIDs[i])
		if err != nil {
			return "", fmt.Errorf("the image %s: %w", base.path, err)
		}
		layers = append(layers, d)
	}
	top, err := writeBlob(out, mediaTypeLayer, func(w io.Writer) error { return writeLayer(w, filepath.Join(dir, "upper"), rec) })
	if err != nil {
		return "", fmt.Errorf("the new layer: %w", err)
	}
	layers = append(layers, top)
	diffIDs := append(rec.DiffIDs, top.Digest) // a plain tar: its diffID is its digest
	config, err := newConfig(base.config, diffIDs, program+" commit "+filepath.Base(dir))
	if err != nil {
		return "", err
	}
	manifest := ociManifest{SchemaVersion: 2, MediaType: mediaTypeManifest, Layers: layers}
	if manifest.Config, err = writeJSONBlob(out, mediaTypeConfig, config); err != nil {
		return "", err
	}
	m, err := writeJSONBlob(out, mediaTypeManifest, manifest)
	if err != nil {
		return "", err
	}
	index := ociIndex{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []descriptor{m}}
	if err := writeJSON(filepath.Join(out, "index.json"), index); err != nil {
		return "", err
	}
	if err := writeJSON(filepath.Join(out, "oci-layout"), map[string]string{"imageLayoutVersion": "1.0.0"}); err != nil {
		return "", err
	}
	return top.Digest, nil
}

// copyLayer copies a layer's blob into the layout, and checks that it is
// the layer the container ran with, whole.
func copyLayer(out string, l *layer, diffID string) (descriptor, error) {
	blob, err := l.open()
	if err != nil {
		return descriptor{}, err
	}
	defer blob.Close()
	buffered := bufio.NewReader(blob)
	mediaType := mediaTypeLayer
	if magic, _ := buffered.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		mediaType += "+gzip"
	}
	unzipped := sha256.New()
	d, err := writeBlob(out, mediaType, func(w io.Writer) error {
		// The blob, and at the same time, unzipped, into the digest.
		r, err := unzip(io.TeeReader(buffered, w))
		if err == nil {
			_, err = io.Copy(unzipped, r)
		}
		return err
	})
	if err != nil {
		return descriptor{}, err
	}
	if got := "sha256:" + hex.EncodeToString(unzipped.Sum(nil)); got != diffID {
		return descriptor{}, fmt.Errorf("the layer the container ran with was %s, the image's is now %s: the image has changed", diffID, got)
	}
	if l.digest != "" && d.Digest != l.digest {
		return descriptor{}, fmt.Errorf("%s: %w", l.name, mismatch(d.Digest))
	}
	return d, nil
}

// writeBlob writes what write writes into the layout's blobs, named by
// its digest, and returns its descriptor.
func writeBlob(out, mediaType string, write func(io.Writer) error) (descriptor, error) {
	blobs := filepath.Join(out, "blobs/sha256")
	file, err := os.CreateTemp(blobs, "writing-")
	if err != nil {
		return descriptor{}, err
	}
	defer os.Remove(file.Name()) // after the rename, there is nothing to remove
	defer file.Close()
	digest := sha256.New()
	// Buffered: a tar writer writes a header, its padding and each file
	// apart, and thousands of small writes would each be a write(2).
	buffered := bufio.NewWriterSize(file, 1<<20)
	if err := write(io.MultiWriter(buffered, digest)); err != nil {
		return descriptor{}, err
	}
	if err := buffered.Flush(); err != nil {
		return descriptor{}, err
	}
	size, err := file.Seek(0, io.SeekCurrent) // the blob's size: where writing ended
	if err != nil {
		return descriptor{}, err
	}
	if err := file.Chmod(0o644); err != nil {
		return descriptor{}, err
	}
	hexDigest := hex.EncodeToString(digest.Sum(nil))
	if err := os.Rename(file.Name(), filepath.Join(blobs, hexDigest)); err != nil {
		return descriptor{}, err
	}
	return descriptor{MediaType: mediaType, Digest: "sha256:" + hexDigest, Size: size}, nil
}

// writeJSON writes v, as JSON, to the file path.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(data, '\n'), 0o600)
	}
	return err
}

// writeJSONBlob writes v, as JSON, as a blob.
func writeJSONBlob(out, mediaType string, v any) (descriptor, error) {
	return writeBlob(out, mediaType, func(w io.Writer) error { return json.NewEncoder(w).Encode(v) })
}

// fileID tells one file from every other: its device and inode numbers.
type fileID struct{ dev, ino uint64 }

// newConfig is the base image's config with the new layer's diffID added,
// and a line of history saying where it came from. A bare tarball had no
// config: the new image gets the least one an OCI config has.
func newConfig(base json.RawMessage, diffIDs []string, createdBy string) (map[string]any, error) {
	config := map[string]any{"architecture": runtime.GOARCH, "os": "linux"}
	if base != nil {
		decoder := json.NewDecoder(bytes.NewReader(base))
		decoder.UseNumber() // numbers as they are written, not as float64
		if err := decoder.Decode(&config); err != nil {
			return nil, fmt.Errorf("the image's config: %w", err)
		}
	}
	config["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}
	history, _ := config["history"].([]any)
	config["history"] = append(history, map[string]any{"created": time.Now().UTC().Format(time.RFC3339), "created_by": createdBy})
	return config, nil
}

// writeLayer writes the upper layer as an image layer's tar: its files as
// they are, overlayfs's whiteouts (character devices 0:0) as .wh.NAME,
// and an opaque folder with .wh..wh..opq in it. With a user namespace,
// owners move back from the host's ids to the container's. A file of the
// container's own named .wh.… is refused: the layer would delete a file.
func writeLayer(w io.Writer, upper string, rec containerRecord) error {
	archive := tar.NewWriter(w)
	names := map[fileID]string{} // the first name of each file with several
	err := filepath.WalkDir(upper, func(path string, _ fs.DirEntry, err error) error {
		if err != nil || path == upper {
			return err
		}
		name, _ := filepath.Rel(upper, path)
		// In a layer, .wh.NAME deletes NAME, and .wh..wh..opq hides a
		// folder's lower content: a file the container named so would
		// silently delete what it never deleted.
		if strings.HasPrefix(filepath.Base(name), whiteoutPrefix) {
			return fmt.Errorf("%s: the container made a file whose name starts with %s, which an image layer reads as a whiteout (a deletion): rename it, and commit again", name, whiteoutPrefix)
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			// A whiteout: an empty file named .wh.NAME says "deleted".
			return archive.WriteHeader(whiteoutHeader(filepath.Join(filepath.Dir(name), whiteoutPrefix+filepath.Base(name)), st))
		}
		hdr, err := layerHeader(path, name, st, rec, names)
		if err != nil || hdr == nil {
			return err
		}
		if err := archive.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			if err := copyFile(archive, path); err != nil {
				return err
			}
		}
		if hdr.Typeflag == tar.TypeDir && isOpaque(path) {
			return archive.WriteHeader(whiteoutHeader(filepath.Join(name, opaqueWhiteout), st))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("the upper layer: %w", err)
	}
	return archive.Close()
}

// whiteoutHeader is the header of a whiteout file: empty, root's, with
// the time of the change.
func whiteoutHeader(name string, st unix.Stat_t) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: time.Unix(st.Mtim.Unix()), Format: tar.FormatPAX}
}

// layerHeader is the tar header of one file of the upper layer, or nil
// for a socket, which no archive holds.
func layerHeader(path, name string, st unix.Stat_t, rec containerRecord, names map[fileID]string) (*tar.Header, error) {
	hdr := &tar.Header{Name: name, Mode: int64(st.Mode & 0o7777), ModTime: time.Unix(st.Mtim.Unix()),
		AccessTime: time.Unix(st.Atim.Unix()), Format: tar.FormatPAX}
	var err error
	if hdr.Uid, err = unmapID(int(st.Uid), rec.UIDMap, "uid", name); err != nil {
		return nil, err
	}
	if hdr.Gid, err = unmapID(int(st.Gid), rec.GIDMap, "gid", name); err != nil {
		return nil, err
	}
	id := fileID{st.Dev, st.Ino}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		if hdr.Linkname, err = os.Readlink(path); err != nil {
			return nil, err
		}
	case unix.S_IFREG:
		if first, ok := names[id]; ok {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return hdr, nil
		}
		if st.Nlink > 1 {
			names[id] = name
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFCHR, unix.S_IFBLK:
		// The unpacker refuses device nodes (unpack.go): an image with
		// one would not run.
		return nil, fmt.Errorf("%s: a device node, which "+program+" does not put in an image", name)
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, nil
	}
	return hdr, nil
}

// unmapID gives the container's id for a host's uid or gid: the same id
// with no map, id-HostID with one.
func unmapID(id int, idMap *syscall.SysProcIDMap, kind, name string) (int, error) {
	if idMap == nil {
		return id, nil
	}
	if id < idMap.HostID || id >= idMap.HostID+idMap.Size {
		return 0, fmt.Errorf("%s: owner %s %d is outside the container's %s map (%d-%d)", name, kind, id, kind, idMap.HostID, idMap.HostID+idMap.Size-1)
	}
	return id - idMap.HostID + idMap.ContainerID, nil
}

// isOpaque tells whether overlayfs marked a folder of the upper layer
// opaque: made anew where the layers below had one (rm -r, then mkdir).
func isOpaque(path string) bool {
	value := make([]byte, 1)
	n, err := unix.Lgetxattr(path, "trusted.overlay.opaque", value)
	return err == nil && n == 1 && value[0] == 'y'
}

// copyFile copies a file's content into the archive.
func copyFile(w io.Writer, path string) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	_, err = io.Copy(w, file)
	return err
}
