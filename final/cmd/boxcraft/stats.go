package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/boxcraft/boxcraft/final/dockerfmt"
	"github.com/boxcraft/boxcraft/final/lifecycle"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/state"
)

// statsInterval is how far apart the two readings behind a CPU % are,
// and how often the table is drawn again: a second, as Docker.
const statsInterval = time.Second

func addStatsFlags(flags *pflag.FlagSet) {
	flags.BoolP("all", "a", false, "show every container (only the running ones by default)")
	flags.Bool("no-stream", false, "show one table and end, instead of a new one each second")
}

// statsCommand is docker stats: a table of what each container uses,
// drawn again each second, in place on a terminal (one table after
// another otherwise, as Docker), or once with --no-stream. Each CPU %
// needs two readings, a second apart: the first table comes after one.
func statsCommand(a *app, flags *pflag.FlagSet) (int, error) {
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	all, _ := flags.GetBool("all")
	noStream, _ := flags.GetBool("no-stream")
	pick, err := pickContainers(rt, flags.Args(), all)
	if err != nil {
		return statusFailed, err
	}
	host, err := readHost()
	if err != nil {
		return statusFailed, err
	}
	screen := &statsScreen{out: a.stdout, inPlace: !noStream && isTerminal(a.stdout)}
	// Ctrl-C ends it, as docker stats: caught rather than left to Go's
	// default, which a shell's background job would have ignored.
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	before, err := takeReading(rt, pick)
	for err == nil {
		select {
		case <-ctx.Done():
			return 0, nil
		case <-time.After(statsInterval):
		}
		var after reading
		if after, err = takeReading(rt, pick); err != nil {
			break
		}
		if err = screen.draw(statsRows(before, after, host)); err != nil || noStream {
			break
		}
		before = after
	}
	if err != nil {
		return statusFailed, err
	}
	return 0, nil
}

// pickContainers returns what lists the containers for each table: the
// ones named (found now: an unknown one is refused before any table),
// else the running ones, or (-a) all, as they are at each table.
func pickContainers(rt *runtime.Runtime, refs []string, all bool) (func() ([]runtime.Container, error), error) {
	if len(refs) == 0 {
		return func() ([]runtime.Container, error) { return listForStats(rt, all) }, nil
	}
	var ids []string
	for _, ref := range refs {
		c, err := rt.Get(ref)
		if err != nil {
			return nil, err
		}
		ids = append(ids, c.ID)
	}
	return func() ([]runtime.Container, error) {
		var list []runtime.Container
		for _, id := range ids {
			c, err := rt.Get(id)
			if err != nil { // removed since: a row of zeros
				c.ID, c.Status = id, state.Status{}
			}
			list = append(list, c)
		}
		return list, nil
	}, nil
}

// listForStats lists the running containers, or (all) every one.
func listForStats(rt *runtime.Runtime, all bool) ([]runtime.Container, error) {
	list, err := rt.List()
	var picked []runtime.Container
	for _, c := range list {
		if !c.Broken && (all || c.Status.Status == state.Running) {
			picked = append(picked, c)
		}
	}
	return picked, err
}

// reading is what the containers used at one moment, and the host's CPU
// time then: a CPU % is the share of the host's CPU time between two
// readings that the container took.
type reading struct {
	system     uint64 // nanoseconds, all CPUs
	containers []runtime.Container
	usage      map[string]lifecycle.Usage // by ID
}

func takeReading(rt *runtime.Runtime, pick func() ([]runtime.Container, error)) (reading, error) {
	list, err := pick()
	if err != nil {
		return reading{}, err
	}
	r := reading{containers: list, usage: map[string]lifecycle.Usage{}}
	if r.system, err = systemCPU(); err != nil {
		return reading{}, err
	}
	for _, c := range list {
		if r.usage[c.ID], err = rt.Usage(c); err != nil {
			return reading{}, err
		}
	}
	return r, nil
}

// statsRows is the table's rows: one per container of the later reading.
func statsRows(before, after reading, h host) [][]string {
	var rows [][]string
	for _, c := range after.containers {
		u := after.usage[c.ID]
		limit := u.MemoryLimit
		if limit == 0 && c.Status.Status == state.Running {
			limit = h.memory // no limit of its own: the host's memory is its limit
		}
		previous, seen := before.usage[c.ID]
		cpu := 0.0
		if seen {
			cpu = cpuPercent(previous.CPU, u.CPU, after.system-before.system, h.cpus)
		}
		rows = append(rows, []string{
			c.ID[:12], c.Record.Spec.Name,
			fmt.Sprintf("%.2f%%", cpu),
			binarySize(u.MemoryUsage) + " / " + binarySize(limit),
			fmt.Sprintf("%.2f%%", percent(u.MemoryUsage, limit)),
			dockerfmt.Size(int64(u.NetReceived)) + " / " + dockerfmt.Size(int64(u.NetSent)),
			dockerfmt.Size(int64(u.BlockRead)) + " / " + dockerfmt.Size(int64(u.BlockWrite)),
			strconv.FormatUint(u.Pids, 10),
		})
	}
	return rows
}

// cpuPercent is Docker's formula: the container's share of the CPU time
// all CPUs gave between two readings, times the CPUs, so that 100% is
// one CPU's worth.
func cpuPercent(before, after, systemDelta uint64, cpus int) float64 {
	if after <= before || systemDelta == 0 {
		return 0
	}
	return float64(after-before) / float64(systemDelta) * float64(cpus) * 100
}

func percent(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole) * 100
}

// binarySize is a size as docker stats says memory: 4 digits, in
// powers of 1024 ("1.5MiB", "7.667GiB").
func binarySize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	size, i := float64(n), 0
	for size >= 1024 && i < len(units)-1 {
		size /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", size, units[i])
}

// statsHeader is docker stats' header.
var statsHeader = []string{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}

// statsScreen draws the tables. On a terminal, each is drawn in place of
// the last, with ANSI escapes: the cursor home (ESC [H), each line
// cleared to its end (ESC [K) and, after the table, the rest of the
// screen (ESC [J); the screen is cleared once (ESC [2J) before the first.
// Drawing over the old table, rather than clearing first, does not
// flicker.
type statsScreen struct {
	out     io.Writer
	inPlace bool
	drawn   bool
}

func (s *statsScreen) draw(rows [][]string) error {
	var table bytes.Buffer
	w := tabwriter.NewWriter(&table, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, strings.Join(statsHeader, "\t"))
	for _, row := range rows {
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	text := table.String()
	if s.inPlace {
		text = "\x1b[H" + strings.ReplaceAll(text, "\n", "\x1b[K\n") + "\x1b[J"
		if !s.drawn {
			text = "\x1b[2J" + text
		}
	}
	s.drawn = true
	_, err := io.WriteString(s.out, text) // in one write: never half a table on the screen
	return err
}

func isTerminal(w io.Writer) bool {
	if o, ok := w.(*output); ok {
		w = o.file
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
