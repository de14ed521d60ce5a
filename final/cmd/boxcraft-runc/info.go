package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/boxcraft/boxcraft/final/lifecycle"
	"github.com/boxcraft/boxcraft/final/oci"
	"github.com/spf13/pflag"
)

func addPsFlags(flags *pflag.FlagSet) {
	flags.StringP("format", "f", "table", "table or json")
}

// psCommand lists the container's processes: their pids as JSON (what
// containerd's shim reads), or, as runc does, the lines of ps(1) (ps -ef,
// or the PS_ARGS given) whose PID is the container's.
func psCommand(g *globals, flags *pflag.FlagSet) error {
	_, rt, c, err := findArg(g, flags)
	if err != nil {
		return err
	}
	pids, err := rt.Procs(c)
	if err != nil {
		return err
	}
	switch format, _ := flags.GetString("format"); format {
	case "json":
		if pids == nil {
			pids = []int{}
		}
		return json.NewEncoder(g.stdout).Encode(pids)
	case "table":
		args := flags.Args()[1:]
		if len(args) == 0 {
			args = []string{"-ef"}
		}
		return psTable(g, pids, args)
	default:
		return fmt.Errorf("ps: --format %q: table or json", format)
	}
}

// psTable runs ps(1) and keeps its header and the container's lines.
func psTable(g *globals, pids []int, args []string) error {
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	column := slices.Index(strings.Fields(lines[0]), "PID")
	if column < 0 {
		return errors.New("ps: its output has no PID column")
	}
	fmt.Fprintln(g.stdout, lines[0])
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if column < len(fields) {
			if pid, err := strconv.Atoi(fields[column]); err == nil && slices.Contains(pids, pid) {
				fmt.Fprintln(g.stdout, line)
			}
		}
	}
	return nil
}

func addListFlags(flags *pflag.FlagSet) {
	flags.StringP("format", "f", "table", "table or json")
	flags.BoolP("quiet", "q", false, "IDs only")
}

// listEntry is one container as runc list prints it.
type listEntry struct {
	ID      string    `json:"id"`
	Pid     int       `json:"pid"`
	Status  string    `json:"status"`
	Bundle  string    `json:"bundle"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

func listCommand(g *globals, flags *pflag.FlagSet) error {
	rt, err := g.open()
	if err != nil {
		return err
	}
	all, err := rt.List()
	if err != nil {
		return err
	}
	entries := []listEntry{}
	for _, c := range all {
		b, _ := oci.ReadBundle(rt.Dirs.Container(c.ID))
		st := oci.State(c.Record.Spec.Name, rt.OCIStatus(c), c.Status.Pid, b)
		entries = append(entries, listEntry{st.ID, st.Pid, string(st.Status), st.Bundle, c.Record.Created, "root"})
	}
	format, _ := flags.GetString("format")
	quiet, _ := flags.GetBool("quiet")
	switch {
	case quiet:
		for _, e := range entries {
			fmt.Fprintln(g.stdout, e.ID)
		}
	case format == "json":
		return json.NewEncoder(g.stdout).Encode(entries)
	default:
		w := tabwriter.NewWriter(g.stdout, 12, 1, 3, ' ', 0)
		fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
		for _, e := range entries {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", e.ID, e.Pid, e.Status, e.Bundle, e.Created.Format(time.RFC3339Nano), e.Owner)
		}
		return w.Flush()
	}
	return nil
}

func addEventsFlags(flags *pflag.FlagSet) {
	flags.Bool("stats", false, "print the resource use once and exit")
	flags.Duration("interval", 5*time.Second, "how often to print the resource use")
}

// event is one line of events, in runc's shape: {"type": "stats" or
// "oom", "id": …, "data": …}.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// eventsCommand prints what the container's cgroup counts: once with
// --stats; else every --interval until the container stops, as runc
// does, and an "oom" event each time the kernel's OOM killer ends one of
// its processes (its count, read between the intervals).
func eventsCommand(g *globals, flags *pflag.FlagSet) error {
	id, rt, c, err := findArg(g, flags)
	if err != nil {
		return err
	}
	out := json.NewEncoder(g.stdout)
	stats := func() error {
		now, err := rt.GetID(c.ID) // its status may have changed: created, running
		if err != nil {
			return err
		}
		usage, err := rt.Usage(now)
		if err != nil {
			return err
		}
		return out.Encode(event{"stats", id, usage})
	}
	if once, _ := flags.GetBool("stats"); once {
		return stats()
	}
	interval, _ := flags.GetDuration("interval")
	if interval <= 0 {
		return fmt.Errorf("events: --interval %s: must be above zero", interval)
	}
	return streamEvents(rt, c, interval, stats, func() error { return out.Encode(event{Type: "oom", ID: id}) })
}

// streamEvents calls stats every interval and oom on each new OOM kill,
// until the container stops.
func streamEvents(rt *lifecycle.Runtime, c lifecycle.Container, interval time.Duration, stats, oom func() error) error {
	const poll = 100 * time.Millisecond // how soon an OOM kill is told
	kills := rt.OOMKills(c)
	newKill := func() error {
		if now := rt.OOMKills(c); now > kills {
			kills = now
			return oom()
		}
		return nil
	}
	next := time.Now()
	for rt.OCIStatus(c) != lifecycle.OCIStopped {
		if err := newKill(); err != nil {
			return err
		}
		if !time.Now().Before(next) {
			if err := stats(); err != nil {
				return err
			}
			next = next.Add(interval)
		}
		time.Sleep(min(poll, time.Until(next)))
	}
	return newKill() // the kill that stopped it
}

func addSpecFlags(flags *pflag.FlagSet) {
	flags.StringP("bundle", "b", ".", "the folder to write config.json in")
	flags.Bool("rootless", false, "refused: not implemented")
}

// specCommand writes a default config.json, refusing to overwrite one.
func specCommand(g *globals, flags *pflag.FlagSet) error {
	if flags.Changed("rootless") {
		return errors.New("spec: --rootless is not implemented")
	}
	bundle, _ := flags.GetString("bundle")
	path := filepath.Join(bundle, "config.json")
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("spec: %s exists already: remove it first", path)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "\t")
	if err := enc.Encode(oci.DefaultSpec()); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func featuresCommand(g *globals, _ *pflag.FlagSet) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "    ")
	return enc.Encode(oci.Features())
}
