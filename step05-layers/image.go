// This file is where a container's root comes from with --image: the
// image's layers, from the layer store (layers.go), stacked by overlayfs
// under a writable layer of the container's own (overlay.go).
//
// The folder is /var/lib/boxcraft/PROGRAM/run-PID, named as the container's
// cgroup is, after the runtime's process that runs it. It holds upper/ (what
// the container writes), work/ (overlayfs's) and merged/, the union. With
// --keep the folder is renamed
// kept-TIME-PID instead of removed, and the runtime says where it is: a run
// whose runtime was killed leaves a run-PID folder, which the next run
// removes, and a kept one must not be taken for that.
package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// stateRoot holds a folder, only root's, for each container run from an
// image; $BOXCRAFT_STATE_DIR may name another, one per test (contract.md).
var stateRoot = cmp.Or(os.Getenv("BOXCRAFT_STATE_DIR"), "/var/lib/boxcraft/"+program)

// checkImage makes --image absolute and checks that it names a file, or
// a folder (an OCI layout, which readImage checks).
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

// runFromImage stacks the image's layers under a writable layer of the
// container's own, runs the container with that as its root, and then
// unmounts it and removes the container's folder, or with --keep, keeps
// it and says where. A refusal leaves nothing behind but the layers
// checked and stored. A signal while a layer is unpacked reaches CMD once
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
	if err := c.mountRoot(dir, img.folders); err != nil { // overlay.go
		return 0, err
	}
	return runInRootfs(c, signals)
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
// killed before it could (runnerIsGone), and first unmounts their root.
// Kept folders stay.
func removeLeftoverRoots() {
	folders, _ := filepath.Glob(filepath.Join(stateRoot, "run-*"))
	for _, dir := range folders {
		if runnerIsGone(dir) && unmountRoot(dir) == nil {
			_ = os.RemoveAll(dir)
		}
	}
}
