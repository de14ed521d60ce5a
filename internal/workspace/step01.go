package main

// step01 has no step before it: its workspace is a program that runs CMD
// on the host, with run's arguments and checks, the signal relay and the
// exit status given. Left to write are the chroot and the look-up of CMD
// inside the rootfs.
var step01 = lesson{
	{
		Func: "runChrooted",
		Line: "Chroot: rootfs",
		What: "the chroot: CMD's root is the rootfs",
		Hint: "start CMD with the rootfs as its root directory. Go's os/exec calls chroot(2) in the child, between fork and exec, " +
			"when SysProcAttr.Chroot names the new root; Dir then is a folder inside it. Without it, CMD runs on the host, " +
			"and sees the host's files.",
		Man:   []string{"2 chroot"},
		Tests: "TestBasics/CommandSeesTheRootfsNotTheHost, TestChrootIsNoIsolation, TestEscapeFromTheChrootSucceeds, TestSignalsAreRelayedToTheCommand",
	},
	{
		Func: "isExecutableIn",
		What: "find CMD as the chrooted command will: openat2 with RESOLVE_IN_ROOT",
		Hint: "the stub looks path up as the host does: an absolute symlink in the image (/bin/sh -> /bin/busybox) points " +
			"at the HOST's /bin/busybox. Open path with unix.Openat2, O_PATH, and Resolve: unix.RESOLVE_IN_ROOT, which " +
			"resolves every symlink and \"..\" as if rootFd were \"/\". A path that does not resolve (ENOENT, ENOTDIR, " +
			"ELOOP) is not there; say so for any other error. Then unix.Fstat the descriptor: a regular file with an " +
			"execute bit is something execve can run.",
		Man:   []string{"2 openat2", "7 path_resolution", "2 fstat"},
		Tests: "TestBasics/CommandLookupFollowsSymlinksInsideTheRootfs",
		Stub: `var st unix.Stat_t
if err := unix.Fstatat(rootFd, strings.TrimPrefix(path, "/"), &st, 0); err != nil {
	return false, nil
}
return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0, nil`,
	},
}
