package main

// step03's workspace is step02's program with step03's limit flags and
// their checks, the cgroup's folders made and removed, and init waiting
// to be released into its cgroup: what is left to write is the
// container's cgroup namespace, what puts the container in its cgroup,
// and what puts the limits in the kernel's hands. That is the order in
// which the tests say what is missing: the Namespaces suite runs first,
// and every test of the Cgroups suite looks for the container's process
// in a cgroup below its parent before it reads a limit. On v1 the process
// joins its cgroup by a write, so the write comes before addV1.
//
// Only your machine's cgroup version is judged: `stat -fc %T
// /sys/fs/cgroup` says cgroup2fs on v2 (the workshop's VM), tmpfs on v1.
var step03 = lesson{
	{
		Func: "enterCgroupNamespace",
		What: "cgroup: the container's cgroup namespace, rooted at its own cgroup",
		Hint: `a new cgroup namespace is rooted at the cgroup its first process is in at that moment. Made by ` +
			`clone(2) with the others (step02's way), it was rooted where step03 runs; made now, by unshare(2) ` +
			`with CLONE_NEWCGROUP once init is in the container's cgroup, CMD sees that cgroup as "/". init calls ` +
			`it once released into its cgroup: until the pieces below put it there, that is step03's own.`,
		Man:   []string{"7 cgroup_namespaces", "2 unshare"},
		Tests: "TestNamespaces/CgroupNamespace and NothingIsLeftBehind",
		Stub:  "return nil",
	},
	{
		Func: "runInNamespaces",
		Line: "if cg.v2 {",
		What: "cgroup v2: init is born in the container's cgroup (CLONE_INTO_CGROUP)",
		Hint: `on v2, have clone(2) start init straight in the container's cgroup: open its folder (cg.openV2), ` +
			`keep it open until init has started, and set cmd.SysProcAttr.UseCgroupFD and CgroupFD to it.`,
		Man:   []string{"2 clone (CLONE_INTO_CGROUP)"},
		Tests: "on v2, TestCgroups/CgroupIsRemoved, then, with the limits, every test of TestCgroups",
	},
	{
		Func: "writeCgroupFile",
		What: "write one value into one cgroup file",
		Hint: `open dir/file write-only and write the value in ONE write(2): the kernel reads each write as a ` +
			`whole value, and checks it there. Return the kernel's error number alone (errors.Unwrap of the ` +
			`*PathError), for the caller to say what was refused. The stub writes nothing: no limit holds, and on v1 ` +
			`no process joins a cgroup (addV1 writes cgroup.procs with it).`,
		Man:   []string{"7 cgroups"},
		Tests: "TestCgroups/LimitsAreWritten, and every limit the kernel enforces; on v1, with addV1, CgroupIsRemoved",
		Stub:  "return nil",
	},
	{
		Func: "(*cgroup).addV1",
		What: "cgroup v1: move init into the container's cgroups",
		Hint: `on v1, a process joins a cgroup when its pid is written to the cgroup's cgroup.procs: write pid ` +
			`into cgroup.procs in each of the container's folders (cg.folders()), with writeCgroupFile, which moves ` +
			`it with all its threads. init waits to be released until then.`,
		Man:   []string{"7 cgroups"},
		Tests: "on v1, TestCgroups/CgroupIsRemoved and CoMountedHierarchies, then, with the limits, every test of TestCgroups",
		Stub:  "return nil",
	},
	{
		Func: "v2Limits",
		What: "cgroup v2: each limit flag, in v2's files",
		Hint: `ls.add(flag, controller, file, value) for each limit asked for in r, in v2's files: ` +
			`--cpus, --cpu-quota and --cpu-period in cpu.max ("QUOTA PERIOD", "max" for no quota); cpuset.cpus; ` +
			`memory.max, and memory.swap.max, which counts swap alone (as much as memory; writeLimits leaves it ` +
			`out where the kernel does not count swap); pids.max (r.pidsMax); io.max ("MAJ:MIN rbps=N" or "wbps=N"). ` +
			`Write this one if your machine runs cgroup v2.`,
		Man:   []string{"7 cgroups", "the kernel's Documentation/admin-guide/cgroup-v2.rst"},
		Tests: "TestCgroups/LimitsAreWritten, then MemoryLimitEndsWithOOMKill, CPUQuota, Cpuset, PidsLimit, BlockIO",
		Stub:  "return nil",
	},
	{
		Func: "v1Limits",
		What: "cgroup v1: each limit flag, in v1's files",
		Hint: `ls.add(flag, hierarchy, file, value) for each limit asked for in r, in v1's files: ` +
			`cpu.cfs_period_us and cpu.cfs_quota_us (cpu); cpuset.cpus; memory.limit_in_bytes, then ` +
			`memory.memsw.limit_in_bytes, twice it (memory plus swap: the kernel refuses it below the first; ` +
			`writeLimits leaves it out where the kernel does not count swap); pids.max (r.pidsMax); blkio.throttle.read_bps_device and blkio.throttle.write_bps_device ` +
			`("MAJ:MIN RATE"). Write this one if your machine runs cgroup v1.`,
		Man:   []string{"7 cgroups", "the kernel's Documentation/admin-guide/cgroup-v1/"},
		Tests: "TestCgroups/LimitsAreWritten, then MemoryLimitEndsWithOOMKill, CPUQuota, Cpuset, PidsLimit, BlockIO",
		Stub:  "return nil",
	},
}
