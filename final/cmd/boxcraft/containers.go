package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/boxcraft/boxcraft/final/logs"
	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/spf13/pflag"
)

func addPsFlags(flags *pflag.FlagSet) {
	flags.BoolP("all", "a", false, "show every container (only the running ones by default)")
	flags.BoolP("quiet", "q", false, "show only the IDs")
}

// psCommand is docker ps: one line per container, newest first.
func psCommand(a *app, flags *pflag.FlagSet) (int, error) {
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	list, err := rt.List()
	if err != nil {
		return statusFailed, err
	}
	all, _ := flags.GetBool("all")
	quiet, _ := flags.GetBool("quiet")
	w := tabwriter.NewWriter(a.stdout, 0, 8, 3, ' ', 0)
	if !quiet {
		fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
	}
	for _, c := range list {
		if c.Broken || (!all && c.Status.Status != state.Running) {
			continue
		}
		if quiet {
			fmt.Fprintln(w, c.ID[:12])
			continue
		}
		spec := c.Record.Spec
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID[:12], imageName(c), quoteCommand(spec.Process.Args),
			ago(c.Record.Created), statusText(c.Status), publishedPorts(c), spec.Name)
	}
	return 0, w.Flush()
}

// publishedPorts is docker ps's PORTS: 0.0.0.0:8080->80/tcp.
func publishedPorts(c runtime.Container) string {
	var list []string
	for _, p := range heldPorts(c) {
		list = append(list, network.HostAddress(p)+"->"+network.ContainerPort(p))
	}
	return strings.Join(list, ", ")
}

func imageName(c runtime.Container) string {
	if c.Record.Spec.Image == "" {
		return "(rootfs)"
	}
	return c.Record.Spec.ImageRef
}

// quoteCommand is the command as docker ps shows it: quoted, cut at 20.
func quoteCommand(args []string) string {
	cmd := strings.Join(args, " ")
	if len(cmd) > 20 {
		cmd = cmd[:19] + "…"
	}
	return strconv.Quote(cmd)
}

// statusText is docker ps's STATUS.
func statusText(s state.Status) string {
	switch s.Status {
	case state.Running:
		return "Up " + duration(time.Since(s.StartedAt))
	case state.Exited:
		text := fmt.Sprintf("Exited (%d)", s.ExitCode)
		if !s.FinishedAt.IsZero() {
			text += " " + ago(s.FinishedAt)
		}
		return text
	}
	return "Created"
}

func ago(t time.Time) string { return duration(time.Since(t)) + " ago" }

// duration is a time as docker says it: "Less than a second", "5
// seconds", "3 minutes", "2 hours", "4 days".
func duration(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case d < time.Second:
		return "Less than a second"
	case d < time.Minute:
		return plural(int(d.Seconds()), "second")
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute")
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour")
	}
	return plural(int(d.Hours()/24), "day")
}

func addLogsFlags(flags *pflag.FlagSet) {
	flags.BoolP("follow", "f", false, "keep printing what the container writes, until it ends")
	flags.String("tail", "all", "how many lines from the end to show")
	flags.BoolP("timestamps", "t", false, "show each line's time")
}

// logsCommand prints a container's log: stdout lines on stdout, stderr
// lines on stderr, as docker logs does.
func logsCommand(a *app, flags *pflag.FlagSet) (int, error) {
	rt, c, err := a.firstContainer(flags, 1, "a container")
	if err != nil {
		return statusFailed, err
	}
	tail, _ := flags.GetString("tail")
	n, err := strconv.Atoi(tail)
	if tail != "all" && (err != nil || n < 0) {
		return statusFailed, fmt.Errorf("--tail %q: give a number of lines, or all", tail)
	}
	stamps, _ := flags.GetBool("timestamps")
	var follow func() bool
	if f, _ := flags.GetBool("follow"); f {
		follow = func() bool { return !rt.Dirs.MonitorAlive(c.ID) }
	}
	p := &logPrinter{a: a, stamps: stamps}
	if tail != "all" {
		p.skip = countEntries(rt.Dirs.LogFile(c.ID)) - n
	}
	return 0, logs.Read(rt.Dirs.LogFile(c.ID), follow, p.print)
}

// container is a container and the runtime it belongs to.
type container struct {
	runtime.Container
	rt *runtime.Runtime
}
