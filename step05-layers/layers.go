// This file is step05's new idea: the layer store. The runtime unpacks
// each layer once, into a folder named by its diffID (its tar's digest),
// layers/SET/HEX in the state folder, which every container of every
// image with that layer shares. SET says whose ids the files have: "as-is",
// or moved into a user namespace's range ("u0-100000-65536").
//
// A layer deletes with whiteouts: .wh.NAME deletes NAME, .wh..wh..opq
// hides what the layers below have in its folder. overlayfs says the same
// with a character device 0:0 NAME, and the folder's xattr
// trusted.overlay.opaque=y. The unpacker converts, and commit back.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The names image layers use for whiteouts.
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// layerStore holds the unpacked layers, each in a folder of its own.
var layerStore = filepath.Join(stateRoot, "layers")

// whiteout converts an image's whiteout, base in the folder parent, into
// overlayfs's.
func (u *unpacker) whiteout(parent int, base string) error {
	if base == opaqueWhiteout {
		// An O_PATH descriptor takes no xattr, but its /proc/self/fd link
		// leads to the folder. Only the host's root may set trusted.*.
		err := unix.Setxattr("/proc/self/fd/"+strconv.Itoa(parent), "trusted.overlay.opaque", []byte("y"), 0)
		if err != nil {
			return fmt.Errorf("mark the folder opaque: %w", err)
		}
		return nil
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("a whiteout of %q, which names no file in its folder", name)
	}
	if err := makeRoom(parent, name, false); err != nil {
		return err
	}
	// mknodat with device number 0:0 makes overlayfs's whiteout: a node
	// no driver answers to, of mode 0, so nothing can open it by mistake.
	if err := unix.Mknodat(parent, name, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("make the whiteout of %q: %w", name, err)
	}
	return nil
}

// idMaps are the container's id maps, nil without a user namespace.
func (c *container) idMaps() (uidMap, gidMap *syscall.SysProcIDMap) {
	if c.namespaces["user"] {
		return &c.uidMap, &c.gidMap
	}
	return nil, nil
}

// layerSet names the set of layer folders a container uses: its id maps.
func (c *container) layerSet() string {
	if !c.namespaces["user"] {
		return "as-is"
	}
	set := fmt.Sprintf("u%d-%d-%d", c.uidMap.ContainerID, c.uidMap.HostID, c.uidMap.Size)
	if c.gidMap != c.uidMap {
		set += fmt.Sprintf("-g%d-%d-%d", c.gidMap.ContainerID, c.gidMap.HostID, c.gidMap.Size)
	}
	return set
}

// storeLayers puts the image's layers in the store, noting their folders.
func (c *container) storeLayers(img *image, dir string) error {
	uidMap, gidMap := c.idMaps()
	set := filepath.Join(layerStore, c.layerSet())
	if err := os.MkdirAll(set, 0o700); err != nil {
		return fmt.Errorf("make the layer store: %w", err)
	}
	for i := range img.layers {
		l := &img.layers[i]
		folder, err := storeLayer(l, set, filepath.Join(dir, "unpacking"), uidMap, gidMap)
		if err != nil && l.digest != "" {
			return fmt.Errorf("layer %d of %d (blob %s): %w", i+1, len(img.layers), l.digest, err)
		}
		if err != nil {
			return err
		}
		img.folders = append(img.folders, folder)
	}
	return nil
}

// storeLayer returns the layer's folder in the store set, unpacked there
// unless it was, through unpacking: a killed runtime leaves no half layer.
func storeLayer(l *layer, set, unpacking string, uidMap, gidMap *syscall.SysProcIDMap) (string, error) {
	if l.digest != "" { // a bare tarball's diffID is known once unpacked
		folder := filepath.Join(set, digestHex(l.diffID))
		if _, err := os.Stat(folder); err == nil {
			return folder, nil // unpacked, and checked, before: the blob is not used
		}
		if err := l.verify(); err != nil { // the blob is used now: checked first
			return "", err
		}
	}
	// The top folder is the container's root's, unless the archive has "./".
	if err := makeRootFolder(unpacking, uidMap, gidMap); err != nil {
		return "", fmt.Errorf("make a folder to unpack into: %w", err)
	}
	defer os.RemoveAll(unpacking)
	diffID, err := readLayer(l, func(tar io.Reader) error { return unpack(tar, unpacking, uidMap, gidMap) })
	if err != nil {
		return "", err
	}
	folder := filepath.Join(set, digestHex(diffID))
	// rename(2) is atomic: the folder is in the store whole, or not at all.
	// When another run stored the same layer meanwhile, this copy goes.
	err = os.Rename(unpacking, folder)
	if err != nil && !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
		return "", fmt.Errorf("move the layer into the store: %w", err)
	}
	return folder, nil
}

// readLayer gives use the layer's tar, the blob unzipped, and returns its
// diffID, the tar's digest, checked against l.diffID when there is one.
func readLayer(l *layer, use func(tar io.Reader) error) (string, error) {
	blob, err := l.open()
	if err != nil {
		return "", err
	}
	defer blob.Close()
	unzipped, err := unzip(blob)
	if err != nil {
		return "", err
	}
	digest := sha256.New()
	tee := io.TeeReader(unzipped, digest)
	err = use(tee)
	if err == nil { // the digest covers the tar's padding after its last entry too
		_, err = io.Copy(io.Discard, tee)
	}
	if err != nil {
		return "", err
	}
	diffID := "sha256:" + hex.EncodeToString(digest.Sum(nil))
	if l.diffID != "" && diffID != l.diffID {
		return "", fmt.Errorf("unzipped, its digest is %s, not %s: the layer was changed", diffID, l.diffID)
	}
	return diffID, nil
}

// digestHex is a digest's hex part: "sha256:3f2a…" → "3f2a…".
func digestHex(digest string) string {
	_, hex, _ := strings.Cut(digest, ":")
	return hex
}

// sha256Of reads r to the end and returns its digest.
func sha256Of(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
