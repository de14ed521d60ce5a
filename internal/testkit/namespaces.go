package testkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// allNamespaces are the namespace types a runtime makes from step02 on, by
// the names of /proc/self/ns and of --ns.
var allNamespaces = []string{"uts", "pid", "mnt", "ipc", "net", "user", "cgroup", "time"}

// Namespaces checks what every step from step02 on does with namespaces:
// each type isolates what it should, bad input is refused, nothing is left
// behind, and signals still reach CMD as pid 1.
//
// Each namespace type is tried twice: "enabled" in the default run, which
// creates every type, and "disabled" with --ns naming every type but that
// one. Disabled, the container is in the host's namespace of that type
// (the same inode in /proc/self/ns) and sees what the host sees.
func Namespaces(t *testing.T, s Step) {
	t.Run("UTSNamespace", func(t *testing.T) { utsNamespace(t, s) })
	t.Run("PIDNamespace", func(t *testing.T) { pidNamespace(t, s) })
	t.Run("MountNamespace", func(t *testing.T) { mountNamespace(t, s) })
	t.Run("IPCNamespace", func(t *testing.T) { ipcNamespace(t, s) })
	t.Run("NetNamespace", func(t *testing.T) { netNamespace(t, s) })
	t.Run("UserNamespace", func(t *testing.T) { userNamespace(t, s) })
	t.Run("CgroupNamespace", func(t *testing.T) { cgroupNamespace(t, s) })
	// boxcraft, as Docker, makes no time namespace.
	if !s.Docker {
		timeNamespace(t, s)
	}
	// Until step04 the root is still a chroot.
	if !s.RootfsFlag {
		t.Run("EscapeStillSucceeds", func(t *testing.T) { escapeStillSucceeds(t, s) })
	}
	// boxcraft has no --ns none: Docker's runtime shares the host's
	// namespaces one flag a type, and cannot leave the mount namespace out.
	if !s.Docker {
		t.Run("NoNamespacesIsAChrootAgain", func(t *testing.T) { noNamespaces(t, s) })
	}
	t.Run("BadNamespaceInputIsRefused", func(t *testing.T) { badNamespaceInput(t, s) })
	t.Run("NothingIsLeftBehind", func(t *testing.T) { nothingIsLeftBehind(t, s) })
	t.Run("InheritedFilesAreClosed", func(t *testing.T) { inheritedFilesAreClosed(t, s) })
	t.Run("Signals", func(t *testing.T) { signals(t, s) })
	namespaceIsolation(t, s) // isolation.go
}

// utsNamespace checks that --hostname names the container alone: in a UTS
// namespace of its own, the host's hostname stays as it was.
func utsNamespace(t *testing.T, s Step) {
	host, err := os.Hostname()
	require.NoError(t, err)
	enabledAndDisabled(t, func(t *testing.T, enabled bool) {
		flags := []string{"--hostname", "box-uts-test"}
		if !enabled {
			flags = []string{s.without("uts")}
		}
		f := runProbe(t, s, FreshRootfs(t), flags)
		assertNamespace(t, f, "uts", enabled)
		if enabled {
			assert.Equal(t, "box-uts-test", f.Hostname, "the container's hostname is not the one --hostname gave: did init call sethostname(2) in its new UTS namespace?")
		} else {
			assert.Equal(t, host, f.Hostname, "--ns left uts out, so the container should have the host's hostname")
		}
		after, err := os.Hostname()
		require.NoError(t, err)
		assert.Equal(t, host, after, "the HOST's hostname changed: the runtime set a hostname outside a UTS namespace of the container's own")
	})
}

// pidNamespace checks that CMD is pid 1 of a PID namespace of its own,
// sees only its own processes, and that its first child is pid 2.
func pidNamespace(t *testing.T, s Step) {
	enabledAndDisabled(t, func(t *testing.T, enabled bool) {
		rootfs := FreshRootfs(t)
		if !enabled {
			f := runProbe(t, s, rootfs, []string{s.without("pid")})
			assertNamespace(t, f, "pid", false)
			assert.NotEqual(t, 1, f.Pid, "--ns left pid out, yet CMD is pid 1")
			assert.Contains(t, f.Pids, os.Getpid(), "--ns left pid out, so the container should see the host's processes, this test among them")
			return
		}
		f := runProbe(t, s, rootfs, nil)
		assertNamespace(t, f, "pid", true)
		assert.Equal(t, 1, f.Pid, "CMD is not pid 1: in a new PID namespace (CLONE_NEWPID) the first process is pid 1, and init becomes CMD by execve(2)")
		assert.Equal(t, []int{1}, f.Pids, "the container's /proc lists more than the probe, pid 1: is it a new proc, mounted in the container's own PID namespace, rather than the host's?")

		// A subshell forks, and runs the probe as its child.
		child := Probe(t, Run(t, s.Args(nil, rootfs, "/bin/sh", "-c", "(/probe); exit $?")...))
		assert.Equal(t, 2, child.Pid, "CMD's first child is not pid 2: init's Go threads took pids 2, 3, …; did init write 1 to the container's /proc/sys/kernel/ns_last_pid?")
		assert.Equal(t, 1, child.Ppid, "the parent of CMD's first child is not pid 1, CMD")
	})
}

// mountNamespace checks that mounts travel neither way between the
// container and the host.
//
// The container's command mounts a tmpfs, says it is ready and waits;
// the test then looks for that mount on the host, makes a mount of its
// own in the rootfs and lets the command look for it. The rootfs lies
// in a shared mount, as it does under systemd's shared /: without
// private propagation in the container, mounts would travel.
//
// From step04 on, the root is a mount of the container's mount
// namespace, which the runtime cannot do without: it refuses.
func mountNamespace(t *testing.T, s Step) {
	const script = `
		if [ "$1" = mount ]; then mount -t tmpfs boxcraft-inside /var || exit 10; fi
		touch /tmp/ready
		while [ ! -e /tmp/go ]; do sleep 0.02; done
		if [ -e /home/from-host ]; then echo visible > /tmp/seen; else echo hidden > /tmp/seen; fi
		exec /probe`
	// boxcraft has no way to leave the mount namespace out.
	enabledAndDisabledIf(t, !s.Docker, func(t *testing.T, enabled bool) {
		rootfs := FreshRootfs(t)
		if !enabled && s.RootfsFlag {
			s.AssertRefused(t, Run(t, s.Args([]string{s.without("mnt")}, rootfs, "/probe")...), "mnt")
			return
		}
		shareMount(t, filepath.Dir(rootfs))
		args := s.Args(nil, rootfs, "/bin/sh", "-c", script, "sh", "mount")
		if !enabled {
			// No mount namespace: the runtime mounts nothing (it would
			// land on the host), so the test mounts the /proc the probe
			// reads.
			args = s.Args([]string{s.without("mnt")}, rootfs, "/bin/sh", "-c", script, "sh", "no-mount")
			Mount(t, "proc", filepath.Join(rootfs, "proc"), "proc")
		}
		running := Start(t, Command(t, args...))
		running.WaitForFile(t, filepath.Join(rootfs, "tmp/ready"))
		if enabled {
			assert.NotContains(t, MountPoints(t), filepath.Join(rootfs, "var"), "a tmpfs the container mounted on its /var is on the host too: did the runtime give it a mount namespace of its own (CLONE_NEWNS), its mounts made private (MS_REC|MS_PRIVATE on /)?")
		}
		Mount(t, "boxcraft-host", filepath.Join(rootfs, "home"), "tmpfs")
		require.NoError(t, os.WriteFile(filepath.Join(rootfs, "home/from-host"), nil, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(rootfs, "tmp/go"), nil, 0o644))

		f := Probe(t, running.Wait(t))
		assertNamespace(t, f, "mnt", enabled)
		seen, err := os.ReadFile(filepath.Join(rootfs, "tmp/seen"))
		require.NoError(t, err)
		if enabled {
			assert.Equal(t, "hidden\n", string(seen), "a mount the host made after the start reached the container: did init make its mounts private (MS_REC|MS_PRIVATE on /) in its new mount namespace?")
		} else {
			assert.Equal(t, "visible\n", string(seen), "--ns left mnt out, so a mount the host made after the start should be visible inside")
		}
	})
}

// ipcNamespace checks that System V message queues are the container's
// own.
//
// One System V message queue is made on the host before the start, and
// one inside by the probe.
func ipcNamespace(t *testing.T, s Step) {
	enabledAndDisabled(t, func(t *testing.T, enabled bool) {
		rootfs := FreshRootfs(t)
		hostKey, containerKey := queueKeys()
		require.NoError(t, facts.MakeMsgQueue(hostKey))
		t.Cleanup(func() { facts.RemoveMsgQueue(hostKey) })
		t.Cleanup(func() { facts.RemoveMsgQueue(containerKey) }) // a host queue when ipc is disabled
		var flags []string
		if !enabled {
			flags = []string{s.without("ipc")}
		}
		f := runProbe(t, s, rootfs, flags, "msgqueue="+strconv.Itoa(containerKey))
		assertNamespace(t, f, "ipc", enabled)
		require.True(t, f.Experiments.MsgQueue.OK, "the probe could not make a System V message queue: %s", f.Experiments.MsgQueue.Error)
		onHost, err := facts.ReadMsgQueues()
		require.NoError(t, err)
		if enabled {
			assert.NotContains(t, f.MsgQueues, hostKey, "the container sees a message queue the host made: did the runtime give it an IPC namespace of its own (CLONE_NEWIPC)?")
			assert.NotContains(t, onHost, containerKey, "a message queue the container made is on the host: did the runtime give it an IPC namespace of its own (CLONE_NEWIPC)?")
		} else {
			assert.Contains(t, f.MsgQueues, hostKey, "--ns left ipc out, so the container should see a message queue the host made")
			assert.Contains(t, onHost, containerKey, "--ns left ipc out, so a message queue the container made should be on the host")
		}
	})
}

// netNamespace checks that the container sees lo alone, up, in a network
// namespace of its own, and the host's interfaces without one.
func netNamespace(t *testing.T, s Step) {
	enabledAndDisabled(t, func(t *testing.T, enabled bool) {
		var flags []string
		if !enabled {
			flags = []string{s.without("net")}
		}
		f := runProbe(t, s, FreshRootfs(t), flags)
		assertNamespace(t, f, "net", enabled)
		if enabled {
			assert.Equal(t, []facts.Interface{{Name: "lo", Up: true}}, f.Interfaces, "the container should see lo alone, up: a new network namespace (CLONE_NEWNET) has only lo, down until init sets IFF_UP (ioctl(2) SIOCSIFFLAGS)")
			return
		}
		// The host's: the test's own network namespace's (netns.go).
		host := Probe(t, RunCmd(t, HostCommand(t, ProbeBinary(t)))).Interfaces
		var want, got []string
		for _, i := range host {
			want = append(want, i.Name)
		}
		for _, i := range f.Interfaces {
			got = append(got, i.Name)
		}
		assert.ElementsMatch(t, want, got, "--ns left net out, so the container should see the host's network interfaces")
	})
}

// userNamespace checks that the container's root is a host uid and gid
// the maps give (the default range, or the ranges given), that it may set
// its groups, and that it may not make a device node.
//
// The command makes a file as its root and notes whether it may set its
// groups, then the probe tries to make a device node, which needs a
// capability in the host's user namespace.
func userNamespace(t *testing.T, s Step) {
	const script = "touch /tmp/made-by-root && cat /proc/self/setgroups > /tmp/setgroups && exec /probe mknod"
	for name, tc := range map[string]struct {
		flags            []string
		own              bool
		fileUID, fileGID uint32
	}{
		"enabled, default range": {nil, true, 100000, 100000},
		"enabled, ranges given":  {[]string{"--uid-map", "0:200000:1000", "--gid-map", "0:300000:1000"}, true, 200000, 300000},
		"disabled":               {[]string{withoutUser}, false, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			rootfs := FreshRootfs(t)
			cmd := Command(t, s.Args(tc.flags, rootfs, "/bin/sh", "-c", script)...)
			cmd.Env = withoutSudo(cmd.Env) // SUDO_USER's /etc/subuid range would replace the default
			f := Probe(t, RunCmd(t, cmd))

			assertNamespace(t, f, "user", tc.own)
			assert.Equal(t, 0, f.UID, "CMD is not root (uid 0) inside: with a user namespace, init starts as uid 0 (Credential), which the uid map ties to a host uid")
			var st unix.Stat_t
			require.NoError(t, unix.Stat(filepath.Join(rootfs, "tmp/made-by-root"), &st))
			assert.Equal(t, tc.fileUID, st.Uid, "the host uid that owns a file the container's root made: the uid map gives container uid 0 this host uid (--uid-map, or 0:100000:65536), and no user namespace leaves it 0")
			assert.Equal(t, tc.fileGID, st.Gid, "the host gid of a file the container's root made: the gid map gives container gid 0 this host gid (--gid-map, or 0:100000:65536), and no user namespace leaves it 0")
			setgroups, err := os.ReadFile(filepath.Join(rootfs, "tmp/setgroups"))
			require.NoError(t, err)
			assert.Equal(t, "allow\n", string(setgroups), "root inside may not set its groups (/proc/self/setgroups): did the runtime allow setgroups before writing the gid map (GidMappingsEnableSetgroups)?")
			mknod := f.Experiments.Mknod
			require.NotNil(t, mknod, "the probe did not report its mknod experiment")
			if tc.own {
				assert.False(t, mknod.OK, "the container's root made a device node, which only the host's root may: did the runtime give it a user namespace of its own (CLONE_NEWUSER)?")
				assert.Contains(t, mknod.Error, "operation not permitted", "mknod(2) in a user namespace of its own should fail with EPERM")
			} else {
				assert.True(t, mknod.OK, "--ns left user out, so the container's root is the host's, and may make a device node: %s", mknod.Error)
			}
		})
	}
}

// cgroupNamespace checks that the container sees its own cgroup as "/",
// and, without a cgroup namespace, the host's path to it.
//
// The runtime itself starts in a cgroup of the test's own below the
// workshop's parent, and from step03 on moves the container into a
// cgroup of its own below the test's cgroup parent before it gives the
// container its cgroup namespace. Either way the host's view of the
// container's cgroup is a path below the parent, not "/".
func cgroupNamespace(t *testing.T, s Step) {
	enabledAndDisabled(t, func(t *testing.T, enabled bool) {
		rootfs := FreshRootfs(t)
		_, dir := makeCgroup2(t)
		var flags []string
		if !enabled {
			flags = []string{s.without("cgroup")}
		}
		cmd := Command(t, s.Args(flags, rootfs, "/probe")...)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
		f := Probe(t, RunCmd(t, cmd))

		assertNamespace(t, f, "cgroup", enabled)
		require.NotEmpty(t, f.Cgroup)
		atRoot := func(line string) bool { return strings.HasSuffix(line, ":/") }
		if enabled {
			for _, line := range f.Cgroup {
				assert.True(t, atRoot(line), "the container should see its own cgroup as \"/\": a new cgroup namespace (CLONE_NEWCGROUP) is rooted at the cgroup its first process is in when it is made: %q", line)
			}
			return
		}
		unified := slices.IndexFunc(f.Cgroup, func(line string) bool { return strings.HasPrefix(line, "0::") })
		require.NotEqual(t, -1, unified, "the container's /proc/self/cgroup has no 0:: line (cgroup2): %q", f.Cgroup)
		assert.True(t, strings.HasPrefix(f.Cgroup[unified], "0::/"+Parent+"/"),
			"--ns left cgroup out, so the container should see the host's path to its cgroup, below the workshop's parent: %q", f.Cgroup[unified])
		assert.True(t, slices.ContainsFunc(f.Cgroup, func(line string) bool { return !atRoot(line) }),
			"--ns left cgroup out, yet the container sees every cgroup as \"/\": %q", f.Cgroup)
	})
}

// escapeStillSucceeds checks that the chroot escape of step01 still leads
// out until step04: namespaces do not change the root. step04's
// pivot_root does (see RootFilesystem).
//
// Root of the user namespace is host uid 100000, an ordinary user on
// the host: it climbs only through folders that let others in, which
// the test's own temporary folders (mode 0700) do not, until opened
// here.
func escapeStillSucceeds(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	openParents(t, rootfs)
	AssertEscapedToHostRoot(t, runProbe(t, s, rootfs, nil, "escape"))
}

// badNamespaceInput checks that bad --ns, map, hostname and offset flags,
// and a rootfs the container cannot use, are refused in one line.
func badNamespaceInput(t *testing.T, s Step) {
	long := strings.Repeat("h", 65)
	// Each row: the flags, what the line must name (any one of them),
	// and whether boxcraft can be asked it: it has no --ns list, no
	// time namespace, and takes an empty --hostname as Docker does,
	// for the default.
	for name, tc := range map[string]struct {
		args   []string
		names  []string
		docker bool
	}{
		"unknown namespace":       {[]string{"--ns", "uts,bogus"}, []string{"bogus"}, false},
		"map of two numbers":      {[]string{"--uid-map", "0:100000"}, []string{"--uid-map", "0:100000"}, true},
		"map of words":            {[]string{"--gid-map", "a:b:c"}, []string{"--gid-map", "a:b:c"}, true},
		"map without root":        {[]string{"--uid-map", "1:100000:10"}, []string{"--uid-map", "1:100000:10"}, true},
		"empty map":               {[]string{"--uid-map", "0:100000:0"}, []string{"--uid-map", "0:100000:0"}, true},
		"map past the last id":    {[]string{"--uid-map", "0:4294967295:10"}, []string{"--uid-map", "0:4294967295:10"}, true},
		"hostname too long":       {[]string{"--hostname", long}, []string{"--hostname"}, true},
		"empty hostname":          {[]string{"--hostname", ""}, []string{"--hostname"}, false},
		"offset below zero":       {[]string{"--boottime-offset", "-9999999999"}, []string{"--boottime-offset"}, false},
		"offset too large":        {[]string{"--monotonic-offset", "9999999999"}, []string{"--monotonic-offset"}, false},
		"offset not a number":     {[]string{"--monotonic-offset", "soon"}, []string{"--monotonic-offset", "soon"}, false},
		"hostname without uts":    {[]string{"--ns", "pid,mnt", "--hostname", "x"}, []string{"--hostname"}, true},
		"offset without time":     {[]string{"--ns", "user", "--boottime-offset", "5"}, []string{"--boottime-offset"}, false},
		"uid map without user ns": {[]string{"--ns", "none", "--uid-map", "0:1:1"}, []string{"--uid-map"}, false},
	} {
		if s.Docker && !tc.docker {
			continue
		}
		t.Run(name, func(t *testing.T) {
			rootfs := FreshRootfs(t)
			s.AssertRefused(t, Run(t, s.Args(tc.args, rootfs, "/probe")...), tc.names...)
		})
	}
	t.Run("rootfs without /proc", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		require.NoError(t, os.Remove(filepath.Join(rootfs, "proc")))
		s.AssertRefused(t, Run(t, s.Args(nil, rootfs, "/probe")...), "proc")
	})
	t.Run("rootfs the container's root may not enter", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		require.NoError(t, os.Chmod(rootfs, 0o700))
		s.AssertRefused(t, Run(t, s.Args(nil, rootfs, "/probe")...), rootfs)
	})
}

// nothingIsLeftBehind checks that when CMD exits, its namespaces go with
// it: no process is left in any of them, not even one CMD left running in
// the background, and no namespace file is kept by a mount.
func nothingIsLeftBehind(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	devNull(t, rootfs)
	const script = `sleep 1000 & touch /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.02; done; exec /probe`
	running := Start(t, Command(t, s.Args(nil, rootfs, "/bin/sh", "-c", script)...))
	running.WaitForFile(t, filepath.Join(rootfs, "tmp/ready"))
	held := holdNamespaces(t, running.Cmd.Process.Pid, s.namespaces())
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "tmp/go"), nil, 0o644))
	f := Probe(t, running.Wait(t))

	host := HostNamespaces(t)
	for _, kind := range s.namespaces() {
		require.NotEqual(t, host[kind], f.Namespaces[kind], "the container had no %s namespace of its own, and this test needs every type", kind)
		require.Equal(t, held[kind], f.Namespaces[kind], "the probe did not see the %s namespace that the runtime's child was in", kind)
		assert.Empty(t, ProcessesInNamespace(kind, held[kind]), "processes were left in the container's %s namespace after CMD ended: when pid 1 of a PID namespace ends, the kernel kills the rest", kind)
	}
	ours := map[uint64]bool{}
	for _, inode := range held {
		ours[inode] = true
	}
	for _, point := range MountPointsOfType(t, "nsfs") {
		var st unix.Stat_t
		if unix.Stat(point, &st) == nil && ours[st.Ino] {
			t.Errorf("a namespace file of the container's was left mounted on the host, on %s, which keeps the namespace alive", point)
		}
	}
}

// inheritedFilesAreClosed checks that CMD gets stdin, stdout and stderr,
// and no other file of the runtime's.
//
// Files the runtime was given by whatever started it stay out of the
// container.
func inheritedFilesAreClosed(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	hostFolder, err := os.Open("/")
	require.NoError(t, err)
	defer hostFolder.Close()
	cmd := Command(t, s.Args(nil, rootfs, "/probe")...)
	cmd.ExtraFiles = []*os.File{hostFolder} // fd 3 in the runtime: an open folder of the host
	f := Probe(t, RunCmd(t, cmd))
	assert.Equal(t, []int{0, 1, 2}, f.FDs, "CMD should have stdin, stdout and stderr, and nothing else: it got a file the runtime was given (fd 3, an open folder of the host). Did init mark inherited files close-on-exec (close_range(2), CLOSE_RANGE_CLOEXEC)?")
}

// signals checks how signals reach CMD as pid 1, and the exit status of a
// CMD killed by one.
//
// Signals still reach CMD, but CMD is now pid 1 of its PID namespace,
// and the kernel gives pid 1 only the signals it has a handler for.
func signals(t *testing.T, s Step) {
	// start runs script as CMD and waits until the script has made
	// /tmp/ready, so that a signal reaches the script, not init before
	// its exec or the shell before its trap.
	start := func(t *testing.T, rootfs, script string) *Running {
		running := Start(t, Command(t, s.Args(nil, rootfs, "/bin/sh", "-c", script)...))
		running.WaitForFile(t, filepath.Join(rootfs, "tmp/ready"))
		return running
	}
	t.Run("relayed to a handler", func(t *testing.T) {
		running := start(t, FreshRootfs(t), `trap "exit 3" TERM; touch /tmp/ready; while :; do sleep 0.02; done`)
		require.NoError(t, running.Cmd.Process.Signal(unix.SIGTERM))
		assert.Equal(t, 3, running.Wait(t).Code, "a SIGTERM sent to the runtime should reach CMD, whose handler exits 3")
	})
	t.Run("pid 1 ignores SIGTERM, and dies with its runtime", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		running := start(t, rootfs, "touch /tmp/ready; exec sleep 1000")
		sleep := processIn(t, rootfs)
		require.NoError(t, running.Cmd.Process.Signal(unix.SIGTERM))
		time.Sleep(200 * time.Millisecond)
		assert.NoError(t, unix.Kill(sleep, 0), "sleep died of SIGTERM: as pid 1 of a PID namespace of its own (CLONE_NEWPID), with no handler for it, it would have ignored it")

		require.NoError(t, running.Cmd.Process.Kill()) // SIGKILL cannot be relayed
		running.Wait(t)
		assert.Eventually(t, func() bool { return len(ProcessesRootedIn(rootfs)) == 0 },
			5*time.Second, 10*time.Millisecond, "the container outlived its runtime, killed by SIGKILL: did the runtime ask the kernel to kill init with it (Pdeathsig)?")
	})
	t.Run("killed by a signal: status 128+N", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		running := start(t, rootfs, "touch /tmp/ready; exec sleep 1000")
		require.NoError(t, unix.Kill(processIn(t, rootfs), unix.SIGKILL)) // from the host, SIGKILL reaches pid 1
		assert.Equal(t, 128+int(unix.SIGKILL), running.Wait(t).Code, "the runtime's exit status, when CMD was killed by SIGKILL, should be 128+9, as a shell says")
	})
}

// noNamespaces runs with --ns none, step01 again: every namespace is the
// host's. From step04 on it is refused: there is no root switch without
// a mount namespace.
func noNamespaces(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	if s.RootfsFlag {
		s.AssertRefused(t, Run(t, s.Args([]string{"--ns", "none"}, rootfs, "/probe")...), "mnt")
		return
	}
	Mount(t, "proc", filepath.Join(rootfs, "proc"), "proc")
	f := runProbe(t, s, rootfs, []string{"--ns", "none"})
	assert.Equal(t, HostNamespaces(t), f.Namespaces, "with --ns none, every namespace should be the host's")
	assert.Contains(t, f.Pids, os.Getpid(), "with --ns none, the container should see the host's processes, this test among them")
}

// timeNamespace checks the time namespace and its offsets, which the
// steps make and boxcraft does not.
func timeNamespace(t *testing.T, s Step) {
	t.Run("TimeNamespace", func(t *testing.T) { timeOffsets(t, s) })
	t.Run("TimeNamespaceWithoutUser", func(t *testing.T) { timeNamespaceWithoutUser(t, s) })
}

// timeOffsets checks the clocks a time namespace moves, and that without
// one they are the host's.
//
// The time namespace moves the monotonic and boottime clocks (and so
// /proc/uptime) by the offsets given; the wall clock has no namespace.
func timeOffsets(t *testing.T, s Step) {
	enabledAndDisabled(t, func(t *testing.T, enabled bool) {
		offsets := []string{"--boottime-offset", "86400", "--monotonic-offset", "3600"}
		if enabled {
			assertClocks(t, s, offsets, 86400, 3600)
		} else {
			assertClocks(t, s, []string{s.without("time")}, 0, 0)
		}
	})
}

// timeNamespaceWithoutUser checks a time namespace without a user
// namespace, which some kernels refuse to start.
//
// Without a user namespace, Go starts init with a vfork, which a kernel
// before the change that let exec enter a new time namespace refuses
// (Debian 12's 6.1 does): the runtime then says so in one line.
func timeNamespaceWithoutUser(t *testing.T, s Step) {
	flags := []string{"--ns=uts,pid,mnt,ipc,net,cgroup,time", "--boottime-offset", "86400", "--monotonic-offset", "3600"}
	rootfs := FreshRootfs(t)
	if err := startInNewTimeNamespace(); err != nil {
		t.Logf("this kernel refuses to start a child in a new time namespace with a vfork (%v): the runtime must refuse, or start it another way", err)
		if r := Run(t, s.Args(flags, rootfs, "/probe")...); r.Code == 2 {
			s.AssertRefused(t, r, "time")
			return
		}
	}
	t.Log("this kernel starts a child in a new time namespace with a vfork")
	assertClocks(t, s, flags, 86400, 3600)
}

// enabledAndDisabled runs check as two subtests: with the namespace type
// under test enabled, and disabled.
func enabledAndDisabled(t *testing.T, check func(t *testing.T, enabled bool)) {
	enabledAndDisabledIf(t, true, check)
}

// enabledAndDisabledIf is enabledAndDisabled, the second only when the
// runtime can leave the type out (disabled).
func enabledAndDisabledIf(t *testing.T, disabled bool, check func(t *testing.T, enabled bool)) {
	t.Run("enabled", func(t *testing.T) { check(t, true) })
	if disabled {
		t.Run("disabled", func(t *testing.T) { check(t, false) })
	}
}

// runProbe runs the probe, with experiments, as the container's command
// and returns its report.
func runProbe(t *testing.T, s Step, rootfs string, flags []string, experiments ...string) facts.Facts {
	t.Helper()
	return Probe(t, Run(t, s.Args(flags, rootfs, append([]string{"/probe"}, experiments...)...)...))
}

// withoutUser is --ns with every namespace type but user, and so without
// time too: see TimeNamespaceWithoutUser.
const withoutUser = "--ns=uts,pid,mnt,ipc,net,cgroup"

// without is --ns with every namespace type the runtime makes but one.
func (s Step) without(kind string) string {
	others := slices.DeleteFunc(slices.Clone(s.namespaces()), func(n string) bool { return n == kind })
	return "--ns=" + strings.Join(others, ",")
}

// newNamespaceFlags are the flags of clone(2) and unshare(2) that make a
// namespace of each type, for the failures to name.
var newNamespaceFlags = map[string]string{
	"uts": "CLONE_NEWUTS", "pid": "CLONE_NEWPID", "mnt": "CLONE_NEWNS", "ipc": "CLONE_NEWIPC",
	"net": "CLONE_NEWNET", "user": "CLONE_NEWUSER", "cgroup": "CLONE_NEWCGROUP", "time": "CLONE_NEWTIME",
}

// assertNamespace checks whether the probe was in a namespace of its own
// of the given type, or in the host's.
func assertNamespace(t *testing.T, f facts.Facts, kind string, own bool) {
	t.Helper()
	inside, host := f.Namespaces[kind], HostNamespaces(t)[kind]
	require.NotZero(t, inside, "the probe could not read /proc/self/ns/%s in the container: is there a proc filesystem on its /proc? "+
		"(A runtime mounts one there, in a mount namespace of its own.) The probe said: %s", kind, f.Errors["namespaces"])
	if own {
		assert.NotEqual(t, host, inside, "the container is in the host's %s namespace (the same inode in /proc/self/ns/%s): did the runtime ask for a new one (%s)?", kind, kind, newNamespaceFlags[kind])
	} else {
		assert.Equal(t, host, inside, "--ns left %s out, so the container should be in the host's %s namespace, not one of its own", kind, kind)
	}
}

// assertClocks runs the probe with flags and checks its clocks against the
// host's, read just before and just after: uptime and boottime ahead by
// boottime seconds, the monotonic clock by monotonic seconds, each within
// 1 s, and the wall clock not moved at all. With offsets, the probe must
// be in a time namespace of its own; without, in the host's.
func assertClocks(t *testing.T, s Step, flags []string, boottime, monotonic float64) {
	t.Helper()
	before := hostClocks(t)
	f := runProbe(t, s, FreshRootfs(t), flags)
	after := hostClocks(t)

	assertNamespace(t, f, "time", boottime != 0)
	within := func(what string, before, after, offset, inside float64) {
		assert.InDelta(t, (before+after)/2+offset, inside, 1+(after-before)/2, what)
	}
	within("the container's /proc/uptime should be the host's plus the --boottime-offset given (in a time namespace, whose offsets go in /proc/PID/timens_offsets before its first process starts)",
		before.Uptime, after.Uptime, boottime, f.Clocks.Uptime)
	within("the container's CLOCK_BOOTTIME should be the host's plus the --boottime-offset given (in a time namespace, whose offsets go in /proc/PID/timens_offsets before its first process starts)",
		before.Boottime, after.Boottime, boottime, f.Clocks.Boottime)
	within("the container's CLOCK_MONOTONIC should be the host's plus the --monotonic-offset given (in a time namespace, whose offsets go in /proc/PID/timens_offsets before its first process starts)",
		before.Monotonic, after.Monotonic, monotonic, f.Clocks.Monotonic)
	within("the container's CLOCK_REALTIME should be the host's, offsets or not: the wall clock has no namespace", before.Realtime, after.Realtime, 0, f.Clocks.Realtime)
}

// shareMount makes dir a shared mount of its own (a bind mount onto
// itself), removed when the test ends: a mount made below it propagates to
// every copy of it in other mount namespaces, unless they opt out.
func shareMount(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, unix.Mount(dir, dir, "", unix.MS_BIND, ""), "bind %s onto itself", dir)
	t.Cleanup(func() { assert.NoError(t, unix.Unmount(dir, unix.MNT_DETACH)) })
	require.NoError(t, unix.Mount("", dir, "", unix.MS_SHARED, ""), "make %s shared", dir)
}

// processIn returns the host pid of the container's command, once it is
// the only process there (touch may not have ended yet).
func processIn(t *testing.T, rootfs string) int {
	t.Helper()
	var pids []int
	require.Eventually(t, func() bool { pids = ProcessesRootedIn(rootfs); return len(pids) == 1 },
		10*time.Second, 10*time.Millisecond, "one process in the rootfs")
	return pids[0]
}

// startInNewTimeNamespace asks the kernel what a runtime without a user
// namespace asks: to start a child (as Go does, with a vfork) in the time
// namespace that unshare(CLONE_NEWTIME) made for the caller's children.
// The thread that asks is never used again (onOwnThread).
func startInNewTimeNamespace() error {
	return onOwnThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
			return err
		}
		return exec.Command("/bin/true").Run()
	})
}

// holdNamespaces opens each namespace of the container's first process
// (the first of the runtime's processes in a uts namespace of its own)
// until the test ends, and returns their
// inodes. Held open, a namespace outlives the container: the kernel cannot
// give its inode to a new namespace of another run on the machine while
// the test looks for processes left in it.
func holdNamespaces(t *testing.T, runtimePid int, kinds []string) map[string]uint64 {
	t.Helper()
	host := HostNamespaces(t)
	pids := slices.DeleteFunc(descendantsOf(runtimePid), func(pid int) bool {
		var st unix.Stat_t
		return unix.Stat(fmt.Sprintf("/proc/%d/ns/uts", pid), &st) != nil || st.Ino == host["uts"]
	})
	require.NotEmpty(t, pids, "no process of the run is in a uts namespace of its own")
	inodes := map[string]uint64{}
	for _, kind := range kinds {
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", pids[0], kind))
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		var st unix.Stat_t
		require.NoError(t, unix.Fstat(int(f.Fd()), &st))
		inodes[kind] = st.Ino
	}
	return inodes
}

// withoutSudo is env without the variables sudo sets.
func withoutSudo(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(v string) bool { return strings.HasPrefix(v, "SUDO_") })
}

func hostClocks(t *testing.T) facts.Clocks {
	t.Helper()
	c, err := facts.ReadClocks()
	require.NoError(t, err)
	return c
}

// queueKeys are two System V IPC keys for this test process: one for the
// host's queue and one for the container's.
func queueKeys() (host, container int) {
	base := 0x62780000 + os.Getpid()%0x8000*2 // "bx" and the pid
	return base, base + 1
}

// makeCgroup2 makes a cgroup of the test's own below the workshop's
// parent in the cgroup2 hierarchy (/sys/fs/cgroup on a cgroup v2 machine,
// /sys/fs/cgroup/unified in v1's hybrid mode) and removes it when the
// test ends. It returns the cgroup's path as /proc/PID/cgroup shows it
// ("/boxcraft/test-…") and the open folder, which SysProcAttr.CgroupFD
// takes to start a command straight in it.
func makeCgroup2(t testing.TB) (string, *os.File) {
	t.Helper()
	mount, err := cgroup2Mount()
	if err != nil {
		Skip(t, err.Error())
	}
	parent := filepath.Join(mount, Parent)
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatalf("make the workshop's cgroup: %v", err)
	}
	dir, err := os.MkdirTemp(parent, "test-")
	if err != nil {
		t.Fatalf("make a cgroup for the test: %v", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		removeCgroupTree(t, dir) // not the workshop's parent: another run may be making its own cgroup there
	})
	return strings.TrimPrefix(dir, mount), f
}

// cgroup2Mount finds where the cgroup2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	points, err := mountPointsOfType("cgroup2")
	if err != nil || len(points) == 0 {
		return "", fmt.Errorf("no cgroup2 hierarchy is mounted (%v)", err)
	}
	return points[0], nil
}
