package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/store"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

func addRunFlags(flags *pflag.FlagSet) {
	flags.BoolP("detach", "d", false, "run in the background and print the container's ID")
	flags.String("name", "", "the container's name")
	flags.BoolP("interactive", "i", false, "keep stdin open")
	flags.BoolP("tty", "t", false, "give the container a terminal of its own")
	flags.Bool("rm", false, "remove the container when it ends")
	addList(flags, "env", "e", "set an environment variable (KEY=VALUE, or KEY to take the host's)")
	addList(flags, "env-file", "", "read environment variables from a file, one KEY=VALUE a line")
	flags.StringP("workdir", "w", "", "the command's working folder inside the container")
	flags.String("hostname", "", "the container's hostname (default: the first 12 digits of its ID; the host's with --network host)")
	flags.Bool("read-only", false, "mount the container's root read-only")
	flags.String("entrypoint", "", "the image's ENTRYPOINT instead")
	flags.String("rootfs", "", "a folder to use as the root as it is, instead of an image (as podman's)")
	flags.StringP("user", "u", "", "USER[:GROUP], names or numbers from the image's /etc/passwd and /etc/group")
	addList(flags, "label", "l", "KEY=VALUE (or KEY, for an empty value): a label on the container, beside the image's (ps -f label=KEY finds it)")
	addVolumeFlags(flags)
	addNamespaceFlags(flags)
	addLimitFlags(flags)
	addProcessFlags(flags)
	addSecurityFlags(flags)
	addDeviceFlags(flags)
	addRegistryFlags(flags)
	flags.String("platform", "", "os/arch[/variant] to pull, when the image is not stored")
	addProcFlags(flags)
	addTraceFlag(flags)
}

// runCommand is boxcraft run: the settings, the container, then the
// command in the foreground or detached.
func runCommand(a *app, flags *pflag.FlagSet) (int, error) {
	monitor.WarmUp()
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	if err := startTrace(rt, flags); err != nil {
		return statusFailed, err
	}
	c, o, err := settingsFromFlags(rt, flags)
	if err != nil {
		return statusFailed, err
	}
	var mon *runtime.Monitor
	if o.Detached {
		// The monitor starts while the container is made (issue 26),
		// named by the container's ID (settingsFromFlags drew it) before
		// its record is.
		if mon, err = rt.StartMonitor(c.ID); err != nil {
			return statusOf(err), traceHint(rt, err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	rec, err := rt.Create(ctx, c, o)
	if err != nil {
		stop()
		if mon != nil {
			mon.Abandon()
		}
		return statusFailed, traceHint(rt, err)
	}
	if o.Detached {
		// Still catching Ctrl-C: the container is made, and a boxcraft
		// ended now would leave it to no monitor.
		err := rt.Detach(mon)
		stop()
		if err != nil {
			return statusOf(err), traceHint(rt, err)
		}
		if _, err := fmt.Fprintln(a.stdout, rec.Spec.ID); err != nil {
			return statusFailed, fmt.Errorf("container %s runs, but its ID could not be written: %w", rec.Spec.ID, err)
		}
		return 0, nil
	}
	stop()
	return runAttached(&rec.Spec, rec.Spec.Process.Stdin, func(attach *monitor.Attach, onStart func(monitor.Started)) (monitor.Result, error) {
		result, err := rt.Run(rec, attach, onStart)
		return result, traceHint(rt, err)
	})
}

// createCommand is docker create: the container's settings checked and
// its record written, with run's flags, and its ID printed; nothing runs
// and nothing of the host (cgroup, root, network) is held until start.
func createCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.Changed("detach") {
		return statusFailed, errors.New("create: -d is run's: a container made by create starts detached (boxcraft start), or with start -a")
	}
	_ = flags.Set("detach", "true") // as start runs it; no terminal is needed now
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	c, o, err := settingsFromFlags(rt, flags)
	if err != nil {
		return statusFailed, err
	}
	rec, err := rt.CreateRecord(c, o)
	if err != nil {
		return statusFailed, err
	}
	if _, err := fmt.Fprintln(a.stdout, rec.Spec.ID); err != nil {
		return statusFailed, fmt.Errorf("container %s is made, but its ID could not be written: %w", rec.Spec.ID, err)
	}
	return 0, nil
}

// runAttached runs the container c in the foreground, on this terminal,
// through run (Run, or StartAttached), with stdin attached when asked.
func runAttached(c *spec.Container, stdin bool, run func(*monitor.Attach, func(monitor.Started)) (monitor.Result, error)) (int, error) {
	attach := &monitor.Attach{Stdout: os.Stdout, Stderr: os.Stderr}
	if stdin {
		attach.Stdin = os.Stdin
	}
	term := newTerminal(c.Process.Terminal, attach)
	defer term.restore()
	result, err := run(attach, term.started)
	term.restore()
	if err != nil {
		return statusOf(err), err
	}
	if result.OOMKilled {
		return result.ExitCode, fmt.Errorf("container %s was killed: out of memory (its limit is %s)", c.Name, memoryLimit(c.Resources))
	}
	return result.ExitCode, nil
}

func memoryLimit(r spec.Resources) string {
	if r.Memory == 0 {
		return "the host's"
	}
	return fmt.Sprintf("%d bytes", r.Memory)
}

// settingsFromFlags turns run's flags and the image's config into the one
// settings value, checking every one before anything is made.
func settingsFromFlags(rt *runtime.Runtime, flags *pflag.FlagSet) (*spec.Container, runtime.CreateOptions, error) {
	var o runtime.CreateOptions
	o.Detached, _ = flags.GetBool("detach")
	o.AutoRemove, _ = flags.GetBool("rm")
	c := &spec.Container{ID: runtime.NewID(), CgroupParent: cgroupParent()}
	c.Name, _ = flags.GetString("name")
	c.Hostname, _ = flags.GetString("hostname")
	c.Root.ReadOnly, _ = flags.GetBool("read-only")
	c.Process.Terminal, _ = flags.GetBool("tty")
	c.Process.Stdin, _ = flags.GetBool("interactive")
	if err := checkTerminalInput(c.Process.Stdin, c.Process.Terminal, o.Detached); err != nil {
		return nil, o, err
	}
	if err := checkName(c.Name); err != nil {
		return nil, o, err
	}
	if err := cgroups.CheckParent(c.CgroupParent); err != nil {
		return nil, o, err
	}
	var err error
	if c.Resources, err = parseLimits(flags); err != nil {
		return nil, o, err
	}
	if c.Namespaces, err = parseNamespaces(rt, flags, &c.Network); err != nil {
		return nil, o, err
	}
	if err := parseProcessFlags(flags, c); err != nil { // after parseNamespaces
		return nil, o, err
	}
	if c.ProcView, err = parseProc(flags); err != nil {
		return nil, o, err
	}
	if c.Security, err = parseSecurity(flags); err != nil {
		return nil, o, err
	}
	if err := checkHostname(c.Hostname, c.Namespaces.UTS); err != nil {
		return nil, o, err
	}
	if c.Hostname == "" {
		c.Hostname = defaultHostname(rt, c)
	}
	args, err := chooseRoot(rt, flags, c)
	if err != nil {
		return nil, o, err
	}
	if err := processFromImage(rt, flags, c, args, &o); err != nil {
		return nil, o, err
	}
	if err := addLabels(flags, &o); err != nil {
		return nil, o, err
	}
	if c.Mounts, err = parseVolumes(flags); err != nil {
		return nil, o, err
	}
	c.CgroupMount = cgroupMount(c) // after parseVolumes and parseSecurity
	// After parseSecurity, which fills c.Security anew.
	if err := parseDevices(flags, &c.Security); err != nil {
		return nil, o, err
	}
	return c, o, nil
}

// chooseRoot takes the root from --rootfs or the image named first, and
// returns the command's arguments.
func chooseRoot(rt *runtime.Runtime, flags *pflag.FlagSet, c *spec.Container) ([]string, error) {
	args := flags.Args()
	if dir, _ := flags.GetString("rootfs"); flags.Changed("rootfs") {
		abs, err := checkRootfs(dir)
		c.Root.Path = abs
		return args, err
	}
	if len(args) == 0 {
		return nil, errors.New("run: give an image (boxcraft images lists them), or --rootfs DIR")
	}
	img, err := rt.Store.Lookup(args[0])
	if errors.Is(err, store.ErrNotFound) && isName(args[0]) {
		// As docker run: an image not stored is pulled; one stored under
		// the name is used as it is.
		img, err = pull(rt, flags, args[0], false, fmt.Sprintf("Unable to find image '%s' locally\n", args[0]))
	}
	if err != nil {
		return nil, fmt.Errorf("unable to find image %q: %w (boxcraft load -i adds one)", args[0], err)
	}
	c.Image, c.ImageRef = img.ID, args[0]
	return args[1:], nil
}

// checkRootfs refuses a --rootfs that is not a folder.
func checkRootfs(dir string) (string, error) {
	if dir == "" { // filepath.Abs would make it the working folder
		return "", errors.New("--rootfs: give a folder, not an empty path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("--rootfs %s: %w", dir, errors.Unwrap(err))
	} else if !st.IsDir() {
		return "", fmt.Errorf("--rootfs %s: not a folder", dir)
	}
	return abs, nil
}

// cgroupParent is the cgroup below which the container's goes: the
// workshop's own, or one below it that $BOXCRAFT_CGROUP_PARENT names
// (the tests give each test one, docs/contract.md).
func cgroupParent() string {
	if parent := os.Getenv("BOXCRAFT_CGROUP_PARENT"); parent != "" {
		return parent
	}
	return cgroups.Workshop
}

// defaultHostname is, as Docker's, the ID's first 12 digits; the
// host's name when the container shares the host's UTS namespace or its
// network (--network host: a UTS namespace of its own still, named as
// the host is, so that the name matches the host's /etc/hosts); and the
// other container's name with its network (container:NAME), as a pod's
// containers share one.
func defaultHostname(rt *runtime.Runtime, c *spec.Container) string {
	if other, ok := strings.CutPrefix(c.Network.Mode, spec.NetworkContainer); ok && c.Namespaces.UTS {
		if o, err := rt.GetID(other); err == nil {
			return o.Record.Spec.Hostname
		}
	}
	if c.Namespaces.UTS && c.Network.Mode != spec.NetworkHost {
		return c.ID[:12]
	}
	name, _ := os.Hostname()
	return name
}
