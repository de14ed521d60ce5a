package procfs

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"golang.org/x/sys/unix"
)

// View answers /proc's files and sysinfo(2) for one container, from its
// cgroup's files and the host's /proc. Every answer is read anew: the
// figures are live.
type View struct {
	cg      *cgroups.Cgroup
	host    string        // the host's /proc
	started time.Duration // CLOCK_BOOTTIME when the container started
	load    loadAverage
	stop    chan struct{}
	once    sync.Once
}

// NewView is the view of cg's container, which starts now. It samples
// the container's runnable tasks every 5 seconds for /proc/loadavg, as
// the kernel does for the machine's, until Close.
func NewView(cg *cgroups.Cgroup) *View {
	v := &View{cg: cg, host: "/proc", started: bootTime(), stop: make(chan struct{})}
	go v.sampleLoad()
	return v
}

// Close stops the sampling.
func (v *View) Close() { v.once.Do(func() { close(v.stop) }) }

// bootTime is the time since the machine booted, suspends included
// (CLOCK_BOOTTIME, /proc/uptime's clock).
func bootTime() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return time.Duration(ts.Nano())
}

// uptime is how long the container has run.
func (v *View) uptime() time.Duration { return bootTime() - v.started }

// loadAverage is the kernel's load average (kernel/sched/loadavg.c), for
// the container's tasks: each 5 seconds, each figure moves towards the
// count of runnable tasks by a share that makes it an average over 1, 5
// and 15 minutes.
type loadAverage struct {
	mu    sync.Mutex
	loads [3]float64
}

var loadDecay = [3]float64{math.Exp(-5.0 / 60), math.Exp(-5.0 / 300), math.Exp(-5.0 / 900)}

func (v *View) sampleLoad() {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-tick.C:
			running, _, _ := v.tasks()
			v.load.mu.Lock()
			for i, d := range loadDecay {
				v.load.loads[i] = v.load.loads[i]*d + float64(running)*(1-d)
			}
			v.load.mu.Unlock()
		}
	}
}

func (v *View) loads() [3]float64 {
	v.load.mu.Lock()
	defer v.load.mu.Unlock()
	return v.load.loads
}

// tasks counts the container's threads that are runnable (R) or in an
// uninterruptible sleep (D), as the kernel's load average counts them,
// and all of them; last is the newest one's pid inside the container.
func (v *View) tasks() (running, all, last int) {
	for _, tid := range v.threads() {
		stat, err := os.ReadFile(filepath.Join(v.host, tid, "stat"))
		if err != nil {
			continue // it ended
		}
		all++
		// "PID (COMM) STATE …": COMM may hold spaces and parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) {
			if s := stat[i+2]; s == 'R' || s == 'D' {
				running++
			}
		}
		last = max(last, innerPid(filepath.Join(v.host, tid, "status")))
	}
	return running, all, last
}

// taskCount is the container's tasks (processes and threads), as the
// pids controller counts them: one file, not a walk of /proc.
func (v *View) taskCount() int {
	n, _ := readNumber(v.cg.Dir("pids"), "pids.current")
	return int(n)
}

// threads lists the container's threads by their host ids: v1's tasks
// file, v2's cgroup.threads.
func (v *View) threads() []string {
	dir := v.cg.Dir("pids")
	if dir == "" {
		dir = v.cg.Dir("memory")
	}
	file := filepath.Join(dir, "tasks")
	if v.cg.V2() {
		file = filepath.Join(dir, "cgroup.threads")
	}
	data, _ := os.ReadFile(file)
	return strings.Fields(string(data))
}

// innerPid is a task's pid in its own (innermost) pid namespace: the last
// of the NSpid line of its status file.
func innerPid(status string) int {
	data, _ := os.ReadFile(status)
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[len(f)-1])
				return n
			}
		}
	}
	return 0
}

// readValue is a cgroup file's one value, trimmed; "" when missing.
func readValue(dir, file string) string {
	if dir == "" {
		return ""
	}
	return strings.TrimSpace(readKernelFile(filepath.Join(dir, file)))
}

// readKernelFile reads a file the kernel writes as it is read (/proc,
// cgroup files): open, read, close, and no more. The kernel's seq_file
// fills a read's buffer as far as its text goes, so a read that comes
// back short is the end: os.ReadFile's fstat and last read at the end
// would be two system calls more, on every answer (issue 21's budget is
// 50 µs a read). "" when it cannot be read.
func readKernelFile(path string) string {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	buf := make([]byte, 16<<10)
	n := 0
	for {
		m, err := unix.Read(fd, buf[n:])
		if err != nil || m <= 0 {
			break
		}
		n += m
		if n < len(buf) {
			break // short: the end
		}
		buf = append(buf, make([]byte, len(buf))...)
	}
	return string(buf[:n])
}

// readNumber is a cgroup file's number; ok is false when the file is
// missing or says "max" (no limit).
func readNumber(dir, file string) (uint64, bool) {
	n, err := strconv.ParseUint(readValue(dir, file), 10, 64)
	return n, err == nil
}

// readKeyed reads "key number" lines (memory.stat, cpu.stat).
func readKeyed(dir, file string) map[string]uint64 {
	m := map[string]uint64{}
	for _, line := range strings.Split(readValue(dir, file), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				m[f[0]] = n
			}
		}
	}
	return m
}

// hostFile is one of the host's /proc files, or "" if unreadable.
func (v *View) hostFile(name string) string {
	return readKernelFile(filepath.Join(v.host, name))
}
