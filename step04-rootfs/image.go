// This file is where a container's rootfs comes from with --image: the runtime
// unpacks the image tarball (unpack.go) into a folder of the container's
// own, runs the container with it as the root, and removes it afterwards.
//
// The folder is /var/lib/boxcraft/PROGRAM/run-PID, named as the container's
// cgroup is, after the runtime's process that runs it. It holds rootfs/, the
// unpacked image. Every container gets a fresh copy, so what one container
// changes, the next never sees. With --keep the folder is renamed
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

// stateRoot holds a folder for each container that runs from an image.
// Only root may enter it: the container never walks this path (init
// starts in its rootfs, see runInNamespaces). $BOXCRAFT_STATE_DIR may
// name another: the tests give each test its own (docs/contract.md).
var stateRoot = cmp.Or(os.Getenv("BOXCRAFT_STATE_DIR"), "/var/lib/boxcraft/"+program)

// checkImage makes --image absolute and checks that it names a file.
func checkImage(path string) (string, error) {
	if path == "" {
		return "", errors.New("--image is an empty string: name an image tarball")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("image %s: no such file", path)
	case err != nil:
		return "", fmt.Errorf("image %s: %w", path, err)
	case info.IsDir():
		return "", fmt.Errorf("image %s is a folder, not a tarball: give an unpacked root with --rootfs", path)
	}
	return abs, nil
}

// runFromImage unpacks the image into a folder of the container's own,
// runs the container with it as the rootfs, and then removes the folder,
// or with --keep, keeps it and says where. A refusal (a hostile archive,
// a CMD the image lacks) leaves nothing behind.
//
// run catches signals until the folder is gone or kept, so that none
// leaves it behind: one that arrives while the image is unpacked reaches
// CMD once it runs. (boxcraft stops reading the image at once:
// final/cmd/boxcraft.)
func runFromImage(c *container, signals chan os.Signal) (int, error) {
	removeLeftoverRoots()
	dir := filepath.Join(stateRoot, runName(os.Getpid()))
	c.rootfs = filepath.Join(dir, "rootfs")
	status, err := unpackAndRun(c, dir, signals)
	if err != nil || !c.keep {
		if removeErr := os.RemoveAll(dir); removeErr != nil {
			fmt.Fprintf(os.Stderr, program+": remove the container's rootfs: %v\n", removeErr)
		}
		return status, err
	}
	kept := filepath.Join(stateRoot, "kept-"+time.Now().Format("20060102-150405")+"-"+strconv.Itoa(os.Getpid()))
	if err := os.Rename(dir, kept); err != nil {
		return status, fmt.Errorf("keep the container's rootfs: %w", err)
	}
	fmt.Fprintf(os.Stderr, program+": kept the container's rootfs in %s\n", filepath.Join(kept, "rootfs"))
	return status, nil
}

// unpackAndRun makes the container's folder, unpacks the image into its
// rootfs, and runs the container there.
func unpackAndRun(c *container, dir string, signals chan os.Signal) (int, error) {
	if err := os.MkdirAll(stateRoot, 0o700); err != nil {
		return 0, fmt.Errorf("make the state folder: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return 0, fmt.Errorf("make the container's folder: %w", err)
	}
	if err := c.unpackImage(); err != nil {
		return 0, err
	}
	return runInRootfs(c, signals)
}

// unpackImage unpacks the image into the rootfs. With a user namespace,
// the files' owners are moved into the container's id range: a file the
// image gives to root (uid 0) goes to host uid 100000 by default, which
// is root inside. Without that, the container's root would see the image's
// files as owned by nobody, and could not enter /root.
//
// An image need not have the folders that /proc, /sys and /dev are
// mounted on (docker export's do): the runtime makes those that are missing.
func (c *container) unpackImage() error {
	var uidMap, gidMap *syscall.SysProcIDMap
	if c.namespaces["user"] {
		uidMap, gidMap = &c.uidMap, &c.gidMap
	}
	if err := makeRootFolder(c.rootfs, uidMap, gidMap); err != nil {
		return fmt.Errorf("make the rootfs: %w", err)
	}
	image, err := openImage(c.image)
	if err != nil {
		return fmt.Errorf("image %s: %w", c.image, err)
	}
	defer image.Close()
	if err := unpack(image, c.rootfs, uidMap, gidMap); err != nil {
		return fmt.Errorf("image %s: %w", c.image, err)
	}
	for _, dir := range mountPoints {
		err := makeRootFolder(filepath.Join(c.rootfs, dir), uidMap, gidMap)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("make /%s in the rootfs: %w", dir, err)
		}
	}
	return nil
}

// makeRootFolder makes a folder of mode 0755, whatever the umask, owned
// by the container's root: the host's root, or with a user namespace the
// first id of its range. mkdir(2) fails with EEXIST on whatever is there,
// a symlink included.
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
// killed before it could (run-PID, where PID is dead or, reused, is this
// very process). Kept folders are named otherwise, and stay.
func removeLeftoverRoots() {
	folders, _ := filepath.Glob(filepath.Join(stateRoot, "run-*"))
	for _, dir := range folders {
		if runnerIsGone(dir) {
			_ = os.RemoveAll(dir)
		}
	}
}
