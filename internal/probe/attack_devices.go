package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// The device attacks: reading a device the container was not given.
//
//	probe disk=b:MAJOR:MINOR   # make a node for the device in /tmp, open it for reading, read a few bytes
//	probe readdev=PATH         # open a device node for reading, read a few bytes
//
// Neither ever writes to a device. A refusal names the call that failed
// (mknod or open) in Error, and its errno: the device cgroup refuses the
// open (EPERM) even to root with CAP_MKNOD, whose mknod succeeds.
func init() {
	attacks["disk"] = makeAndReadDevice
	attacks["readdev"] = func(path string) *facts.Attempt { return facts.Tried(readDevice(path)) }
}

// makeAndReadDevice makes a node TYPE:MAJOR:MINOR in /tmp and reads it.
func makeAndReadDevice(value string) *facts.Attempt {
	parts := strings.Split(value, ":")
	major, errMajor := strconv.ParseUint(parts[min(1, len(parts)-1)], 10, 32)
	minor, errMinor := strconv.ParseUint(parts[len(parts)-1], 10, 32)
	kind := map[string]uint32{"b": unix.S_IFBLK, "c": unix.S_IFCHR}[parts[0]]
	if len(parts) != 3 || errMajor != nil || errMinor != nil || kind == 0 {
		fmt.Fprintf(os.Stderr, "probe: disk=%s: want b:MAJOR:MINOR or c:MAJOR:MINOR\n", value)
		os.Exit(2)
	}
	path := fmt.Sprintf("/tmp/.probe-disk-%d", os.Getpid())
	if err := unix.Mknod(path, kind|0o600, int(unix.Mkdev(uint32(major), uint32(minor)))); err != nil {
		return facts.Tried(fmt.Errorf("mknod %s: %w", path, err))
	}
	defer os.Remove(path)
	return facts.Tried(readDevice(path))
}

// readDevice opens path read-only and reads up to 16 bytes.
func readDevice(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Read(fd, make([]byte, 16)); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
