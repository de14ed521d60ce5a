// Package procfs answers, for one container, the files of /proc that
// programs size themselves from (meminfo, cpuinfo, stat, uptime,
// loadavg, swaps, diskstats, and /sys/devices/system/cpu/online) and the
// sysinfo(2) system call, from the container's cgroup rather than from
// the whole machine (issue 21).
//
// step03-cgroups left the problem open: a cgroup limits a container,
// but /proc knows nothing of cgroups, so inside a container limited to
// 64 MiB and one CPU, free, top and cat /proc/meminfo show the host's
// memory and every CPU. LXCFS answers the files with a FUSE filesystem
// of its own, a daemon for every container on the machine; LXD adds a
// seccomp supervisor for sysinfo(2). Here both live in the container's
// monitor, which already lives exactly as long as its container:
//
//   - view.go and the render files (meminfo.go, cpu.go, misc.go) turn
//     the cgroup's files and the host's /proc into the container's text;
//   - fuse.go serves them with go-fuse, from a mount the monitor hands
//     to init as detached file mounts, which init binds over /proc's;
//   - notify.go installs, in init, a seccomp filter that hands every
//     sysinfo(2) to a listener (SECCOMP_RET_USER_NOTIF), and sysinfo.go
//     answers it from the monitor, writing into the caller's memory.
package procfs
