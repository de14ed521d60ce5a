// This file is the commit command: what a kept container changed, its
// upper layer, becomes a new layer on its image's, in a new OCI layout,
// as each RUN of a Dockerfile makes a layer. Whiteouts become .wh. files
// again (layers.go); owners move back out of the user namespace's range.
package main

import (
	"archive/tar"
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
func commit(args []string) (err error) {
	if len(args) != 2 {
		return errors.New(commitUsage)
	}
	dir, out := args[0], args[1]
	// Mkdir, not MkdirAll: IMAGE_OUT is a new folder, in one that exists.
	if err := os.Mkdir(out, 0o755); err != nil {
		return fmt.Errorf("make the image: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(out)
		}
	}()
	if !strings.Contains(dir, "/") { // a name, kept-…, in the state folder
		dir = filepath.Join(stateRoot, dir)
	}
	dir = strings.TrimSuffix(filepath.Clean(dir), "/upper") // the path --keep printed
	var rec containerRecord
	data, err := os.ReadFile(filepath.Join(dir, "container.json"))
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil {
		return fmt.Errorf("%s is no kept container: %w", args[0], err)
	}
	base, err := readImage(rec.Image)
	if err != nil {
		return fmt.Errorf("the container's image %s: %w", rec.Image, err)
	}
	added, err := writeImage(out, base, rec, dir)
	if err != nil {
		return err
	}
	fmt.Printf("committed %s as %s: %d layers, the new one %s\n", filepath.Base(dir), out, len(base.layers)+1, added)
	return nil
}

// writeImage writes the layout: the base image's layers as plain tars, the
// new one, config, manifest and index. It returns the new layer's diffID.
func writeImage(out string, base *image, rec containerRecord, dir string) (string, error) {
	if len(base.layers) != len(rec.DiffIDs) {
		return "", fmt.Errorf("the image %s has changed since the container ran: it has %d layers, not %d", base.path, len(base.layers), len(rec.DiffIDs))
	}
	if err := os.MkdirAll(filepath.Join(out, "blobs/sha256"), 0o755); err != nil {
		return "", err
	}
	const tarLayer = "application/vnd.oci.image.layer.v1.tar"
	var layers []descriptor
	for i := range base.layers {
		// Unzipped, a layer must be the one the container ran with: its
		// diffID checks it, whatever its blob was.
		l := &base.layers[i]
		l.diffID = rec.DiffIDs[i]
		d, err := writeBlob(out, tarLayer, func(w io.Writer) error {
			_, err := readLayer(l, func(tar io.Reader) error { _, err := io.Copy(w, tar); return err })
			return err
		})
		if err != nil {
			return "", fmt.Errorf("the image %s: %w", base.path, err)
		}
		layers = append(layers, d)
	}
	top, err := writeBlob(out, tarLayer, func(w io.Writer) error { return writeLayer(w, filepath.Join(dir, "upper"), rec) })
	if err != nil {
		return "", fmt.Errorf("the new layer: %w", err)
	}
	// Every layer is a plain tar: its diffID is its digest.
	config, err := newConfig(base.config, append(rec.DiffIDs, top.Digest), program+" commit "+filepath.Base(dir))
	if err != nil {
		return "", err
	}
	m := manifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json", Layers: append(layers, top)}
	m.Config, err = writeBlob(out, "application/vnd.oci.image.config.v1+json", func(w io.Writer) error { return json.NewEncoder(w).Encode(config) })
	if err != nil {
		return "", err
	}
	d, err := writeBlob(out, m.MediaType, func(w io.Writer) error { return json.NewEncoder(w).Encode(m) })
	if err == nil {
		index := map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []descriptor{d}}
		err = writeJSON(filepath.Join(out, "index.json"), index)
	}
	if err != nil {
		return "", err
	}
	return top.Digest, writeJSON(filepath.Join(out, "oci-layout"), map[string]string{"imageLayoutVersion": "1.0.0"})
}

// writeBlob writes a blob of what write writes, and returns its descriptor.
func writeBlob(out, mediaType string, write func(io.Writer) error) (descriptor, error) {
	file, err := os.CreateTemp(filepath.Join(out, "blobs/sha256"), "writing-")
	if err != nil {
		return descriptor{}, err
	}
	defer file.Close()
	digest := sha256.New()
	if err := write(io.MultiWriter(file, digest)); err != nil {
		return descriptor{}, err
	}
	size, err := file.Seek(0, io.SeekCurrent) // the blob's size: where writing ended
	d := descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(digest.Sum(nil)), Size: size}
	if err == nil {
		err = os.Rename(file.Name(), filepath.Join(out, blobName(d.Digest)))
	}
	return d, err
}

// writeJSON writes v, as JSON, to the file path.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(data, '\n'), 0o600)
	}
	return err
}

// newConfig is the base image's config (a bare tarball has none: the least
// one OCI allows) with the new layer's diffID and a line of history added.
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

// writeLayer writes the upper layer as an image layer's tar: whiteouts as
// .wh.NAME, an opaque folder with .wh..wh..opq in it.
func writeLayer(w io.Writer, upper string, rec containerRecord) error {
	archive := tar.NewWriter(w)
	err := filepath.WalkDir(upper, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == upper || d.Type()&fs.ModeSocket != 0 { // no archive holds a socket
			return err
		}
		name, _ := filepath.Rel(upper, path)
		// In a layer, .wh.NAME deletes NAME: the container never deleted it.
		if strings.HasPrefix(d.Name(), whiteoutPrefix) {
			return fmt.Errorf("%s: the container made a file whose name starts with %s, which an image layer reads as a whiteout (a deletion): rename it, and commit again", name, whiteoutPrefix)
		}
		hdr, err := layerHeader(path, name, d, rec)
		if err == nil {
			err = archive.WriteHeader(hdr)
		}
		switch {
		case err != nil:
			return err
		case hdr.Typeflag == tar.TypeReg && hdr.Size > 0:
			return copyFile(archive, path)
		case hdr.Typeflag == tar.TypeDir && isOpaque(path):
			return archive.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name + "/" + opaqueWhiteout, Mode: 0o644, ModTime: hdr.ModTime})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("the upper layer: %w", err)
	}
	return archive.Close()
}

// layerHeader is the tar header of one file of the upper layer: a
// whiteout (a character device 0:0) as an empty file .wh.NAME.
func layerHeader(path, name string, d fs.DirEntry, rec containerRecord) (*tar.Header, error) {
	info, err := d.Info()
	if err != nil {
		return nil, err
	}
	if info.Mode()&fs.ModeCharDevice != 0 && info.Sys().(*syscall.Stat_t).Rdev == 0 {
		name = filepath.Join(filepath.Dir(name), whiteoutPrefix+info.Name())
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: info.ModTime()}, nil
	}
	link, err := os.Readlink(path)
	if err != nil && info.Mode()&fs.ModeSymlink != 0 {
		return nil, err
	}
	hdr, err := tar.FileInfoHeader(info, link) // the type, mode, owner, time, size
	if err != nil {
		return nil, err
	}
	hdr.Name, hdr.Uname, hdr.Gname = name, "", "" // the host's user names mean nothing in an image
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid = unmapID(hdr.Uid, rec.UIDMap), unmapID(hdr.Gid, rec.GIDMap)
	return hdr, nil
}

// unmapID gives the container's id for a host's uid or gid (mapID's inverse).
func unmapID(id int, idMap *syscall.SysProcIDMap) int {
	if idMap == nil {
		return id
	}
	return id - idMap.HostID + idMap.ContainerID
}

// isOpaque tells whether overlayfs made a folder opaque (rm -r, then mkdir).
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
