package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/pflag"

	"github.com/boxcraft/boxcraft/final/lifecycle"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

func addStopFlags(flags *pflag.FlagSet) {
	flags.IntP("time", "t", 10, "seconds to wait after SIGTERM before SIGKILL; -1 waits for as long as it takes")
}

// eachContainer runs do for each container named, printing each name as
// docker does, and fails (125) if any failed, after trying them all.
// With goneOK (rm -f), a container that is not there is said on stderr
// and is no failure, as with docker rm -f: it is gone, as asked (a --rm
// container whose monitor was killed is, once a command has looked).
func eachContainer(a *app, flags *pflag.FlagSet, goneOK bool, do func(c container) error) (int, error) {
	if err := needArgs(flags, 1, "at least one container"); err != nil {
		return statusFailed, err
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	var errs []error
	for _, ref := range flags.Args() {
		c, err := rt.Get(ref)
		if goneOK && errors.Is(err, state.ErrNoSuchContainer) {
			fmt.Fprintln(os.Stderr, "boxcraft:", err)
			continue
		}
		if err == nil {
			err = do(container{c, rt})
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(a.stdout, ref)
	}
	if len(errs) > 0 {
		return statusFailed, errors.Join(errs...)
	}
	return 0, nil
}

func stopCommand(a *app, flags *pflag.FlagSet) (int, error) {
	grace, err := stopGrace(flags)
	if err != nil {
		return statusFailed, err
	}
	return eachContainer(a, flags, false, func(c container) error {
		return c.rt.Stop(c.Container, grace)
	})
}

// stopGrace is -t's wait between SIGTERM and SIGKILL.
func stopGrace(flags *pflag.FlagSet) (time.Duration, error) {
	seconds, _ := flags.GetInt("time")
	if seconds < -1 {
		return 0, fmt.Errorf("--time %d: give 0 or more seconds, or -1 to wait without end", seconds)
	}
	if seconds == -1 {
		return 100 * 365 * 24 * time.Hour, nil // docker stop -t -1: SIGTERM alone, as wait waits
	}
	return time.Duration(seconds) * time.Second, nil
}

func addStartFlags(flags *pflag.FlagSet) {
	flags.BoolP("attach", "a", false, "run in the foreground, with the container's output on this terminal, and exit with its status")
	flags.BoolP("interactive", "i", false, "attach stdin too (a container made with -i); implies -a")
}

// startCommand is docker start: each container that has ended runs its
// command again, with a monitor of its own; with -a, one container, in
// the foreground, boxcraft its monitor.
func startCommand(a *app, flags *pflag.FlagSet) (int, error) {
	attach, _ := flags.GetBool("attach")
	interactive, _ := flags.GetBool("interactive")
	if attach || interactive {
		return startAttached(a, flags, interactive)
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	return eachContainer(a, flags, false, func(c container) error {
		return c.rt.StartAgain(ctx, c.ID)
	})
}

// startAttached is start -a: the container's output here, its stdin
// too with -i (when it was made with -i), its terminal with -t, and its
// exit status boxcraft's.
func startAttached(a *app, flags *pflag.FlagSet, interactive bool) (int, error) {
	if flags.NArg() != 1 {
		return statusFailed, errors.New("start -a: give one container (boxcraft attaches to one at a time)")
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	c, err := rt.Get(flags.Arg(0))
	if err != nil {
		return statusFailed, err
	}
	spec := &c.Record.Spec
	stdin := interactive && spec.Process.Stdin
	if err := checkTerminalInput(stdin, spec.Process.Terminal, false); err != nil {
		return statusFailed, err
	}
	return runAttached(spec, stdin, func(attach *monitor.Attach, onStart func(monitor.Started)) (monitor.Result, error) {
		return rt.StartAttached(context.Background(), flags.Arg(0), attach, onStart)
	})
}

// restartCommand is docker restart: stop (SIGTERM, then SIGKILL after
// -t), then start.
func restartCommand(a *app, flags *pflag.FlagSet) (int, error) {
	grace, err := stopGrace(flags)
	if err != nil {
		return statusFailed, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	return eachContainer(a, flags, false, func(c container) error {
		return c.rt.Restart(ctx, c.Container, grace)
	})
}

func addKillFlags(flags *pflag.FlagSet) {
	flags.StringP("signal", "s", "KILL", "the signal: a name (TERM, SIGTERM) or number")
}

func killCommand(a *app, flags *pflag.FlagSet) (int, error) {
	name, _ := flags.GetString("signal")
	sig, err := lifecycle.ParseSignal(name)
	if err != nil {
		return statusFailed, fmt.Errorf("--signal: %w", err)
	}
	return eachContainer(a, flags, false, func(c container) error { return c.rt.Kill(c.Container, sig) })
}

// pauseCommand is docker pause: each container's processes frozen where
// they stand, until unpause.
func pauseCommand(a *app, flags *pflag.FlagSet) (int, error) {
	return eachContainer(a, flags, false, func(c container) error { return c.rt.Pause(c.Container) })
}

func unpauseCommand(a *app, flags *pflag.FlagSet) (int, error) {
	return eachContainer(a, flags, false, func(c container) error { return c.rt.Unpause(c.Container) })
}

func addRmFlags(flags *pflag.FlagSet) {
	flags.BoolP("force", "f", false, "kill a running container first; one that is not there is no failure")
}

func rmCommand(a *app, flags *pflag.FlagSet) (int, error) {
	force, _ := flags.GetBool("force")
	return eachContainer(a, flags, force, func(c container) error { return c.rt.Remove(c.Container, force) })
}

// waitCommand prints each container's exit status once it has ended.
func waitCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if err := needArgs(flags, 1, "at least one container"); err != nil {
		return statusFailed, err
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	for _, ref := range flags.Args() {
		c, err := rt.Get(ref)
		if err != nil {
			return statusFailed, err
		}
		code, err := rt.Wait(c)
		if err != nil {
			return statusFailed, err
		}
		fmt.Fprintln(a.stdout, code)
	}
	return 0, nil
}

func addPruneFlags(flags *pflag.FlagSet) {
	flags.BoolP("force", "f", false, "do not ask (boxcraft never asks: accepted for docker's sake)")
}

// pruneCommand removes every container that is not running.
func pruneCommand(a *app, flags *pflag.FlagSet) (int, error) {
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	removed, err := rt.Prune()
	if len(removed) > 0 {
		fmt.Fprintln(a.stdout, "Deleted Containers:")
		for _, id := range removed {
			fmt.Fprintln(a.stdout, id)
		}
	}
	if err != nil {
		return statusFailed, err
	}
	return 0, nil
}
