package containerinit

import (
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// limitChildEnv makes the test binary, re-executed, the child of
// TestALimitBelowWhatGoMappedLetsInitReachExec: a limit on the address
// space cannot be raised again without CAP_SYS_RESOURCE.
const limitChildEnv = "BOXCRAFT_RLIMIT_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(limitChildEnv) {
	case "1":
		os.Exit(limitChild())
	case "refused":
		os.Exit(refusedLimitChild())
	}
	os.Exit(m.Run())
}

// garbage keeps the child's allocations on the heap.
var garbage []byte

// limitChild ends as init does under an OCI bundle's RLIMIT_AS of 1 GiB:
// a limit below what Go's runtime has mapped (here half of it), then the
// command, a shell that prints its limits. Its collector runs every few
// kilobytes (GOGC=1), and one is under way as it ends, as a busy init's
// may be: a collection, or a new span, after the limit dies with "fatal
// error: runtime: cannot allocate memory".
func limitChild() int {
	mapped, err := vmSize()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	debug.SetGCPercent(1)
	garbage = make([]byte, 1<<20) // past the goal: a collection starts
	c := &spec.Container{Process: spec.Process{
		Args:    []string{"sh", "-c", `grep -e "Max address space" -e "Max open files" /proc/self/limits`},
		Env:     []string{"PATH=/usr/bin:/bin"},
		Rlimits: []spec.Rlimit{{Type: "RLIMIT_AS", Soft: mapped / 2, Hard: mapped / 2}},
	}}
	fmt.Fprintln(os.Stderr, execCommand(c, nil))
	return 3
}

// vmSize is the process's address space in bytes: statm's first field,
// in pages.
func vmSize() (uint64, error) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	pages, err := strconv.ParseUint(strings.Fields(string(data))[0], 10, 64)
	return pages * uint64(os.Getpagesize()), err
}

// A limit on the address space below what Go's runtime has already
// mapped fails its every mmap(2): init, still Go until it executes the
// command, must set it with nothing of the runtime's after (a CI run's
// KernelFields lost its container to a collection there). The command
// gets the limit, and the soft limit on open files init inherited,
// which Go raised in init.
func TestALimitBelowWhatGoMappedLetsInitReachExec(t *testing.T) {
	// No memory profile, as init links none: the test binary's would
	// map a record for a sample.
	var files unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &files))
	soft := strconv.FormatUint(min(512, files.Max/2), 10) // below the hard limit, which Go raises it to
	cmd := exec.Command("sh", "-c", `ulimit -S -n "$1" && exec "$0" -test.run='^$'`, os.Args[0], soft)
	cmd.Env = append(os.Environ(), limitChildEnv+"=1", "GODEBUG=memprofilerate=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 2, "%s", out)
	open, as := strings.Fields(lines[0]), strings.Fields(lines[1]) // in /proc's order
	require.Len(t, as, 6, lines[1])
	assert.Equal(t, as[3], as[4], "RLIMIT_AS, soft and hard as set")
	assert.NotEqual(t, "unlimited", as[3], "RLIMIT_AS is set")
	require.Len(t, open, 6, lines[0])
	assert.Equal(t, soft, open[3], "RLIMIT_NOFILE's soft limit, as init inherited it")
}

// refusedLimitChild asks for a limit the kernel refuses (soft above
// hard: EINVAL), traced to stdout.
func refusedLimitChild() int {
	c := &spec.Container{Process: spec.Process{
		Args:    []string{"true"},
		Env:     []string{"PATH=/usr/bin:/bin"},
		Rlimits: []spec.Rlimit{{Type: "RLIMIT_AS", Soft: 2 << 30, Hard: 1 << 30}},
	}}
	err := execCommand(c, trace.New(os.Stdout, trace.ModeText, "init", time.Now()))
	fmt.Fprintln(os.Stderr, err)
	return 3
}

// A limit on memory is set as init's last calls, reported before they
// are made: when one fails, the trace says so again as its last line,
// with its errno, as a failed start's trace ends.
func TestARefusedMemoryLimitIsTheTracesLastLine(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), limitChildEnv+"=refused")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.Error(t, cmd.Run())
	assert.Equal(t, "setrlimit RLIMIT_AS: invalid argument\n", stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	assert.Contains(t, last, "set the rlimits RLIMIT_AS=2147483648:1073741824", stdout.String())
	assert.Contains(t, last, "EINVAL", stdout.String())
}
