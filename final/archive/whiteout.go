package archive

// Whiteouts are how a layer deletes. An image layer says "delete NAME"
// with an empty file named .wh.NAME, and "hide everything the layers
// below have in this folder" with .wh..wh..opq in it (the names come from
// aufs, the union filesystem Docker first used). overlayfs says the same
// with a character device 0:0 named NAME, and with the folder's extended
// attribute trusted.overlay.opaque=y. With Options.Overlay, the unpacker
// converts the first into the second (step05-layers).

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// The names image layers use for whiteouts.
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
	// aufs kept its bookkeeping under names with this prefix
	// (.wh..wh.plnk, .wh..wh.aufs), which old images still carry.
	aufsMetadataPrefix = ".wh..wh."
)

// whiteout converts an image's whiteout, base in the folder parent, into
// overlayfs's: .wh..wh..opq makes the folder opaque, .wh.NAME makes NAME
// a character device 0:0. Either way the layer hides what the layers
// below it have there, and shows nothing in its place.
func (u *unpacker) whiteout(parent int, base string) error {
	if base == opaqueWhiteout {
		return markOpaque(parent)
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
		return fmt.Errorf("making the whiteout of %q: %w", name, err)
	}
	return nil
}

// markOpaque marks the folder parent opaque, as overlayfs does.
func markOpaque(parent int) error {
	// An O_PATH descriptor takes no xattr: open the folder itself.
	dir, err := unix.Openat(parent, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the opaque folder: %w", err)
	}
	defer unix.Close(dir)
	// trusted.* attributes only the host's root may set, or read:
	// overlayfs trusts them for that reason.
	if err := unix.Fsetxattr(dir, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		return fmt.Errorf("marking the folder opaque: %w", err)
	}
	return nil
}

// isAufsMetadata tells aufs's bookkeeping (.wh..wh.plnk and what it
// holds, .wh..wh.aufs, …) from a layer's files: it is left out.
func isAufsMetadata(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, aufsMetadataPrefix) && part != opaqueWhiteout {
			return true
		}
	}
	return false
}
