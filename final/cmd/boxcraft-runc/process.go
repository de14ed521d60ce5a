package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/lifecycle"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/oci"
	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

func addRunFlags(flags *pflag.FlagSet) {
	addCreateFlags(flags)
	flags.BoolP("detach", "d", false, "return once the container runs")
}

// runCommand is create then start; without --detach it waits for init,
// its child, and exits with init's status, as runc run does.
func runCommand(g *globals, flags *pflag.FlagSet) error {
	rt, c, err := create(g, flags)
	if err != nil {
		return err
	}
	id := flags.Arg(0)
	if err := start(g, rt, c, id); err != nil {
		return errors.Join(err, deleteContainer(g, rt, c, id, true))
	}
	if detach, _ := flags.GetBool("detach"); detach {
		return nil
	}
	status, err := waitFor(c.Status.Pid)
	if err == nil {
		c, err = rt.GetID(c.ID)
	}
	if err == nil {
		err = deleteContainer(g, rt, c, id, true)
	}
	if err != nil {
		return err
	}
	return &exitStatus{status}
}

// waitFor reaps pid, a child of this process, and returns its status as
// a shell gives it (128+N for a signal).
func waitFor(pid int) (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for %d: %w", pid, err)
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

func addExecFlags(flags *pflag.FlagSet) {
	flags.StringP("process", "p", "", "the process, as process.json (the spec's process)")
	flags.BoolP("detach", "d", false, "return once the process runs")
	flags.String("pid-file", "", "write the process's pid to this file")
	flags.String("console-socket", "", "send the pty's master over this unix socket")
	flags.BoolP("tty", "t", false, "give the command (CMD…) a terminal")
	flags.StringP("cwd", "", "", "the working folder of the command (CMD…)")
	flags.StringArrayP("env", "e", nil, "add KEY=VALUE to the command's (CMD…) environment")
}

// execCommand runs a process in a running container: from --process, or
// CMD… with the container's own process settings otherwise.
func execCommand(g *globals, flags *pflag.FlagSet) error {
	monitor.WarmUp()
	_, rt, c, err := findArg(g, flags)
	if err != nil {
		return err
	}
	rec := c.Record
	p, err := execProcess(flags, &rec.Spec)
	if err != nil {
		return err
	}
	c.Record = rec
	files, err := stdioFor(p, flags)
	if err != nil {
		return err
	}
	proc, err := rt.ExecOCI(c, p, files)
	if err != nil {
		return err
	}
	if err := writePidFile(flags, proc.Pid); err != nil {
		return err
	}
	if detach, _ := flags.GetBool("detach"); detach {
		return proc.Release()
	}
	status, err := waitFor(proc.Pid)
	if err != nil {
		return err
	}
	return &exitStatus{status}
}

// execProcess is exec's process; process.json's capabilities and
// no_new_privs replace the container's in c, as runc's exec takes them.
func execProcess(flags *pflag.FlagSet, c *spec.Container) (spec.Process, error) {
	file, _ := flags.GetString("process")
	if file == "" {
		return cmdProcess(flags, c.Process)
	}
	if flags.NArg() > 1 {
		return spec.Process{}, errors.New("exec: give --process or CMD…, not both")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return spec.Process{}, fmt.Errorf("--process: %w", err)
	}
	var sp specs.Process
	if err := json.Unmarshal(data, &sp); err != nil {
		return spec.Process{}, fmt.Errorf("--process %s: %w", file, err)
	}
	p, sec, err := oci.ConvertProcess(&sp)
	if err != nil {
		return spec.Process{}, err
	}
	if sp.Capabilities != nil {
		c.Security.Capabilities, c.Security.CapabilitySets = sec.Capabilities, sec.CapabilitySets
	}
	c.Security.NoNewPrivileges = sec.NoNewPrivileges
	return p, nil
}

// cmdProcess is CMD… run as the container's process is: its user,
// environment and working folder, unless flags say otherwise.
func cmdProcess(flags *pflag.FlagSet, p spec.Process) (spec.Process, error) {
	if flags.NArg() < 2 {
		return spec.Process{}, errors.New("exec: give --process FILE, or the command after the ID")
	}
	p.Args = flags.Args()[1:]
	p.Terminal, _ = flags.GetBool("tty")
	if cwd, _ := flags.GetString("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	env, _ := flags.GetStringArray("env")
	p.Env = append(append([]string{}, p.Env...), env...)
	return p, nil
}

// the container's running status aside, the commands below act on its
// cgroup.

func pauseCommand(g *globals, flags *pflag.FlagSet) error {
	return onContainer(g, flags, (*lifecycle.Runtime).Pause)
}

func resumeCommand(g *globals, flags *pflag.FlagSet) error {
	return onContainer(g, flags, (*lifecycle.Runtime).Resume)
}

func onContainer(g *globals, flags *pflag.FlagSet, do func(*lifecycle.Runtime, lifecycle.Container) error) error {
	_, rt, c, err := findArg(g, flags)
	if err != nil {
		return err
	}
	return do(rt, c)
}
