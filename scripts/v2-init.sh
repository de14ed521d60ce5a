#!/bin/sh
# The init of make test-v2's VM (test-v2.sh puts it at /init). It makes the
# VM look like a Linux host with cgroup v2 only, as an Ubuntu 24.04 VM is,
# runs every test binary as root with CI=true, and powers off. Each
# binary's run is framed by "@@v2 BEGIN dir" and "@@v2 END dir status
# seconds" lines on the serial console, and each line of its output has
# its package's folder in front: test-v2.sh reads them.
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root

# leave_initramfs copies the initramfs into a tmpfs and makes that the
# root. The initramfs itself cannot be: pivot_root(2) refuses to move away
# from it, and a runtime's pivot_root (step04) must work as on a host.
leave_initramfs() {
	mkdir /newroot
	mount -t tmpfs -o mode=0755 root /newroot
	for entry in /*; do
		case $entry in
		/newroot | /dev | /proc | /sys) mkdir -p "/newroot$entry" ;;
		*) cp -a "$entry" /newroot/ ;;
		esac
	done
	mount --move /dev /newroot/dev
	exec switch_root /newroot /init run
}

# mount_filesystems mounts what a systemd host has mounted.
mount_filesystems() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mkdir -p /dev/pts /dev/shm /run
	mount -t devpts -o gid=5,mode=0620,ptmxmode=0000 devpts /dev/pts
	mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
	# udev makes these links on a host; devtmpfs does not.
	ln -sf /proc/self/fd /dev/fd
	ln -sf /proc/self/fd/0 /dev/stdin
	ln -sf /proc/self/fd/1 /dev/stdout
	ln -sf /proc/self/fd/2 /dev/stderr
	# systemd makes every mount shared: a runtime that forgets to make its
	# mounts private would leak them to the host, and the tests must see it.
	mount --make-rshared /
}

# enable_cgroup_v2 mounts the unified hierarchy alone, as systemd does,
# hands every controller to the root's children, and moves this shell (and
# so the tests) out of the root cgroup into a leaf, where a host's
# processes are too.
enable_cgroup_v2() {
	mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
	read -r controllers </sys/fs/cgroup/cgroup.controllers
	for controller in $controllers; do
		echo "+$controller" >/sys/fs/cgroup/cgroup.subtree_control
	done
	mkdir /sys/fs/cgroup/tests.scope
	echo $$ >/sys/fs/cgroup/tests.scope/cgroup.procs
	echo "@@v2 cgroup2 on /sys/fs/cgroup, enabled for the root's children: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
}

# set_up_host gives the VM a name, loopback, and the modules the tests need.
set_up_host() {
	hostname -F /etc/hostname
	ip link set lo up
	depmod
	# shellcheck disable=SC2046 # one module a word
	modprobe -a $(cat /boxcraft/v2/modules)
	echo "@@v2 modules loaded: $(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"
	# devtmpfs makes /dev/fuse when fuse loads; make it if not (the /proc
	# view, issue 21, mounts a FUSE filesystem for each container).
	[ -e /dev/fuse ] || mknod -m 0666 /dev/fuse c 10 229
	# From here, only the kernel's alarms would cut into the tests' output;
	# its other warnings are shown after the tests (report_kernel_warnings).
	echo 1 >/proc/sys/kernel/printk
	dmesg -c >/dev/null
}

# run_tests runs the listed test binaries, $jobs at a time (the VM has as
# many CPUs), each by a worker that takes the next one no other worker has
# taken: with one job they run one after the other, in the list's order.
# A watchdog stops them all when the VM's time is nearly up.
run_tests() {
	mkdir -p /run/v2/taken /run/v2/running
	width=$(awk '{ if (length($1) > w) w = length($1) } END { print w }' /boxcraft/v2/tests)
	stop_at_deadline &
	watchdog=$!
	workers=
	n=0
	while [ "$n" -lt "$jobs" ]; do
		run_worker &
		workers="$workers $!"
		n=$((n + 1))
	done
	# shellcheck disable=SC2086 # one pid a word
	wait $workers || echo "$mark a worker failed: the binaries it had not finished have no END line"
	kill "$watchdog" 2>/dev/null || true
}

# run_worker runs, one after the other, the test binaries it is first to
# take from the list (mkdir succeeds for one worker only).
run_worker() {
	i=0
	while read -r dir bin skip; do
		i=$((i + 1))
		if [ -e /run/v2/stop ]; then break; fi
		if mkdir "/run/v2/taken/$i" 2>/dev/null; then run_test_binary "$i" "$dir" "$bin" "$skip"; fi
	done </boxcraft/v2/tests
}

# run_test_binary runs one test binary in its package's folder, the way go
# test does, with the binaries it needs given by the environment
# (internal/testkit reads BOXCRAFT_*), and CI=true so a skip fails. Its
# output goes through a fifo to the console, each line as it comes with
# the package's name in front ("step04-rootfs | === RUN ..."), so that
# binaries running at once can be told apart and a hung one shows its
# last lines. -test.timeout is the package's budget: when it is spent, Go
# names the tests still running and prints every goroutine's stack.
run_test_binary() {
	fifo=/run/v2/$1.out
	mkfifo "$fifo"
	awk -v tag="$(printf "%-${width}s | " "$2")" '{ print tag $0; fflush() }' <"$fifo" &
	printer=$!
	began=$(uptime_seconds)
	echo "$mark BEGIN $2 $began"
	(
		cd "/boxcraft/$2"
		if [ "$3" != - ]; then export BOXCRAFT_BIN="/boxcraft/bin/$3"; fi
		export BOXCRAFT_PROBE=/boxcraft/bin/probe BOXCRAFT_ROOTFS=/boxcraft/busybox.tar CI=true
		# $4: the tests scripts/v2-exclude.txt excludes (test-v2.sh lists them), or -.
		skip=
		if [ "$4" != - ]; then skip=$4; fi
		exec "./${2##*/}.test" -test.v -test.count=1 -test.timeout="${package_timeout}s" -test.skip="$skip" </dev/null >"$fifo" 2>&1
	) &
	pid=$!
	echo "$pid" >"/run/v2/running/$1"
	# The watchdog may have looked for binaries to stop just before this one started.
	if [ -e /run/v2/stop ]; then kill -QUIT "$pid"; fi
	status=0
	wait "$pid" || status=$?
	rm "/run/v2/running/$1"
	# The printer ends with the binary's output, unless a process the tests
	# started and left behind holds it open: then it is stopped.
	(
		sleep 10
		kill "$printer" 2>/dev/null && echo "$mark a process left by $2's tests held its output open: stopped reading it"
	) &
	stopper=$!
	wait "$printer" || true
	kill "$stopper" 2>/dev/null || true
	rm "$fifo"
	echo "$mark END $2 $status $(($(uptime_seconds) - began))"
}

# stop_at_deadline waits until the VM's time is nearly up, then lets no
# more binary start and sends SIGQUIT to those running: each prints every
# goroutine's stack and exits, so the VM still powers off by itself, and
# the console says where each binary was.
stop_at_deadline() {
	left=$((deadline - $(uptime_seconds)))
	if [ "$left" -gt 0 ]; then sleep "$left"; fi
	: >/run/v2/stop
	echo "$mark the VM's time is nearly up (${deadline}s since boot): stopping the test binaries still running, with SIGQUIT (their stacks follow)"
	for running in /run/v2/running/*; do
		if [ -e "$running" ]; then kill -QUIT "$(cat "$running")" 2>/dev/null || true; fi
	done
}

# uptime_seconds prints the seconds since the VM booted.
uptime_seconds() {
	read -r up _ </proc/uptime
	echo "${up%.*}"
}

# report_kernel_warnings prints what the kernel warned about during the
# tests (the console showed only its alarms): an oops or a refused mount
# explains a failure.
report_kernel_warnings() {
	warnings=$(dmesg -r | sed -n 's/^<[0-4]>//p')
	if [ -n "$warnings" ]; then
		echo "@@v2 the kernel's warnings and errors:"
		echo "$warnings"
	fi
}

mark=@@v2
if [ "${1:-}" != run ]; then
	mount -t devtmpfs devtmpfs /dev
	# The kernel found no /dev/console in the initramfs to give us.
	exec </dev/console >/dev/console 2>&1
	# test-v2.sh boots once with v2_probe=1 on the kernel's command line
	# (which the kernel hands to init as a variable) to see if KVM works.
	if [ "${v2_probe:-}" = 1 ]; then
		echo "$mark up"
		poweroff -f
	fi
	leave_initramfs
fi
# Whatever fails from here, say so and power off: a kernel panic would only
# show as a missing report.
trap 'echo "$mark the init failed"; poweroff -f' EXIT
mount_filesystems
enable_cgroup_v2
set_up_host
echo "$mark Linux $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB, hostname $(hostname), up for $(uptime_seconds)s"
# test-v2.sh's settings: how many binaries at once, each one's seconds,
# and the VM's uptime at which the watchdog stops them.
read -r jobs package_timeout deadline </boxcraft/v2/settings
echo "$mark running $(wc -l </boxcraft/v2/tests) test binaries, $jobs at a time, each within ${package_timeout}s; the VM stops them ${deadline}s after boot"
run_tests
report_kernel_warnings
echo "$mark DONE"
trap - EXIT
poweroff -f
