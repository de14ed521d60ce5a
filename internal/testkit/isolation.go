package testkit

// This file checks what keeps a container away from the person who runs
// it, and from the host through what it is given: a learner starts every
// step from their own shell, often as root, with images from anywhere.
//
//   - From step01 on (Basics): CMD cannot type into the terminal it was
//     started from, nor read its caller's session keyring.
//   - From step02 on (Namespaces): root inside cannot write the host's
//     sysctls through /proc/sys, with a user namespace or without; and
//     without one, root inside can still type into a terminal it holds.
//   - From step05 on (Layers): an OCI layout's files are read beneath its
//     folder, never through a symlink and never from a FIFO, and commit
//     refuses a container's own file that a layer would read as a
//     whiteout.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// callerIsolation checks that CMD can reach neither its caller's
// terminal nor its caller's session keyring.
func callerIsolation(t *testing.T, s Step) {
	t.Run("CannotTypeIntoTheCallersTerminal", func(t *testing.T) { terminalInjection(t, s, nil) })
	t.Run("CannotReadTheCallersKeyring", func(t *testing.T) { sessionKeyring(t, s) })
	t.Run("InterruptReachesTheForegroundCommand", func(t *testing.T) { interrupt(t, s) })
}

// interrupt sends SIGINT, a Ctrl-C, to the runtime alone, while CMD, a
// shell, waits for a command it runs in the foreground. In a session of
// its own, CMD is out of the reach of the caller's terminal, which sends
// a Ctrl-C to the processes of its foreground process group only: the
// runtime must pass it on to CMD's process group, as the terminal did
// when CMD shared it. The shell's trap runs once its command has ended.
func interrupt(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	script := `trap "exit 3" INT; touch /tmp/ready; sleep 1000; exit 4`
	running := Start(t, Command(t, s.Args(nil, rootfs, "/bin/sh", "-c", script)...))
	running.WaitForFile(t, filepath.Join(rootfs, "tmp/ready"))
	// Until the shell's child has become sleep (exec), it is a copy of the
	// shell, whose trap would take the signal in sleep's place.
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(ProcessesRootedIn(rootfs), func(pid int) bool {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			return string(comm) == "sleep\n"
		})
	}, 10*time.Second, 10*time.Millisecond, "sleep runs in the foreground")
	require.NoError(t, running.Cmd.Process.Signal(unix.SIGINT))
	select {
	case <-running.done:
		assert.Equal(t, 3, running.Wait(t).Code, "sleep ended, and then the shell's trap ran")
	case <-time.After(10 * time.Second):
		t.Fatal("the Ctrl-C did not end sleep")
	}
}

// terminalInjection starts the runtime as a shell starts a command: in a
// session whose controlling terminal is a terminal the test owns. The
// probe then tries TIOCSTI, which types a byte into a terminal's input as
// if someone had typed it, for the shell to read and run once the
// container has ended: on stdin, when it is that terminal, and on
// /dev/tty. The kernel allows it on the caller's controlling terminal,
// and to a holder of CAP_SYS_ADMIN in the host's user namespace.
//
// CMD must be in a session of its own, without a controlling terminal:
// /dev/tty then opens nothing (ENXIO), and the terminal on stdin is not
// CMD's. Root of a user namespace is then refused (EPERM; EIO where the
// sysctl dev.tty.legacy_tiocsti is 0, which refuses TIOCSTI to all but
// CAP_SYS_ADMIN). Root without one keeps CAP_SYS_ADMIN, and with it
// TIOCSTI on any terminal it holds open: the test checks that too, as
// the lessons say, and it shows that the test sees a byte typed. flags
// are the runtime's.
func terminalInjection(t *testing.T, s Step, flags []string) {
	for name, onStdin := range map[string]bool{"on stdin": true, "only as the controlling terminal": false} {
		t.Run(name, func(t *testing.T) { typesNothingIntoTheTerminal(t, s, flags, onStdin) })
	}
}

// typesNothingIntoTheTerminal runs the probe's terminal experiment, the
// test's terminal on stdin or only as the controlling terminal, and
// checks what reached the terminal.
func typesNothingIntoTheTerminal(t *testing.T, s Step, flags []string, onStdin bool) {
	rootfs := FreshRootfs(t)
	if !s.RootfsFlag {
		// Until step04, /dev is the image's: give it a /dev/tty,
		// as a system's own folder would have.
		addDevice(t, rootfs, "dev/tty", unix.S_IFCHR, unix.Mkdev(5, 0))
	}
	terminal := rawTerminal(t)
	args := s.Args(flags, rootfs, "/probe", "terminal")
	if onStdin {
		args = s.Args(s.withStdin(flags), rootfs, "/probe", "terminal")
	}
	cmd := Command(t, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if onStdin {
		cmd.Stdin = terminal // fd 0, Ctty's default
	} else {
		cmd.ExtraFiles = []*os.File{terminal}
		cmd.SysProcAttr.Ctty = 3
	}
	f := Probe(t, RunCmd(t, cmd))
	tried := f.Experiments.Terminal
	require.NotNil(t, tried, "the probe ran the terminal experiment")
	typed, err := unix.IoctlGetInt(int(terminal.Fd()), unix.TIOCINQ)
	require.NoError(t, err)

	assert.Equal(t, "ENXIO", tried.DevTTY.Errno, "/dev/tty opens no terminal: CMD has a session of its own, without one (%s)", tried.DevTTY.Error)
	// step01 mounts no /proc, and its CMD is in every namespace
	// of the host's.
	ownUserNamespace := f.Namespaces != nil && f.Namespaces["user"] != HostNamespaces(t)["user"]
	switch {
	case !onStdin:
		assert.Equal(t, "ENOTTY", tried.Stdin.Errno, "stdin is no terminal: %s", tried.Stdin.Error)
	case ownUserNamespace:
		assert.Contains(t, []string{"EPERM", "EIO"}, tried.Stdin.Errno, "the terminal on stdin is not CMD's: %s", tried.Stdin.Error)
	default:
		// Root of the host's user namespace keeps CAP_SYS_ADMIN,
		// which types into any terminal it holds (the lesson says
		// so): a runtime that closes this too (a terminal of the
		// container's own, capabilities dropped) does better.
		t.Logf("without a user namespace of its own, TIOCSTI on stdin: ok=%v %s", tried.Stdin.OK, tried.Stdin.Errno)
	}
	want := 0
	for _, a := range []*facts.Attempt{tried.Stdin, tried.DevTTY} {
		if a.OK {
			want++
		}
	}
	assert.Equal(t, want, typed, "bytes typed into the terminal, as the host sees them")
}

// rawTerminal opens a new pseudo-terminal and returns its terminal end,
// in raw mode: the kernel then counts every byte typed as input ready to
// read (TIOCINQ), not only whole lines, and echoes none.
func rawTerminal(t *testing.T) *os.File {
	t.Helper()
	terminal, _ := openTerminal(t)
	termios, err := unix.IoctlGetTermios(int(terminal.Fd()), unix.TCGETS)
	require.NoError(t, err)
	termios.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG | unix.IEXTEN
	require.NoError(t, unix.IoctlSetTermios(int(terminal.Fd()), unix.TCSETS, termios))
	return terminal
}

// sessionKeyring puts a key in a session keyring of the test's own, and
// starts the runtime from there, as a login shell starts a command from
// the session keyring of its login. The kernel keeps secrets there
// (Kerberos tickets, fscrypt and ecryptfs keys), and every process that
// has the keyring may read them. CMD must have a session keyring of its
// own, and not read the key even by its number. A probe the test starts
// on the host, from the same keyring, reads the key: the control, which
// shows what sharing the keyring gives away.
func sessionKeyring(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	secret := fmt.Sprintf("the secret of %s at %d", t.Name(), time.Now().UnixNano())
	container := Command(t, s.Args(nil, rootfs, "/probe")...)
	host := HostCommand(t, ProbeBinary(t))
	var keyring, key int
	started := startOnOwnThread(t, func() error {
		// KEYCTL_JOIN_SESSION_KEYRING with no name (x/sys/unix's
		// wrapper always gives one) joins this thread to a new keyring,
		// which is gone with the thread and what it starts.
		if _, _, errno := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0); errno != 0 {
			return fmt.Errorf("join a new session keyring: %w", errno)
		}
		var err error
		if keyring, err = unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false); err != nil {
			return err
		}
		if key, err = unix.AddKey("user", "boxcraft-test", []byte(secret), keyring); err != nil {
			return fmt.Errorf("add a key: %w", err)
		}
		container.Args = append(container.Args, "keyring="+strconv.Itoa(key))
		host.Args = append(host.Args, "keyring="+strconv.Itoa(key))
		return nil
	}, container, host)

	control := Probe(t, started[1].Wait(t)).Experiments.Keyring
	require.NotNil(t, control)
	assert.Equal(t, keyring, control.ID, "control: a process started on the host shares the session keyring")
	if assert.NotNil(t, control.Read) {
		assert.True(t, control.Read.OK, "control: and reads the key by its number: %s", control.Read.Error)
	}
	assert.True(t, slices.ContainsFunc(control.Keys, func(k facts.Key) bool { return k.ID == key && k.Payload == secret }),
		"control: and finds it in the keyring: %v", control.Keys)

	r := started[0].Wait(t)
	inside := Probe(t, r).Experiments.Keyring
	require.NotNil(t, inside, "the probe ran the keyring experiment")
	require.Empty(t, inside.Error)
	assert.NotEqual(t, keyring, inside.ID, "CMD has a session keyring of its own")
	assert.False(t, slices.ContainsFunc(inside.Keys, func(k facts.Key) bool { return k.ID == key }), "the key is not in CMD's keyring: %v", inside.Keys)
	if assert.NotNil(t, inside.Read) {
		assert.False(t, inside.Read.OK, "CMD cannot read the key by its number")
	}
	assert.NotContains(t, r.Stdout, secret)
}

// startOnOwnThread runs prepare on a thread of its own, then starts cmds
// from that same thread, so that what prepare changed of the thread (a
// session keyring is a thread's) is theirs too. The thread then ends
// without being unlocked, and Go ends it: the test's other threads, and
// the host's keyrings, stay as they were.
func startOnOwnThread(t *testing.T, prepare func() error, cmds ...*exec.Cmd) []*Running {
	t.Helper()
	var running []*Running
	for _, cmd := range cmds {
		r := &Running{Cmd: cmd, done: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
		running = append(running, r)
	}
	var n int
	err := onOwnThread(func() error {
		err := prepare()
		for ; err == nil && n < len(cmds); n++ {
			err = cmds[n].Start()
		}
		return err
	})
	for _, r := range running[:n] {
		go func() {
			_ = r.Cmd.Wait()
			close(r.done)
		}()
	}
	for _, r := range running {
		t.Cleanup(func() {
			if r.Cmd.Process != nil {
				_ = r.Cmd.Process.Kill()
				<-r.done
			}
		})
	}
	require.NoError(t, err)
	return running
}

// onOwnThread runs do on a thread of its own, locked and never unlocked:
// what do changes of its thread (a session keyring, the time namespace of
// the thread's children) ends with it, as Go ends a thread whose
// goroutine returns locked to it.
func onOwnThread(do func() error) error {
	result := make(chan error)
	go func() {
		runtime.LockOSThread()
		result <- do()
	}()
	return <-result
}

// namespaceIsolation checks that root inside cannot write the host's
// sysctls, and what a runtime without a user namespace keeps of its
// caller's terminal.
func namespaceIsolation(t *testing.T, s Step) {
	t.Run("CannotWriteTheHostsSysctls", func(t *testing.T) { hostSysctls(t, s) })
	t.Run("TerminalWithoutAUserNamespace", func(t *testing.T) { terminalInjection(t, s, []string{withoutUser}) })
}

// hostSysctls checks that root inside cannot write the host's sysctls
// through /proc/sys: without a user namespace, root inside is root of
// the host, and kernel/core_pattern alone names a program the kernel
// runs as root on the host. So without one, /proc/sys must be read-only
// (EROFS), as Docker mounts it; with one, the files are the host root's,
// whom root inside is not (EACCES). The probe writes the value there is,
// and the test checks that it is still there. The control: the probe
// run on the host, as root, writes it.
func hostSysctls(t *testing.T, s Step) {
	const sysctl = "kernel/randomize_va_space"
	value := func() string { return string(readFile(t, filepath.Join("/proc/sys", sysctl))) }
	before := value()
	t.Run("control: root of the host writes it", func(t *testing.T) {
		RequireRoot(t)
		f := Probe(t, RunCmd(t, HostCommand(t, ProbeBinary(t), "sysctl="+sysctl)))
		assert.True(t, f.Experiments.Sysctls[sysctl].OK, f.Experiments.Sysctls[sysctl].Error)
	})
	for _, tc := range []struct {
		name  string
		flags []string
		errno string
	}{
		{"without a user namespace", []string{withoutUser}, "EROFS"},
		{"without a user or PID namespace: the host's /proc", []string{"--ns=uts,mnt,ipc,net,cgroup"}, "EROFS"},
		{"with a user namespace", nil, "EACCES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := runProbe(t, s, FreshRootfs(t), tc.flags, "sysctl="+sysctl)
			wrote := f.Experiments.Sysctls[sysctl]
			require.NotNil(t, wrote, "the probe ran the sysctl experiment")
			assert.False(t, wrote.OK, "root inside wrote /proc/sys/%s", sysctl)
			assert.Equal(t, tc.errno, wrote.Errno, wrote.Error)
			assert.Equal(t, before, value(), "the host's value is unchanged")
		})
	}
}

// layoutIsolation checks an OCI layout whose files lead out of it, or
// block, and a commit of a container that made files named as
// whiteouts.
func layoutIsolation(t *testing.T, s Step) {
	t.Run("HostileLayoutFiles", func(t *testing.T) { hostileLayouts(t, s) })
	if !s.Docker { // boxcraft has no commit
		t.Run("CommitRefusesWhiteoutNames", func(t *testing.T) { whiteoutNames(t, s) })
	}
}

// hostileLayouts replaces one file of an OCI layout with a symlink to a
// host file, or with a FIFO. The runtime reads a layout as root: a
// symlink followed would read any file of the host (and a JSON error
// would quote its first byte), and opening a FIFO waits for a writer
// that never comes. Each must be refused at once, in one line naming the
// file, and the host file's content must appear nowhere.
func hostileLayouts(t *testing.T, s Step) {
	// Valid JSON, and the same for every file it stands in for: followed,
	// it would not even fail.
	secret := fmt.Sprintf(`{"imageLayoutVersion":"1.0.0","schemaVersion":2,"manifests":[],"secret":"of the host, %d"}`, time.Now().UnixNano())
	hostFile := filepath.Join(t.TempDir(), "host-file")
	require.NoError(t, os.WriteFile(hostFile, []byte(secret), 0o600))
	base := BaseLayer(t)
	symlink := func(t *testing.T, path string) {
		require.NoError(t, os.Remove(path))
		require.NoError(t, os.Symlink(hostFile, path))
	}
	fifo := func(t *testing.T, path string) {
		require.NoError(t, os.Remove(path))
		require.NoError(t, unix.Mkfifo(path, 0o600))
	}
	// The blobs' folder, moved out of the layout and linked back.
	blobsElsewhere := func(t *testing.T, path string) {
		moved := filepath.Join(t.TempDir(), "blobs")
		require.NoError(t, os.Rename(path, moved))
		require.NoError(t, os.Symlink(moved, path))
	}
	for _, tc := range []struct {
		name    string
		file    func(layout string) string
		replace func(t *testing.T, path string)
	}{
		{"index.json is a symlink", layoutFile("index.json"), symlink},
		{"oci-layout is a symlink", layoutFile("oci-layout"), symlink},
		{"the manifest is a symlink", manifestBlob, symlink},
		{"the blobs folder is a symlink", layoutFile("blobs"), blobsElsewhere},
		{"index.json is a FIFO", layoutFile("index.json"), fifo},
		{"oci-layout is a FIFO", layoutFile("oci-layout"), fifo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layout := OCILayout(t, false, base)
			path := tc.file(layout)
			tc.replace(t, path)
			hostileLayoutIsRefused(t, s, layout, path)
		})
	}
}

// hostileLayoutIsRefused loads the OCI layout whose file path was
// replaced, and checks that the runtime refuses it at once, naming the
// file, without quoting the host file or leaving anything.
func hostileLayoutIsRefused(t *testing.T, s Step, layout, path string) {
	// Far less than Timeout: a FIFO must be refused at once.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), s.loadArgs(layout)...)
	cmd.Env = append(os.Environ(), sandboxEnv(t)...)
	cmd.WaitDelay = time.Second
	InTestNetns(t, cmd)
	s.readyState(t)
	before := stateEntries(t)
	r := RunCmd(t, cmd)
	require.NoError(t, ctx.Err(), "the runtime did not end in 20 s: a FIFO in a layout must be refused, not read:\n%s", r)
	s.AssertRefused(t, r, filepath.Base(path), path)
	assert.NotContains(t, r.Stderr, "of the host", "the line quotes the host file that the link leads to: the runtime read it")
	assert.Empty(t, added(before, stateEntries(t)), "a refused image leaves nothing in the state folder")
}

// layoutFile gives the path of a layout's file, by its name there.
func layoutFile(name string) func(string) string {
	return func(layout string) string { return filepath.Join(layout, name) }
}

// manifestBlob is the blob of a layout's manifest.
func manifestBlob(layout string) string {
	var index struct{ Manifests []struct{ Digest string } }
	data, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err == nil {
		err = json.Unmarshal(data, &index)
	}
	if err != nil || len(index.Manifests) == 0 {
		return filepath.Join(layout, "no manifest")
	}
	return blobPath(layout, index.Manifests[0].Digest)
}

// whiteoutNames commits a container that made a file named .wh.NAME, and
// one named .wh..wh..opq in a folder: in a layer, the first deletes NAME
// and the second hides the folder's lower content, so the committed image
// would silently lose files the container never deleted. commit must
// refuse, in one line naming the file, and leave no image behind.
func whiteoutNames(t *testing.T, s Step) {
	image := OCILayout(t, false, BaseLayer(t), Tar(t, dir("t/"), file("t/precious", "precious"), dir("t/dir/"), file("t/dir/x", "x")))
	for name, made := range map[string]string{
		"a whiteout of a lower file":   "t/.wh.precious",
		"an opaque marker in a folder": "t/dir/.wh..wh..opq",
	} {
		t.Run(name, func(t *testing.T) {
			r := Run(t, "run", "--image", image, "--keep", "/bin/sh", "-c", "touch /"+made)
			require.Equal(t, 0, r.Code, r)
			kept, _ := keptFolder(t, r, made, "")
			out := filepath.Join(t.TempDir(), "committed")
			s.AssertRefused(t, Run(t, "commit", kept, out), made, filepath.Base(made))
			assert.NoDirExists(t, out, "no image is left half written")
		})
	}
}
