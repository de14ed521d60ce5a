package security

// DefaultMaskedPaths are hidden from the container (rootfs.Protect puts
// an empty read-only file or folder over each): Docker's list, which
// hides what tells of the host's hardware and kernel or reaches into it
// (/proc/kcore is the host's memory; /proc/keys lists every key of the
// machine that the reader may see; /proc/timer_list and sched_debug name
// the host's processes), and the leaks issue 20 found beyond it: the
// kernel's configuration (/proc/config.gz), the crash-dump layout of its
// memory (/sys/kernel/vmcoreinfo, which defeats KASLR), and the host's
// block devices (/sys/block and its other two indexes). A path the
// kernel does not have is skipped.
func DefaultMaskedPaths() []string {
	return []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
		"/proc/config.gz", "/sys/kernel/vmcoreinfo", "/sys/block", "/sys/class/block", "/sys/dev/block",
	}
}

// DefaultReadonlyPaths are Docker's read-only paths: the parts of /proc
// that change the whole machine when written (sysctls, IRQ affinity,
// /proc/sysrq-trigger's reboot and crash, binfmt handlers below
// /proc/sys/fs).
func DefaultReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}
