#!/usr/bin/env bash
# make oci-validate: the OCI runtime validation suite
# (github.com/opencontainers/runtime-tools' validation/ tests, pinned in
# tools/oci-validate) against boxcraft-runc, then against runc, run the
# same way on the same machine, with each one's TAP totals and the tests
# that failed. As root. Not part of make test.
#
# The suite makes cgroups of its own, outside the workshop's: runc makes
# /cgrouptest and testdir/cgrouptest below its caller's cgroup (boxcraft-runc
# refuses the first and puts the second below its parent). Every such
# folder that was not there before is removed afterwards, as are the
# containers a failed test left in either runtime's state. boxcraft-runc
# makes every cgroup below a parent of the run's own, $bx_parent, which
# goes whole at the end; and a mount below the suite's bundles
# (/tmp/ocitest…) that a failed test left is unmounted.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
out=_build/oci-validate
tools=tools/oci-validate
runc_bin=${RUNC:-/usr/sbin/runc}
per_test=${OCI_VALIDATE_TIMEOUT:-120} # seconds each test program may take
runtimes=${OCI_VALIDATE_RUNTIMES:-boxcraft-runc runc} # which to run, in order
before=$(mktemp) # the suite's cgroup folders there before it ran
mounts_before=$(mktemp) # the mounts below /tmp/ocitest… there before it ran
bundles_before=$(mktemp) # the suite's bundle folders (/tmp/ocitest…) there before it ran
bx_parent=boxcraft/oci-validate # boxcraft-runc's cgroup parent for the run
trap 'remove_parent; remove_new_mounts; remove_new_bundles; rm -f "$before" "$mounts_before" "$bundles_before"' EXIT

say() { printf 'oci-validate: %s\n' "$*"; }
die() {
	say "$*" >&2
	exit 1
}

# build_suite builds runtimetest and every validation program into $out,
# with the suite's rootfs beside them: the programs find both in their
# working folder.
build_suite() {
	local src dir name
	mkdir -p "$out"
	# Built first: it fetches the module, whose folder go list names only
	# once it is there.
	(cd "$tools" && CGO_ENABLED=0 go build -o "$OLDPWD/$out/runtimetest" github.com/opencontainers/runtime-tools/cmd/runtimetest)
	src=$(cd "$tools" && go list -m -f '{{.Dir}}' github.com/opencontainers/runtime-tools)
	[ -d "$src/validation" ] || die "no validation/ in runtime-tools' module ($src)"
	for dir in "$src"/validation/*/; do
		name=$(basename "$dir")
		[ "$name" != util ] || continue
		(cd "$tools" && go build -o "$OLDPWD/$out/$name.t" "github.com/opencontainers/runtime-tools/validation/$name")
	done
	install -m 644 "$src/rootfs-$(go env GOARCH).tar.gz" "$out/"
}

# suite_cgroups lists the suite's own cgroup folders now there.
suite_cgroups() {
	find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d \( -name cgrouptest -o -name testdir \) 2>/dev/null | sort
}

# remove_new_cgroups removes, deepest first, the suite's cgroup folders
# that were not in $1 (the list from before), killing what is left in
# them: only the suite's containers are.
remove_new_cgroups() {
	local dir pid
	comm -13 "$1" <(suite_cgroups) | while read -r dir; do
		[ -d "$dir" ] || continue # below one removed already
		find "$dir" -depth -type d 2>/dev/null | while read -r sub; do
			while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$sub/cgroup.procs" 2>/dev/null || true
			rmdir "$sub" 2>/dev/null || true
		done
	done
	if [ -n "$(comm -13 "$1" <(suite_cgroups))" ]; then
		say "could not remove: $(comm -13 "$1" <(suite_cgroups) | tr '\n' ' ')" >&2
	fi
}

# remove_parent removes $bx_parent in every hierarchy, deepest first,
# killing what is left in it: only boxcraft-runc's containers of this
# run are there.
remove_parent() {
	local top sub pid
	for top in /sys/fs/cgroup/"$bx_parent" /sys/fs/cgroup/*/"$bx_parent"; do
		[ -d "$top" ] || continue
		find "$top" -depth -type d 2>/dev/null | while read -r sub; do
			# A frozen process does not die of SIGKILL on v1: thaw first.
			[ ! -e "$sub/freezer.state" ] || echo THAWED >"$sub/freezer.state" 2>/dev/null || true
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$sub/cgroup.procs" 2>/dev/null || true
				rmdir "$sub" 2>/dev/null && break
				sleep 0.5
			done
			[ ! -d "$sub" ] || say "could not remove $sub" >&2
		done
	done
}

# suite_mounts lists the mount points below the suite's bundles.
suite_mounts() {
	awk '$5 ~ "^/tmp/ocitest" { print $5 }' /proc/self/mountinfo | sort -u
}

# remove_new_mounts unmounts, deepest first, the mounts below the suite's
# bundles that were not there before the run: a failed test's.
remove_new_mounts() {
	local m
	comm -13 "$mounts_before" <(suite_mounts) | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || say "could not unmount $m" >&2
	done
}

# suite_bundles lists the suite's bundle folders: a program that fails
# leaves its own.
suite_bundles() {
	find /tmp -maxdepth 1 -name 'ocitest*' 2>/dev/null | sort
}

# remove_new_bundles removes the bundle folders that were not there
# before the run, once nothing is mounted below them.
remove_new_bundles() {
	local dir
	comm -13 "$bundles_before" <(suite_bundles) | while read -r dir; do
		if awk -v d="$dir/" 'index($5 "/", d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
			say "left $dir: something is still mounted below it" >&2
		else
			rm -rf "$dir"
		fi
	done
}

# remove_containers deletes what the runtime $1 still lists: the
# containers of tests that failed before their own delete.
remove_containers() {
	local id
	for id in $("$1" list -q 2>/dev/null); do
		"$1" delete --force "$id" >/dev/null 2>&1 || true
	done
}

# run_suite runs every validation program with RUNTIME=$2, writes each
# one's TAP into $out/$1/, and prints the totals and each failure.
run_suite() {
	local name=$1 runtime=$2 t tap status
	rm -rf "${out:?}/$name"
	mkdir -p "$out/$name"
	for t in "$out"/*.t; do
		tap=$out/$name/$(basename "$t" .t).tap
		status=0
		(cd "$out" && timeout "$per_test" env RUNTIME="$runtime" BOXCRAFT_CGROUP_PARENT="$bx_parent" "./$(basename "$t")" >"$OLDPWD/$tap" 2>&1) || status=$?
		echo "# exit status $status" >>"$tap"
		remove_containers "$runtime"
	done
	# ok / not ok lines; a SKIP or TODO directive is neither a pass nor a
	# failure; a program that printed no plan ("1..N") crashed: one failure.
	awk -v name="$name" '
		FNR == 1 { file = FILENAME; sub(/.*\//, "", file); sub(/\.tap$/, "", file); plan[file] = 0 }
		/^1\.\.[0-9]+/ { plan[file] = 1 }
		/^(not )?ok [0-9]+/ {
			if ($0 ~ /# *(SKIP|skip|TODO|todo)/) { skip++; next }
			if ($0 ~ /^ok/) pass++
			else { fail++; failed[++nf] = file ": " substr($0, index($0, "-") + 2) }
		}
		END {
			for (f in plan) if (!plan[f]) { fail++; failed[++nf] = f ": crashed or timed out (no TAP plan)" }
			printf "oci-validate: %-13s %d passed, %d failed, %d skipped\n", name, pass, fail, skip
			for (i = 1; i <= nf; i++) printf "oci-validate:   not ok  %s\n", failed[i]
		}' "$out/$name"/*.tap | tee "$out/$name.txt"
}

main() {
	# build: only the suite, which fetches its module from the module
	# proxy the first time (make oci-validate does this first, outside
	# the network namespace of its own that BOXCRAFT_OWN_NETNS=1 gives
	# the run, which reaches nothing).
	if [ "${1:-}" = build ]; then
		build_suite
		return
	fi
	[ "$(id -u)" -eq 0 ] || die "runs containers: run it as root (sudo make oci-validate)"
	[ -x _build/bin/boxcraft-runc ] || die "no _build/bin/boxcraft-runc: make bins builds it"
	[ -x "$runc_bin" ] || die "no runc at $runc_bin (RUNC=…): sudo make deps installs Debian's"
	build_suite
	suite_cgroups >"$before"
	suite_mounts >"$mounts_before"
	suite_bundles >"$bundles_before"
	say "runtime-tools $(cd "$tools" && go list -m -f '{{.Version}}' github.com/opencontainers/runtime-tools), $(find "$out" -name '*.t' | wc -l) test programs"
	local runtime
	for runtime in $runtimes; do
		case $runtime in
		boxcraft-runc) run_suite boxcraft-runc "$PWD/_build/bin/boxcraft-runc" ;;
		runc) run_suite "runc-$("$runc_bin" --version | awk 'NR == 1 { print $3 }')" "$runc_bin" ;;
		*) die "OCI_VALIDATE_RUNTIMES: $runtime? boxcraft-runc or runc" ;;
		esac
		remove_new_cgroups "$before"
		remove_parent
		remove_new_mounts
		remove_new_bundles
	done
}

main "$@"
