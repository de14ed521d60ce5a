// Package rootfs makes the container's root, from inside the container's
// new mount namespace: init calls Setup before it executes the command.
//
// Step04 (step04-rootfs/rootfs.go) taught its idea: pivot_root(2) in place
// of step01's chroot(2), so that no path in the container's mount
// namespace leads to the host's root; with a /proc, /sys and /dev of the
// container's own. Step02 taught the read-only /proc/sys, step05 the
// fallbacks for a user namespace (bind mounts where the kernel refuses a
// new filesystem or a device node).
//
// The set-up reads as runc's libcontainer/rootfs_linux.go does: Setup
// calls one function per step, in the order they run, and each line that
// looks odd says why it is there.
//
// Every path inside the root is resolved beneath it (openat2(2) with
// RESOLVE_IN_ROOT), never by joining strings: the root comes from an
// image, and a symlink in it must not send a mount onto the host.
package rootfs
