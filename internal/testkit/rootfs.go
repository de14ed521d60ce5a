package testkit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
func RootFilesystem(t *testing.T, s Step) {
	t.Run("EscapeNowFails", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		openParents(t, rootfs) // as for EscapeStillSucceeds: only the root switch may stop the climb
		escape := runProbe(t, s, rootfs, nil, "escape").Experiments.Escape
		require.NotNil(t, escape)
		require.Empty(t, escape.Error)
		assert.False(t, escape.Escaped, "the climb ended at the container's root: %v", escape.RootEntries)
		assert.Equal(t, fileID(t, rootfs), facts.FileID{Dev: escape.RootDev, Ino: escape.RootIno}, "the rootfs")
		assert.NotEqual(t, fileID(t, "/"), facts.FileID{Dev: escape.RootDev, Ino: escape.RootIno}, "not the host's root")
	})
	t.Run("RootIsTheRootfsAndTheKernelTheHosts", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		f := runProbe(t, s, rootfs, nil)
		assert.Equal(t, fileID(t, rootfs), f.Root, "/ is the rootfs")
		assert.Equal(t, "/", f.Cwd)
		host, err := facts.ReadKernelRelease()
		require.NoError(t, err)
		assert.Equal(t, host, f.Kernel, "an image has no kernel: uname -r is the host's")
	})
	// With a user namespace, the runtime may not make device nodes: it
	// binds the host's onto /dev's files, and each is a mount. Without
	// one, they are device nodes on /dev's tmpfs.
	// Each mount point, with its type and the options it must have.
	t.Run("MountsAreTheContainersOwn", func(t *testing.T) {
		for name, flags := range userNamespace {
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
					assert.NotContains(t, got, point, "one mount at %s", point)
					got[point] = strings.TrimSpace(fstype + " " + mountFlags(facts.MountOptions(line), want[point]))
				}
				got["/"] = "" // whatever the rootfs lies on
				assert.Equal(t, want, got, "the mounts in the container's mountinfo, with the options asked for")
				assert.Contains(t, f.Experiments.Creates["/sys/boxcraft"].Error, "read-only file system")
			})
		}
	})
	// Without a network namespace, a user namespace may not mount sysfs:
	// the runtime binds the host's /sys, with the mounts below it, and
	// every one of them must be read-only.
	t.Run("SysIsReadOnlyWithoutANetNamespace", func(t *testing.T) {
		f := runProbe(t, s, FreshRootfs(t), []string{without("net")})
		var sys int
		for _, line := range f.Mounts {
			_, point, _, _, _ := facts.ParseMount(line)
			if point == "/sys" || strings.HasPrefix(point, "/sys/") {
				sys++
				assert.Contains(t, strings.Split(facts.MountOptions(line), ","), "ro", "%s is read-only", point)
			}
		}
		assert.Positive(t, sys, "/sys is mounted")
	})
	// The rootfs lies in a shared mount, as under systemd's shared /, and
	// the runtime is the host's root: the mounts it makes in the container
	// must stay there, and pivot_root, which refuses a shared parent, must
	// work. CheckNothingLeft looks for mounts left on the host.
	t.Run("PivotsUnderASharedMount", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		shareMount(t, filepath.Dir(rootfs))
		f := runProbe(t, s, rootfs, []string{withoutUser})
		assert.Equal(t, fileID(t, rootfs), f.Root)
	})
	t.Run("DevHoldsExactlyTheDevices", func(t *testing.T) {
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
		for name, flags := range userNamespace {
			t.Run(name, func(t *testing.T) {
				f := runProbe(t, s, FreshRootfs(t), flags)
				assert.ElementsMatch(t, want, f.Dev)
			})
		}
	})
	// The container's stdin is a terminal the test opens: a new pseudo
	// terminal of the host's devpts, which /dev/console must then be.
	t.Run("ConsoleIsTheTerminal", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		terminal, number := openTerminal(t)
		cmd := Command(t, s.Args(nil, rootfs, "/probe")...)
		cmd.Stdin = terminal
		f := Probe(t, RunCmd(t, cmd))
		var st unix.Stat_t
		require.NoError(t, unix.Fstat(int(terminal.Fd()), &st))
		assert.Contains(t, f.Dev, facts.DevEntry{Name: "console", Type: "char", Mode: st.Mode & 0o7777,
			Major: unix.Major(st.Rdev), Minor: number}, "/dev/console is the terminal on stdin")
	})
	t.Run("ReadOnlyRoot", func(t *testing.T) {
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
					assert.Contains(t, made["/tmp/file"].Error, tc.rootFail)
				} else {
					assert.True(t, made["/tmp/file"].OK, made["/tmp/file"].Error)
				}
				for _, path := range []string{"/dev/shm/file", "/dev/null"} {
					assert.True(t, made[path].OK, "%s stays writable: %s", path, made[path].Error)
				}
			})
		}
	})
	t.Run("Image", func(t *testing.T) { images(t, s) })
}

// userNamespace are the two ways a test runs a container: with the
// default user namespace (no flag), and without one.
var userNamespace = map[string][]string{"with a user namespace": nil, "without": {withoutUser}}

// images checks --image: a fresh rootfs of the container's own, unpacked
// safely, gone afterwards unless kept.
func images(t *testing.T, s Step) {
	RequireRoot(t)
	t.Run("RootfsIsTheContainersOwnAndGoesWithIt", func(t *testing.T) {
		image := ImageWithProbe(t)
		// The sleep in the background is there all along (the loop's
		// come and go); the pid namespace ends it with sh.
		const script = `echo made inside > /made; sleep 1000 & touch /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.02; done`
		running := Start(t, Command(t, "run", "--image", image, "/bin/sh", "-c", script))
		rootfs := s.rootIn(filepath.Join(s.stateDir(), "run-"+strconv.Itoa(running.Cmd.Process.Pid)))
		running.WaitForFile(t, filepath.Join(rootfs, "tmp/ready"))
		made, err := os.ReadFile(filepath.Join(rootfs, "made"))
		require.NoError(t, err, "the container's file is in its rootfs folder")
		assert.Equal(t, "made inside\n", string(made))
		assert.GreaterOrEqual(t, len(ProcessesRootedIn(rootfs)), 2, "the container (sh, its sleep, and the loop's) runs with that folder as its root")
		require.NoError(t, os.WriteFile(filepath.Join(rootfs, "tmp/go"), nil, 0o644))
		r := running.Wait(t)
		require.Equal(t, 0, r.Code, r)
		assert.Empty(t, r.Stderr)
		assert.NoDirExists(t, filepath.Dir(rootfs), "the container's folder is gone")
	})
	// With a user namespace (the default), the image's files are given to
	// the container's ids: root's files are host uid 100000's, root inside.
	// A umask that lets others in nowhere changes none of it.
	t.Run("KeptWithOwnersInTheUserNamespace", func(t *testing.T) {
		image := ImageWithProbe(t)
		r := RunCmd(t, HostCommand(t, "sh", "-c", `umask 077; exec "$@"`, "sh", Binary(t),
			"run", "--image", image, "--keep", "/bin/sh", "-c", `stat -c %u:%g /etc/passwd; cd /root && echo entered /root; echo kept > /kept`))
		rootfs := keptRootfs(t, s, r)
		assert.Equal(t, "0:0\nentered /root\n", r.Stdout, "root's files are root's inside")
		kept, err := os.ReadFile(filepath.Join(rootfs, "kept"))
		require.NoError(t, err)
		assert.Equal(t, "kept\n", string(kept))
		for _, file := range []string{"kept", "etc/passwd"} {
			if s.Layers && file == "etc/passwd" {
				continue // in the image's layer, not the container's (see Layers)
			}
			var st unix.Stat_t
			require.NoError(t, unix.Lstat(filepath.Join(rootfs, file), &st))
			assert.Equal(t, [2]uint32{100000, 100000}, [2]uint32{st.Uid, st.Gid}, "/%s is host uid 100000's on the host", file)
		}
	})
	t.Run("GzipImage", func(t *testing.T) {
		data, err := os.ReadFile(ImageWithProbe(t))
		require.NoError(t, err)
		image := filepath.Join(t.TempDir(), "image.tar.gz")
		require.NoError(t, os.WriteFile(image, Gzip(t, data), 0o644))
		forgetImage(t, image, [][]byte{data})
		r := Run(t, "run", "--image", image, "/bin/cat", "/etc/hostname")
		require.Equal(t, 0, r.Code, r)
		assert.NotEmpty(t, r.Stdout)
	})
	// The same archive unpacked by GNU tar and by the runtime, which keeps
	// its rootfs: the two trees must be the same, file by file. With a
	// user namespace, the owners are moved into its range, and the image
	// may hold no device node (see DeviceNodesAreRefused).
	t.Run("UnpacksAsGNUTarDoes", func(t *testing.T) {
		for name, shift := range map[string]uint32{"as root": 0, "in the user namespace": 100000} {
			t.Run(name, func(t *testing.T) {
				image := filepath.Join(t.TempDir(), "export.tar")
				require.NoError(t, os.WriteFile(image, DockerExportTar(t, shift == 0), 0o644))
				// A CMD the image has: the workshop's busybox, appended.
				r := RunCmd(t, HostCommand(t, "tar", "--numeric-owner", "-rf", image, "-C", FreshRootfs(t), "bin/busybox"))
				require.Equal(t, 0, r.Code, r)
				forgetImage(t, image, [][]byte{readFile(t, image)})
				byTar := filepath.Join(t.TempDir(), "gnu-tar")
				require.NoError(t, os.Mkdir(byTar, 0o755))
				GNUTarExtract(t, image, byTar)
				flags := []string{"--image", image, "--keep"}
				if shift == 0 {
					flags = append(flags, withoutUser)
				}
				r = Run(t, append(append([]string{"run"}, flags...), "/bin/busybox", "true")...)
				require.Equal(t, 0, r.Code, r)
				kept := keptRootfs(t, s, r)
				if s.Layers {
					// The image is one layer, in the store.
					AssertSameTree(t, byTar, storedLayer(t, s, DiffID(readFile(t, image)), shift != 0), shift)
					return
				}
				// The archive has no proc and sys folders to mount on: the
				// runtime makes them, as root's.
				for _, dir := range []string{"proc", "sys"} {
					require.NoError(t, os.Mkdir(filepath.Join(byTar, dir), 0o755))
				}
				AssertSameTree(t, byTar, kept, shift)
			})
		}
	})
	t.Run("HostileImagesAreRefused", func(t *testing.T) {
		outside := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(outside, "victim"), []byte("the host's\n"), 0o644))
		for _, hostile := range HostileArchives(outside) {
			t.Run(hostile.Name, func(t *testing.T) {
				before := Listing(t, outside, "")
				image := filepath.Join(t.TempDir(), "hostile.tar")
				require.NoError(t, os.WriteFile(image, hostile.Tar, 0o644))
				r, folder := runImage(t, s, Command(t, "run", "--image", image, "/bin/true"))
				AssertRefused(t, r, s.Name, `entry "`+hostile.Entry+`"`)
				assert.Equal(t, before, Listing(t, outside, ""), "nothing written outside the rootfs")
				assert.NoDirExists(t, folder, "the container's folder is gone")
			})
		}
	})
	// A signal while the image is unpacked stops the unpacking, and the
	// container's folder goes. The image comes through a FIFO, half of it
	// first, so that the signal arrives halfway.
	t.Run("InterruptedUnpackingLeavesNothing", func(t *testing.T) {
		data, err := os.ReadFile(ImageWithProbe(t))
		require.NoError(t, err)
		fifo := filepath.Join(t.TempDir(), "image.tar")
		require.NoError(t, unix.Mkfifo(fifo, 0o600))
		// O_RDWR: the open does not wait for a reader, and writes do not
		// fail before the runtime opens the FIFO.
		w, err := os.OpenFile(fifo, os.O_RDWR, 0)
		require.NoError(t, err)
		defer w.Close()
		require.NoError(t, w.SetWriteDeadline(time.Now().Add(Timeout)))
		running := Start(t, Command(t, "run", "--image", fifo, "/bin/true"))
		folder := filepath.Join(s.stateDir(), "run-"+strconv.Itoa(running.Cmd.Process.Pid))
		rest := make(chan error, 1)
		go func() {
			_, err := w.Write(data[:len(data)/2])
			<-rest
			if err == nil {
				_, err = w.Write(data[len(data)/2:])
			}
			rest <- err
		}()
		running.WaitForFile(t, filepath.Join(folder, s.unpackingIn()))
		require.NoError(t, running.Cmd.Process.Signal(unix.SIGINT))
		time.Sleep(200 * time.Millisecond) // for the runtime to take the signal in
		rest <- nil
		AssertRefused(t, running.Wait(t), s.Name, "stopped by interrupt")
		assert.NoDirExists(t, folder, "the container's folder is gone")
	})
	// A user namespace's root may not make device nodes, and may not have
	// them: the runtime refuses an image with one (a block device would
	// be a disk of the host's) for a container with a user namespace, and
	// when it runs in one itself, it cannot make one.
	t.Run("DeviceNodesAreRefused", func(t *testing.T) {
		image := filepath.Join(t.TempDir(), "devices.tar")
		require.NoError(t, os.WriteFile(image, Tar(t,
			TarEntry{Name: "dev/", Type: '5', Mode: 0o755},
			TarEntry{Name: "dev/disk", Type: '4', Mode: 0o600, Devmajor: 7, Devminor: 0},
		), 0o644))
		inUserNamespace := &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		}
		for name, tc := range map[string]struct {
			flags []string
			attr  *syscall.SysProcAttr
			says  string
		}{
			"for a container with a user namespace": {nil, nil, `entry "dev/disk": a device node, which the root of a user namespace may not have`},
			"by a runtime in a user namespace":      {[]string{withoutUser}, inUserNamespace, `entry "dev/disk": cannot make a device node here`},
		} {
			t.Run(name, func(t *testing.T) {
				cmd := Command(t, append(append([]string{"run", "--image", image}, tc.flags...), "/bin/true")...)
				cmd.SysProcAttr = tc.attr
				r, folder := runImage(t, s, cmd)
				AssertRefused(t, r, s.Name, tc.says)
				assert.NoDirExists(t, folder, "the container's folder is gone")
			})
		}
	})
	// A runtime killed with SIGKILL cannot remove the container's folder:
	// the next run does. A kept folder stays.
	t.Run("LeftoversAreRemovedByTheNextRun", func(t *testing.T) {
		image := ImageWithProbe(t)
		kept := keptRootfs(t, s, Run(t, "run", "--image", image, "--keep", "/bin/true"))
		running := Start(t, Command(t, "run", "--image", image, "/bin/sh", "-c", "touch /tmp/ready; exec sleep 1000"))
		folder := filepath.Join(s.stateDir(), "run-"+strconv.Itoa(running.Cmd.Process.Pid))
		running.WaitForFile(t, filepath.Join(s.rootIn(folder), "tmp/ready"))
		require.NoError(t, running.Cmd.Process.Kill())
		running.Wait(t)
		require.Eventually(t, func() bool { return len(ProcessesRootedIn(s.rootIn(folder))) == 0 },
			5*time.Second, 10*time.Millisecond, "the kernel ended the container with its runtime")
		assert.DirExists(t, folder, "nothing could remove it yet")
		require.Equal(t, 0, Run(t, "run", "--image", image, "/bin/true").Code)
		assert.NoDirExists(t, folder, "the next run removed it")
		assert.DirExists(t, kept, "and left the kept one")
	})
	t.Run("BadImageInputIsRefused", func(t *testing.T) {
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
		for _, image := range []string{procLink, devFile} {
			forgetImage(t, image, [][]byte{readFile(t, image)}) // a layer, from step05 on, if not a root
		}
		for name, tc := range map[string]struct {
			args []string
			says string
		}{
			"no root":              {[]string{"run", "/bin/true"}, " or --rootfs DIR to be the root"},
			"both roots":           {[]string{"run", "--image", image, "--rootfs", rootfs, "/bin/true"}, "give one of them"},
			"keep without image":   {[]string{"run", "--rootfs", rootfs, "--keep", "/bin/true"}, "a --rootfs folder is never removed"},
			"empty image name":     {[]string{"run", "--image", "", "/bin/true"}, "--image is an empty string"},
			"missing image":        {[]string{"run", "--image", "/nonexistent.tar", "/bin/true"}, "image /nonexistent.tar: no such file"},
			"image is a folder":    {[]string{"run", "--image", rootfs, "/bin/true"}, s.folderImageRefusal()},
			"image is not a tar":   {[]string{"run", "--image", garbage, "/bin/true"}, "image " + garbage + ": reading the archive: "},
			"truncated gzip":       {[]string{"run", "--image", truncated, "/bin/true"}, "image " + truncated + ": reading the archive: "},
			"CMD not in the image": {[]string{"run", "--image", image, "no-such-command"}, `command "no-such-command" not found in rootfs`},
			"proc a symlink":       {[]string{"run", "--image", procLink, "/bin/true"}, "has no proc folder to mount /proc on"},
			"dev a file":           {[]string{"run", "--image", devFile, "/bin/true"}, "has no dev folder to mount /dev on"},
		} {
			t.Run(name, func(t *testing.T) {
				r, folder := runImage(t, s, Command(t, tc.args...))
				AssertRefused(t, r, s.Name, tc.says)
				assert.NoDirExists(t, folder, "no folder left")
			})
		}
	})
}

// devices are the device nodes every container's /dev holds from step04
// on, by their numbers on every Linux.
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// stateDir is where the step keeps its containers' folders.
func (s Step) stateDir() string { return filepath.Join("/var/lib/boxcraft", s.Name) }

// rootIn is where the root of a container from an image is in its
// folder: the image unpacked in rootfs/ (step04), or the union of its
// layers mounted on merged/ (from step05 on).
func (s Step) rootIn(folder string) string {
	if s.Layers {
		return filepath.Join(folder, "merged")
	}
	return filepath.Join(folder, "rootfs")
}

// unpackingIn is what the container's folder holds while the image is
// unpacked: the rootfs, or a layer on its way into the store.
func (s Step) unpackingIn() string {
	if s.Layers {
		return "unpacking"
	}
	return "rootfs"
}

// folderImageRefusal is what the step says of a folder given as --image:
// from step05 on, a folder may be an OCI layout, and this one is not.
func (s Step) folderImageRefusal() string {
	if s.Layers {
		return "a folder, but not an OCI image layout (it has no oci-layout file)"
	}
	return "is a folder, not a tarball"
}

// runImage runs cmd, the binary under test, to the end, and returns what
// it left and the folder its container had: run-PID, after the runtime's
// pid.
func runImage(t *testing.T, s Step, cmd *exec.Cmd) (Result, string) {
	t.Helper()
	running := Start(t, cmd)
	folder := filepath.Join(s.stateDir(), "run-"+strconv.Itoa(cmd.Process.Pid))
	return running.Wait(t), folder
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

// keptRootfs reads where a --keep run says it kept the container's
// rootfs (step04) or upper layer (from step05 on), and removes that
// folder when the test ends.
func keptRootfs(t *testing.T, s Step, r Result) string {
	t.Helper()
	what, folder := "rootfs", "rootfs"
	if s.Layers {
		what, folder = "upper layer", "upper"
	}
	// Whatever the run kept goes when the test ends, even when it says so
	// in other words (an earlier step's binary, on the ladder).
	for _, kept := range regexp.MustCompile(regexp.QuoteMeta(filepath.Dir(s.stateDir()))+`/step[^/\s]+/kept-[^/\s]+`).FindAllString(r.Stderr, -1) {
		t.Cleanup(func() { assert.NoError(t, os.RemoveAll(kept)) })
	}
	said := regexp.MustCompile(`(?m)^` + s.Name + `: kept the container's ` + what + ` in (` + regexp.QuoteMeta(s.stateDir()) + `/kept-[^/\n]+)/` + folder + `$`).
		FindStringSubmatch(r.Stderr)
	require.NotNil(t, said, "the run says where it kept the %s:\n%s", what, r)
	return filepath.Join(said[1], folder)
}

// ImageWithProbe writes the test image with the probe in it, as an image
// tarball in a folder of the test's own, and returns its path.
func ImageWithProbe(t *testing.T) string {
	t.Helper()
	rootfs := FreshRootfs(t)
	image := filepath.Join(t.TempDir(), "image.tar")
	r := RunCmd(t, HostCommand(t, "tar", "--numeric-owner", "-cf", image, "-C", rootfs, "."))
	require.Equal(t, 0, r.Code, r)
	forgetImage(t, image, [][]byte{readFile(t, image)})
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
func fileID(t *testing.T, path string) facts.FileID {
	t.Helper()
	id, err := facts.ReadFileID(path)
	require.NoError(t, err)
	return id
}
