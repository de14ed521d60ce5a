// This file is where a container's rootfs comes from with --image: the
// image tarball unpacked (unpack.go) into /var/lib/boxcraft/PROGRAM/run-PID/
// rootfs, removed afterwards, or with --keep renamed kept-TIME-PID, which
// the next run must not take for a killed run's folder.
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
// or with --keep, keeps it and says where. A refusal leaves nothing behind.
// A signal while the image is unpacked reaches CMD once it runs (boxcraft
// stops reading at once: final/cmd/boxcraft).
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
// rootfs, with the mountPoints an image may lack, and runs the container
// there. With a user namespace, the owners move into the container's id
// range: root's files (uid 0) go to host uid 100000 by default, root
// inside, which may then enter /root.
func unpackAndRun(c *container, dir string, signals chan os.Signal) (int, error) {
	var uidMap, gidMap *syscall.SysProcIDMap
	if c.namespaces["user"] {
		uidMap, gidMap = &c.uidMap, &c.gidMap
	}
	if err := os.MkdirAll(stateRoot, 0o700); err != nil {
		return 0, fmt.Errorf("make the state folder: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return 0, fmt.Errorf("make the container's folder: %w", err)
	}
	if err := makeRootFolder(c.rootfs, uidMap, gidMap); err != nil {
		return 0, fmt.Errorf("make the rootfs: %w", err)
	}
	file, err := os.Open(c.image)
	if err != nil {
		return 0, fmt.Errorf("image %s: %w", c.image, err)
	}
	image, err := unzip(file)
	if err == nil {
		err = unpack(image, c.rootfs, uidMap, gidMap)
	}
	file.Close()
	if err != nil {
		return 0, fmt.Errorf("image %s: %w", c.image, err)
	}
	for _, dir := range mountPoints {
		err := makeRootFolder(filepath.Join(c.rootfs, dir), uidMap, gidMap)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return 0, fmt.Errorf("make /%s in the rootfs: %w", dir, err)
		}
	}
	return runInRootfs(c, signals)
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
		if runnerIsGone(dir) {
			_ = os.RemoveAll(dir)
		}
	}
}
