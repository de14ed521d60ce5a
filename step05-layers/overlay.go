// This file stacks a container's root with overlayfs: the image's layers,
// read-only and shared with every container of that image, under a
// writable upper layer of the container's own.
//
//	merged/  what the container sees: for each path, the top layer's
//	   │     file, unless a whiteout above it hides it
//	upper/   the container's layer: a file it writes is copied up here
//	         first, a file it deletes leaves a whiteout here
//	lowerdir the image's layers, top down: folders of the store
//	         (layers.go), shared, and never written to
//
// The runtime mounts the overlay on the host, as Docker does: only the
// host's root may have overlayfs trust trusted.overlay.* attributes
// (opaque folders). init then takes merged/ as its rootfs, as step04's
// init took an unpacked image.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOptionsMax is how long mount(2)'s options may be: one page,
// counting the NUL at the end.
var mountOptionsMax = os.Getpagesize() - 1

// mountRoot makes the container's upper layer and mounts the union of it
// and the image's layers (bottom first) on merged/, then makes the
// folders /proc, /sys and /dev are mounted on, where the image has none.
func (c *container) mountRoot(dir string, layers []string) error {
	uidMap, gidMap := c.idMaps()
	// The upper layer's top folder is the merged root's: the container's
	// root owns it, as it owned step04's rootfs.
	if err := makeRootFolder(filepath.Join(dir, "upper"), uidMap, gidMap); err != nil {
		return fmt.Errorf("make the upper layer: %w", err)
	}
	for _, sub := range []string{"work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return fmt.Errorf("make the container's %s folder: %w", sub, err)
		}
	}
	if err := mountOverlay(dir, layers, !c.keep); err != nil {
		return err
	}
	for _, point := range mountPoints {
		err := makeRootFolder(filepath.Join(c.rootfs, point), uidMap, gidMap)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("make /%s in the container's root: %w", point, err)
		}
	}
	return nil
}

// mountOverlay mounts the overlay on dir/merged. mount(2) takes its
// options as one string of at most a page, and a layer's path in the
// store is over 100 bytes: some 35 layers fit, enough for this lesson. A
// deeper image is refused (boxcraft stacks 500: final/mount).
func mountOverlay(dir string, layers []string, throwaway bool) error {
	// overlayfs lists the layers top down, the image's config bottom up.
	lower := slices.Clone(layers)
	slices.Reverse(lower)
	// With redirect_dir and metacopy off (the kernel's usual defaults),
	// the upper layer holds whole files and folders, and commit reads it
	// alone: a renamed folder is copied up, not an xattr pointing below.
	options := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + filepath.Join(dir, "upper") +
		",workdir=" + filepath.Join(dir, "work") + ",redirect_dir=off,metacopy=off"
	if throwaway {
		// volatile: overlayfs never syncs the upper layer's filesystem (all
		// of it) for it. A crash may lose what was to go anyway.
		options += ",volatile"
	}
	if len(options) > mountOptionsMax {
		return fmt.Errorf("the image's %d layers need %d bytes of overlayfs options, more than a page (%d): %s stacks fewer", len(layers), len(options), mountOptionsMax+1, program)
	}
	// mount(2) with type overlay: the union of the folders, on merged.
	if err := unix.Mount("overlay", filepath.Join(dir, "merged"), "overlay", 0, options); err != nil {
		return fmt.Errorf("mount overlay on %s/merged: %w", dir, err)
	}
	return nil
}

// unmountRoot unmounts the container's merged root, if it is mounted. A
// host's process with a file open there keeps it busy: then it is
// detached (MNT_DETACH), to go when that file is closed.
func unmountRoot(dir string) error {
	merged := filepath.Join(dir, "merged")
	err := unix.Unmount(merged, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(merged, unix.MNT_DETACH)
	}
	// EINVAL: nothing is mounted there; ENOENT: there is no merged/.
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount the container's root %s: %w", merged, err)
}
