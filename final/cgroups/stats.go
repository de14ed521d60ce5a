package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Stats is what a cgroup's processes use, read from its files: the
// figures docker stats shows, and what a view of /proc made for the
// container (its own meminfo, its own CPU time) needs. The kernel keeps
// each count for the cgroup as a whole, so that no process has to be
// visited.
type Stats struct {
	CPU         uint64 // nanoseconds of CPU time its processes used, since it was made
	MemoryUsage uint64 // bytes in use, less the page cache the kernel can drop at once (inactive files), as Docker counts it
	MemoryLimit uint64 // bytes it may use; 0 when there is no limit
	Pids        uint64 // its tasks: processes and their threads
	BlockRead   uint64 // bytes read from block devices
	BlockWrite  uint64 // bytes written to block devices
}

// noLimitV1 is where v1's limits stop being limits: with none, v1 shows
// the largest count of pages it can hold (9223372036854771712, less
// than 2⁶³ by a page), where v2 says "max". No machine has 4 EiB.
const noLimitV1 = 1 << 62

// Stats reads what the cgroup's processes use now. A file that is not
// there reads as zero: a v1 hierarchy that is not mounted, a v2
// controller not handed down, or a cgroup removed as its container ended.
func (c *Cgroup) Stats() (Stats, error) { return c.m.stats() }

// v1Stats reads the v1 files, each in its controller's hierarchy:
// cpuacct counts CPU time, memory the memory, pids the tasks, and blkio
// the bytes through the block layer (its throttling counts them whether
// or not a limit is set).
func v1Stats(dir func(controller string) string) (Stats, error) {
	var r statsReader
	s := Stats{
		CPU:         r.number(dir("cpuacct"), "cpuacct.usage"),
		MemoryUsage: r.number(dir("memory"), "memory.usage_in_bytes"),
		MemoryLimit: r.number(dir("memory"), "memory.limit_in_bytes"),
		Pids:        r.number(dir("pids"), "pids.current"),
	}
	if s.MemoryLimit >= noLimitV1 {
		s.MemoryLimit = 0
	}
	// total_ counts below the cgroup too (exec'd processes are in it, not
	// below, but that is the figure Docker takes).
	s.MemoryUsage = lessInactive(s.MemoryUsage, r.keyed(dir("memory"), "memory.stat")["total_inactive_file"])
	s.BlockRead, s.BlockWrite = r.pair(dir("blkio"), "blkio.throttle.io_service_bytes", parseBlkioBytes)
	return s, r.err
}

// v2Stats reads the v2 files, all in the one folder. cpu.stat's
// usage_usec is there even where the cpu controller is not turned on.
func v2Stats(dir string) (Stats, error) {
	var r statsReader
	s := Stats{
		CPU:         r.keyed(dir, "cpu.stat")["usage_usec"] * 1000,
		MemoryUsage: r.number(dir, "memory.current"),
		MemoryLimit: r.number(dir, "memory.max"),
		Pids:        r.number(dir, "pids.current"),
	}
	s.MemoryUsage = lessInactive(s.MemoryUsage, r.keyed(dir, "memory.stat")["inactive_file"])
	s.BlockRead, s.BlockWrite = r.pair(dir, "io.stat", parseIOStat)
	return s, r.err
}

func (m *v1Manager) stats() (Stats, error) { return v1Stats(m.dir) }

func (m *v2Manager) stats() (Stats, error) { return v2Stats(m.folder) }

// lessInactive takes away the inactive file cache, as Docker does: pages
// of files read a while ago, which the kernel drops before it would kill
// anything. What is left is what the container cannot give back.
func lessInactive(usage, inactive uint64) uint64 {
	if inactive > usage {
		return usage
	}
	return usage - inactive
}

// statsReader reads cgroup files and keeps the first error; a missing
// folder ("") or file reads as nothing.
type statsReader struct {
	err error
}

// read is a file's text, or "" when it is not there.
func (r *statsReader) read(dir, file string) string {
	if dir == "" || r.err != nil {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	// ENODEV: the cgroup went while the file was open.
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENODEV) {
		r.err = fmt.Errorf("read %s/%s: %w", dir, file, err)
	}
	return string(data)
}

// number reads a file of one number ("max" is no limit: 0).
func (r *statsReader) number(dir, file string) uint64 {
	n, err := parseNumber(r.read(dir, file))
	r.fail(dir, file, err)
	return n
}

// keyed reads a file of "key number" lines (memory.stat, cpu.stat).
func (r *statsReader) keyed(dir, file string) map[string]uint64 {
	m, err := parseKeyed(r.read(dir, file))
	r.fail(dir, file, err)
	return m
}

// pair reads a file of reads and writes by device, with its parser.
func (r *statsReader) pair(dir, file string, parse func(string) (uint64, uint64, error)) (uint64, uint64) {
	read, written, err := parse(r.read(dir, file))
	r.fail(dir, file, err)
	return read, written
}

func (r *statsReader) fail(dir, file string, err error) {
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("read %s/%s: %w", dir, file, err)
	}
}

// parseNumber reads one number; "" (no file) and "max" (no limit) are 0.
func parseNumber(text string) (uint64, error) {
	text = strings.TrimSpace(text)
	if text == "" || text == "max" {
		return 0, nil
	}
	return strconv.ParseUint(text, 10, 64)
}

// parseKeyed reads "key number" lines, the format of memory.stat and
// cpu.stat on both versions.
func parseKeyed(text string) (map[string]uint64, error) {
	m := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %q: want a name and a number", line)
		}
		n, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		m[fields[0]] = n
	}
	return m, nil
}

// parseIOStat sums v2's io.stat over its devices, one line each:
// "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0".
func parseIOStat(text string) (read, written uint64, err error) {
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		fields := strings.Fields(line)
		for _, field := range fields[min(1, len(fields)):] {
			key, value, ok := strings.Cut(field, "=")
			if !ok {
				return 0, 0, fmt.Errorf("line %q: want key=number after the device", line)
			}
			n, err := strconv.ParseUint(value, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("line %q: %w", line, err)
			}
			switch key {
			case "rbytes":
				read += n
			case "wbytes":
				written += n
			}
		}
	}
	return read, written, nil
}

// parseBlkioBytes sums v1's blkio.throttle.io_service_bytes over its
// devices: "8:0 Read 4096" and "8:0 Write 0" lines (Sync, Async, Discard
// and Total lines too, and a last "Total N" line for all devices).
func parseBlkioBytes(text string) (read, written uint64, err error) {
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			continue // the empty file, or the last line: "Total N"
		}
		n, err := strconv.ParseUint(fields[2], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("line %q: %w", line, err)
		}
		switch fields[1] {
		case "Read":
			read += n
		case "Write":
			written += n
		}
	}
	return read, written, nil
}
