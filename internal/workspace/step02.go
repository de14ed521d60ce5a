package main

// step02's workspace is step01's program with step02's flags and their
// checks (--ns, --hostname, the id maps, the clock offsets), the re-exec
// as init and its chroot: what is left to write is what asks the kernel
// for namespaces, and the set-up each needs from inside.
//
// The order matters for the host's sake: each set-up below runs in init
// whenever --ns names its type, so it must come after the type's entry in
// cloneFlags. Without its namespace, init would rename the host, or make
// the host's own mounts private.
var step02 = lesson{
	{
		Func: "var cloneFlags",
		What: "the namespace types, as clone(2) flags (one at a time, each with its set-up below)",
		Hint: `map each type --ns names to the clone(2) flag that makes a namespace of it: "mnt": unix.CLONE_NEWNS, ` +
			`"uts": unix.CLONE_NEWUTS, and so on for pid, ipc, net, user and cgroup (time is made otherwise: see ` +
			`newTimeNamespace). (*container).cloneFlags ORs together the flags of the types asked for, and ` +
			`runInNamespaces hands them to clone(2) as SysProcAttr.Cloneflags. Add a type here BEFORE you write its ` +
			`set-up in init (setHostname, mountPrivateProc, …): without its namespace, the set-up changes the host ` +
			`itself. Start with mnt and mountPrivateProc: every test reads the container's /proc.`,
		Man:   []string{"7 namespaces", "2 clone"},
		Tests: "TestNamespaces/<Type>Namespace/enabled and /disabled: a namespace of its own, or the host's",
		Stub:  "map[string]uintptr{}",
	},
	{
		Func: "mountPrivateProc",
		What: "mnt: private mounts, and a /proc of the container's own",
		Hint: `only once cloneFlags has "mnt": run without a mount namespace of its own, this makes the HOST's mounts ` +
			`private. First stop mounts from travelling between the container and the host: unix.Mount with no ` +
			`source, target "/" and MS_REC|MS_PRIVATE. Then mount proc on "proc" (relative: init stands in the ` +
			`rootfs): a new proc filesystem (type "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC) with a new PID namespace, ` +
			`else a bind of the host's /proc (MS_BIND|MS_REC).`,
		Man:   []string{"7 mount_namespaces", "2 mount", "5 proc"},
		Tests: "TestNamespaces/MountNamespace, and every test that reads the probe's /proc",
		Stub:  "return nil",
	},
	{
		Func: "setHostname",
		What: "uts: the container's own hostname",
		Hint: `only once cloneFlags has "uts": run without a UTS namespace of its own, this renames the HOST. ` +
			`Give the new UTS namespace its name with sethostname(2) (unix.Sethostname).`,
		Man:   []string{"7 uts_namespaces", "2 sethostname"},
		Tests: "TestNamespaces/UTSNamespace",
		Stub:  "return nil",
	},
	{
		Func: "restartPids",
		What: "pid: CMD's first child is pid 2",
		Hint: `init's Go runtime threads took pids 2, 3, … in the new PID namespace. Write "1" to ` +
			`/proc/sys/kernel/ns_last_pid (the container's own /proc, since init stands in its root now), the ` +
			`last pid the namespace handed out, so that the next is 2. Without a mount namespace there is no ` +
			`such file of the container's own: do without it (os.ErrNotExist).`,
		Man:   []string{"7 pid_namespaces"},
		Tests: "TestNamespaces/PIDNamespace (\"CMD's first child is pid 2\")",
		Stub:  "return nil",
	},
	{
		Func: "bringUpLoopback",
		What: "net: lo up",
		Hint: `a new network namespace has only lo, and it is down. Set IFF_UP in its flags: open a socket ` +
			`(unix.Socket, AF_INET, SOCK_DGRAM), read lo's flags (unix.NewIfreq("lo"), unix.IoctlIfreq with ` +
			`SIOCGIFFLAGS), add unix.IFF_UP, and write them back (SIOCSIFFLAGS).`,
		Man:   []string{"7 network_namespaces", "7 netdevice"},
		Tests: "TestNamespaces/NetNamespace",
		Stub:  "return nil",
	},
	{
		Func: "runInNamespaces",
		Line: `if c.namespaces["user"] {`,
		What: "user: root inside, an ordinary user on the host",
		Hint: `with a user namespace (add "user" to cloneFlags with this: the kernel refuses id maps for a ` +
			`process in the host's user namespace), have Go write the child's uid_map and gid_map before it goes ` +
			`on: cmd.SysProcAttr.UidMappings and GidMappings, one range each (c.uidMap, c.gidMap); ` +
			`GidMappingsEnableSetgroups, so that root inside may set its groups; and Credential{Uid: 0, Gid: 0}, ` +
			`so that init starts as root inside, which the maps make host uid c.uidMap.HostID.`,
		Man:   []string{"7 user_namespaces"},
		Tests: "TestNamespaces/UserNamespace",
	},
	{
		Func: "newTimeNamespace",
		What: "time: the clocks' offsets",
		Hint: `make a time namespace for the children step02 starts next: unshare(2) with CLONE_NEWTIME leaves ` +
			`the caller where it is, and the new namespace waits, empty, for its first child. Only while it is ` +
			`empty may its offsets be set: write "monotonic SECONDS 0" and "boottime SECONDS 0", a line each, ` +
			`to /proc/self/timens_offsets.`,
		Man:   []string{"7 time_namespaces", "2 unshare"},
		Tests: "TestNamespaces/TimeNamespace, TestNamespaces/TimeNamespaceWithoutUser",
		Stub:  "return nil",
	},
	{
		Func: "closeInheritedFiles",
		What: "no file of the host's left open in CMD",
		Hint: `mark every descriptor from 3 up close-on-exec, so that CMD does not get the files step02 was ` +
			`given: close_range(2) with CLOSE_RANGE_CLOEXEC (unix.CloseRange), from 3 to the largest there is.`,
		Man:   []string{"2 close_range"},
		Tests: "TestNamespaces/InheritedFilesAreClosed",
		Stub:  "return nil",
	},
}
