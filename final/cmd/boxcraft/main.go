// Command boxcraft is the workshop's complete runtime: Docker's commands
// (run, create, ps, logs, start, stop, restart, kill, stats, rm, inspect, wait, prune, images, rmi,
// load) over the packages that grew out of the lessons. There is no
// daemon: each command reads and changes the state folder, and a
// detached container has a small monitor process of its own.
//
// This package is the command line only: it turns flags into one
// spec.Container and calls the lifecycle (package runtime). Its exit
// statuses are Docker's: 125 when boxcraft fails, 126 when the command
// cannot run, 127 when it is not found, otherwise the command's own.
package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// Docker's exit statuses for failures of its own.
const (
	statusFailed     = 125 // boxcraft itself failed: a bad flag, an unknown image
	statusCannotRun  = 126
	statusNotFound   = 127
	statusUsageShown = 0
)

// command is one of boxcraft's commands.
type command struct {
	name, args, about string
	run               func(app *app, flags *pflag.FlagSet) (int, error)
	flags             func(flags *pflag.FlagSet)
	interspersed      bool // flags may follow arguments (false: run's CMD keeps its own)
}

var commands = []command{
	{"run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "run a command in a new container", runCommand, addRunFlags, false},
	{"create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "make a new container, to start later", createCommand, addRunFlags, false},
	{"exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "run a command in a running container", execCommand, addExecFlags, false},
	{"ps", "[-a] [-q] [-f KEY=VALUE] [--format FORMAT] [-n N | -l] [--no-trunc] [-s]", "list containers", psCommand, addPsFlags, true},
	{"logs", "[-f] [--tail N] [-t] CONTAINER", "show a container's output", logsCommand, addLogsFlags, true},
	{"start", "[-a] [-i] CONTAINER...", "start stopped containers again: in the background, or with -a here", startCommand, addStartFlags, true},
	{"stop", "[-t SECONDS] CONTAINER...", "stop containers: SIGTERM, then SIGKILL", stopCommand, addStopFlags, true},
	{"restart", "[-t SECONDS] CONTAINER...", "stop containers, then start them again", restartCommand, addStopFlags, true},
	{"kill", "[-s SIGNAL] CONTAINER...", "send a signal to containers (SIGKILL)", killCommand, addKillFlags, true},
	{"pause", "CONTAINER...", "freeze every process of containers where it stands", pauseCommand, nil, true},
	{"unpause", "CONTAINER...", "let paused containers go on", unpauseCommand, nil, true},
	{"top", "CONTAINER [ps OPTIONS]", "list a container's processes, as the host's ps shows them (ps -ef)", topCommand, nil, false},
	{"stats", "[--no-stream] [-a] [CONTAINER...]", "show what containers use: CPU, memory, network, block I/O, pids", statsCommand, addStatsFlags, true},
	{"rm", "[-f] CONTAINER...", "remove containers", rmCommand, addRmFlags, true},
	{"inspect", "[-f FORMAT] CONTAINER|IMAGE...", "show containers or images as JSON, or through a Go template", inspectCommand, addInspectFlags, true},
	{"wait", "CONTAINER...", "wait for containers to end, and print their exit statuses", waitCommand, nil, true},
	{"prune", "[-f]", "remove every stopped container", pruneCommand, addPruneFlags, true},
	{"images", "[-q] [-a] [REPOSITORY[:TAG]]", "list images", imagesCommand, addImagesFlags, true},
	{"rmi", "[-f] IMAGE...", "remove images", rmiCommand, addRmiFlags, true},
	{"import", "TARBALL [NAME[:TAG]]", "make an image of a rootfs tarball", importCommand, nil, true},
	{"load", "-i PATH", "load an image: a docker save tarball, an OCI layout or a rootfs tarball", loadCommand, addLoadFlags, true},
	{"commit", "[-m MESSAGE] [-a AUTHOR] [--pause=false] CONTAINER [NAME[:TAG]]", "make an image of a container's changes", commitCommand, addCommitFlags, true},
	{"diff", "CONTAINER", "list what a container changed in its root: A added, C changed, D deleted", diffCommand, nil, true},
	{"tag", "SOURCE TARGET", "give an image another name", tagCommand, nil, true},
	{"save", "[-o PATH] [--format FORMAT] IMAGE...", "write images as docker save does (or as an OCI layout)", saveCommand, addSaveFlags, true},
	{"pull", "[--platform OS/ARCH] NAME[:TAG|@DIGEST]", "fetch an image from a registry", pullCommand, addPullFlags, true},
	{"push", "NAME[:TAG]", "send an image to a registry", pushCommand, addRegistryFlags, true},
	{"build", "[-t NAME[:TAG]] [-f DOCKERFILE] [--build-arg K=V] CONTEXT", "make an image of a Dockerfile, a layer per RUN, COPY and ADD", buildCommand, addBuildFlags, true},
	{"login", "[-u USER] [-p PASSWORD | --password-stdin] [SERVER]", "keep credentials for a registry", loginCommand, addLoginFlags, true},
	{"port", "CONTAINER [PORT[/PROTO]]", "list the ports a container publishes", portCommand, nil, true},
	{"version", "", "show boxcraft's version: the commit it was built from, and Go's", versionCommand, nil, true},
	{"network", "prune", "remove the bridge boxcraft0 and its nftables table, once no container uses them", networkCommand, nil, true},
}

func main() {
	// Without boxcraft-init beside it, the container's init is this same
	// program, started by boxcraft with this name. (exec's process is
	// always boxcraft-exec-init: it needs cgo, which boxcraft does not.)
	if len(os.Args) > 1 && os.Args[1] == "init" {
		containerinit.Main()
	}
	catchSIGPIPE()
	status, err := dispatch(os.Args[1:])
	if outputGone(err) {
		os.Exit(statusSIGPIPE) // nobody to tell
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "boxcraft:", oneLine(withLimitHint(err)))
	}
	os.Exit(status)
}

// statusSIGPIPE is a shell's status for a command SIGPIPE ended: 128 + 13.
const statusSIGPIPE = 128 + int(unix.SIGPIPE)

// outputGone says whether err is a write to boxcraft's own stdout or
// stderr whose reader went (boxcraft ps | head), not another pipe's.
func outputGone(err error) bool {
	var write *fs.PathError
	return errors.As(err, &write) && (write.Path == os.Stdout.Name() || write.Path == os.Stderr.Name()) &&
		errors.Is(write.Err, unix.EPIPE)
}

// catchSIGPIPE keeps boxcraft alive when what reads its output goes
// (boxcraft run … | head): Go ends a program whose write to stdout or
// stderr gets SIGPIPE unless it is notified of the signal, and then the
// write fails instead (EPIPE). So run goes on to the container's end
// and to its cleanup (--rm, the cgroup, the root's mount), as build
// does to its RUN containers'. Caught, not ignored: the container's
// processes would inherit an ignored SIGPIPE.
func catchSIGPIPE() {
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
}

// app is what every command works on: the state folder.
type app struct {
	dirs    state.Dirs
	runtime *runtime.Runtime
	stdout  io.Writer
}

// output is boxcraft's stdout, which keeps its first failed write: a
// command prints line by line and goes on, and its reader gone (run -d
// … | true: 141, as outputGone says) or a full disk must not pass for
// success once it is done.
type output struct {
	file *os.File // not embedded: its WriteString and ReadFrom would pass by Write
	mu   sync.Mutex
	err  error
}

func (o *output) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // a tabwriter with nothing to show: /dev/full refuses even that
	}
	n, err := o.file.Write(p)
	if err != nil {
		o.mu.Lock()
		if o.err == nil {
			o.err = err
		}
		o.mu.Unlock()
	}
	return n, err
}

func (o *output) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func (a *app) open() (*runtime.Runtime, error) {
	if a.runtime == nil {
		if os.Geteuid() != 0 {
			return nil, errors.New("containers need root: run boxcraft with sudo")
		}
		limits, err := layerLimits()
		if err != nil {
			return nil, err
		}
		rt, err := runtime.Open(a.dirs)
		if err != nil {
			return nil, err
		}
		rt.Store.Limits = limits
		a.runtime = rt
	}
	return a.runtime, nil
}

func dispatch(args []string) (int, error) {
	if len(args) == 2 && args[0] == "help" {
		args = []string{args[1], "--help"} // boxcraft help run, as docker help run
		if !slices.ContainsFunc(commands, func(c command) bool { return c.name == args[0] }) {
			args = args[:1] // not a command: said so below
		}
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		usage(os.Stdout)
		return 0, nil
	}
	if args[0] == "--version" || args[0] == "-v" {
		args = []string{"version"}
	}
	out := &output{file: os.Stdout}
	a := &app{dirs: state.DefaultDirs(), stdout: out}
	if args[0] == "monitor" && len(args) == 2 {
		rt, err := a.open()
		if err == nil {
			err = rt.ServeMonitor(args[1])
		}
		if errors.Is(err, monitor.ErrNotMade) {
			return 0, nil // run -d gave up before it made the container
		}
		return statusOf(err), err
	}
	for _, c := range commands {
		if c.name == args[0] {
			status, err := runOne(a, c, args[1:])
			if err == nil && out.failed() != nil {
				return statusFailed, out.failed()
			}
			return status, err
		}
	}
	return statusFailed, fmt.Errorf("unknown command %q: boxcraft help lists them", args[0])
}

func runOne(a *app, c command, args []string) (int, error) {
	flags := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.SetInterspersed(c.interspersed)
	flags.BoolP("help", "h", false, "show this help")
	if c.flags != nil {
		c.flags(flags)
	}
	if err := flags.Parse(args); err != nil {
		return statusFailed, fmt.Errorf("%s: %w", c.name, err)
	}
	if help, _ := flags.GetBool("help"); help {
		fmt.Printf("Usage: boxcraft %s %s\n\n%s\n\nOptions:\n%s", c.name, c.args, c.about, flags.FlagUsages())
		return statusUsageShown, nil
	}
	status, err := c.run(a, flags)
	if err != nil && status == 0 {
		status = statusOf(err)
	}
	return status, err
}

// statusOf is Docker's exit status for an error.
func statusOf(err error) int {
	var se *runtime.StartError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &se):
		return se.Status
	}
	return statusFailed
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: boxcraft COMMAND [OPTIONS]")
	fmt.Fprintln(w, "\nA container runtime built one lesson at a time. Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.about)
	}
	fmt.Fprintln(w, "\nboxcraft COMMAND --help says more.")
}

// oneLine keeps an error to one line: a refusal is one line on stderr.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// firstContainer opens the state and finds the container the first
// argument names, for a command that acts on one and takes at least n
// arguments (what says which).
func (a *app) firstContainer(flags *pflag.FlagSet, n int, what string) (*runtime.Runtime, runtime.Container, error) {
	if err := needArgs(flags, n, what); err != nil {
		return nil, runtime.Container{}, err
	}
	rt, err := a.open()
	if err != nil {
		return nil, runtime.Container{}, err
	}
	c, err := rt.Get(flags.Arg(0))
	return rt, c, err
}

// needArgs refuses a command given too few arguments.
func needArgs(flags *pflag.FlagSet, n int, what string) error {
	if flags.NArg() < n {
		return fmt.Errorf("%s: give %s", flags.Name(), what)
	}
	return nil
}

// commit is the commit boxcraft was built from: make bins sets it (-X).
var commit string

// version is boxcraft's version, as docker --version gives Docker's: the
// commit it was built from (make bins says it; go build stamps it when
// it can), or "unknown".
func version() string {
	rev := cmp.Or(commit, "unknown")
	if info, ok := debug.ReadBuildInfo(); ok && commit == "" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = s.Value[:12]
			}
		}
	}
	return fmt.Sprintf("boxcraft version %s, %s, %s/%s", rev, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
}

func versionCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() != 0 {
		return statusFailed, errors.New("version takes no arguments")
	}
	_, err := fmt.Fprintln(a.stdout, version())
	return 0, err
}
