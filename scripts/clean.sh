#!/usr/bin/env bash
# Removes everything the workshop created, and nothing else: boxcraft's
# monitor processes, mounts under its own directories, cgroups under its
# own parent (and the processes in them, which only the workshop
# started), its state directories (boxcraft's /run/boxcraft and
# /var/lib/boxcraft, the steps' below them) and build outputs. Safe to
# run twice.
set -euo pipefail
cd -P "$(dirname "$0")/.." # the physical path, as mountinfo shows it

build=$PWD/_build
state_dirs=(/var/lib/boxcraft /run/boxcraft)

# ours reports whether a path lies in one of the workshop's directories,
# or in a state folder that the tests gave a run (in a test's temporary
# folder, named boxcraft-state) and a killed test run left mounted.
ours() {
	local dir
	for dir in "$build" "${state_dirs[@]}"; do
		case "$1" in "$dir" | "$dir"/*) return 0 ;; esac
	done
	case "$1" in "${TMPDIR:-/tmp}"/*/boxcraft-state/*) return 0 ;; esac
	return 1
}

# boxcraft's monitors first (one per detached container, outside its
# cgroup), so that none of them tears down what is being removed below.
# Each state.json names its monitor's pid; a pid is killed only while it
# is still that container's monitor (boxcraft-monitor ID, or boxcraft
# monitor ID from a boxcraft without it beside), not a process
# that took the pid over since.
for status in /run/boxcraft/containers/*/state.json "$build"/*/run/containers/*/state.json \
	"${TMPDIR:-/tmp}"/*/boxcraft-state/run/containers/*/state.json; do
	[ -f "$status" ] || continue
	id=$(basename "$(dirname "$status")")
	pid=$(sed -n 's/.*"monitorPid": *\([0-9]*\).*/\1/p' "$status")
	[ -n "$pid" ] || continue
	if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "(^|/)boxcraft[ -]monitor $id "; then
		echo "clean: kill boxcraft's monitor $pid, of container ${id:0:12}"
		kill -KILL "$pid" 2>/dev/null || true
	fi
done

# boxcraft's bridge boxcraft0 and its nftables table ip boxcraft, in this
# namespace (network prune: once the monitors are gone, no lease holds).
# Under BOXCRAFT_OWN_NETNS=1 boxcraft never made them here: this
# namespace is the machine's, left alone.
if [ -z "${BOXCRAFT_OWN_NETNS:-}" ] && [ -x "$build/bin/boxcraft" ]; then
	"$build/bin/boxcraft" network prune || true
fi

# Mounts first, deepest first, so that nothing below is removed through them.
# mountinfo writes a space in a path as \040, a tab as \011 and a
# backslash as \134: turn them back.
while read -r point; do
	if ours "$point"; then
		echo "clean: unmount $point"
		umount --lazy "$point" || true
	fi
done < <(awk '{ print $5 }' /proc/self/mountinfo | sed 's/\\040/ /g; s/\\011/\t/g; s/\\134/\\/g' | sort -r)

# Cgroups under the workshop's parent, in every hierarchy (v1 has one per
# controller; v2 has one).
for parent in /sys/fs/cgroup/*/boxcraft /sys/fs/cgroup/boxcraft; do
	[ -d "$parent" ] || continue
	while read -r pid; do
		echo "clean: kill process $pid, left in a cgroup under $parent"
		kill -KILL "$pid" 2>/dev/null || true
	done < <(find "$parent" -name cgroup.procs -exec cat {} +)
	# A killed process leaves its cgroup a moment later: retry for a second.
	for _ in $(seq 10); do
		find "$parent" -depth -type d -exec rmdir {} + 2>/dev/null || true
		[ -d "$parent" ] || break
		sleep 0.1
	done
	if [ -d "$parent" ]; then echo "clean: could not remove $parent" >&2; fi
done

for dir in "${state_dirs[@]}" "$build"; do
	if [ -e "$dir" ]; then
		echo "clean: remove $dir"
		rm -rf --one-file-system "$dir"
	fi
done
