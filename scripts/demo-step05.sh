#!/usr/bin/env bash
# make step05: a narrated demonstration of step05-layers. An image is a
# stack of layers; step05 unpacks each once into a store, and stacks them
# with overlayfs under a writable layer of each container's own. Two
# containers from one image write files: their upper layers differ, their
# lower layers are the same folders on disk. A commit turns a container's
# upper layer into a new image's top layer, and the new image runs.
set -euo pipefail
cd "$(dirname "$0")/.."

step05=_build/bin/step05
image=_build/busybox.tar
store=/var/lib/boxcraft/step05

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh

# The demo's images go in a folder of its own; the containers it keeps,
# and the layers it adds to the store, it removes at the end. What the
# store held before stays.
work=$(mktemp -d)
before=$(mktemp)
find "$store/layers" -mindepth 1 -maxdepth 2 2>/dev/null | sort >"$before" || true
kept=()
# keep_run sets these to the folders of the containers it keeps.
first='' one='' two=''
cleanup() {
	local dir
	for dir in "${kept[@]}"; do rm -rf --one-file-system "$dir"; done
	find "$store/layers" -mindepth 1 -maxdepth 2 2>/dev/null | sort | comm -13 "$before" - |
		while IFS= read -r dir; do rm -rf --one-file-system "$dir"; done
	rm -rf --one-file-system "$work" "$before"
}
trap cleanup EXIT

# keep_run runs step05 run --keep, shows its output, and prints the kept
# container's folder into the variable named by its first argument.
keep_run() {
	local var=$1
	shift
	show "$step05" run --keep "$@" 2>"$work/keep.txt"
	cat "$work/keep.txt"
	local upper
	upper=$(sed -n "s/^step05: kept the container's upper layer in //p" "$work/keep.txt")
	kept+=("$(dirname "$upper")")
	printf -v "$var" '%s' "$(dirname "$upper")"
}

say "Every step of making an image makes a layer: run a container, keep what it changed, commit. Step one: a container from the busybox image (one layer) writes a small program."
keep_run first --image "$image" sh -c 'mkdir /app && echo "echo hello from the app layer" > /app/hello.sh'
say "Its upper layer holds only what it changed:"
show find "$first/upper" -mindepth 1
say "step05 commit turns it into a new image, an OCI layout: busybox's layer and the new one."
show "$step05" commit "$(basename "$first")" "$work/app"
show cat "$work/app/index.json"
echo
show ls "$work/app/blobs/sha256"

say "Inside a container of the new image, the root is an overlay: lowerdir lists the image's layers, top first, folders of the store; upperdir is the container's own layer."
show "$step05" run --image "$work/app" sh -c 'sh /app/hello.sh; grep -o "overlay.*" /proc/self/mountinfo | head -n 1'
# The set of layer folders this user namespace's containers use: the
# bottom lower layer's folder says which (u0-100000-65536 by default).
lower=$("$step05" run --image "$work/app" sh -c 'grep -o "lowerdir=[^:,]*" /proc/self/mountinfo | head -n 1')
set=$(dirname "${lower#lowerdir=}")
say "The store holds each layer once, in a folder named by its diffID: busybox's, which both images have, and the app's, unpacked by that first run."
show ls "$set"

say "Two containers from the app image each write a file, and delete one of busybox's:"
keep_run one --image "$work/app" sh -c 'echo one > /one.txt; rm /etc/hostname'
keep_run two --image "$work/app" sh -c 'echo two > /two.txt'
say "Their upper layers differ:"
show find "$one/upper" "$two/upper" -mindepth 1
show ls -l "$one/upper/etc/hostname"
notice "a deleted file is a whiteout in the upper layer: a character device 0:0, which overlayfs shows as no file at all."
say "Their lower layers are the same folders in the store: each kept container's record names them by diffID."
show grep -h -A3 '"diffIDs"' "$one/container.json" "$two/container.json"
bottom=$("$step05" run --image "$work/app" sh -c 'grep -o "lowerdir=[^,]*" /proc/self/mountinfo | head -n 1')
show stat -c '%i %n' "${bottom##*:}/bin/busybox"
show "$step05" run --image "$work/app" stat -c '%i %n' /bin/busybox
notice "the same inode, inside the container and in the store: nothing was copied."

say "Commit the first of them, and run the result: three layers now."
show "$step05" commit "$(basename "$one")" "$work/app-one"
show "$step05" run --image "$work/app-one" sh -c 'cat /one.txt; sh /app/hello.sh; [ -e /etc/hostname ] || echo /etc/hostname is gone'
show ls "$set"
notice "one more layer: one.txt and the whiteout of /etc/hostname. busybox's layer is still there once, for all three images."
say "The demo removes what it kept and committed: $work, ${kept[*]}, and the layers it added to $store/layers."
