package testkit

// What the Commands suite reads of boxcraft's containers: its own output
// (ps's table, inspect's JSON), and, to check that, the kernel and the
// state folder (docs: /work/brief/cli.md): a container's cgroup is named
// by its ID directly below $BOXCRAFT_CGROUP_PARENT, its folders by its ID
// below $BOXCRAFT_STATE_DIR, and its monitor is `boxcraft-monitor ID` (or
// `boxcraft monitor ID`).

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// containerID is a full container ID: 64 hex digits.
var containerID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Inspected is a container as `boxcraft inspect` shows it: the fields of
// Docker's that the suite checks.
type Inspected struct {
	ID      string `json:"Id"`
	Name    string
	Image   string
	LogPath string
	State   struct {
		Status     string
		Running    bool
		Paused     bool
		Pid        int
		ExitCode   int
		OOMKilled  bool
		StartedAt  string
		FinishedAt string
	}
	Config struct {
		Hostname   string
		Env        []string
		Cmd        []string
		Entrypoint []string
		WorkingDir string
		Image      string
		User       string
	}
}

// inspectContainers runs `boxcraft inspect` on refs and decodes its JSON
// array, one entry per ref.
func inspectContainers(t testing.TB, refs ...string) []Inspected {
	t.Helper()
	r := Run(t, append([]string{"inspect"}, refs...)...)
	require.Equal(t, 0, r.Code, "inspect %v:\n%s", refs, r)
	var got []Inspected
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &got), "inspect prints a JSON array:\n%s", r)
	require.Len(t, got, len(refs), "inspect prints one object per container:\n%s", r)
	return got
}

// tryInspect is inspect of one container, without failing the test:
// false when inspect failed.
func tryInspect(t testing.TB, ref string) (Inspected, bool) {
	t.Helper()
	r := Run(t, "inspect", ref)
	var got []Inspected
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &got) != nil || len(got) != 1 {
		return Inspected{}, false
	}
	return got[0], true
}

// inspectOne is inspect of one container.
func inspectOne(t testing.TB, ref string) Inspected {
	t.Helper()
	return inspectContainers(t, ref)[0]
}

// psColumns are docker ps's columns, in order.
var psColumns = []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}

// psRow is a row of a table (ps's, images'), by column.
type psRow map[string]string

// ps runs `boxcraft ps` with flags (-a) and reads its table.
func ps(t testing.TB, flags ...string) []psRow {
	t.Helper()
	r := Run(t, append([]string{"ps"}, flags...)...)
	require.Equal(t, 0, r.Code, "ps:\n%s", r)
	assert.Empty(t, r.Stderr, "ps prints nothing on stderr")
	return table(t, r.Stdout, psColumns)
}

// table reads a table as Docker prints one (ps, images): a header with
// the columns given, in order, and each row's fields under them, as
// text/tabwriter aligns them (counting characters, not bytes).
func table(t testing.TB, out string, columns []string) []psRow {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var starts []int
	for _, column := range columns {
		at := strings.Index(lines[0], column)
		require.True(t, at >= 0 && (len(starts) == 0 || at > starts[len(starts)-1]),
			"the header has Docker's columns %q, in order:\n%s", columns, out)
		starts = append(starts, at)
	}
	var rows []psRow
	for _, line := range lines[1:] {
		runes := []rune(line)
		row := psRow{}
		for i, column := range columns {
			from, to := min(starts[i], len(runes)), len(runes)
			if i+1 < len(starts) {
				to = min(starts[i+1], len(runes))
			}
			row[column] = strings.TrimSpace(string(runes[from:to]))
		}
		rows = append(rows, row)
	}
	return rows
}

// psRowOf finds the row of the container id (by the 12 digits ps
// shows), or nil.
func psRowOf(rows []psRow, id string) psRow {
	for _, row := range rows {
		if row["CONTAINER ID"] == ShortID(id) {
			return row
		}
	}
	return nil
}

// psStatus is ps's STATUS column as Docker writes it.
var psStatus = regexp.MustCompile(`^(Created|Up .+|Exited \(-?\d+\)( .+ ago)?|Removal In Progress|Dead)$`)

// assertFailedOneLine checks a command that boxcraft refused or failed:
// status code (125 for boxcraft's own failure), exactly one line on
// stderr naming one of names (any case, "" for any), nothing on stdout,
// no stack trace.
func assertFailedOneLine(t testing.TB, r Result, code int, names ...string) {
	t.Helper()
	assert.Equal(t, code, r.Code, "exit status\n%s", r)
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line on stderr\n%s", r)
	assert.True(t, strings.HasSuffix(r.Stderr, "\n") && utf8.ValidString(r.Stderr), "a whole line on stderr\n%s", r)
	assert.NotContains(t, r.Stderr, "goroutine", "no stack trace")
	assert.NotContains(t, r.Stderr, "panic", "no panic")
	assert.Empty(t, r.Stdout, "nothing on stdout")
	if len(names) > 0 {
		line := strings.ToLower(r.Stderr)
		assert.True(t, slices.ContainsFunc(names, func(n string) bool { return strings.Contains(line, strings.ToLower(n)) }),
			"the line names one of %q:\n%s", names, r)
	}
}

// containerTraces lists what is left on the host of the container id, or
// of any container when id is "": a mount below the state folder, a
// cgroup below the test's parent, a folder or file below the state
// folder named by the ID (outside the image store, whose layers are
// named by 64 hex digits too) or below a "containers" folder, and a
// process in its cgroup or that names it (its monitor).
func containerTraces(t testing.TB, id string, withFiles bool) []string {
	t.Helper()
	var left []string
	state := StateDir(t)
	for _, point := range MountPointsOfType(t, "") {
		if strings.HasPrefix(point, state+"/") && (id == "" || strings.Contains(point, id)) {
			left = append(left, "mount "+point)
		}
	}
	_, parents := CgroupParent(t)
	for _, dir := range parents {
		for _, cg := range childCgroups(dir) {
			if id == "" || filepath.Base(cg) == id {
				left = append(left, "cgroup "+cg)
			}
		}
	}
	for _, path := range containerFiles(t, id) {
		if withFiles {
			left = append(left, "state "+path)
		}
	}
	for _, pid := range containerProcesses(t, id) {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		left = append(left, "process "+strconv.Itoa(pid)+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	sort.Strings(left)
	return slices.Compact(left)
}

// containerFiles lists the paths below the state folder (relative) that
// are a container's: named by its ID (any 64-hex name when id is ""),
// or in a folder named "containers", outside the image store (lib/store).
func containerFiles(t testing.TB, id string) []string {
	t.Helper()
	state := StateDir(t)
	var found []string
	_ = filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == state {
			return nil
		}
		rel, _ := filepath.Rel(state, path)
		if rel == "lib/store" || rel == "store" {
			return filepath.SkipDir
		}
		parts := strings.Split(rel, "/")
		for i, part := range parts {
			if part == id || (id == "" && (containerID.MatchString(part) || part == "containers" && i < len(parts)-1)) {
				found = append(found, rel)
				if d.IsDir() {
					return filepath.SkipDir
				}
				break
			}
		}
		return nil
	})
	return found
}

// containerProcesses lists the processes of the container id (of any
// container of the test's when id is ""): in its cgroup, below the
// test's parent, or naming it on their command line, or (for "") with
// the test's state folder in their environment (a monitor, or a
// boxcraft that was not killed).
func containerProcesses(t testing.TB, id string) []int {
	t.Helper()
	parent, _ := CgroupParent(t)
	state := StateDir(t)
	self := os.Getpid()
	return processes(func(proc string) bool {
		if proc == "/proc/"+strconv.Itoa(self) {
			return false
		}
		cgroup, _ := os.ReadFile(filepath.Join(proc, "cgroup"))
		if strings.Contains(string(cgroup), "/"+parent+"/"+id) {
			return true
		}
		if id == "" {
			environ, _ := os.ReadFile(filepath.Join(proc, "environ"))
			return slices.Contains(strings.Split(string(environ), "\x00"), StateDirEnv+"="+state)
		}
		cmdline, _ := os.ReadFile(filepath.Join(proc, "cmdline"))
		return slices.Contains(strings.Split(string(cmdline), "\x00"), id)
	})
}

// assertNoTraces checks, waiting a little for what ends on its own (a
// monitor tearing down), that nothing is left of container id ("" for
// any).
func assertNoTraces(t testing.TB, id, why string) {
	t.Helper()
	var left []string
	eventually(10*time.Second, func() bool {
		left = containerTraces(t, id, true)
		return len(left) == 0
	})
	assert.Empty(t, left, "%s: nothing is left of the container (%s)", why, orAny(id))
}

// assertEnded checks, waiting a little for the monitor to tear it
// down, that an ended container (not removed) left no process, cgroup
// or mount.
func assertEnded(t testing.TB, id string) {
	t.Helper()
	var left []string
	eventually(10*time.Second, func() bool {
		left = containerTraces(t, id, false)
		return len(left) == 0
	})
	assert.Empty(t, left, "the container %s has ended: no process, cgroup or mount is left of it", id)
}

func orAny(id string) string {
	if id == "" {
		return "any container"
	}
	return id
}

// containerCgroups lists the container's cgroup folders, one per
// hierarchy the test's parent is in (one on v2): named by its ID,
// directly below the parent, the ones there are.
func containerCgroupDirs(t testing.TB, id string) []string {
	t.Helper()
	_, parents := CgroupParent(t)
	var found []string
	for _, dir := range parents {
		if st, err := os.Stat(filepath.Join(dir, id)); err == nil && st.IsDir() {
			found = append(found, filepath.Join(dir, id))
		}
	}
	sort.Strings(found)
	return slices.Compact(found)
}

// processAlive tells whether pid runs (a zombie counts as ended).
func processAlive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	end := strings.LastIndexByte(string(stat), ')')
	fields := strings.Fields(string(stat[end+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// processCgroupHas tells whether pid's cgroup (any hierarchy) is the
// container id's, below the test's parent.
func processCgroupHas(t testing.TB, pid int, id string) bool {
	t.Helper()
	parent, _ := CgroupParent(t)
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	return err == nil && strings.Contains(string(data), "/"+parent+"/"+id)
}

// processName is a process's name (comm), or "" once it has gone.
func processName(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// eventually polls cond every 20 ms until it holds or within passes.
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
