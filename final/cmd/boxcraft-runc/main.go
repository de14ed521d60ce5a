// Command boxcraft-runc is boxcraft behind runc's command line (issue
// 23): create, start, state, kill, delete, exec, ps, pause, resume, list,
// update, spec, events and features over an OCI bundle, so that containerd (and
// Kubernetes through it) can run boxcraft in runc's place. The work is
// the same packages' as boxcraft run's (lifecycle, monitor,
// containerinit, cgroups, rootfs, security); this is the front end only,
// with final/oci reading config.json. It links no image store and none of
// boxcraft's extras (the bridge, the /proc views), which a bundle never
// asks for: containerd's shim runs it several times per container, and
// each run skips their packages' start-up. Like runc it exits 1 on any failure,
// with one line on stderr and, with --log, in the log.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/lifecycle"
	"github.com/boxcraft/boxcraft/final/oci"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/spf13/pflag"
)

// defaultRoot is runc's /run/runc, boxcraft-runc's own.
const defaultRoot = "/run/boxcraft-runc"

// command is one of runc's commands.
type command struct {
	name, args, about string
	run               func(g *globals, flags *pflag.FlagSet) error
	flags             func(flags *pflag.FlagSet)
}

var commands = []command{
	{"create", "--bundle DIR [--pid-file F] [--console-socket SOCK] ID", "create a container; its init waits for start", createCommand, addCreateFlags},
	{"start", "ID", "let a created container run its process", startCommand, nil},
	{"run", "--bundle DIR [--pid-file F] [--console-socket SOCK] [--detach] ID", "create and start a container; wait for it unless detached", runCommand, addRunFlags},
	{"state", "ID", "print the container's state as the OCI spec's JSON", stateCommand, nil},
	{"kill", "[--all] ID [SIGNAL]", "send a signal (SIGTERM) to the container's init, or --all its processes", killCommand, addKillFlags},
	{"delete", "[--force] ID", "delete a container (a running one with --force)", deleteCommand, addDeleteFlags},
	{"exec", "[--process FILE | ID CMD…] [--detach] [--pid-file F] [--console-socket SOCK] [-t]", "run a process in a running container", execCommand, addExecFlags},
	{"ps", "[--format table|json] ID [PS_ARGS…]", "list the container's processes", psCommand, addPsFlags},
	{"list", "[--format table|json] [-q]", "list containers", listCommand, addListFlags},
	{"pause", "ID", "freeze the container's processes", pauseCommand, nil},
	{"resume", "ID", "thaw the container's processes", resumeCommand, nil},
	{"events", "[--stats] [--interval D] ID", "print the container's resource use (and OOM kills) as JSON, every interval", eventsCommand, addEventsFlags},
	{"update", "[--resources FILE|-] [--memory N] [--cpu-quota N] [--pids-limit N] … ID", "change a running container's limits", updateCommand, addUpdateFlags},
	{"spec", "[--bundle DIR]", "write a default config.json", specCommand, addSpecFlags},
	{"features", "", "print what this runtime implements, as JSON", featuresCommand, nil},
}

// globals are runc's global flags.
type globals struct {
	root, log, logFormat string
	systemdCgroup, debug bool
	stdout               io.Writer
}

func (g *globals) open() (*lifecycle.Runtime, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("boxcraft-runc needs root")
	}
	// Both halves under --root: an engine gives each namespace a root of
	// its own, and removes it.
	return lifecycle.Open(state.Dirs{Run: filepath.Join(g.root, "run"), Lib: filepath.Join(g.root, "lib")})
}

func main() {
	// Without boxcraft-init beside it, the container's init is this same
	// program, started by it with this name, as boxcraft's is. (exec's
	// process is always boxcraft-exec-init: it needs cgo.)
	if len(os.Args) > 1 && os.Args[1] == "init" {
		containerinit.Main()
	}
	g := &globals{stdout: os.Stdout}
	status, err := dispatch(g, os.Args[1:])
	if err != nil {
		report(g, err)
	}
	os.Exit(status)
}

// dispatch parses the global flags, then runs the command they precede.
func dispatch(g *globals, args []string) (int, error) {
	flags := pflag.NewFlagSet("boxcraft-runc", pflag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.SetInterspersed(false)
	flags.StringVar(&g.root, "root", defaultRoot, "the state folder")
	flags.StringVar(&g.log, "log", "", "also write errors to this file")
	flags.StringVar(&g.logFormat, "log-format", "text", "text or json")
	flags.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "refused: boxcraft manages its cgroups itself")
	flags.BoolVar(&g.debug, "debug", false, "accepted; boxcraft-runc has nothing more to say")
	flags.BoolP("help", "h", false, "show this help")
	if err := flags.Parse(args); err != nil {
		return 1, err
	}
	if help, _ := flags.GetBool("help"); help || flags.NArg() == 0 {
		usage(os.Stdout)
		return 0, nil
	}
	if g.logFormat != "text" && g.logFormat != "json" {
		return 1, fmt.Errorf("--log-format %q: text or json", g.logFormat)
	}
	if g.systemdCgroup {
		return 1, errors.New("--systemd-cgroup is not supported: boxcraft makes its cgroups itself, below /boxcraft (give cgroupsPath /boxcraft/PARENT/NAME)")
	}
	for _, c := range commands {
		if c.name == flags.Arg(0) {
			return runOne(g, c, flags.Args()[1:])
		}
	}
	return 1, fmt.Errorf("unknown command %q: boxcraft-runc --help lists them", flags.Arg(0))
}

func runOne(g *globals, c command, args []string) (int, error) {
	flags := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.SetInterspersed(c.name != "exec" && c.name != "ps")
	flags.BoolP("help", "h", false, "show this help")
	if c.flags != nil {
		c.flags(flags)
	}
	if err := flags.Parse(args); err != nil {
		return 1, fmt.Errorf("%s: %w", c.name, err)
	}
	if help, _ := flags.GetBool("help"); help {
		fmt.Printf("Usage: boxcraft-runc %s %s\n\n%s\n\nOptions:\n%s", c.name, c.args, c.about, flags.FlagUsages())
		return 0, nil
	}
	err := c.run(g, flags)
	var exit *exitStatus
	if errors.As(err, &exit) {
		return exit.status, nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// exitStatus is a process's own status, which run and exec (not
// detached) exit with: no failure of boxcraft-runc's.
type exitStatus struct{ status int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.status) }

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: boxcraft-runc [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS]")
	fmt.Fprintln(w, "\nboxcraft behind runc's command line, over an OCI bundle. Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.about)
	}
}

// oneLine keeps an error to one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// needID refuses a command given too few arguments, and returns the id.
func needID(flags *pflag.FlagSet) (string, error) {
	if flags.NArg() < 1 {
		return "", fmt.Errorf("%s: give the container's ID", flags.Name())
	}
	return flags.Arg(0), nil
}

// findArg finds the container the command's first argument names, and
// returns that ID with it.
func findArg(g *globals, flags *pflag.FlagSet) (string, *lifecycle.Runtime, lifecycle.Container, error) {
	id, err := needID(flags)
	if err != nil {
		return "", nil, lifecycle.Container{}, err
	}
	rt, c, err := find(g, id)
	return id, rt, c, err
}

// errUnreadable is a container whose record cannot be read: a crash of
// the machine left it empty (records are not synced), or a create was
// cut short before it wrote it. Nothing of it runs: delete removes it.
var errUnreadable = errors.New("its record is unreadable (a crash, or a create cut short): delete removes it")

// find opens the state and finds the container the engine calls id, in
// the folder named from id (oci.InternalID): one folder looked at,
// whatever the number of containers.
func find(g *globals, id string) (*lifecycle.Runtime, lifecycle.Container, error) {
	rt, err := g.open()
	if err != nil {
		return nil, lifecycle.Container{}, err
	}
	c, err := rt.GetID(oci.InternalID(id))
	switch {
	case errors.Is(err, state.ErrNoSuchContainer):
		err = fmt.Errorf("container %q does not exist", id)
	case err == nil && c.Broken:
		err = fmt.Errorf("container %q: %w", id, errUnreadable)
	case err == nil && c.Record.Spec.Name != id:
		err = fmt.Errorf("container %q does not exist", id) // a folder not named from id
	}
	return rt, c, err
}
