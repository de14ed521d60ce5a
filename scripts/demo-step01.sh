#!/usr/bin/env bash
# make step01: a narrated demonstration of step01-chroot. It shows what a
# chroot changes (the files a process sees) and what it does not (hostname,
# network, processes), then climbs out of it.
set -euo pipefail
cd "$(dirname "$0")/.."

step01=_build/bin/step01
rootfs=_build/rootfs

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh

# The demo mounts proc in the rootfs and copies the probe into it for a
# moment; whatever happens, both go again.
cleanup() {
	if mountpoint -q "$rootfs/proc"; then umount "$rootfs/proc"; fi
	rm -f "$rootfs/probe"
}
trap cleanup EXIT

say "chroot gives a process a new root directory: it sees the image's files."
show "$step01" run "$rootfs" ls -C /
show ls -C /
show "$step01" run "$rootfs" cat /etc/hostname
notice "inside, / holds only the image's folders, and /etc/hostname is the image's own file."

say "But the kernel's hostname is still the host's: there is no UTS namespace."
show "$step01" run "$rootfs" hostname
show hostname
notice "the same name on both sides, whatever the image's /etc/hostname says."

say "The network is the host's: every host interface is there."
show "$step01" run "$rootfs" ip -o link
notice "not just lo: the chroot shares the host's network stack."

say "The processes are the host's. Mount proc in the rootfs and run ps inside."
show mount -t proc proc "$rootfs/proc"
# shellcheck disable=SC2016 # the script is expanded by the shell inside the container
show "$step01" run "$rootfs" sh -c 'ps -o pid,user,comm | head -n 6; echo "... $(ps -o pid | tail -n +2 | wc -l) processes in all"'
show umount "$rootfs/proc"
notice "pid 1 is the host's init, and the list is every process on the host: there is no PID namespace."

say "Root can climb out. The probe chroots into a subfolder, steps back out through an open descriptor, and climbs '..' to the top."
show cp _build/bin/probe "$rootfs/probe"
printf '$ %s\n' "$step01 run $rootfs /probe escape | sed -n '/\"escape\"/,/^    }/p'"
"$step01" run "$rootfs" /probe escape | sed -n '/"escape"/,/^    }/p'
notice "escaped is true and root_entries lists the HOST's root folders: a chroot is not a jail for root."
say "step02 adds namespaces, and step04 replaces chroot with pivot_root, after which the escape fails."
