package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/console"
	"github.com/boxcraft/boxcraft/final/lifecycle"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/oci"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

func addCreateFlags(flags *pflag.FlagSet) {
	flags.StringP("bundle", "b", ".", "the bundle's folder (config.json and its root)")
	flags.String("pid-file", "", "write init's pid to this file")
	flags.String("console-socket", "", "send the pty's master over this unix socket")
	flags.Bool("no-pivot", false, "refused: boxcraft always pivots")
	flags.Bool("no-new-keyring", false, "refused: boxcraft always gives a new session keyring")
	flags.Int("preserve-fds", 0, "refused: not implemented")
}

func createCommand(g *globals, flags *pflag.FlagSet) error {
	_, _, err := create(g, flags)
	return err
}

// create makes the container the bundle describes, with its init
// waiting for start.
func create(g *globals, flags *pflag.FlagSet) (*lifecycle.Runtime, lifecycle.Container, error) {
	monitor.WarmUp()
	id, err := needID(flags)
	if err != nil {
		return nil, lifecycle.Container{}, err
	}
	if err := refuseCreateFlags(flags); err != nil {
		return nil, lifecycle.Container{}, err
	}
	bundle, _ := flags.GetString("bundle")
	if bundle, err = filepath.Abs(bundle); err != nil {
		return nil, lifecycle.Container{}, err
	}
	config, err := oci.ReadConfig(bundle)
	if err != nil {
		return nil, lifecycle.Container{}, err
	}
	c, err := oci.Convert(config, bundle, id, defaultCgroupParent())
	if err != nil {
		return nil, lifecycle.Container{}, err
	}
	for _, w := range oci.AmbientWarnings(config.Process) {
		warn(g, errors.New(w))
	}
	rt, err := g.open()
	if err != nil {
		return nil, lifecycle.Container{}, err
	}
	files, err := stdioFor(c.Process, flags)
	if err != nil {
		return nil, lifecycle.Container{}, err
	}
	hooks, _ := oci.ConvertHooks(config.Hooks) // checked by Convert
	b := oci.Bundle{Path: bundle, Annotations: config.Annotations, Hooks: &hooks}
	files.Created = createRuntimeHooks(hooks, b.HookState(id))
	if _, err := rt.CreateOCI(c, files); err != nil {
		if !errors.Is(err, lifecycle.ErrConflict) { // another's id: nothing of this one was made
			poststop(g, b, id) // the spec's lifecycle goes on at delete
		}
		return nil, lifecycle.Container{}, err
	}
	ctr, err := rt.GetID(c.ID)
	if err == nil {
		err = oci.WriteBundle(rt.Dirs.Container(c.ID), b)
	}
	if err == nil {
		err = writePidFile(flags, ctr.Status.Pid)
	}
	if err != nil {
		err = errors.Join(err, rt.Discard(c.ID))
		poststop(g, b, id)
		return nil, lifecycle.Container{}, err
	}
	return rt, ctr, nil
}

func refuseCreateFlags(flags *pflag.FlagSet) error {
	for _, name := range []string{"no-pivot", "no-new-keyring", "preserve-fds"} {
		if flags.Changed(name) {
			return fmt.Errorf("--%s is not supported", name)
		}
	}
	return nil
}

// defaultCgroupParent is the parent of a container whose config names
// no cgroupsPath: $BOXCRAFT_CGROUP_PARENT (the tests' own), or boxcraft.
func defaultCgroupParent() string {
	if parent := os.Getenv("BOXCRAFT_CGROUP_PARENT"); parent != "" {
		return parent
	}
	return cgroups.Workshop
}

// stdioFor is the process's stdio: boxcraft-runc's own, which the engine
// chose, or with a terminal a connection to --console-socket, on which
// the container's side sends the master of the terminal it makes in the
// container's own devpts, as runc's init does (final/console); the
// slave is then its stdio, and /dev/pts/0 its name.
func stdioFor(p spec.Process, flags *pflag.FlagSet) (monitor.Files, error) {
	socket, _ := flags.GetString("console-socket")
	if !p.Terminal {
		if socket != "" {
			return monitor.Files{}, errors.New("--console-socket: the process has no terminal (process.terminal is false)")
		}
		return dupStdio()
	}
	if socket == "" {
		return monitor.Files{}, errors.New("process.terminal is true: give --console-socket, where the pty's master goes")
	}
	conn, err := console.Dial(socket)
	if err != nil {
		return monitor.Files{}, err
	}
	return monitor.Files{Console: conn}, nil
}

// dupStdio is copies of boxcraft-runc's stdio for the process: the
// start closes what it hands over, and boxcraft-runc still needs its
// stderr to say why it failed.
func dupStdio() (monitor.Files, error) {
	var files [3]*os.File
	for i, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
		if err == unix.EBADF {
			// Not open: the process gets /dev/null there, not a
			// descriptor of the runtime's that takes its number.
			files[i], err = os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				return monitor.Files{}, err
			}
			continue
		}
		if err != nil {
			return monitor.Files{}, fmt.Errorf("duplicate %s: %w", f.Name(), err)
		}
		files[i] = os.NewFile(uintptr(fd), f.Name())
	}
	return monitor.Files{Stdin: files[0], Stdout: files[1], Stderr: files[2]}, nil
}

// writePidFile writes pid to --pid-file, whole or not at all (a
// rename), for the engine that reads it.
func writePidFile(flags *pflag.FlagSet, pid int) error {
	path, _ := flags.GetString("pid-file")
	if path == "" {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	return os.Rename(tmp, path)
}

func startCommand(g *globals, flags *pflag.FlagSet) error {
	id, rt, c, err := findArg(g, flags)
	if err != nil {
		return err
	}
	return start(g, rt, c, id)
}

// start lets a created container run, then runs its poststart hooks.
func start(g *globals, rt *lifecycle.Runtime, c lifecycle.Container, id string) error {
	if err := rt.StartOCI(c); err != nil {
		return err
	}
	b, err := oci.ReadBundle(rt.Dirs.Container(c.ID))
	if err != nil {
		return err
	}
	poststart(g, b, id, c.Status.Pid)
	return nil
}

func stateCommand(g *globals, flags *pflag.FlagSet) error {
	id, rt, c, err := findArg(g, flags)
	if err != nil {
		return err
	}
	b, err := oci.ReadBundle(rt.Dirs.Container(c.ID))
	if err != nil {
		return err
	}
	out := json.NewEncoder(g.stdout)
	out.SetIndent("", "  ")
	return out.Encode(oci.State(id, rt.OCIStatus(c), c.Status.Pid, b))
}

func addKillFlags(flags *pflag.FlagSet) {
	flags.BoolP("all", "a", false, "send the signal to every process of the container")
}

func killCommand(g *globals, flags *pflag.FlagSet) error {
	id, err := needID(flags)
	if err != nil {
		return err
	}
	sig := unix.SIGTERM
	if flags.NArg() > 1 {
		if sig, err = lifecycle.ParseSignal(flags.Arg(1)); err != nil {
			return err
		}
	}
	rt, c, err := find(g, id)
	if err != nil {
		return err
	}
	all, _ := flags.GetBool("all")
	return rt.KillOCI(c, sig, all)
}

func addDeleteFlags(flags *pflag.FlagSet) {
	flags.BoolP("force", "f", false, "kill a running container first")
}

func deleteCommand(g *globals, flags *pflag.FlagSet) error {
	id, rt, c, err := findArg(g, flags)
	if err != nil && !errors.Is(err, errUnreadable) { // an unreadable one is delete's to remove
		return err
	}
	force, _ := flags.GetBool("force")
	return deleteContainer(g, rt, c, id, force)
}

// deleteContainer deletes c, then runs its poststop hooks.
func deleteContainer(g *globals, rt *lifecycle.Runtime, c lifecycle.Container, id string, force bool) error {
	// Missing only when create failed before writing it: no hooks then.
	b, _ := oci.ReadBundle(rt.Dirs.Container(c.ID))
	if err := rt.DeleteOCI(c, force); err != nil {
		return err
	}
	poststop(g, b, id)
	return nil
}
