// This file is step05's new idea: the layer store. An image is a stack of
// layers, each an archive of what one step of making the image changed
// (the files it added or changed, and whiteouts for those it deleted).
// the runtime unpacks each layer once, into a folder named by its content
// digest, its diffID:
//
//	/var/lib/boxcraft/PROGRAM/layers/SET/HEX
//
// Every container and every image with that layer uses the same folder:
// nothing is copied. overlayfs stacks the folders into one view (see
// overlay.go). SET says whose ids the files have: "as-is", the archive's
// own, for containers without a user namespace; with one, the ids moved
// into its range ("u0-100000-65536"), as step04 did, since a container's
// root could otherwise write to none of them.
//
// Whiteouts are how a layer deletes. An image layer says "delete NAME"
// with an empty file named .wh.NAME, and "hide everything the layers
// below have in this folder" with .wh..wh..opq in it (the names come from
// aufs, the union filesystem Docker first used). overlayfs says the same
// with a character device 0:0 named NAME, and with the folder's extended
// attribute trusted.overlay.opaque=y. The unpacker (unpack.go) converts
// the first into the second, and commit (commit.go) converts back.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
// overlayfs's: .wh..wh..opq makes the folder opaque, .wh.NAME makes NAME
// a character device 0:0. Either way the layer hides what the layers
// below it have there, and shows nothing in its place.
func (u *unpacker) whiteout(parent int, base string) error {
	if base == opaqueWhiteout {
		// An O_PATH descriptor takes no xattr: open the folder itself.
		dir, err := unix.Openat(parent, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the opaque folder: %w", err)
		}
		defer unix.Close(dir)
		// trusted.* attributes only the host's root may set, or read:
		// overlayfs trusts them for that reason.
		if err := unix.Fsetxattr(dir, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
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
	// no driver answers to, so nothing can open it by mistake. Its mode
	// is 0: no one may read or write it either.
	if err := unix.Mknodat(parent, name, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("make the whiteout of %q: %w", name, err)
	}
	return nil
}

// layerSet names the set of layer folders a container uses: "as-is"
// without a user namespace, else its id maps.
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

// storeLayers puts every layer of the image in the store, unless it is
// there already, and returns their folders, the bottom layer first. Each
// blob it unpacks it first checks against its digest. A
// layer is unpacked into dir/unpacking, the container's own folder, and
// moves into the store only once it is whole and its digest checked: a
// killed the runtime leaves no half layer in the store, only a run-PID folder,
// which the next run removes.
func (c *container) storeLayers(img *image, dir string) ([]string, error) {
	var uidMap, gidMap *syscall.SysProcIDMap
	if c.namespaces["user"] {
		uidMap, gidMap = &c.uidMap, &c.gidMap
	}
	set := filepath.Join(layerStore, c.layerSet())
	if err := os.MkdirAll(set, 0o700); err != nil {
		return nil, fmt.Errorf("make the layer store: %w", err)
	}
	folders := make([]string, len(img.layers))
	for i := range img.layers {
		l := &img.layers[i]
		folder, err := storeLayer(l, set, filepath.Join(dir, "unpacking"), uidMap, gidMap)
		if err != nil && l.name != "" {
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
		if err != nil {
			return nil, err
		}
		folders[i] = folder
	}
	return folders, nil
}

// storeLayer returns the layer's folder in the store set, and unpacks it
// there first unless it is there already.
func storeLayer(l *layer, set, unpacking string, uidMap, gidMap *syscall.SysProcIDMap) (string, error) {
	// A bare tarball names no digest: its own is its diffID, known once
	// it is unpacked, and there is nothing else to check it against.
	if l.digest != "" {
		folder := filepath.Join(set, digestHex(l.diffID))
		if _, err := os.Stat(folder); err == nil {
			// Unpacked before, and checked then: share it. The store is
			// named by content, as containerd's is; the blob is not used.
			return folder, nil
		}
		// The blob is used now: it is checked first.
		if err := l.verify(); err != nil {
			return "", err
		}
	}
	// The layer's top folder is the container's root's, as its rootfs
	// was in step04, unless the archive says otherwise (with "./").
	if err := makeRootFolder(unpacking, uidMap, gidMap); err != nil {
		return "", fmt.Errorf("make a folder to unpack into: %w", err)
	}
	defer os.RemoveAll(unpacking)
	diffID, err := unpackLayer(l, unpacking, uidMap, gidMap)
	if err != nil {
		return "", err
	}
	folder := filepath.Join(set, digestHex(diffID))
	// rename(2) is atomic: the folder is in the store whole, or not at
	// all. When another run stored the same layer meanwhile, its
	// folder stays, and this copy goes.
	err = os.Rename(unpacking, folder)
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
		return folder, nil
	}
	if err != nil {
		return "", fmt.Errorf("move the layer into the store: %w", err)
	}
	return folder, nil
}

// unpackLayer unpacks the layer's blob into dir and returns its diffID,
// the digest of the blob unzipped, checked against the image's when the
// image gives one.
func unpackLayer(l *layer, dir string, uidMap, gidMap *syscall.SysProcIDMap) (string, error) {
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
	if err := unpack(tee, dir, uidMap, gidMap); err != nil {
		return "", err
	}
	// The digest covers the whole blob, the tar's padding after its
	// last entry included.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return "", fmt.Errorf("read the archive: %w", err)
	}
	diffID := "sha256:" + hex.EncodeToString(digest.Sum(nil))
	if l.diffID != "" && diffID != l.diffID {
		return "", fmt.Errorf("unzipped, its digest is %s, but the image's config says %s: the blob was changed", diffID, l.diffID)
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
