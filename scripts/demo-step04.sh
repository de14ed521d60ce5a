#!/usr/bin/env bash
# make step04: a narrated demonstration of step04-rootfs. The image is a
# tarball that step04 unpacks into a rootfs of the container's own; the
# container has the host's kernel; pivot_root makes the escape that worked
# in steps 01 to 03 fail; the container sees its own mounts and /dev only;
# and the rootfs goes with the container, or stays with --keep.
set -euo pipefail
cd "$(dirname "$0")/.."

step03=_build/bin/step03
step04=_build/bin/step04
image=_build/busybox.tar

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh

# The escape is the probe's experiment: the demo adds the probe to a copy
# of the image (and unpacks one for step03), in a folder of its own that
# it removes at the end, as it does a rootfs it kept.
work=$(mktemp -d)
chmod 755 "$work" # step03's container root (host uid 100000) climbs through it
kept=
cleanup() {
	rm -rf --one-file-system "$work"
	if [ -n "$kept" ]; then rm -rf --one-file-system "$(dirname "$kept")"; fi
}
trap cleanup EXIT
cp "$image" "$work/image.tar"
tar -rf "$work/image.tar" -C _build/bin probe
mkdir "$work/rootfs"
tar -xf "$work/image.tar" -C "$work/rootfs"

say "The image is a tarball: files, configuration and folders, as docker export writes them. No kernel."
show tar -tvf "$image" bin/busybox etc/passwd proc/ dev/
say "step04 unpacks it into a rootfs of the container's own and runs the command there. uname -r inside, then on the host:"
show "$step04" run --image "$image" uname -r
show uname -r
notice "the same kernel: a container is a process of the host's kernel, and the image brings none."

say "The escape of steps 01 to 03: chroot into a subfolder, fchdir back out, climb '..', chroot where the climb ends. The probe reports the device and inode of the root it ends in. The host's root:"
show stat -c 'device %d, inode %i' /
say "In step03, the climb reaches it:"
show "$step03" run "$work/rootfs" sh -c '/probe escape | grep -A 2 "\"escaped\""'
say "In step04:"
show "$step04" run --image "$work/image.tar" sh -c '/probe escape | grep -A 2 "\"escaped\""'
notice "escaped: false, and the root is the container's own. pivot_root made the rootfs the root mount of the container's mount namespace, and step04 unmounted the host's root from it: the climb stops at the container's /, because there is nothing above it."

say "The mounts in the container's mount namespace: the root, then what step04 mounted in it."
show "$step04" run --image "$image" sh -c 'cut -d" " -f5,9 /proc/self/mountinfo'
notice "the root, /proc, a read-only /sys, and /dev with devpts, shm and mqueue in it. With a user namespace (the default), each device is the host's node bind-mounted: a user namespace may not make device nodes."

say "/dev holds a few harmless devices, and none of the host's disks:"
show "$step04" run --image "$image" ls -l /dev
show "$step04" run --image "$image" sh -c 'echo hello > /dev/null && head -c 8 /dev/urandom | wc -c && ls /dev/sda /dev/vda 2>&1 || true'

say "Every container gets a fresh copy of the image, removed when it ends. --keep keeps it:"
show "$step04" run --image "$image" --keep sh -c 'echo written inside > /note' 2>"$work/keep.txt"
cat "$work/keep.txt"
kept=$(sed -n "s/^step04: kept the container's rootfs in //p" "$work/keep.txt")
show ls -ln "$kept/note" "$kept/etc/passwd"
notice "the files belong to host uid 100000, which is root in the container's user namespace: step04 gave the image's files to the container's ids as it unpacked them."
show cat "$kept/note"
say "The demo removes the kept rootfs: rm -rf $(dirname "$kept")"
