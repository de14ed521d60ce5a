package main

// step04's workspace is step03's program with step04's flags (--rootfs,
// --image, --keep), the image's unpacker and the container's
// folders given: what is left to write is the root switch and the
// filesystems the container gets of its own, and the one call that keeps
// an image's entries inside the rootfs.
var step04 = lesson{
	{
		Func: "bindRootfsOntoItself",
		What: "the rootfs, a mount of its own",
		Hint: `pivot_root needs the new root to be a mount. Copy the working folder's tree as a mount attached ` +
			`nowhere yet (unix.OpenTree, ".", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_RECURSIVE), attach it on ` +
			`top of the rootfs (unix.MoveMount with MOVE_MOUNT_F_EMPTY_PATH), and stand on it: fchdir(2) to the ` +
			`descriptor open_tree returned. A plain bind mount would leave init standing below it.`,
		Man:   []string{"2 open_tree", "2 move_mount", "2 fchdir"},
		Tests: "TestRootFilesystem/PivotsUnderASharedMount, with pivotRoot",
		Stub:  "return nil",
	},
	{
		Func: "pivotRoot",
		What: "pivot_root: the host's root leaves the container",
		Hint: `the stub is step03's chroot, out of which root can climb. Call pivot_root(".", "."): the rootfs ` +
			`becomes the root mount and the old root lands on top of it; make that old root private ` +
			`(MS_REC|MS_PRIVATE on "."), so that what follows cannot travel to the host; unmount "." with ` +
			`MNT_DETACH, which takes the host's root out of the container's mount namespace; then chdir to "/".`,
		Man:   []string{"2 pivot_root", "2 umount2"},
		Tests: "TestRootFilesystem/EscapeNowFails, TestRootFilesystem/RootIsTheRootfsAndTheKernelTheHosts",
		Stub: `if err := unix.Chroot("."); err != nil {
	return fmt.Errorf("chroot into the rootfs: %w", err)
}
return unix.Chdir("/")`,
	},
	{
		Func: "mountSys",
		What: "/sys, read-only",
		Hint: `mount sysfs on "sys", read-only (MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC). A user namespace may ` +
			`mount it only for a network namespace of its own (EPERM): then bind the host's /sys with what is ` +
			`mounted below it (MS_BIND|MS_REC) and make every one of those mounts read-only with ` +
			`mount_setattr(2), AT_RECURSIVE and MOUNT_ATTR_RDONLY.`,
		Man:   []string{"5 sysfs", "2 mount", "2 mount_setattr"},
		Tests: "TestRootFilesystem/SysIsReadOnlyWithoutANetNamespace, TestRootFilesystem/MountsAreTheContainersOwn",
		Stub:  "return nil",
	},
	{
		Func: "mountDev",
		What: "/dev: a tmpfs with only the safe devices",
		Hint: `the stub leaves the image's /dev. Mount a tmpfs on "dev" (MS_NOSUID|MS_STRICTATIME, ` +
			`"mode=755,size=65536k"; not nodev: its nodes must open); make each of the devices with makeDevice; ` +
			`make the devLinks symlinks; mount a devpts of the container's own on dev/pts ("newinstance,` +
			`ptmxmode=0666,mode=0620"), a tmpfs on dev/shm and, with an IPC namespace of its own, mqueue on ` +
			`dev/mqueue.`,
		Man:   []string{"4 null", "7 pty", "5 tmpfs", "7 mq_overview"},
		Tests: "TestRootFilesystem/DevHoldsExactlyTheDevices",
		Stub:  "return nil",
	},
	{
		Func: "openBeneath",
		What: "unpacking: no entry of an image leads outside the rootfs",
		Hint: `the stub opens name as GNU tar would, following any symlink an earlier entry planted, even out of ` +
			`the rootfs. Open it with unix.Openat2 (O_PATH|O_DIRECTORY|O_CLOEXEC) and Resolve: ` +
			`RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS, which refuses, with EXDEV, any step that leaves root; say ` +
			`so ("its path leads outside the rootfs through a symlink"). Try again on EAGAIN.`,
		Man:   []string{"2 openat2"},
		Tests: "TestRootFilesystem/HostileImagesAreRefused",
		Stub: `fd, err := unix.Openat(root, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
if err != nil {
	return -1, fmt.Errorf("open its folder %q: %w", name, err)
}
return fd, nil`,
	},
}
