// This file reads --device HOST[:CONTAINER[:PERMISSIONS]] into
// spec.Security.Devices: a host's device node that the container gets in
// its /dev (final/rootfs) and may use as PERMISSIONS say (r, w, m), which
// the device cgroup allows (final/cgroups). The host's node is checked
// here, before anything is made.

package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/spec"
)

// addDeviceFlags adds --device, as docker run's. (--privileged, which
// allows every device, is security.go's.)
func addDeviceFlags(flags *pflag.FlagSet) {
	addList(flags, "device", "", "HOST[:CONTAINER[:PERMISSIONS]], a host's device in the container, e.g. /dev/loop3:/dev/disk:r (PERMISSIONS of rwm, default rwm)")
}

// parseDevices reads every --device into s.Devices.
func parseDevices(flags *pflag.FlagSet, s *spec.Security) error {
	values := getList(flags, "device")
	for _, value := range values {
		d, err := parseDevice(value)
		if err != nil {
			return fmt.Errorf("--device %s: %w", value, err)
		}
		s.Devices = append(s.Devices, d)
	}
	return nil
}

// parseDevice reads HOST[:CONTAINER[:PERMISSIONS]]; as Docker's, a second
// part made of r, w and m alone is the permissions (/dev/loop3:r).
func parseDevice(value string) (spec.Device, error) {
	parts := strings.Split(value, ":")
	host, inside, access := parts[0], parts[0], "rwm"
	switch {
	case len(parts) == 2 && isAccess(parts[1]):
		access = parts[1]
	case len(parts) == 2:
		inside = parts[1]
	case len(parts) == 3:
		inside, access = parts[1], parts[2]
	case len(parts) > 3:
		return spec.Device{}, errors.New("want HOST[:CONTAINER[:PERMISSIONS]]")
	}
	if !isAccess(access) {
		return spec.Device{}, fmt.Errorf("permissions %q: give some of r, w and m", access)
	}
	d, err := hostDevice(host)
	if err != nil {
		return d, err
	}
	if name, ok := strings.CutPrefix(filepath.Clean(inside), "/dev/"); !ok || !filepath.IsLocal(name) || !filepath.IsAbs(inside) {
		return d, fmt.Errorf("the container's path %q: give a path below /dev", inside)
	}
	d.Path, d.Access = filepath.Clean(inside), access
	return d, nil
}

// isAccess tells whether s is some of r, w and m, each at most once.
func isAccess(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	for i, c := range s {
		if !strings.ContainsRune("rwm", c) || strings.ContainsRune(s[i+1:], c) {
			return false
		}
	}
	return true
}

// hostDevice reads the host's node (its links followed, as Docker does):
// its type, numbers and mode. Anything but a device node is refused.
func hostDevice(path string) (spec.Device, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return spec.Device{}, fmt.Errorf("the host's device %s: %w", path, err)
	}
	d := spec.Device{Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)), FileMode: st.Mode & 0o7777}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		d.Type = "c"
	case unix.S_IFBLK:
		d.Type = "b"
	default:
		return d, fmt.Errorf("%s is not a device node", path)
	}
	return d, nil
}
