#!/usr/bin/env bash
# make soak: SOAK_RUNS starts of boxcraft, of five kinds in turn, SOAK_JOBS
# at a time; then a check that nothing is left behind: no mount, cgroup,
# loop device, process or container state. It is not part of make test:
# it takes minutes.
#
#   soak.sh BOXCRAFT IMAGE_TARBALL
#
# The kinds of start:
#   fg    in the foreground, with a name; its output checked; then rm
#   stop  detached, then stop (its command exits 0 on SIGTERM), wait, rm
#   oom   --rm with -m 8m: the OOM killer ends it (137, "out of memory")
#   kill  detached, then kill -9 of its process from the host: wait
#         says 137; then rm
#   rm    --rm, in the foreground: nothing to remove afterwards
#
# It uses a state folder and a cgroup parent of its own (below boxcraft/),
# as the tests do, so the machine's containers are never touched. The
# state folder is named boxcraft-state in a temporary folder: make clean
# finds what a killed soak leaves there.
set -euo pipefail

boxcraft=$(realpath "${1:?usage: soak.sh BOXCRAFT IMAGE_TARBALL}")
tarball=$(realpath "${2:?usage: soak.sh BOXCRAFT IMAGE_TARBALL}")
runs=${SOAK_RUNS:-1000}
jobs=${SOAK_JOBS:-2}
kinds=(fg stop oom kill rm)

work=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
state=$work/boxcraft-state
parent=boxcraft/soak-$$
export BOXCRAFT_STATE_DIR=$state BOXCRAFT_CGROUP_PARENT=$parent

say() { printf 'soak: %s\n' "$*"; }

# The cgroup parent's folders, in every hierarchy (v1 has one per
# controller, v2 one).
cgroup_dirs() {
	local dir
	for dir in /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent"; do
		if [ -d "$dir" ]; then echo "$dir"; fi
	done
}

# remove_all removes what is left once the soak is over: any container
# still there (when the soak failed), the cgroup parent, which boxcraft
# makes and leaves, as the tests' parents are left, and the state folder.
remove_all() {
	local dir
	"$boxcraft" ps -a -q 2>/dev/null | xargs -r "$boxcraft" rm -f >/dev/null 2>&1 || true
	while read -r dir; do rmdir "$dir" 2>/dev/null || true; done < <(cgroup_dirs)
	rm -rf --one-file-system "$work"
}
trap remove_all EXIT

# fail records a run that went wrong: its kind, its number and why.
fail() { echo "FAIL $1 $2: $3" >>"$work/failures"; }

# container_pid is the host pid of a container's first process.
container_pid() {
	"$boxcraft" inspect "$1" | sed -n 's/^ *"Pid": \([0-9]*\),*$/\1/p' | head -n 1
}

# run_one makes start number $1, of kind $2, and checks what it saw.
run_one() {
	local i=$1 kind=$2 out rc=0 id pid
	case $kind in
	fg)
		out=$("$boxcraft" run --name "soak-$i" busybox sh -c "echo run $i" 2>&1) || rc=$?
		{ [ "$rc" -eq 0 ] && [ "$out" = "run $i" ]; } || fail "$kind" "$i" "exit status $rc, printed: $out"
		"$boxcraft" rm "soak-$i" >/dev/null || fail "$kind" "$i" "rm failed"
		;;
	stop)
		id=$("$boxcraft" run -d busybox sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done') || {
			fail "$kind" "$i" "run -d failed"
			return
		}
		"$boxcraft" stop -t 5 "$id" >/dev/null || fail "$kind" "$i" "stop failed"
		out=$("$boxcraft" wait "$id") || fail "$kind" "$i" "wait failed"
		[ "$out" = 0 ] || fail "$kind" "$i" "wait says $out, not 0"
		"$boxcraft" rm "$id" >/dev/null || fail "$kind" "$i" "rm failed"
		;;
	oom)
		# shellcheck disable=SC2016 # the shell in the container expands it
		out=$("$boxcraft" run --rm -m 8m busybox sh -c 'x=a; while :; do x=$x$x; done' 2>&1) || rc=$?
		{ [ "$rc" -eq 137 ] && [[ $out == *"out of memory"* ]]; } || fail "$kind" "$i" "exit status $rc, printed: $out"
		;;
	kill)
		id=$("$boxcraft" run -d busybox sleep 600) || {
			fail "$kind" "$i" "run -d failed"
			return
		}
		pid=$(container_pid "$id")
		if [ -n "$pid" ]; then kill -KILL "$pid"; else fail "$kind" "$i" "inspect shows no pid"; fi
		out=$("$boxcraft" wait "$id") || fail "$kind" "$i" "wait failed"
		[ "$out" = 137 ] || fail "$kind" "$i" "wait says $out, not 137"
		"$boxcraft" rm "$id" >/dev/null || fail "$kind" "$i" "rm failed"
		;;
	rm)
		out=$("$boxcraft" run --rm busybox true 2>&1) || rc=$?
		{ [ "$rc" -eq 0 ] && [ -z "$out" ]; } || fail "$kind" "$i" "exit status $rc, printed: $out"
		;;
	esac
}

# worker makes the starts whose number is $1 modulo the number of jobs.
worker() {
	local i
	for ((i = $1; i < runs; i += jobs)); do
		run_one "$i" "${kinds[i % ${#kinds[@]}]}"
	done
}

# leftovers prints, one a line, whatever the soak's containers left.
leftovers() {
	local dir pid environ cmd
	grep -F " $state/" /proc/self/mountinfo | awk '{ print "mount " $5 }' || true
	while read -r dir; do
		find "$dir" -mindepth 1 -type d -printf 'cgroup %p\n'
		find "$dir" -name cgroup.procs -exec cat {} + | sed 's/^/process in a cgroup /'
	done < <(cgroup_dirs)
	losetup -n -O NAME,BACK-FILE 2>/dev/null | grep -F "$state" | sed 's/^/loop device /' || true
	# A monitor is a boxcraft process with the soak's BOXCRAFT_STATE_DIR in
	# its environment (the soak's own grep has it too, but is no boxcraft).
	grep -lxzF "BOXCRAFT_STATE_DIR=$state" /proc/[0-9]*/environ 2>/dev/null | while read -r environ; do
		pid=$(basename "$(dirname "$environ")")
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
		if [[ $cmd == *boxcraft* ]]; then echo "process $pid: $cmd"; fi
	done
	"$boxcraft" ps -a -q | sed 's/^/container /'
	find "$state/run/containers" "$state/lib/containers" -mindepth 1 -maxdepth 1 -printf 'state %p\n'
}

main() {
	"$boxcraft" import "$tarball" busybox:latest >/dev/null
	say "$runs starts of boxcraft ($boxcraft), $jobs at a time, kinds in turn: ${kinds[*]}"
	say "state in $state, cgroups below $parent"
	: >"$work/failures"
	local start end w
	start=$(date +%s.%N)
	for ((w = 0; w < jobs; w++)); do worker "$w" & done
	wait
	end=$(date +%s.%N)

	local failed left
	failed=$(wc -l <"$work/failures")
	# A monitor tears down after wait returns: give the last a moment.
	sleep 1
	left=$(leftovers)
	say "$(awk -v n="$runs" -v s="$start" -v e="$end" 'BEGIN { printf "%d starts in %.0f s: %.1f a second", n, e - s, n / (e - s) }'), $((runs / ${#kinds[@]})) or so of each kind"
	say "failed: $failed"
	head -n 20 "$work/failures"
	if [ -n "$left" ]; then
		say "left behind: $(echo "$left" | wc -l) things"
		echo "$left" | head -n 40
	else
		say "left behind: nothing (no mount, cgroup, loop device, process or container state)"
	fi
	[ "$failed" -eq 0 ] && [ -z "$left" ]
}

main
