package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
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
	addList(flags, "filter", "f", "KEY=VALUE: only the containers that match; KEY is status, name, id, label, exited, ancestor, before, since, network or volume")
	flags.String("format", "", `table (the default), json, "table TEMPLATE" or TEMPLATE: a Go template over .ID, .Names, .Image, .Command, .CreatedAt, .RunningFor, .Status, .State, .Ports, .Labels, .Label "KEY", .Mounts, .Networks, .Size`)
	flags.Bool("no-trunc", false, "show whole IDs and commands")
	flags.IntP("last", "n", -1, "show the N containers made last, whatever their state")
	flags.BoolP("latest", "l", false, "show the container made last, whatever its state")
	flags.BoolP("size", "s", false, "add a SIZE column: what each container wrote (and, virtual, with its image)")
}

// psCommand is docker ps: the containers, newest first, those that run
// unless -a, a status filter, -n or -l says otherwise, those that match
// every -f, through --format's template.
func psCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() > 0 {
		return statusFailed, fmt.Errorf("ps takes no arguments, %q is one: to choose containers, -f KEY=VALUE", flags.Arg(0))
	}
	filters, err := parseFilters(getList(flags, "filter"))
	if err != nil {
		return statusFailed, err
	}
	format, _ := flags.GetString("format")
	quiet, _ := flags.GetBool("quiet")
	size, _ := flags.GetBool("size")
	out, err := newPsFormat(format, quiet, size)
	if err != nil {
		return statusFailed, err
	}
	if quiet && format != "" {
		fmt.Fprintln(os.Stderr, "WARNING: Ignoring custom format, because both --format and --quiet are set.")
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	list, err := rt.List()
	if err != nil {
		return statusFailed, err
	}
	match, err := filters.match(rt, list)
	if err != nil {
		return statusFailed, err
	}
	all, _ := flags.GetBool("all")
	all = all || len(filters["status"]) > 0
	limit, _ := flags.GetInt("last")
	if latest, _ := flags.GetBool("latest"); latest && limit == -1 {
		limit = 1
	}
	noTrunc, _ := flags.GetBool("no-trunc")
	var rows []*psRow
	for _, c := range list {
		if c.Broken || (!all && limit <= 0 && c.Status.Status != state.Running) || !match(c) {
			continue
		}
		if limit > 0 && len(rows) == limit {
			break
		}
		rows = append(rows, newPsRow(rt, c, !noTrunc))
	}
	return 0, out.write(a.stdout, rows)
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

// statusText is docker ps's STATUS, of a container in the Docker state
// dockerState (runtime.DockerState: its status, or paused).
func statusText(s state.Status, dockerState string) string {
	switch s.Status {
	case state.Running:
		if dockerState == runtime.Paused {
			return "Up " + duration(time.Since(s.StartedAt)) + " (Paused)"
		}
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
