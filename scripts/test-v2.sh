#!/usr/bin/env bash
# make test-v2: every test again, as root, in a throwaway VM whose only
# cgroup hierarchy is v2, as on the learners' Ubuntu 24.04 VMs. This
# project's machines and CI run cgroup v1 in hybrid mode, so without this
# leg nothing would show that the steps work where the learners run them.
#
# The VM is qemu on Debian's own kernel (the linux-image-amd64 package, its
# .deb kept in _build/v2/debs so that the next run downloads nothing) with
# an initramfs made here: the busybox image as its root, the compiled test
# binaries (go test -c, static), the step binaries, the probe, the image
# tar, and the kernel modules the tests need. Its init (v2-init.sh) sets up
# what a Linux host has, runs the test binaries, V2_JOBS at a time, and
# powers off. Each binary has V2_PACKAGE_TIMEOUT seconds, and the VM as
# long as its binaries may take, plus its boot. This script reads the
# serial console and fails on any failed or skipped test, a binary that
# reported nothing or ran out of time (naming the test it was in), or a
# VM that did not finish in time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH CGO_ENABLED=0

# The knobs, as environment or make variables (make test-v2 V2_JOBS=1).
jobs=${V2_JOBS:-2}                              # test binaries at once; the VM has 2 CPUs
package_timeout=${V2_PACKAGE_TIMEOUT:-900}      # seconds each test binary may run
max_timeout=${V2_MAX_TIMEOUT:-3000}             # seconds the VM may take at most, however many binaries
timeout=${V2_TIMEOUT:-}                         # seconds from boot to power-off; else from the above
memory=${V2_MEMORY:-2048}                       # MiB; the initramfs lives in it
want_accel=${V2_ACCEL:-auto}                    # kvm, tcg, or auto: kvm when it works here
kernel_deb=${V2_KERNEL_DEB:-}                   # a linux-image .deb to boot instead of Debian's
# nf_tables and the nft_* expressions boxcraft's bridge network uses
# (final/network: nat chains, masquerade, ct status, fib daddr type), and
# fuse for the /proc view (final/procfs). crc32c_generic first: conntrack's
# libcrc32c asks the crypto API for crc32c when it loads, a soft
# dependency (softdep=pre) that depends= does not name, and fails without.
modules=${V2_MODULES:-overlay loop veth bridge crc32c_generic nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib_ipv4 fuse} # loaded with what they depend on

out=_build/v2
stage=$out/initramfs
image=_build/busybox.tar
log=$out/console.log
logs=$out/logs      # each package's lines from the console, on their own
durations=$out/durations # each package's seconds in the last run
# The lines the VM's init writes around each binary's output, to be read here.
mark=@@v2
# Seconds the VM may take to boot, and to stop its test binaries (printing
# their stacks) and power off, added to its binaries' time (set_timeout).
boot_time=60
stop_time=30

say() { printf 'test-v2: %s\n' "$*"; }
die() {
	say "$*" >&2
	exit 1
}

# need_tools installs qemu with the workshop's own installer (as root), and
# checks for the rest, which Debian and Ubuntu always have.
need_tools() {
	[ "$(uname -m)" = x86_64 ] || die "the VM is an x86_64 one, with Debian's amd64 kernel: run this on an x86_64 machine"
	scripts/deps.sh qemu-system-x86
	local tool
	for tool in qemu-system-x86_64 apt-get dpkg-deb busybox ldd; do
		command -v "$tool" >/dev/null || die "needs $tool: sudo make test-v2 installs what is missing"
	done
	[ -f "$image" ] || die "no $image: make test-v2 builds it first"
	[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "V2_JOBS=$jobs: give a number of test binaries to run at once"
	[[ $package_timeout =~ ^[1-9][0-9]*$ ]] || die "V2_PACKAGE_TIMEOUT=$package_timeout: give a number of seconds"
	[[ $timeout =~ ^([1-9][0-9]*)?$ ]] || die "V2_TIMEOUT=$timeout: give a number of seconds"
	[[ $max_timeout =~ ^[1-9][0-9]*$ ]] || die "V2_MAX_TIMEOUT=$max_timeout: give a number of seconds"
}

# fetch_kernel prints the path of the kernel .deb to boot: the one given,
# else the one kept from an earlier run, else Debian's current one,
# downloaded with apt-get (which needs no root for a download).
fetch_kernel() {
	if [ -n "$kernel_deb" ]; then
		[ -f "$kernel_deb" ] || die "V2_KERNEL_DEB=$kernel_deb: no such file"
		echo "$kernel_deb"
		return
	fi
	local kept
	kept=$(compgen -G "$out/debs/linux-image-*.deb" | sort -V | tail -n 1 || true)
	if [ -n "$kept" ]; then
		echo "$kept"
		return
	fi
	# linux-image-amd64 only depends on the versioned package that holds
	# the kernel: download that one.
	local pkg
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || die "apt knows no linux-image-amd64 (Debian's kernel): run sudo apt-get update, or give V2_KERNEL_DEB=path/to/linux-image-….deb"
	say "downloading $pkg, once: it is kept in $out/debs" >&2
	mkdir -p "$out/debs"
	# As root, apt hands downloads to its own user, who cannot write here.
	local sandbox=()
	if [ "$(id -u)" -eq 0 ]; then sandbox=(-o APT::Sandbox::User=root); fi
	(cd "$out/debs" && apt-get download -qq "${sandbox[@]}" "$pkg") >&2
	compgen -G "$out/debs/${pkg}_*.deb" | head -n 1
}

# unpack_kernel extracts vmlinuz and the modules from the .deb into
# $out/kernel, once per .deb.
unpack_kernel() {
	local deb=$1 dir=$out/kernel
	if [ "$(cat "$dir/from" 2>/dev/null)" = "$deb" ]; then return; fi
	rm -rf "$dir"
	mkdir -p "$dir"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards './boot/vmlinuz-*' './lib/modules/*'
	echo "$deb" >"$dir/from"
}

# kernel_release is the version the modules are kept under (6.1.0-…-amd64).
kernel_release() { basename "$(compgen -G "$out/kernel/lib/modules/*" | head -n 1)"; }

# module_file prints the path of module $1 in the unpacked kernel, whether
# it is compressed or not (bookworm's are plain .ko; later Debians
# compress them), and nothing for a module built into the kernel.
module_file() {
	# Module names count - and _ as one: snd_aloop is snd-aloop.ko.
	local pattern=".*/${1//[-_]/[-_]}\.ko(\.xz|\.zst|\.gz)?"
	find "$out/kernel/lib/modules/$2/kernel" -regextype posix-extended -regex "$pattern" -print -quit
}

# module_body writes a module's plain .ko to stdout.
module_body() {
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -qdc "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}

# stage_modules copies the modules asked for, and what they depend on,
# uncompressed, into the initramfs, and lists those the VM's init is to
# load (with depmod and modprobe): the ones asked for that are not built in.
stage_modules() {
	local release=$1 todo name file rel deps load=()
	read -r -a todo <<<"$modules"
	declare -A seen=() wanted=()
	for name in "${todo[@]}"; do wanted[$name]=1; done
	while [ "${#todo[@]}" -gt 0 ]; do
		name=${todo[0]}
		todo=("${todo[@]:1}")
		[ -z "${seen[$name]:-}" ] || continue
		seen[$name]=1
		file=$(module_file "$name" "$release")
		if [ -z "$file" ]; then
			grep -qE "/${name//_/[-_]}\.ko" "$out/kernel/lib/modules/$release/modules.builtin" ||
				die "kernel $release has no module $name (V2_MODULES)"
			continue # built in: nothing to load
		fi
		if [ -n "${wanted[$name]:-}" ]; then load+=("$name"); fi
		rel=${file#"$out/kernel/"}
		rel=${rel%.xz}
		rel=${rel%.zst}
		rel=${rel%.gz}
		mkdir -p "$stage/$(dirname "$rel")"
		module_body "$file" >"$stage/$rel"
		# A module names what it needs in its .modinfo section: depends=a,b.
		deps=$(tr '\0' '\n' <"$stage/$rel" | sed -n 's/^depends=//p' | tr ',' ' ')
		read -r -a deps <<<"$deps"
		todo+=("${deps[@]}")
	done
	echo "${load[*]}" >"$stage/boxcraft/v2/modules"
}

# exclusions is scripts/v2-exclude.txt: tests that cannot run in the VM,
# by name, each with its reason, one a line:
#     <package dir> <go test -skip regexp> <reason, to the end of the line>
# (# starts a comment). read_exclusions fills skips (a package's regexps,
# joined with |) from it, and checks each line.
exclusions=scripts/v2-exclude.txt
declare -A skips=()
read_exclusions() {
	[ -f "$exclusions" ] || return 0
	local dir regexp reason n=0
	while read -r dir regexp reason; do
		n=$((n + 1))
		case $dir in '' | '#'*) continue ;; esac
		[ -n "$reason" ] || die "$exclusions:$n: give <package dir> <skip regexp> <reason>"
		[ -d "$dir" ] || die "$exclusions:$n: no package folder $dir"
		skips[$dir]=${skips[$dir]:+${skips[$dir]}|}$regexp
	done <"$exclusions"
}

# print_exclusions says, in the summary, which tests did not run here
# and why: an exclusion is never silent.
print_exclusions() {
	[ -f "$exclusions" ] || return 0
	local dir regexp reason
	while read -r dir regexp reason; do
		case $dir in '' | '#'*) continue ;; esac
		say "EXCLUDED  $dir -skip '$regexp': $reason"
	done <"$exclusions"
}

# stage_tests builds the test binary of every package that has tests into
# the folder the package has in the VM (go test runs a package's tests in
# its folder; its testdata goes along), and lists them in $out/packages,
# each with the binary under test: a step's own (step02-… → _build/bin/step02),
# boxcraft's for final/e2e/…, or none for the other packages, and the
# tests it excludes (-test.skip), or - for none.
stage_tests() {
	local dir rel bin
	: >"$out/packages"
	for dir in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./...); do
		rel=${dir#"$PWD/"}
		go test -c -o "$stage/boxcraft/$rel/$(basename "$rel").test" "./$rel"
		if [ -d "$rel/testdata" ]; then cp -a "$rel/testdata" "$stage/boxcraft/$rel/"; fi
		bin=-
		if [[ $rel =~ ^(step[0-9][0-9])- ]]; then
			bin=${BASH_REMATCH[1]}
		elif [[ $rel == final/e2e/* ]]; then
			bin=boxcraft
		fi
		if [ "$bin" != - ] && [ ! -x "_build/bin/$bin" ]; then
			die "no _build/bin/$bin for $rel: make test-v2 builds it first (make bins)"
		fi
		echo "$rel $bin ${skips[$rel]:--}" >>"$out/packages"
	done
	[ -s "$out/packages" ] || die "no package has tests"
}

# order_tests lists the test binaries for the init in the order it is to
# start them. One at a time, that is the packages' order. More at a time,
# the longest go first, so that the short ones fill the gaps at the end:
# longest by the last run's seconds ($durations), a package with none
# first, and among equals the later packages first (a step's tests run
# the suites of all the steps before it too).
order_tests() {
	if [ "$jobs" -eq 1 ]; then
		cp "$out/packages" "$stage/boxcraft/v2/tests"
		return
	fi
	awk -v durations="$durations" '
		BEGIN { while ((getline line < durations) > 0) { split(line, f, " "); took[f[1]] = f[2] } }
		{ print (($1 in took) ? took[$1] : 999999), NR, $0 }' "$out/packages" |
		sort -k1,1nr -k2,2nr | cut -d' ' -f3- >"$stage/boxcraft/v2/tests"
}

# set_timeout gives the VM, unless V2_TIMEOUT did, the time its test
# binaries may take, each V2_PACKAGE_TIMEOUT, $jobs at a time, plus its
# boot, and tells the init its settings: the binaries at once, each one's
# seconds, and when (in seconds since boot) to stop those still running,
# with time left for them to print their stacks and for the VM to power
# off before it is killed.
set_timeout() {
	local count rounds
	count=$(wc -l <"$out/packages")
	rounds=$(((count + jobs - 1) / jobs))
	timeout_from="V2_TIMEOUT"
	if [ -z "$timeout" ]; then
		timeout=$((boot_time + rounds * package_timeout + stop_time))
		timeout_from="${boot_time}s to boot, $rounds rounds of ${package_timeout}s, ${stop_time}s to stop"
		# CI has 90 minutes for everything: many binaries hanging at once
		# must not take the VM past what is left of them.
		if [ "$timeout" -gt "$max_timeout" ]; then
			timeout=$max_timeout
			timeout_from="V2_MAX_TIMEOUT, less than $timeout_from"
		fi
	fi
	local deadline=$((timeout > 2 * stop_time ? timeout - stop_time : timeout / 2))
	echo "$jobs $package_timeout $deadline" >"$stage/boxcraft/v2/settings"
}

# stage_host_program copies a host program and the libraries it is linked
# against, replacing the busybox link of the same name.
stage_host_program() {
	local file
	for file in "$1" $(ldd "$1" | grep -o '/[^ ]*'); do
		rm -f "$stage$file"
		cp -L --parents "$file" "$stage"
	done
}

# stage_system lays out the VM's root: the workshop's busybox image (a
# root filesystem with /etc/passwd holding root and nobody), the init, the
# binaries, and the few files a host has that the image does not.
stage_system() {
	rm -rf "$stage"
	mkdir -p "$stage/boxcraft/v2" "$stage/boxcraft/bin"
	tar -xf "$image" -C "$stage"
	cp scripts/v2-init.sh "$stage/init"
	cp _build/bin/* "$stage/boxcraft/bin/"
	cp "$image" "$stage/boxcraft/busybox.tar"
	echo v2-test-vm >"$stage/etc/hostname"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$stage/etc/hosts"
	# On a host /bin/true is a dynamically linked program (internal/busybox
	# tests that such a program is refused), not a busybox applet.
	stage_host_program /bin/true
	# GNU tar, which step04's tests compare its unpacking with.
	stage_host_program "$(command -v tar)"
}

# pack_initramfs writes the staged tree as the initramfs, every file owned
# by root whoever runs this.
pack_initramfs() {
	(cd "$stage" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) |
		gzip -1 >"$out/initramfs.cpio.gz"
}

# pick_accel prints kvm when the VM boots with KVM, else tcg (software
# emulation: slower, but it works anywhere). A /dev/kvm can be there and
# still fail: nested in another VM, qemu may abort or the kernel hang.
pick_accel() {
	case $want_accel in
	kvm | tcg) echo "$want_accel" ;;
	auto)
		if [ -r /dev/kvm ] && [ -w /dev/kvm ] && qemu kvm v2_probe=1 </dev/null 2>/dev/null | grep -q "^$mark up"; then
			echo kvm
		else
			echo tcg
		fi
		;;
	*) die "V2_ACCEL=$want_accel: give kvm, tcg or auto" ;;
	esac
}

# qemu boots the VM with accelerator $1 and $2 added to the kernel's
# command line, its serial console on stdout, for at most $timeout seconds.
# KVM gets the host's CPU, emulation the most capable one it has.
qemu() {
	local cpu=max seconds=$timeout
	if [ "$1" = kvm ]; then cpu=host; fi
	if [ -n "$2" ]; then seconds=30; fi # the KVM probe boots in a few
	timeout --kill-after=10 "$seconds" qemu-system-x86_64 \
		-accel "$1" -cpu "$cpu" -smp 2 -m "$memory" \
		-nodefaults -no-user-config -display none -no-reboot -serial stdio \
		-kernel "$(compgen -G "$out/kernel/boot/vmlinuz-*" | head -n 1)" -initrd "$out/initramfs.cpio.gz" \
		-append "console=ttyS0 quiet panic=-1 $2"
}

# boot runs the VM to its end, the serial console on stdout and in $log
# (less the carriage returns of a serial line). It returns timeout's
# status: 124 when the VM ran out of time.
boot() {
	local status=0
	qemu "$1" "" </dev/null | tr -d '\r' | tee "$log" || status=${PIPESTATUS[0]}
	return "$status"
}

# report reads the console log: it writes each package's lines to a file
# of their own in $logs and its seconds to $durations, prints how long the
# VM took, one line a test binary and a total, and fails unless every
# binary listed ran, ended and passed with no test failed or skipped. A
# binary that ran out of time, its own (Go's -test.timeout names the tests
# it was in) or the VM's (then they are the last ones the console shows
# started and not ended), is reported with the test it was running.
report() {
	local dir
	rm -rf "$logs"
	while read -r dir _; do mkdir -p "$logs/$(dirname "$dir")"; done <"$out/packages"
	awk -v mark="$mark" -v listed="$out/packages" -v logs="$logs" -v durations="$durations" \
		-v vm_seconds="$1" -v jobs="$jobs" -v package_timeout="$package_timeout" -v timeout="$timeout" '
		BEGIN {
			while ((getline line < listed) > 0) { split(line, f, " "); order[++n] = f[1]; known[f[1]] = 1 }
			while ((getline line < durations) > 0) { split(line, f, " "); last[f[1]] = f[2] }
			close(durations)
		}
		$1 == mark && $2 == "BEGIN" { began[$3] = $4; next }
		$1 == mark && $2 == "END" { ended[$3] = 1; status[$3] = $4; took[$3] = $5; next }
		$1 == mark && $2 == "DONE" { done = 1; next }
		$1 == mark && /time is nearly up/ { out_of_time = 1; next }
		$1 == mark && $2 == "Linux" { booted = $NF; sub(/s$/, "", booted); next }
		($1 in known) && $2 == "|" { read_line($1, substr($0, index($0, " | ") + 3)) }

		# read_line reads one line of package p: the tests that start, pause
		# and continue (=== RUN, PAUSE, CONT), those that end (--- PASS, FAIL,
		# SKIP), and what Go prints when time runs out.
		function read_line(p, line, name, f) {
			print line > (logs "/" p ".log")
			if (listing[p] && line ~ /^[ \t]+running tests:$/) return
			if (listing[p] && line ~ /^[ \t]+[^ \t]+ \([0-9.hms]+\)$/) {
				name = line; sub(/^[ \t]+/, "", name); sub(/ .*/, "", name)
				timed_out[p] = timed_out[p] " " name
				return
			}
			listing[p] = 0
			if (line ~ /^ *--- (PASS|FAIL|SKIP): /) {
				name = line; sub(/^ *--- [A-Z]+: /, "", name); sub(/ .*/, "", name)
				ended_test[p, name] = 1
				if (line ~ /^ *--- PASS/) pass[p]++; else if (line ~ /^ *--- FAIL/) fail[p]++; else skip[p]++
			} else if (line ~ /^=== (RUN|CONT|PAUSE) /) {
				split(line, f, " "); name = f[3]
				state[p, name] = f[2]
				if (f[2] != "PAUSE") started[p, ++events[p]] = name
			} else if (line ~ /panic: test timed out after /) {
				go_timeout[p] = 1; listing[p] = 1
			} else if (line ~ /^SIGQUIT: quit/) {
				quit[p] = 1
			}
		}

		# still_running names the tests of p that time ran out in: the ones
		# Go listed, less those that only wait for a subtest; else the last
		# one started or continued that has not ended or paused since.
		function still_running(p, names, k, i, j, m, list, leaf, found) {
			m = split(timed_out[p], list, " ")
			for (i = 1; i <= m; i++) {
				leaf = 1
				for (j = 1; j <= m; j++) if (index(list[j], list[i] "/") == 1) leaf = 0
				if (leaf) names = names (names == "" ? "" : ", ") list[i]
			}
			if (names != "") return names
			for (k = events[p]; k >= 1; k--) {
				found = started[p, k]
				if (!((p, found) in ended_test) && state[p, found] != "PAUSE") return found
			}
			return "no test (between tests, or before the first)"
		}

		END {
			bad = 0
			for (i = 1; i <= n; i++) {
				p = order[i]
				counts = sprintf("%d passed, %d failed, %d skipped", pass[p], fail[p], skip[p])
				if (!(p in began)) {
					verdict = "NO REPORT"; why = "did not start"
					if (out_of_time || !done) why = why ": the VM ran out of time first"
				} else if (!(p in ended) || quit[p] || go_timeout[p]) {
					verdict = "TIMEOUT"
					after = (p in ended) ? took[p] "s" : "about " (vm_seconds - began[p]) "s"
					why = "still running " still_running(p) " after " after
					if (go_timeout[p]) why = why " (V2_PACKAGE_TIMEOUT=" package_timeout ")"
					else why = why ", when the VM ran out of time (V2_TIMEOUT=" timeout ")"
					why = why "; " counts
				} else {
					why = counts ", in " took[p] "s"
					if (status[p] != 0) why = why ", exit status " status[p]
					verdict = (status[p] == 0 && fail[p] == 0 && skip[p] == 0 && pass[p] > 0) ? "PASS" : "FAIL"
					if (pass[p] + fail[p] + skip[p] == 0) why = why " (ran no test)"
				}
				if (verdict != "PASS") bad++
				printf "test-v2: %-9s %-20s %s\n", verdict, p, why
				# A binary that ran out of time would have taken longer.
				if ((p in ended) && (verdict != "TIMEOUT" || took[p] > last[p])) last[p] = took[p]
				if (p in last) print p, last[p] > durations
				tp += pass[p]; tf += fail[p]; ts += skip[p]; total += took[p]
			}
			if (!done) { print "test-v2: the VM did not say it was done"; bad++ }
			if (booted == "") booted = "?"
			printf "test-v2: the VM ran for %ds: it booted in %ss, and its test binaries ran for %ds in all, %d at a time\n", vm_seconds, booted, total, jobs
			printf "test-v2: %d passed, %d failed, %d skipped\n", tp, tf, ts
			exit bad > 0
		}' "$log"
}

main() {
	need_tools
	local deb release accel start status=0
	start=$SECONDS
	deb=$(fetch_kernel)
	unpack_kernel "$deb"
	release=$(kernel_release)
	stage_system
	stage_modules "$release"
	read_exclusions
	stage_tests
	order_tests
	set_timeout
	pack_initramfs
	say "built $(wc -l <"$out/packages") test binaries and the initramfs ($(du -h "$out/initramfs.cpio.gz" | cut -f1)) in $((SECONDS - start))s"
	accel=$(pick_accel)
	say "booting Linux $release ($(basename "$deb")) with $accel, $memory MiB"
	say "test binaries: $jobs at a time (V2_JOBS), each within ${package_timeout}s (V2_PACKAGE_TIMEOUT); the VM within ${timeout}s ($timeout_from)"
	start=$SECONDS
	boot "$accel" || status=$?
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		say "the VM did not finish within ${timeout}s (V2_TIMEOUT): killed"
	elif [ "$status" -ne 0 ]; then
		say "qemu failed with exit status $status"
	fi
	report "$((SECONDS - start))" || status=1
	print_exclusions
	if [ "$status" -ne 0 ]; then
		say "FAILED (the console is in $log, each package's lines in $logs/)"
		return 1
	fi
	say "all passed on cgroup v2"
}

main
