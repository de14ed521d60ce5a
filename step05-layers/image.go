// This file is where a container's rootfs comes from with --image: the
// image's layers (layers.go), stacked by overlayfs under upper/, a layer of
// the container's own, in a fresh folder /var/lib/boxcraft/PROGRAM/run-PID
// whose merged/ is the union. The runtime makes that folder (named as its
// cgroup is), and removes it afterwards, or with --keep renames it
// kept-TIME-PID, which the next run must not take for a killed run's.
package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stateRoot holds a folder, only root's, for each container run from an
// image; $BOXCRAFT_STATE_DIR may name another, one per test (contract.md).
var stateRoot = cmp.Or(os.Getenv("BOXCRAFT_STATE_DIR"), "/var/lib/boxcraft/"+program)

// checkImage makes --image absolute and checks that it names something.
func checkImage(path string) (string, error) {
	if path == "" {
		return "", errors.New("--image is an empty string: name an image")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	_, err = os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("image %s: no such file", path)
	case err != nil:
		return "", fmt.Errorf("image %s: %w", path, err)
	}
	return abs, nil
}

// runFromImage stacks the image in a folder of the container's own,
// runs the container with it as the rootfs, and then removes the folder,
// or with --keep, keeps it and says where. A refusal leaves nothing behind
// but stored layers. A signal while a layer is unpacked reaches CMD once
// it runs (boxcraft stops reading at once: final/cmd/boxcraft).
func runFromImage(c *container, signals chan os.Signal) (int, error) {
	removeLeftoverRoots()
	dir := filepath.Join(stateRoot, runName(os.Getpid()))
	c.rootfs = filepath.Join(dir, "merged")
	status, err := stackAndRun(c, dir, signals)
	if unmountErr := unmountRoot(dir); unmountErr != nil {
		// Never remove a folder through a mount: keep it for the next run.
		fmt.Fprintf(os.Stderr, program+": %v\n", unmountErr)
		return status, err
	}
	if err != nil || !c.keep {
		if removeErr := os.RemoveAll(dir); removeErr != nil {
			fmt.Fprintf(os.Stderr, program+": remove the container's folder: %v\n", removeErr)
		}
		return status, err
	}
	kept := filepath.Join(stateRoot, "kept-"+time.Now().Format("20060102-150405")+"-"+strconv.Itoa(os.Getpid()))
	if err := os.Rename(dir, kept); err != nil {
		return status, fmt.Errorf("keep the container's upper layer: %w", err)
	}
	fmt.Fprintf(os.Stderr, program+": kept the container's upper layer in %s\n", filepath.Join(kept, "upper"))
	return status, nil
}

// stackAndRun makes the container's folder, puts the image's layers in
// the store, mounts them under the container's upper layer, and runs the
// container there.
func stackAndRun(c *container, dir string, signals chan os.Signal) (int, error) {
	if err := os.MkdirAll(stateRoot, 0o700); err != nil {
		return 0, fmt.Errorf("make the state folder: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return 0, fmt.Errorf("make the container's folder: %w", err)
	}
	img, err := readImage(c.image)
	if err == nil {
		err = c.storeLayers(img, dir) // layers.go
	}
	if err != nil {
		return 0, fmt.Errorf("image %s: %w", c.image, err)
	}
	if err := c.recordContainer(img, dir); err != nil {
		return 0, err
	}
	if err := c.mountRoot(dir, img.folders); err != nil {
		return 0, err
	}
	return runInRootfs(c, signals)
}

// mountRoot makes the container's upper layer, owned by its root as
// step04's rootfs was, and mounts the union of it and the image's layers
// on merged/. It makes the mountPoints an image may lack.
func (c *container) mountRoot(dir string, layers []string) error {
	uidMap, gidMap := c.idMaps()
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
	for _, dir := range mountPoints {
		err := makeRootFolder(filepath.Join(c.rootfs, dir), uidMap, gidMap)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("make /%s in the rootfs: %w", dir, err)
		}
	}
	return nil
}

// mountOptionsMax is how long mount(2)'s options may be: a page, less a NUL.
var mountOptionsMax = os.Getpagesize() - 1

// mountOverlay mounts the overlay on dir/merged, on the host, as Docker
// does: only for the host's root does overlayfs trust trusted.overlay.*
// (opaque folders). mount(2) takes at most a page of options, some 35
// layers' paths: a deeper image is refused (boxcraft stacks 500: final/mount).
func mountOverlay(dir string, layers []string, throwaway bool) error {
	// overlayfs lists the layers top down, the image's config bottom up.
	lower := slices.Clone(layers)
	slices.Reverse(lower)
	// redirect_dir, metacopy off: upper/ holds whole files, for commit.
	options := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + filepath.Join(dir, "upper") +
		",workdir=" + filepath.Join(dir, "work") + ",redirect_dir=off,metacopy=off"
	if throwaway {
		options += ",volatile" // never synced: a crash loses what was to go anyway
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

// unmountRoot unmounts the container's root, if mounted. A host's process
// using it keeps it busy (EBUSY): the next run tries again.
func unmountRoot(dir string) error {
	err := unix.Unmount(filepath.Join(dir, "merged"), 0)
	// EINVAL: nothing is mounted there; ENOENT: there is no merged/.
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount the container's root %s/merged: %w", dir, err)
}

// containerRecord is what a container's folder remembers of it, for
// commit: its image, the diffIDs of the layers it ran with, and, with a
// user namespace, the id maps its files were given.
type containerRecord struct {
	Image   string                `json:"image"`
	DiffIDs []string              `json:"diffIDs"` // the bottom layer first
	UIDMap  *syscall.SysProcIDMap `json:"uidMap,omitempty"`
	GIDMap  *syscall.SysProcIDMap `json:"gidMap,omitempty"`
}

// recordContainer writes the container's record in its folder.
func (c *container) recordContainer(img *image, dir string) error {
	rec := containerRecord{Image: img.path}
	for _, folder := range img.folders {
		rec.DiffIDs = append(rec.DiffIDs, "sha256:"+filepath.Base(folder))
	}
	rec.UIDMap, rec.GIDMap = c.idMaps()
	return writeJSON(filepath.Join(dir, "container.json"), rec)
}

// makeRootFolder makes a folder of mode 0755, whatever the umask, owned
// by the container's root. mkdir(2) fails with EEXIST on whatever is
// there, a symlink included.
func makeRootFolder(dir string, uidMap, gidMap *syscall.SysProcIDMap) error {
	uid, _ := mapID(0, uidMap, "uid")
	gid, _ := mapID(0, gidMap, "gid")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	return os.Lchown(dir, uid, gid)
}

// removeLeftoverRoots removes the folders of containers whose runtime was
// killed before it could (runnerIsGone). Kept folders stay.
func removeLeftoverRoots() {
	folders, _ := filepath.Glob(filepath.Join(stateRoot, "run-*"))
	for _, dir := range folders {
		if runnerIsGone(dir) && unmountRoot(dir) == nil {
			_ = os.RemoveAll(dir)
		}
	}
}
