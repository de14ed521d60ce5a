package testkit

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Stats is the end-to-end suite of `boxcraft stats` (issue 18): docker
// stats' table, whose figures come from each container's cgroup. Each
// figure is checked against a container that does the thing (a CPU hog,
// an allocation, a few processes) beside an idle one in the same run,
// so that a busy machine moves both, and against what the host sees.
func Stats(t *testing.T) {
	RequireRoot(t)
	s := &commandsSuite{top: t, base: BaseLayer(t)}
	s.busybox = newNamedImage(t, "docker.io/library/busybox:latest", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, s.base)
	loaded(t, Run(t, "load", "-i", s.busybox.layout(t)), "Loaded image: busybox:latest")

	t.Run("CPUFollowsAHog", s.statsCPU)
	t.Run("MemoryFollowsAnAllocation", s.statsMemory)
	t.Run("PidsCountsTasks", s.statsPids)
	t.Run("StoppedShowsZeros", s.statsStopped)
	t.Run("RedrawnInPlaceOnATerminal", s.statsStream)
	t.Run("UnknownContainerRefused", func(t *testing.T) {
		s.enter(t)
		assertFailedOneLine(t, Run(t, "stats", "--no-stream", "no-such-container"), 125, "no-such-container", "no such")
	})
}

// statsColumns are docker stats' columns, in order.
var statsColumns = []string{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}

// statsTable runs `boxcraft stats --no-stream args…` and reads its table,
// by container name.
func statsTable(t *testing.T, args ...string) map[string]psRow {
	t.Helper()
	r := Run(t, append([]string{"stats", "--no-stream"}, args...)...)
	require.Equal(t, 0, r.Code, "stats --no-stream %v:\n%s", args, r)
	assert.Empty(t, r.Stderr, "stats prints nothing on stderr")
	assert.NotContains(t, r.Stdout, "\x1b", "no escape sequences when the output is not a terminal")
	t.Logf("stats --no-stream %v:\n%s", args, r.Stdout)
	rows := map[string]psRow{}
	for _, row := range table(t, r.Stdout, statsColumns) {
		rows[row["NAME"]] = row
	}
	return rows
}

// percentOf reads a percentage column ("12.34%").
func percentOf(t *testing.T, row psRow, column string) float64 {
	t.Helper()
	text, ok := strings.CutSuffix(row[column], "%")
	require.True(t, ok, "%s: %q ends with %%", column, row[column])
	n, err := strconv.ParseFloat(text, 64)
	require.NoError(t, err, "%s: %q", column, row[column])
	return n
}

// sizesOf reads a column of two sizes ("1.5MiB / 128MiB", "0B / 0B").
func sizesOf(t *testing.T, row psRow, column string) (float64, float64) {
	t.Helper()
	first, second, ok := strings.Cut(row[column], " / ")
	require.True(t, ok, "%s: %q is two sizes", column, row[column])
	return sizeOf(t, first), sizeOf(t, second)
}

var sizeText = regexp.MustCompile(`^([0-9.]+(?:e\+\d+)?)(B|kB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)

// sizeOf reads a size as Docker writes it: "0B", "1.02kB", "7.667GiB".
func sizeOf(t *testing.T, text string) float64 {
	t.Helper()
	m := sizeText.FindStringSubmatch(text)
	require.NotNil(t, m, "%q is a size as Docker writes one", text)
	n, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	unit := map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
	return n * unit[m[2]]
}

// statsCPU: a shell spinning uses about one CPU (100%, Docker's scale),
// never more (it is one thread); a sleeping container next to it, about
// nothing.
func (s *commandsSuite) statsCPU(t *testing.T) {
	s.enter(t)
	// --network none: a loopback alone, whose bytes Docker does not
	// count (on the bridge, the kernel's own IPv6 chatter counts).
	s.detach(t, "--name", "idle", "--network", "none", "busybox", "sleep", "1000")
	s.detach(t, "--name", "hog", "--network", "none", "busybox", "sh", "-c", "while :; do :; done")
	// A sample until the hog gets its CPU: a machine busy with other
	// tests may give it less than a third of one for a while.
	var rows map[string]psRow
	var hog, idle float64
	eventually(30*time.Second, func() bool {
		rows = statsTable(t, "idle", "hog")
		require.Len(t, rows, 2, "a row per container named")
		hog, idle = percentOf(t, rows["hog"], "CPU %"), percentOf(t, rows["idle"], "CPU %")
		return hog > 30
	})
	assert.Greater(t, hog, 30.0, "a spinning shell uses a good part of a CPU, even on a busy machine")
	assert.LessOrEqual(t, hog, 110.0, "one thread uses at most one CPU: 100%, give or take how far apart the readings were")
	assert.Less(t, idle, 5.0, "a sleeping container uses next to nothing")
	assert.Greater(t, hog, idle+25, "the hog uses far more than the idle container beside it")
	for _, name := range []string{"idle", "hog"} {
		assert.Equal(t, "1", rows[name]["PIDS"], "%s: one process", name)
		assert.Equal(t, "0B / 0B", rows[name]["NET I/O"], "%s: no network but lo, which Docker does not count", name)
	}
}

// statsMemory: a shell holding 40 MiB in a variable uses at least 30 MiB
// more than an idle container with the same limit, which -m gives; a
// container without a limit has the host's memory as its limit.
func (s *commandsSuite) statsMemory(t *testing.T) {
	s.enter(t)
	const allocated = 40 << 20
	s.detach(t, "--name", "small", "-m", "256m", "busybox", "sleep", "1000")
	// A loop to end with: busybox's sh would exec a last command in
	// its place, and the variable would go with it.
	script := "x=$(yes 0123456789abcdef | head -c " + strconv.Itoa(allocated) + "); echo ready ${#x}; while :; do sleep 1000; done"
	s.detach(t, "--name", "big", "-m", "256m", "busybox", "sh", "-c", script)
	s.detach(t, "--name", "free", "busybox", "sleep", "1000")
	ready := "ready " + strconv.Itoa(allocated)
	require.True(t, eventually(60*time.Second, func() bool { return strings.Contains(Run(t, "logs", "big").Stdout, ready) }),
		"the shell holds %d bytes in a variable: %s", allocated, Run(t, "logs", "big"))

	rows := statsTable(t, "small", "big", "free")
	smallUsage, smallLimit := sizesOf(t, rows["small"], "MEM USAGE / LIMIT")
	bigUsage, bigLimit := sizesOf(t, rows["big"], "MEM USAGE / LIMIT")
	assert.Equal(t, float64(256<<20), smallLimit, "the limit is -m's")
	assert.Equal(t, float64(256<<20), bigLimit, "the limit is -m's")
	assert.GreaterOrEqual(t, bigUsage-smallUsage, float64(allocated)*3/4, "the shell's 40 MiB show in its usage: %s against %s",
		rows["big"]["MEM USAGE / LIMIT"], rows["small"]["MEM USAGE / LIMIT"])
	assert.InDelta(t, bigUsage/bigLimit*100, percentOf(t, rows["big"], "MEM %"), 0.1, "MEM %% is usage over limit")

	_, freeLimit := sizesOf(t, rows["free"], "MEM USAGE / LIMIT")
	assert.InEpsilon(t, hostMemTotal(t), freeLimit, 0.001, "without -m, the limit is the host's memory (MemTotal)")
}

// hostMemTotal is the host's memory, in bytes.
func hostMemTotal(t *testing.T) float64 {
	data, err := os.ReadFile("/proc/meminfo")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^MemTotal:\s+(\d+) kB$`).FindSubmatch(data)
	require.NotNil(t, m)
	kb, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return kb * 1024
}

// statsPids: a shell and the two sleeps it started are three tasks, as
// the host lists them in the container's cgroup.
func (s *commandsSuite) statsPids(t *testing.T) {
	s.enter(t)
	id := s.detach(t, "--name", "three", "busybox", "sh", "-c", "sleep 1000 & sleep 1000 & wait")
	var procs []string
	require.True(t, eventually(30*time.Second, func() bool {
		procs = processesInCgroup(t, id)
		return len(procs) == 3
	}), "the shell and its two sleeps are in the container's cgroup: %v", procs)
	row := statsTable(t, "three")["three"]
	assert.Equal(t, "3", row["PIDS"], "PIDS counts the container's tasks")
}

// processesInCgroup lists the processes in the container's cgroup, as
// the host sees them (in one folder: on v1, each hierarchy lists them).
func processesInCgroup(t *testing.T, id string) []string {
	dirs := containerCgroupDirs(t, id)
	require.NotEmpty(t, dirs, "the container's cgroup")
	data, err := os.ReadFile(filepath.Join(dirs[0], "cgroup.procs"))
	require.NoError(t, err)
	return strings.Fields(string(data))
}

// statsStopped: with no container named, stats shows the running ones,
// -a every one; a stopped container's figures are zeros, as Docker's.
func (s *commandsSuite) statsStopped(t *testing.T) {
	s.enter(t)
	s.detach(t, "--name", "up", "busybox", "sleep", "1000")
	require.Equal(t, 0, Run(t, "run", "--name", "down", "busybox", "true").Code)
	removeWhenDone(t, "down")
	running := statsTable(t)
	assert.Contains(t, running, "up", "stats lists the running containers")
	assert.NotContains(t, running, "down", "and those only")
	all := statsTable(t, "-a")
	require.Contains(t, all, "down", "stats -a lists the stopped ones too")
	named := statsTable(t, "down")
	for _, row := range []psRow{all["down"], named["down"]} {
		assert.Equal(t, []string{"0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"},
			[]string{row["CPU %"], row["MEM USAGE / LIMIT"], row["MEM %"], row["NET I/O"], row["BLOCK I/O"], row["PIDS"]},
			"a stopped container's figures are zeros")
	}
}

// statsStream: without --no-stream, stats draws a table each second. On
// a terminal, each is drawn over the last (the screen cleared once, the
// cursor sent home before each); elsewhere, one plain table after
// another, as Docker does.
func (s *commandsSuite) statsStream(t *testing.T) {
	s.enter(t)
	s.detach(t, "--name", "watched", "busybox", "sleep", "1000")
	master, term := openPty(t)
	cmd := Command(t, "stats", "watched")
	cmd.Stdout, cmd.Stderr = term, term
	onTerminal := startWithOutput(t, cmd)
	var screen lockedBuffer
	go func() { _, _ = io.Copy(&screen, master) }() // ends when the test closes master
	var out lockedBuffer
	cmd = Command(t, "stats", "watched")
	cmd.Stdout = &out
	plain := startWithOutput(t, cmd)
	require.True(t, eventually(30*time.Second, func() bool {
		return strings.Count(screen.String(), "\x1b[H") >= 3 && strings.Count(out.String(), "CONTAINER ID") >= 3
	}), "three tables drawn in a few seconds, on the terminal:\n%q\nand not:\n%s", screen.String(), out.String())
	for _, running := range []*Running{onTerminal, plain} {
		require.NoError(t, running.Cmd.Process.Signal(syscall.SIGINT), "Ctrl-C ends it")
		waitBounded(t, running, 10*time.Second)
	}
	drawn := screen.String()
	assert.Equal(t, 1, strings.Count(drawn, "\x1b[2J"), "the screen is cleared once:\n%q", drawn)
	assert.GreaterOrEqual(t, strings.Count(drawn, "CONTAINER ID"), 3, "each table has its header:\n%q", drawn)
	assert.NotContains(t, out.String(), "\x1b", "no escape sequences when the output is not a terminal")
	assert.Equal(t, strings.Count(out.String(), "CONTAINER ID"), strings.Count(out.String(), "watched"),
		"one table after another, each with the container's row:\n%s", out.String())
}
