#!/usr/bin/env bash
# make step03: a narrated demonstration of step03-cgroups. A container
# with limits asks the usual tools what it has, and most of them answer
# with the host's figures: /proc is not cgroup-aware. The real limits are
# in the container's cgroup files, read from inside and from the host.
# Then the kernel enforces two of them: an OOM kill, and a refused fork.
set -euo pipefail
cd "$(dirname "$0")/.."

step03=_build/bin/step03
rootfs=_build/rootfs

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh

# The demo starts one container in the background, which ends by itself
# a few seconds later; whatever happens, wait for it, so that step03
# removes its cgroup (it removes its own) before the demo ends.
background=
cleanup() { if [ -n "$background" ]; then wait "$background" 2>/dev/null || true; fi; }
trap cleanup EXIT

# What is mounted on /sys/fs/cgroup tells the versions apart, as step03's
# isCgroupV2 does: cgroup2 itself, or a tmpfs holding v1's hierarchies.
case $(stat -fc %T /sys/fs/cgroup) in
cgroup2fs) v2=true ;;
tmpfs) v2=false ;;
*)
	echo "step03 demo: /sys/fs/cgroup holds neither cgroup v2 nor v1's hierarchies" >&2
	exit 1
	;;
esac

limits=(-m 64m --cpus 1 --cpuset-cpus 0)

say "A container limited to 64 MiB of memory, one CPU's worth of time, and CPU 0 alone. What do the usual tools say?"
show "$step03" run "${limits[@]}" "$rootfs" sh -c 'free -m; nproc; grep -c processor /proc/cpuinfo'
say "The host, for comparison."
show sh -c 'free -m; nproc; grep -c processor /proc/cpuinfo'
notice "free shows the host's memory, not 64 MiB, and /proc/cpuinfo counts every CPU of the host: /proc is not cgroup-aware."
notice "nproc says 1: it asks the kernel which CPUs it may run on (sched_getaffinity), and the cpuset changes that. --cpus, a quota of time, shows nowhere."
say "A program that sizes itself from /proc (threads per CPU, caches from MemTotal) plans for the host, and meets the limits instead."
say "Production runtimes fix this with LXCFS: a FUSE filesystem that serves /proc/meminfo, /proc/cpuinfo, /proc/stat, /proc/uptime… computed from the container's cgroup, bind-mounted over those files of the container's /proc. final/ will do that."

say "The real limits are in the container's cgroup files. The container has its own cgroup namespace, rooted at its own cgroup: mounted inside, the cgroup filesystem shows that cgroup as its root."
show stat -fc %T /sys/fs/cgroup
if $v2; then
	notice "cgroup2fs: cgroup v2, one tree for every controller."
	show "$step03" run "${limits[@]}" "$rootfs" sh -c 'cat /proc/self/cgroup; mount -t cgroup2 cgroup2 /sys && grep -H . /sys/memory.max /sys/cpu.max /sys/cpuset.cpus'
	notice "/ is the container's own cgroup. memory.max is 64 MiB in bytes; cpu.max is a quota of 100000 µs in every period of 100000 µs, one CPU; cpuset.cpus is CPU 0."
else
	notice "tmpfs: cgroup v1, one mount (one tree) per controller; the container mounts one at a time."
	show "$step03" run "${limits[@]}" "$rootfs" sh -c 'grep memory /proc/self/cgroup; mount -t cgroup -o memory cgroup /sys && grep -H . /sys/memory.limit_in_bytes && umount /sys && mount -t cgroup -o cpu cgroup /sys && grep -H . /sys/cpu.cfs_quota_us /sys/cpu.cfs_period_us && umount /sys && mount -t cgroup -o cpuset cgroup /sys && grep -H . /sys/cpuset.cpus'
	notice "/ is the container's own cgroup. memory.limit_in_bytes is 64 MiB in bytes; the quota is 100000 µs in every period of 100000 µs, one CPU; cpuset.cpus is CPU 0."
fi

say "From the host, while a container runs: its cgroup is boxcraft/run-PID, named after step03's pid, in each v1 hierarchy or in the v2 tree."
printf '$ %s &\n' "$step03 run ${limits[*]} $rootfs sleep 3"
"$step03" run "${limits[@]}" "$rootfs" sleep 3 &
background=$!
if $v2; then
	dir=/sys/fs/cgroup/boxcraft/run-$background
	memory=$dir cpu=$dir cpuset=$dir
	files=("$memory/memory.max" "$cpu/cpu.max" "$cpuset/cpuset.cpus")
else
	memory=/sys/fs/cgroup/memory/boxcraft/run-$background
	cpu=/sys/fs/cgroup/cpu/boxcraft/run-$background
	cpuset=/sys/fs/cgroup/cpuset/boxcraft/run-$background
	files=("$memory/memory.limit_in_bytes" "$cpu/cpu.cfs_quota_us" "$cpu/cpu.cfs_period_us" "$cpuset/cpuset.cpus")
fi
# Wait until the container is in its cgroup. (A cgroup file's size is
# always 0: read it.)
for _ in $(seq 50); do
	if [ -n "$(cat "$memory/cgroup.procs" 2>/dev/null)" ]; then break; fi
	sleep 0.1
done
show cat "$memory/cgroup.procs"
pid=$(head -n 1 "$memory/cgroup.procs")
if $v2; then show cat "/proc/$pid/cgroup"; else show grep memory "/proc/$pid/cgroup"; fi
notice "the container's process (sleep, pid $pid on the host) is in the container's cgroup; the host sees its whole path, the container sees /."
show grep -H . "${files[@]}"
notice "the same limits, written there by step03 before sleep ran."
say "sleep ends after 3 s; step03 removes the cgroup."
wait "$background"
background=
show ls -d "$memory" || true

say "The limits at work. Memory: awk doubles a string until the container has used its 32 MiB."
status=0
show "$step03" run -m 32m "$rootfs" awk 'BEGIN { s = "x"; while (1) s = s s }' || status=$?
notice "exit status $status: 128 + 9, SIGKILL, from the kernel's OOM killer. The status cannot say why: step03 read the cgroup's oom_kill count, and said so."

say "Tasks: --pids-limit 16, and xargs starts 20 sleeps at once."
status=0
show "$step03" run --pids-limit 16 "$rootfs" sh -c 'seq 20 | xargs -P 20 -I{} sleep 2' || status=$?
notice "exit status $status, xargs's: it could not start every sleep. Once the container held 16 tasks, the kernel refused the next fork (EAGAIN, \"Resource temporarily unavailable\"). A fork bomb stops there too."
say "Every cgroup the demo made is gone: step03 removes its own when the container ends."
