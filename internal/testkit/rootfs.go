package testkit

import (
	"bytes"
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

// RootFilesystem checks what every step from step04 on does with the
// root: pivot_root into it, so that no escape leads out; /proc, /sys and
// a /dev of the container's own, and no mount of the host's; an image
// tarball unpacked, safely, into a rootfs of the container's own, which
// goes with the container unless kept.
//
// What it relies on (docs/contract.md), and nothing of one runtime's own
// (no name of its folders, no wording of its messages):
//   - `run --rootfs DIR CMD…` and `run --image TAR CMD…` (TAR plain or
//     gzip), with --keep (and boxcraft's --read-only); what the probe
//     sees inside;
//   - the container, from the host: a process of the runtime's (a child,
//     or one of theirs) whose root, /proc/PID/root, is not the host's /;
//     its files are read and written there;
//   - the state folder, $BOXCRAFT_STATE_DIR: while a container from an
//     image runs, what it writes in its root lies below it; once a run
//     without --keep has ended, ran, refused or stopped by SIGINT while it
//     read the image, nothing of its container is left there (nothing at
//     all before step05; from step05 on, the store, see Layers), and no
//     mount; what a run killed with SIGKILL left, the next run removes;
//   - --keep: the run prints, on stderr, the path of what it kept, below
//     the state folder, where what the container wrote lies (step04: its
//     rootfs, there or in a folder below); no later run removes it;
//   - a refusal (AssertRefused): status 2, one line on stderr naming the
//     flag, the file, or the archive's entry refused; SIGINT while the
//     image is read is refused so too, naming the signal.
func RootFilesystem(t *testing.T, s Step) {
	t.Run("EscapeNowFails", func(t *testing.T) { escapeNowFails(t, s) })
	t.Run("RootIsTheRootfsAndTheKernelTheHosts", func(t *testing.T) { rootIsTheRootfs(t, s) })
	t.Run("MountsAreTheContainersOwn", func(t *testing.T) { mountsAreTheContainersOwn(t, s) })
	t.Run("SysIsReadOnlyWithoutANetNamespace", func(t *testing.T) { sysIsReadOnlyWithoutANetNamespace(t, s) })
	t.Run("PivotsUnderASharedMount", func(t *testing.T) { pivotsUnderASharedMount(t, s) })
	t.Run("DevHoldsExactlyTheDevices", func(t *testing.T) { devHoldsExactlyTheDevices(t, s) })
	// The steps leave /dev/console to boxcraft (final/rootfs).
	if s.Docker {
		t.Run("ConsoleIsTheTerminal", func(t *testing.T) { consoleIsTheTerminal(t, s) })
	}
	// The steps leave --read-only to boxcraft (spec.Root.ReadOnly,
	// final/rootfs/remount.go).
	if s.Docker {
		t.Run("ReadOnlyRoot", func(t *testing.T) { readOnlyRoot(t, s) })
	}
	t.Run("Image", func(t *testing.T) { images(t, s) })
}

// escapeNowFails checks that the probe's chroot escape, which led out
// until step04, now ends at the container's root: pivot_root leaves no way
// out.
func escapeNowFails(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	openParents(t, rootfs) // as for EscapeStillSucceeds: only the root switch may stop the climb
	escape := runProbe(t, s, rootfs, nil, "escape").Experiments.Escape
	require.NotNil(t, escape)
	require.Empty(t, escape.Error)
	assert.False(t, escape.Escaped, "the probe's chroot escape climbed out of the container's root, to a / holding %v: "+
		"pivot_root into the rootfs, and detach the old root, so that no climb leads out", escape.RootEntries)
	assert.Equal(t, fileID(t, rootfs), facts.FileID{Dev: escape.RootDev, Ino: escape.RootIno}, "the climb ends at the rootfs")
	assert.NotEqual(t, fileID(t, "/"), facts.FileID{Dev: escape.RootDev, Ino: escape.RootIno}, "the climb reached the host's root")
}

// rootIsTheRootfs checks that the container's / is the rootfs, CMD starts
// in it, and the kernel is the host's.
func rootIsTheRootfs(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	f := runProbe(t, s, rootfs, nil)
	assert.Equal(t, fileID(t, rootfs), f.Root, "the container's / is not the rootfs: did you pivot_root into it?")
	assert.Equal(t, "/", f.Cwd, "CMD starts in /")
	host, err := facts.ReadKernelRelease()
	require.NoError(t, err)
	assert.Equal(t, host, f.Kernel, "an image has no kernel: uname -r is the host's")
}

// mountsAreTheContainersOwn checks the container's mountinfo: each mount
// its own, with the options it must have, and none of the host's.
//
// With a user namespace, the runtime may not make device nodes: it
// binds the host's onto /dev's files, and each is a mount. Without
// one, they are device nodes on /dev's tmpfs. boxcraft, as Docker, adds
// the container's cgroups on /sys/fs/cgroup (the CgroupFS test's), which
// must be read-only too.
func mountsAreTheContainersOwn(t *testing.T, s Step) {
	for name, flags := range withAndWithoutUserNamespace {
		t.Run(name, func(t *testing.T) {
			f := runProbe(t, s, FreshRootfs(t), flags, "create=/sys/boxcraft")
			want := map[string]string{"/": "", "/proc": "proc nosuid,nodev,noexec", "/sys": "sysfs ro,nosuid,nodev,noexec",
				"/dev": "tmpfs nosuid", "/dev/pts": "devpts nosuid,noexec", "/dev/shm": "tmpfs nosuid,nodev,noexec",
				"/dev/mqueue": "mqueue nosuid,nodev,noexec"}
			if flags == nil {
				for _, d := range devices {
					want["/dev/"+d.name] = "devtmpfs"
				}
			}
			if flags != nil { // without a user namespace, /proc/sys is read-only (isolation.go)
				want["/proc/sys"] = "proc ro,nosuid,nodev,noexec"
			}
			got := map[string]string{}
			for _, line := range f.Mounts {
				_, point, fstype, _, ok := facts.ParseMount(line)
				require.True(t, ok, line)
				if s.Docker && atCgroupFS(point) {
					assert.Contains(t, strings.Split(facts.MountOptions(line), ","), "ro", "the cgroup mount at %s is read-only", point)
					continue
				}
				assert.NotContains(t, got, point, "one mount at %s", point)
				got[point] = strings.TrimSpace(fstype + " " + mountFlags(facts.MountOptions(line), want[point]))
			}
			got["/"] = "" // whatever the rootfs lies on
			assert.Equal(t, want, got, "the container's mountinfo: each mount of its own, with these options, "+
				"and none of the host's (the old root detached)")
			assert.Contains(t, f.Experiments.Creates["/sys/boxcraft"].Error, "read-only file system", "/sys is mounted read-only")
		})
	}
}

// sysIsReadOnlyWithoutANetNamespace checks that every mount of /sys is
// read-only in a container without a network namespace.
//
// Without a network namespace, a user namespace may not mount sysfs:
// the runtime binds the host's /sys, with the mounts below it, and
// every one of them must be read-only.
func sysIsReadOnlyWithoutANetNamespace(t *testing.T, s Step) {
	f := runProbe(t, s, FreshRootfs(t), []string{s.without("net")})
	var sys int
	for _, line := range f.Mounts {
		_, point, _, _, _ := facts.ParseMount(line)
		if point == "/sys" || strings.HasPrefix(point, "/sys/") {
			sys++
			assert.Contains(t, strings.Split(facts.MountOptions(line), ","), "ro",
				"%s is writable: a bind of the host's /sys is remounted read-only, each mount below it too", point)
		}
	}
	assert.Positive(t, sys, "/sys is mounted in the container")
}

// pivotsUnderASharedMount checks that the root switch works when the
// rootfs lies in a shared mount.
//
// The rootfs lies in a shared mount, as under systemd's shared /, and
// the runtime is the host's root: the mounts it makes in the container
// must stay there, and pivot_root, which refuses a shared parent, must
// work. CheckNothingLeft looks for mounts left on the host.
func pivotsUnderASharedMount(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	shareMount(t, filepath.Dir(rootfs))
	f := runProbe(t, s, rootfs, []string{withoutUser})
	assert.Equal(t, fileID(t, rootfs), f.Root, "the container's / is the rootfs, though it lies in a shared mount: "+
		"make the container's mounts private first")
}

// devHoldsExactlyTheDevices checks that the container's /dev holds the
// usual devices, links and folders, and nothing of the host's.
func devHoldsExactlyTheDevices(t *testing.T, s Step) {
	want := []facts.DevEntry{
		{Name: "fd", Type: "symlink", Mode: 0o777, Link: "/proc/self/fd"},
		{Name: "stdin", Type: "symlink", Mode: 0o777, Link: "/proc/self/fd/0"},
		{Name: "stdout", Type: "symlink", Mode: 0o777, Link: "/proc/self/fd/1"},
		{Name: "stderr", Type: "symlink", Mode: 0o777, Link: "/proc/self/fd/2"},
		{Name: "ptmx", Type: "symlink", Mode: 0o777, Link: "pts/ptmx"},
		{Name: "pts", Type: "dir", Mode: 0o755},
		{Name: "shm", Type: "dir", Mode: 0o1777},
		{Name: "mqueue", Type: "dir", Mode: 0o1777},
	}
	for _, d := range devices {
		want = append(want, facts.DevEntry{Name: d.name, Type: "char", Mode: 0o666, Major: d.major, Minor: d.minor})
	}
	for name, flags := range withAndWithoutUserNamespace {
		t.Run(name, func(t *testing.T) {
			f := runProbe(t, s, FreshRootfs(t), flags)
			assert.ElementsMatch(t, want, f.Dev, "the container's /dev holds these devices, links and folders, and nothing of the host's")
		})
	}
}

// consoleIsTheTerminal checks that /dev/console is the terminal on stdin.
//
// The container's stdin is a terminal the test opens: a new pseudo
// terminal of the host's devpts, which /dev/console must then be.
func consoleIsTheTerminal(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	terminal, number := openTerminal(t)
	cmd := Command(t, s.Args(s.withStdin(nil), rootfs, "/probe")...)
	cmd.Stdin = terminal
	f := Probe(t, RunCmd(t, cmd))
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(int(terminal.Fd()), &st))
	assert.Contains(t, f.Dev, facts.DevEntry{Name: "console", Type: "char", Mode: st.Mode & 0o7777,
		Major: unix.Major(st.Rdev), Minor: number}, "/dev/console is the terminal on stdin")
}

// readOnlyRoot checks that --read-only makes the root read-only, and
// leaves /dev/shm and the devices writable.
func readOnlyRoot(t *testing.T, s Step) {
	for name, tc := range map[string]struct {
		flags    []string
		rootFail string
	}{
		"--read-only": {[]string{"--read-only"}, "read-only file system"},
		"read-write":  {nil, ""},
	} {
		t.Run(name, func(t *testing.T) {
			// /tmp, which the container's root may write to: the
			// rootfs's other folders are the host root's.
			f := runProbe(t, s, FreshRootfs(t), tc.flags, "create=/tmp/file", "create=/dev/shm/file", "create=/dev/null")
			made := f.Experiments.Creates
			if tc.rootFail != "" {
				assert.Contains(t, made["/tmp/file"].Error, tc.rootFail, "with --read-only, the root is mounted read-only")
			} else {
				assert.True(t, made["/tmp/file"].OK, "without --read-only, the root is writable: %s", made["/tmp/file"].Error)
			}
			for _, path := range []string{"/dev/shm/file", "/dev/null"} {
				assert.True(t, made[path].OK, "%s stays writable: %s", path, made[path].Error)
			}
		})
	}
}

// withAndWithoutUserNamespace are the flags of the two ways a test runs
// a container, by name: with the default user namespace (no flag), and
// without one.
var withAndWithoutUserNamespace = map[string][]string{"with a user namespace": nil, "without": {withoutUser}}

// rootUID is the host uid of the container's root, run with flags, one
// of withAndWithoutUserNamespace's: the default map's first, or root's
// own.
func rootUID(flags []string) uint32 {
	if slices.Contains(flags, withoutUser) {
		return 0
	}
	return 100000
}

// images checks --image: a fresh rootfs of the container's own, unpacked
// safely, gone afterwards unless kept.
func images(t *testing.T, s Step) {
	RequireRoot(t)
	t.Run("RootfsIsTheContainersOwnAndGoesWithIt", func(t *testing.T) { imageRootfsGoesWithTheContainer(t, s) })
	// boxcraft has no --keep.
	if !s.Docker {
		t.Run("KeptWithOwnersInTheUserNamespace", func(t *testing.T) { keptWithOwnersInTheUserNamespace(t, s) })
	}
	t.Run("GzipImage", func(t *testing.T) { gzipImage(t, s) })
	t.Run("UnpacksAsGNUTarDoes", func(t *testing.T) { unpacksAsGNUTarDoes(t, s) })
	t.Run("HostileImagesAreRefused", func(t *testing.T) { hostileImages(t, s) })
	// The steps take a signal that arrives while the image is read once
	// CMD runs; boxcraft stops reading at once (final/cmd/boxcraft).
	if s.Docker {
		t.Run("InterruptedUnpackingLeavesNothing", func(t *testing.T) { interruptedUnpacking(t, s) })
	}
	t.Run("DeviceNodesAreRefused", func(t *testing.T) { deviceNodesAreRefused(t, s) })
	// boxcraft has no --keep, and, as Docker, keeps the record of a
	// container whose run was killed until rm or prune removes it.
	if !s.Docker {
		t.Run("LeftoversAreRemovedByTheNextRun", func(t *testing.T) { leftoversAreRemovedByTheNextRun(t, s) })
	}
	t.Run("BadImageInputIsRefused", func(t *testing.T) { badImageInput(t, s) })
}

// imageRootfsGoesWithTheContainer checks that an --image run gets a root
// of its own, below the state folder, which goes when the container ends.
func imageRootfsGoesWithTheContainer(t *testing.T, s Step) {
	image := ImageWithProbe(t)
	before := stateEntries(t)
	// The sleep in the background is there all along (the loop's
	// come and go); the pid namespace ends it with sh.
	const script = `echo made inside > /made; sleep 1000 & touch /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.02; done`
	running := Start(t, s.ImageCommand(t, image, nil, "/bin/sh", "-c", script))
	pid := waitForContainer(t, running, "tmp/ready")
	root := "/proc/" + strconv.Itoa(pid) + "/root"
	assert.Equal(t, "made inside\n", string(readFile(t, filepath.Join(root, "made"))), "the container's /made, read through its root on the host")
	made := filesBelowState(t, "made", "made inside\n")
	assert.NotEmpty(t, made, "the file the container wrote in its root (/made) lies below the state folder %s: "+
		"a container's root from an image is made there", StateDir(t))
	assert.GreaterOrEqual(t, len(processesWithRoot(fileID(t, root))), 2,
		"the container (sh, its sleep, and the loop's) runs with its own root, not the host's")
	require.NoError(t, os.WriteFile(filepath.Join(root, "tmp/go"), nil, 0o644))
	r := running.Wait(t)
	require.Equal(t, 0, r.Code, r)
	assert.Empty(t, r.Stderr)
	for _, path := range made {
		assert.NoFileExists(t, path, "the container's root goes with it")
	}
	assertOnlyTheStoreLeft(t, s, before, func() {
		require.Equal(t, 0, s.RunImage(t, image, nil, "/bin/true").Code)
	}, [][]byte{readFile(t, image)})
}

// keptWithOwnersInTheUserNamespace checks the owners of a kept
// container's files. With a user namespace (the default), the image's
// files are given to the container's ids: root's files are host uid
// 100000's, root inside. A umask that lets others in nowhere changes
// none of it.
func keptWithOwnersInTheUserNamespace(t *testing.T, s Step) {
	image := ImageWithProbe(t)
	r := RunCmd(t, HostCommand(t, "sh", "-c", `umask 077; exec "$@"`, "sh", Binary(t),
		"run", "--image", image, "--keep", "/bin/sh", "-c", `stat -c %u:%g /etc/passwd; cd /root && echo entered /root; echo kept > /kept`))
	require.Equal(t, 0, r.Code, r)
	_, root := keptFolder(t, r, "kept", "kept\n")
	assert.Equal(t, "0:0\nentered /root\n", r.Stdout, "root's files are root's inside, and root may enter /root (mode 0700)")
	for _, file := range []string{"kept", "etc/passwd"} {
		if s.Layers && file == "etc/passwd" {
			continue // in the image's layer, not the container's (see Layers)
		}
		var st unix.Stat_t
		require.NoError(t, unix.Lstat(filepath.Join(root, file), &st))
		assert.Equal(t, [2]uint32{100000, 100000}, [2]uint32{st.Uid, st.Gid},
			"/%s is the container root's, which is host uid 100000 in the user namespace: give the unpacked files the container's ids", file)
	}
}

// gzipImage checks that a gzip-compressed image runs as the plain one
// does.
func gzipImage(t *testing.T, s Step) {
	data, err := os.ReadFile(ImageWithProbe(t))
	require.NoError(t, err)
	image := filepath.Join(t.TempDir(), "image.tar.gz")
	require.NoError(t, os.WriteFile(image, Gzip(t, data), 0o644))
	r := s.RunImage(t, image, nil, "/bin/cat", "/etc/hostname")
	require.Equal(t, 0, r.Code, "a gzip-compressed image runs as the plain one does:\n%s", r)
	assert.NotEmpty(t, r.Stdout)
}

// unpacksAsGNUTarDoes checks the runtime's unpacking against GNU tar's.
//
// The same archive unpacked by GNU tar and by the runtime: the two
// trees must be the same, file by file. With a user namespace, the
// owners are moved into its range, and the image may hold no device
// node (see DeviceNodesAreRefused). The runtime's tree is the kept
// rootfs, from step05 on the layer in the store.
func unpacksAsGNUTarDoes(t *testing.T, s Step) {
	for name, shift := range map[string]uint32{"as root": 0, "in the user namespace": 100000} {
		t.Run(name, func(t *testing.T) {
			image := filepath.Join(t.TempDir(), "export.tar")
			// A device node (as root) and xattrs only for boxcraft: the
			// steps make no node (see DeviceNodesAreRefused) and, as GNU tar
			// without --xattrs, set no xattr.
			archive := StepsExportTar(t)
			if s.Docker {
				archive = DockerExportTar(t, shift == 0)
			}
			require.NoError(t, os.WriteFile(image, archive, 0o644))
			// A CMD the image has: the workshop's busybox, appended.
			r := RunCmd(t, HostCommand(t, "tar", "--numeric-owner", "-rf", image, "-C", FreshRootfs(t), "bin/busybox"))
			require.Equal(t, 0, r.Code, r)
			byTar := filepath.Join(t.TempDir(), "gnu-tar")
			require.NoError(t, os.Mkdir(byTar, 0o755))
			GNUTarExtract(t, image, byTar)
			flags := []string{"--keep"}
			if s.Docker {
				flags = nil // boxcraft has no --keep: the layer is in the store
			}
			if shift == 0 {
				flags = append(flags, withoutUser)
			}
			// The container writes a file, by which the kept rootfs is
			// found, and which goes before the trees are compared.
			r = s.RunImage(t, image, flags, "/bin/busybox", "sh", "-c", "echo kept > /tmp/kept")
			require.Equal(t, 0, r.Code, r)
			var kept string
			if !s.Docker {
				_, kept = keptFolder(t, r, "tmp/kept", "kept\n")
			}
			if s.Layers {
				// The image is one layer, in the store.
				AssertSameTree(t, byTar, storedLayerFor(t, DiffID(readFile(t, image)), shift, "bin/busybox"), shift)
				return
			}
			require.NoError(t, os.Remove(filepath.Join(kept, "tmp/kept")))
			// The archive has no proc and sys folders to mount on: the
			// runtime makes them, as root's.
			for _, dir := range []string{"proc", "sys"} {
				require.NoError(t, os.Mkdir(filepath.Join(byTar, dir), 0o755))
			}
			AssertSameTree(t, byTar, kept, shift)
		})
	}
}

// hostileImages checks that each hostile archive is refused, naming its
// entry, and writes nothing outside the rootfs.
func hostileImages(t *testing.T, s Step) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "victim"), []byte("the host's\n"), 0o644))
	for _, hostile := range HostileArchives(outside) {
		t.Run(hostile.Name, func(t *testing.T) {
			before := Listing(t, outside, "")
			image := filepath.Join(t.TempDir(), "hostile.tar")
			require.NoError(t, os.WriteFile(image, hostile.Tar, 0o644))
			r := runLeavingOnlyTheStore(t, s, func() Result { return s.RunImage(t, image, nil, "/bin/true") }, nil, hostile.Tar)
			s.assertRefusedNaming(t, r, image, entryNames(hostile.Entry)...)
			assert.Equal(t, before, Listing(t, outside, ""), "nothing written outside the rootfs: the unpacker must not follow "+
				"a name, a symlink or a hard link out of it")
		})
	}
}

// interruptedUnpacking checks that SIGINT while the image is read is
// refused in one line, and leaves nothing.
//
// A signal while the image is read stops the unpacking, and the
// container's folder goes. The image comes through a FIFO, half of it
// first, so that the signal arrives halfway: once the runtime has
// read that half.
func interruptedUnpacking(t *testing.T, s Step) {
	data, err := os.ReadFile(ImageWithProbe(t))
	require.NoError(t, err)
	fifos, runs := t.TempDir(), 0
	interrupted := func() Result {
		runs++
		fifo := filepath.Join(fifos, "image-"+strconv.Itoa(runs)+".tar")
		require.NoError(t, unix.Mkfifo(fifo, 0o600))
		// O_RDWR: the open does not wait for a reader, and writes do
		// not fail before the runtime opens the FIFO.
		w, err := os.OpenFile(fifo, os.O_RDWR, 0)
		require.NoError(t, err)
		defer w.Close()
		require.NoError(t, w.SetWriteDeadline(time.Now().Add(Timeout)))
		running := Start(t, Command(t, s.loadArgs(fifo)...)) // a step's run, boxcraft's load
		first, rest := make(chan error, 1), make(chan error, 1)
		go func() {
			_, err := w.Write(data[:len(data)/2])
			first <- err
			<-rest
			if err == nil {
				_, err = w.Write(data[len(data)/2:])
			}
			rest <- err
		}()
		require.NoError(t, <-first)
		// The write returns once the half is in the FIFO: the runtime
		// has read it when the FIFO is empty.
		require.Eventually(t, func() bool {
			n, err := unix.IoctlGetInt(int(w.Fd()), unix.TIOCINQ) // FIONREAD: the bytes in the FIFO
			return err == nil && n == 0
		}, Timeout, 10*time.Millisecond, "the runtime reads the image's first half")
		require.NoError(t, running.Cmd.Process.Signal(unix.SIGINT))
		time.Sleep(200 * time.Millisecond) // for the runtime to take the signal in
		rest <- nil
		return running.Wait(t)
	}
	r := runLeavingOnlyTheStore(t, s, interrupted, nil, data)
	s.assertRefusedNaming(t, r, fifos, "interrupt", "SIGINT", "signal")
}

// deviceNodesAreRefused checks that an image with a device node is refused
// where a user namespace's root would get it.
//
// A user namespace's root may not make device nodes, and may not have
// them: the runtime refuses an image with one (a block device would
// be a disk of the host's) for a container with a user namespace, and
// when it runs in one itself, it cannot make one.
func deviceNodesAreRefused(t *testing.T, s Step) {
	layer := Tar(t,
		TarEntry{Name: "dev/", Type: '5', Mode: 0o755},
		TarEntry{Name: "dev/disk", Type: '4', Mode: 0o600, Devmajor: 7, Devminor: 0},
	)
	image := filepath.Join(t.TempDir(), "devices.tar")
	require.NoError(t, os.WriteFile(image, layer, 0o644))
	inUserNamespace := &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	for name, tc := range map[string]struct {
		flags []string
		attr  *syscall.SysProcAttr
	}{
		"for a container with a user namespace": {nil, nil},
		"by a runtime in a user namespace":      {[]string{withoutUser}, inUserNamespace},
	} {
		t.Run(name, func(t *testing.T) {
			// boxcraft loads the image as it is, which the host's root
			// may hold, and refuses the container: the layer stays.
			var stored [][]byte
			if s.Docker && tc.attr == nil {
				stored = [][]byte{layer}
			}
			r := runLeavingOnlyTheStore(t, s, func() Result {
				return s.runImageAs(t, tc.attr, image, tc.flags, "/bin/true")
			}, stored, layer)
			s.assertRefusedNaming(t, r, image, "dev/disk")
		})
	}
}

// leftoversAreRemovedByTheNextRun checks that what a killed run left
// goes with the next run. A runtime killed with SIGKILL cannot remove
// what it made for its container: the next run does. A kept container
// stays.
func leftoversAreRemovedByTheNextRun(t *testing.T, s Step) {
	image := ImageWithProbe(t)
	r := Run(t, "run", "--image", image, "--keep", "/bin/sh", "-c", "echo kept > /kept")
	require.Equal(t, 0, r.Code, r)
	_, kept := keptFolder(t, r, "kept", "kept\n")
	before := stateEntries(t)
	running := Start(t, s.ImageCommand(t, image, nil, "/bin/sh", "-c", "echo killed > /killed; touch /tmp/ready; exec sleep 1000"))
	root := fileID(t, "/proc/"+strconv.Itoa(waitForContainer(t, running, "tmp/ready"))+"/root")
	require.NoError(t, running.Cmd.Process.Kill())
	running.Wait(t)
	require.Eventually(t, func() bool { return len(processesWithRoot(root)) == 0 },
		5*time.Second, 10*time.Millisecond, "the kernel ends the container with its runtime (its init dies with it)")
	require.NotEmpty(t, filesBelowState(t, "killed", "killed\n"),
		"the killed run's container wrote /killed, which lies below the state folder, and nothing could remove it yet")
	require.Equal(t, 0, s.RunImage(t, image, nil, "/bin/true").Code)
	assertNoStateMount(t)
	assert.Empty(t, outermost(added(before, stateEntries(t))), "the next run removes what a killed run left below the state folder")
	assert.Empty(t, filesBelowState(t, "killed", "killed\n"), "the killed run's container's files are gone")
	assert.FileExists(t, filepath.Join(kept, "kept"), "and a kept container stays")
}

// badImageInput checks that bad --image input is refused in one line, and
// leaves nothing but the store.
func badImageInput(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	image := ImageWithProbe(t)
	garbage := filepath.Join(t.TempDir(), "garbage.tar")
	require.NoError(t, os.WriteFile(garbage, bytes.Repeat([]byte("not a tar "), 200), 0o644))
	truncated := filepath.Join(t.TempDir(), "truncated.tar.gz")
	require.NoError(t, os.WriteFile(truncated, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2}, 0o644))
	// Images whose mount points are not folders: a symlink would
	// take a mount elsewhere.
	procLink := filepath.Join(t.TempDir(), "proc-link.tar")
	require.NoError(t, os.WriteFile(procLink, Tar(t, TarEntry{Name: "proc", Type: '2', Linkname: "/"}), 0o644))
	devFile := filepath.Join(t.TempDir(), "dev-file.tar")
	require.NoError(t, os.WriteFile(devFile, Tar(t, TarEntry{Name: "dev", Body: "not a folder\n"}), 0o644))
	// Each row: the command line, and what the line must name (any
	// one of them).
	// The rows boxcraft is not called for: its run takes the image
	// as its first argument, and it has no --keep.
	notDocker := []string{"no root", "both roots", "keep without image"}
	for name, tc := range map[string]struct {
		args  []string
		names []string
	}{
		"no root":              {[]string{"run", "/bin/true"}, []string{"--image", "--rootfs"}},
		"both roots":           {[]string{"run", "--image", image, "--rootfs", rootfs, "/bin/true"}, []string{"--image", "--rootfs"}},
		"keep without image":   {[]string{"run", "--rootfs", rootfs, "--keep", "/bin/true"}, []string{"--keep"}},
		"empty image name":     {[]string{"run", "--image", "", "/bin/true"}, []string{"--image"}},
		"missing image":        {[]string{"run", "--image", "/nonexistent.tar", "/bin/true"}, []string{"/nonexistent.tar"}},
		"image is a folder":    {[]string{"run", "--image", rootfs, "/bin/true"}, []string{rootfs}},
		"image is not a tar":   {[]string{"run", "--image", garbage, "/bin/true"}, []string{garbage}},
		"truncated gzip":       {[]string{"run", "--image", truncated, "/bin/true"}, []string{truncated}},
		"CMD not in the image": {[]string{"run", "--image", image, "no-such-command"}, []string{"no-such-command"}},
		"proc a symlink":       {[]string{"run", "--image", procLink, "/bin/true"}, []string{"proc"}},
		"dev a file":           {[]string{"run", "--image", devFile, "/bin/true"}, []string{"dev"}},
	} {
		if s.Docker && slices.Contains(notDocker, name) {
			continue
		}
		why := badInput
		if name == "CMD not in the image" {
			why = cmdNotFound
		}
		t.Run(name, func(t *testing.T) { imageInputIsRefused(t, s, why, tc.args, tc.names) })
	}
}

// imageInputIsRefused runs the runtime with args, which are bad, and
// checks that it refuses them for why, in a line that names one of
// names, and leaves nothing but the store.
func imageInputIsRefused(t *testing.T, s Step, why refusal, args, names []string) {
	// A layer of the image may be stored (from step05 on)
	// before the refusal, if the image is whole.
	var image string
	var stored [][]byte
	if i := slices.Index(args, "--image"); i >= 0 {
		image = args[i+1]
		if data, err := os.ReadFile(image); err == nil {
			stored = append(stored, data)
		}
	}
	run := func() Result { return Run(t, args...) }
	if s.Docker { // every row left is run --image IMAGE CMD…
		run = func() Result { return s.RunImage(t, args[2], nil, args[3:]...) }
	}
	r := runLeavingOnlyTheStore(t, s, run, stored)
	s.assertRefusedNamingAs(t, why, r, image, names...)
}

// devices are the device nodes every container's /dev holds from step04
// on, by their numbers on every Linux.
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// entryNames are the names by which a refusal may name an archive's
// entry: as the archive has it, or without the slash that ends a
// folder's.
func entryNames(entry string) []string {
	if trimmed := strings.TrimSuffix(entry, "/"); trimmed != entry && len(trimmed) > 1 {
		return []string{entry, trimmed}
	}
	return []string{entry}
}

// mountFlags keeps, of a mount's options, those that want names (in the
// order it names them), so that a test need not know the rest, which
// vary (relatime, the size of a tmpfs…).
func mountFlags(options, want string) string {
	var kept []string
	_, wanted, _ := strings.Cut(want, " ")
	for _, flag := range strings.Split(wanted, ",") {
		if flag != "" && slices.Contains(strings.Split(options, ","), flag) {
			kept = append(kept, flag)
		}
	}
	return strings.Join(kept, ",")
}

// ImageWithProbe writes the test image with the probe in it, as an image
// tarball in a folder of the test's own, and returns its path.
func ImageWithProbe(t *testing.T) string {
	t.Helper()
	rootfs := FreshRootfs(t)
	image := filepath.Join(t.TempDir(), "image.tar")
	r := RunCmd(t, HostCommand(t, "tar", "--numeric-owner", "-cf", image, "-C", rootfs, "."))
	require.Equal(t, 0, r.Code, r)
	return image
}

// openParents lets others into the test's temporary folders above
// rootfs (mode 0700): root of a user namespace is an ordinary user on the
// host, which may climb only through folders that let others in.
func openParents(t *testing.T, rootfs string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for dir := filepath.Dir(rootfs); strings.HasPrefix(dir, tmp+"/"); dir = filepath.Dir(dir) {
		require.NoError(t, os.Chmod(dir, 0o755))
	}
}

// openTerminal opens a new pseudo-terminal and returns its terminal end
// (closed when the test ends) and its number in /dev/pts.
func openTerminal(t *testing.T) (*os.File, uint32) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	require.NoError(t, err)
	t.Cleanup(func() { ptmx.Close() })
	number, err := unix.IoctlGetUint32(int(ptmx.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0)) // unlock the terminal end
	terminal, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(number)), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { terminal.Close() })
	return terminal, number
}

// fileID is the device and inode of path on the host.
func fileID(t testing.TB, path string) facts.FileID {
	t.Helper()
	id, err := facts.ReadFileID(path)
	require.NoError(t, err)
	return id
}
