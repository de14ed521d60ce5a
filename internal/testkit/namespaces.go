package testkit

import (
	"net"
	"os"
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
	t.Run("UTSNamespace", func(t *testing.T) {
		host, err := os.Hostname()
		require.NoError(t, err)
		enabledAndDisabled(t, func(t *testing.T, enabled bool) {
			flags := []string{"--hostname", "box-uts-test"}
			if !enabled {
				flags = []string{without("uts")}
			}
			f := runProbe(t, s, FreshRootfs(t), flags)
			assertNamespace(t, f, "uts", enabled)
			if enabled {
				assert.Equal(t, "box-uts-test", f.Hostname, "the hostname set inside")
			} else {
				assert.Equal(t, host, f.Hostname, "the host's hostname")
			}
			after, err := os.Hostname()
			require.NoError(t, err)
			assert.Equal(t, host, after, "the host's hostname is unchanged")
		})
	})
	t.Run("PIDNamespace", func(t *testing.T) {
		enabledAndDisabled(t, func(t *testing.T, enabled bool) {
			rootfs := FreshRootfs(t)
			if !enabled {
				f := runProbe(t, s, rootfs, []string{without("pid")})
				assertNamespace(t, f, "pid", false)
				assert.NotEqual(t, 1, f.Pid)
				assert.Contains(t, f.Pids, os.Getpid(), "the test, a host process, is visible")
				return
			}
			f := runProbe(t, s, rootfs, nil)
			assertNamespace(t, f, "pid", true)
			assert.Equal(t, 1, f.Pid, "CMD is pid 1")
			assert.Equal(t, []int{1}, f.Pids, "the probe is the only process in /proc: the test, a host process, is not there")

			// A subshell forks, and runs the probe as its child.
			child := Probe(t, Run(t, s.Args(nil, rootfs, "/bin/sh", "-c", "(/probe); exit $?")...))
			assert.Equal(t, 2, child.Pid, "CMD's first child is pid 2")
			assert.Equal(t, 1, child.Ppid, "and its parent is pid 1")
		})
	})
	// The container's command mounts a tmpfs, says it is ready and waits;
	// the test then looks for that mount on the host, makes a mount of its
	// own in the rootfs and lets the command look for it. The rootfs lies
	// in a shared mount, as it does under systemd's shared /: without
	// private propagation in the container, mounts would travel.
	//
	// From step04 on, the root is a mount of the container's mount
	// namespace, which the runtime cannot do without: it refuses.
	t.Run("MountNamespace", func(t *testing.T) {
		const script = `
			if [ "$1" = mount ]; then mount -t tmpfs boxcraft-inside /var || exit 10; fi
			touch /tmp/ready
			while [ ! -e /tmp/go ]; do sleep 0.02; done
			if [ -e /home/from-host ]; then echo visible > /tmp/seen; else echo hidden > /tmp/seen; fi
			exec /probe`
		enabledAndDisabled(t, func(t *testing.T, enabled bool) {
			rootfs := FreshRootfs(t)
			if !enabled && s.PivotRoot {
				AssertRefused(t, Run(t, s.Args([]string{without("mnt")}, rootfs, "/probe")...), s.Name, "leaves out mnt, which "+s.Name+" needs")
				return
			}
			shareMount(t, filepath.Dir(rootfs))
			args := s.Args(nil, rootfs, "/bin/sh", "-c", script, "sh", "mount")
			if !enabled {
				// No mount namespace: the runtime mounts nothing (it would
				// land on the host), so the test mounts the /proc the probe
				// reads.
				args = s.Args([]string{without("mnt")}, rootfs, "/bin/sh", "-c", script, "sh", "no-mount")
				Mount(t, "proc", filepath.Join(rootfs, "proc"), "proc")
			}
			running := Start(t, Command(t, args...))
			running.WaitForFile(t, filepath.Join(rootfs, "tmp/ready"))
			if enabled {
				assert.NotContains(t, MountPoints(t), filepath.Join(rootfs, "var"), "the container's mount is not on the host")
			}
			Mount(t, "boxcraft-host", filepath.Join(rootfs, "home"), "tmpfs")
			require.NoError(t, os.WriteFile(filepath.Join(rootfs, "home/from-host"), nil, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(rootfs, "tmp/go"), nil, 0o644))

			f := Probe(t, running.Wait(t))
			assertNamespace(t, f, "mnt", enabled)
			seen, err := os.ReadFile(filepath.Join(rootfs, "tmp/seen"))
			require.NoError(t, err)
			if enabled {
				assert.Equal(t, "hidden\n", string(seen), "a mount the host made after the start is absent inside")
			} else {
				assert.Equal(t, "visible\n", string(seen), "a mount the host made after the start is visible inside")
			}
		})
	})
	// One System V message queue is made on the host before the start, and
	// one inside by the probe.
	t.Run("IPCNamespace", func(t *testing.T) {
		enabledAndDisabled(t, func(t *testing.T, enabled bool) {
			rootfs := FreshRootfs(t)
			hostKey, containerKey := queueKeys()
			require.NoError(t, facts.MakeMsgQueue(hostKey))
			t.Cleanup(func() { facts.RemoveMsgQueue(hostKey) })
			t.Cleanup(func() { facts.RemoveMsgQueue(containerKey) }) // a host queue when ipc is disabled
			var flags []string
			if !enabled {
				flags = []string{without("ipc")}
			}
			f := runProbe(t, s, rootfs, flags, "msgqueue="+strconv.Itoa(containerKey))
			assertNamespace(t, f, "ipc", enabled)
			require.True(t, f.Experiments.MsgQueue.OK, f.Experiments.MsgQueue.Error)
			onHost, err := facts.ReadMsgQueues()
			require.NoError(t, err)
			if enabled {
				assert.NotContains(t, f.MsgQueues, hostKey, "the host's queue is absent inside")
				assert.NotContains(t, onHost, containerKey, "the container's queue is absent from the host")
			} else {
				assert.Contains(t, f.MsgQueues, hostKey, "the host's queue is visible inside")
				assert.Contains(t, onHost, containerKey, "the container's queue is on the host")
			}
		})
	})
	t.Run("NetNamespace", func(t *testing.T) {
		enabledAndDisabled(t, func(t *testing.T, enabled bool) {
			var flags []string
			if !enabled {
				flags = []string{without("net")}
			}
			f := runProbe(t, s, FreshRootfs(t), flags)
			assertNamespace(t, f, "net", enabled)
			if enabled {
				assert.Equal(t, []facts.Interface{{Name: "lo", Up: true}}, f.Interfaces, "only lo, and it is up")
				return
			}
			host, err := net.Interfaces()
			require.NoError(t, err)
			var want, got []string
			for _, i := range host {
				want = append(want, i.Name)
			}
			for _, i := range f.Interfaces {
				got = append(got, i.Name)
			}
			assert.ElementsMatch(t, want, got, "the host's interfaces")
		})
	})
	// The command makes a file as its root and notes whether it may set its
	// groups, then the probe tries to make a device node, which needs a
	// capability in the host's user namespace.
	t.Run("UserNamespace", func(t *testing.T) {
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
				cmd.Env = withoutSudo(os.Environ()) // SUDO_USER's /etc/subuid range would replace the default
				f := Probe(t, RunCmd(t, cmd))

				assertNamespace(t, f, "user", tc.own)
				assert.Equal(t, 0, f.UID, "root inside")
				var st unix.Stat_t
				require.NoError(t, unix.Stat(filepath.Join(rootfs, "tmp/made-by-root"), &st))
				assert.Equal(t, tc.fileUID, st.Uid, "the owner of the container root's file, on the host")
				assert.Equal(t, tc.fileGID, st.Gid, "its group, on the host")
				setgroups, err := os.ReadFile(filepath.Join(rootfs, "tmp/setgroups"))
				require.NoError(t, err)
				assert.Equal(t, "allow\n", string(setgroups), "root inside may set its groups")
				mknod := f.Experiments.Mknod
				require.NotNil(t, mknod)
				if tc.own {
					assert.False(t, mknod.OK, "root inside has no capability over the host's user namespace")
					assert.Contains(t, mknod.Error, "operation not permitted")
				} else {
					assert.True(t, mknod.OK, "host root may make a device node: %s", mknod.Error)
				}
			})
		}
	})
	// The runtime itself starts in a cgroup of the test's own below the
	// workshop's parent, and from step03 on moves the container into a
	// cgroup of its own there (/boxcraft/run-PID) before it gives the
	// container its cgroup namespace. Either way the host's view of the
	// container's cgroup is a path below the parent, not "/".
	t.Run("CgroupNamespace", func(t *testing.T) {
		enabledAndDisabled(t, func(t *testing.T, enabled bool) {
			rootfs := FreshRootfs(t)
			_, dir := Cgroup2(t)
			var flags []string
			if !enabled {
				flags = []string{without("cgroup")}
			}
			cmd := Command(t, s.Args(flags, rootfs, "/probe")...)
			cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
			f := Probe(t, RunCmd(t, cmd))

			assertNamespace(t, f, "cgroup", enabled)
			require.NotEmpty(t, f.Cgroup)
			atRoot := func(line string) bool { return strings.HasSuffix(line, ":/") }
			if enabled {
				for _, line := range f.Cgroup {
					assert.True(t, atRoot(line), "the container at the root of its view: %q", line)
				}
				return
			}
			unified := slices.IndexFunc(f.Cgroup, func(line string) bool { return strings.HasPrefix(line, "0::") })
			require.NotEqual(t, -1, unified, "a 0:: line (cgroup2) in %q", f.Cgroup)
			assert.True(t, strings.HasPrefix(f.Cgroup[unified], "0::/"+Parent+"/"),
				"the host's path to the cgroup, below the workshop's parent: %q", f.Cgroup[unified])
			assert.True(t, slices.ContainsFunc(f.Cgroup, func(line string) bool { return !atRoot(line) }),
				"not every line at the root of a view: %q", f.Cgroup)
		})
	})
	// The time namespace moves the monotonic and boottime clocks (and so
	// /proc/uptime) by the offsets given; the wall clock has no namespace.
	t.Run("TimeNamespace", func(t *testing.T) {
		enabledAndDisabled(t, func(t *testing.T, enabled bool) {
			offsets := []string{"--boottime-offset", "86400", "--monotonic-offset", "3600"}
			if enabled {
				assertClocks(t, s, offsets, 86400, 3600)
			} else {
				assertClocks(t, s, []string{without("time")}, 0, 0)
			}
		})
	})
	// Without a user namespace, Go starts init with a vfork, which a kernel
	// before the change that let exec enter a new time namespace refuses
	// (Debian 12's 6.1 does): the runtime then says so in one line.
	t.Run("TimeNamespaceWithoutUser", func(t *testing.T) {
		flags := []string{"--ns=uts,pid,mnt,ipc,net,cgroup,time", "--boottime-offset", "86400", "--monotonic-offset", "3600"}
		rootfs := FreshRootfs(t)
		r := Run(t, s.Args(flags, rootfs, "/probe")...)
		if r.Code == 2 && strings.Contains(r.Stderr, "a new time namespace") {
			t.Logf("this kernel refuses it: %s", r.Stderr)
			AssertRefused(t, r, s.Name, "add user to --ns, or leave out time")
			return
		}
		assertClocks(t, s, flags, 86400, 3600)
	})
	// Until step04 the root is still a chroot, so the escape that worked in
	// step01 still works: namespaces do not change the root. step04's
	// pivot_root does (see RootFilesystem).
	//
	// Root of the user namespace is host uid 100000, an ordinary user on
	// the host: it climbs only through folders that let others in, which
	// the test's own temporary folders (mode 0700) do not, until opened
	// here.
	if !s.PivotRoot {
		t.Run("EscapeStillSucceeds", func(t *testing.T) {
			rootfs := FreshRootfs(t)
			openParents(t, rootfs)
			AssertEscapedToHostRoot(t, runProbe(t, s, rootfs, nil, "escape"))
		})
	}
	// --ns none is step01 again: every namespace is the host's. From
	// step04 on it is refused: there is no root switch without a mount
	// namespace.
	t.Run("NoNamespacesIsAChrootAgain", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		if s.PivotRoot {
			AssertRefused(t, Run(t, s.Args([]string{"--ns", "none"}, rootfs, "/probe")...), s.Name, "leaves out mnt")
			return
		}
		Mount(t, "proc", filepath.Join(rootfs, "proc"), "proc")
		f := runProbe(t, s, rootfs, []string{"--ns", "none"})
		assert.Equal(t, HostNamespaces(t), f.Namespaces, "every namespace is the host's")
		assert.Contains(t, f.Pids, os.Getpid(), "the test process, on the host, is visible inside")
	})
	t.Run("BadNamespaceInputIsRefused", func(t *testing.T) {
		long := strings.Repeat("h", 65)
		for name, tc := range map[string]struct {
			args []string
			says string
		}{
			"unknown namespace":       {[]string{"--ns", "uts,bogus"}, `unknown namespace "bogus"`},
			"map of two numbers":      {[]string{"--uid-map", "0:100000"}, "want CONTAINER:HOST:SIZE"},
			"map of words":            {[]string{"--gid-map", "a:b:c"}, "want CONTAINER:HOST:SIZE"},
			"map without root":        {[]string{"--uid-map", "1:100000:10"}, "must start at container id 0"},
			"empty map":               {[]string{"--uid-map", "0:100000:0"}, "at least one id"},
			"map past the last id":    {[]string{"--uid-map", "0:4294967295:10"}, "host ids end at 4294967294"},
			"hostname too long":       {[]string{"--hostname", long}, "65 bytes long: the kernel takes at most 64"},
			"empty hostname":          {[]string{"--hostname", ""}, "--hostname is empty"},
			"offset below zero":       {[]string{"--boottime-offset", "-9999999999"}, "below zero"},
			"offset too large":        {[]string{"--monotonic-offset", "9999999999"}, "too large"},
			"offset not a number":     {[]string{"--monotonic-offset", "soon"}, `invalid argument "soon"`},
			"hostname without uts":    {[]string{"--ns", "pid", "--hostname", "x"}, "--hostname needs the uts namespace"},
			"offset without time":     {[]string{"--ns", "user", "--boottime-offset", "5"}, "--boottime-offset needs the time namespace"},
			"uid map without user ns": {[]string{"--ns", "none", "--uid-map", "0:1:1"}, "--uid-map needs the user namespace"},
		} {
			t.Run(name, func(t *testing.T) {
				rootfs := FreshRootfs(t)
				AssertRefused(t, Run(t, s.Args(tc.args, rootfs, "/probe")...), s.Name, tc.says)
			})
		}
		t.Run("rootfs without /proc", func(t *testing.T) {
			rootfs := FreshRootfs(t)
			require.NoError(t, os.Remove(filepath.Join(rootfs, "proc")))
			AssertRefused(t, Run(t, s.Args(nil, rootfs, "/probe")...), s.Name, "has no proc folder")
		})
		t.Run("rootfs the container's root may not enter", func(t *testing.T) {
			rootfs := FreshRootfs(t)
			require.NoError(t, os.Chmod(rootfs, 0o700))
			AssertRefused(t, Run(t, s.Args(nil, rootfs, "/probe")...), s.Name, "others need r and x")
		})
	})
	// When CMD exits, its namespaces go with it: no process is left in any
	// of them, not even one CMD left running in the background, and no
	// namespace file is kept by a mount.
	t.Run("NothingIsLeftBehind", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		devNull(t, rootfs)
		nsfsBefore := MountPointsOfType(t, "nsfs")

		f := Probe(t, Run(t, s.Args(nil, rootfs, "/bin/sh", "-c", "sleep 1000 & exec /probe")...))

		host := HostNamespaces(t)
		for _, kind := range allNamespaces {
			require.NotEqual(t, host[kind], f.Namespaces[kind], "the container had its own %s namespace", kind)
			assert.Empty(t, ProcessesInNamespace(kind, f.Namespaces[kind]), "processes left in the container's %s namespace", kind)
		}
		assert.Equal(t, nsfsBefore, MountPointsOfType(t, "nsfs"), "a namespace file was kept mounted")
	})
	// Files the runtime was given by whatever started it stay out of the
	// container.
	t.Run("InheritedFilesAreClosed", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		hostFolder, err := os.Open("/")
		require.NoError(t, err)
		defer hostFolder.Close()
		cmd := Command(t, s.Args(nil, rootfs, "/probe")...)
		cmd.ExtraFiles = []*os.File{hostFolder} // fd 3 in the runtime: an open folder of the host
		f := Probe(t, RunCmd(t, cmd))
		assert.Equal(t, []int{0, 1, 2}, f.FDs, "CMD has stdin, stdout and stderr, and nothing else")
	})
	// Signals still reach CMD, but CMD is now pid 1 of its PID namespace,
	// and the kernel gives pid 1 only the signals it has a handler for.
	t.Run("Signals", func(t *testing.T) {
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
			assert.Equal(t, 3, running.Wait(t).Code, "the shell's handler ran")
		})
		t.Run("pid 1 ignores SIGTERM, and dies with its runtime", func(t *testing.T) {
			rootfs := FreshRootfs(t)
			running := start(t, rootfs, "touch /tmp/ready; exec sleep 1000")
			sleep := processIn(t, rootfs)
			require.NoError(t, running.Cmd.Process.Signal(unix.SIGTERM))
			time.Sleep(200 * time.Millisecond)
			assert.NoError(t, unix.Kill(sleep, 0), "sleep, pid 1 with no handler, ignored SIGTERM")

			require.NoError(t, running.Cmd.Process.Kill()) // SIGKILL cannot be relayed
			running.Wait(t)
			assert.Eventually(t, func() bool { return len(ProcessesRootedIn(rootfs)) == 0 },
				5*time.Second, 10*time.Millisecond, "the kernel killed the container with its runtime (Pdeathsig)")
		})
		t.Run("killed by a signal: status 128+N", func(t *testing.T) {
			rootfs := FreshRootfs(t)
			running := start(t, rootfs, "touch /tmp/ready; exec sleep 1000")
			require.NoError(t, unix.Kill(processIn(t, rootfs), unix.SIGKILL)) // from the host, SIGKILL reaches pid 1
			assert.Equal(t, 128+int(unix.SIGKILL), running.Wait(t).Code)
		})
	})
	namespaceIsolation(t, s) // isolation.go
}

// enabledAndDisabled runs check as two subtests: with the namespace type
// under test enabled, and disabled.
func enabledAndDisabled(t *testing.T, check func(t *testing.T, enabled bool)) {
	t.Run("enabled", func(t *testing.T) { check(t, true) })
	t.Run("disabled", func(t *testing.T) { check(t, false) })
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

// without is --ns with every namespace type but one.
func without(kind string) string {
	others := slices.DeleteFunc(slices.Clone(allNamespaces), func(n string) bool { return n == kind })
	return "--ns=" + strings.Join(others, ",")
}

// assertNamespace checks whether the probe was in a namespace of its own
// of the given type, or in the host's.
func assertNamespace(t *testing.T, f facts.Facts, kind string, own bool) {
	t.Helper()
	inside, host := f.Namespaces[kind], HostNamespaces(t)[kind]
	require.NotZero(t, inside, "the probe read /proc/self/ns/%s: %v", kind, f.Errors)
	if own {
		assert.NotEqual(t, host, inside, "a %s namespace of its own", kind)
	} else {
		assert.Equal(t, host, inside, "the host's %s namespace", kind)
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
	within("/proc/uptime", before.Uptime, after.Uptime, boottime, f.Clocks.Uptime)
	within("CLOCK_BOOTTIME", before.Boottime, after.Boottime, boottime, f.Clocks.Boottime)
	within("CLOCK_MONOTONIC", before.Monotonic, after.Monotonic, monotonic, f.Clocks.Monotonic)
	within("CLOCK_REALTIME, the host's with offsets or without", before.Realtime, after.Realtime, 0, f.Clocks.Realtime)
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
