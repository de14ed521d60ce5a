#!/bin/sh
# The init of make test-v2's VM (test-v2.sh puts it at /init). It makes the
# VM look like a Linux host with cgroup v2 only, as an Ubuntu 24.04 VM is,
# runs every test binary as root with CI=true, and powers off. Each
# binary's output is framed by "@@v2 BEGIN dir" and "@@v2 END dir status"
# lines on the serial console, which test-v2.sh reads.
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
	# From here, only the kernel's alarms would cut into the tests' output;
	# its other warnings are shown after the tests (report_kernel_warnings).
	echo 1 >/proc/sys/kernel/printk
	dmesg -c >/dev/null
}

# run_tests runs each listed test binary in its package's folder, the way
# go test does, with the binaries it needs given by the environment
# (internal/testkit reads BOXCRAFT_*), and CI=true so a skip fails.
run_tests() {
	# A hung test panics, with every goroutine's stack, before the VM's
	# time is up.
	timeout=$(cat /boxcraft/v2/timeout)
	timeout=$((timeout > 60 ? timeout - 30 : timeout))
	while read -r dir bin; do
		echo "$mark BEGIN $dir"
		status=0
		(
			cd "/boxcraft/$dir"
			if [ "$bin" != - ]; then export BOXCRAFT_BIN="/boxcraft/bin/$bin"; fi
			export BOXCRAFT_PROBE=/boxcraft/bin/probe BOXCRAFT_ROOTFS=/boxcraft/busybox.tar CI=true
			exec "./${dir##*/}.test" -test.v -test.count=1 -test.timeout="${timeout}s" </dev/null
		) || status=$?
		echo "$mark END $dir $status"
	done </boxcraft/v2/tests
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
echo "$mark Linux $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB, hostname $(hostname)"
run_tests
report_kernel_warnings
echo "$mark DONE"
trap - EXIT
poweroff -f
