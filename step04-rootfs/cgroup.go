// This file is step03's new idea: cgroups, the kernel's limits on what a
// group of processes may use. A cgroup is a folder in a special
// filesystem; its files hold the limits. To limit a container: make a
// folder for it, write the limits into its files, and put the container's
// first process in it. Its children are born in it too.
//
// cgroup v1 mounts a tree of folders per controller (cpu, memory, pids, …)
// at /sys/fs/cgroup/CONTROLLER, and a container gets a folder in each; v2
// mounts one tree for all at /sys/fs/cgroup, and a container gets one
// folder. v1Limits and v2Limits write the same limits in each one's files.
package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// The cgroup filesystem, and the workshop's own cgroup: the workshop
// never makes, writes or removes a cgroup anywhere else.
const (
	cgroupRoot     = "/sys/fs/cgroup"
	workshopCgroup = "boxcraft"
)

// cgroupParent is the folder below which every container's cgroup goes:
// the workshop's own, or a cgroup below it that $BOXCRAFT_CGROUP_PARENT
// names. The tests give each test one of its own, so that a test sees
// only its own containers' cgroups (docs/contract.md).
var cgroupParent = cmp.Or(os.Getenv("BOXCRAFT_CGROUP_PARENT"), workshopCgroup)

// checkCgroupParent refuses a $BOXCRAFT_CGROUP_PARENT outside the
// workshop's cgroup.
func checkCgroupParent() error {
	if !filepath.IsLocal(cgroupParent) || !strings.HasPrefix(filepath.Clean(cgroupParent)+"/", workshopCgroup+"/") {
		return fmt.Errorf("BOXCRAFT_CGROUP_PARENT=%s: name a cgroup below %s", cgroupParent, workshopCgroup)
	}
	return nil
}

// v1Hierarchies are the v1 controllers a container gets a folder in.
// cpuacct limits nothing: it counts the CPU time the container used.
var v1Hierarchies = []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio"}

// v2Controllers are the controllers the workshop turns on for its cgroups
// on v2, where a controller works in a folder only when its parent has
// turned it on for its children.
var v2Controllers = []string{"cpu", "cpuset", "io", "memory", "pids"}

// swapFiles hold the swap limit, v1's and v2's: a kernel that does not
// count swap has neither, and then there is no swap to limit.
var swapFiles = []string{"memory.memsw.limit_in_bytes", "memory.swap.max"}

// Bounds that docker run keeps too, and the kernel's defaults. The
// kernel checks the rest of each value as it is written (writeLimits).
const (
	defaultCPUPeriod = 100000  // µs: the kernel's default CFS period
	minCPUPeriod     = 1000    // µs: the kernel refuses a shorter period or quota
	minMemory        = 6 << 20 // docker run's floor: less and the container cannot even start
	minPidsLimit     = 16      // see parseResources
)

// addLimitFlags adds the limit flags to run's, named and valued as docker
// run's, so that what a learner knows from Docker works here. (boxcraft
// has the rest of docker run's: --cpu-shares, --cpuset-mems,
// --memory-swap, --blkio-weight and the IOPS limits, final/cgroups.)
func addLimitFlags(flags *pflag.FlagSet) {
	flags.String("cpus", "", "how many CPUs' worth of time, e.g. 0.5 (--cpu-quota 50000 per --cpu-period 100000)")
	flags.Int64("cpu-period", 0, "the CPU period, in µs (1000 to 1000000; the kernel's default is 100000)")
	flags.Int64("cpu-quota", 0, "the CPU time allowed in each period, in µs (at least 1000)")
	flags.String("cpuset-cpus", "", "the CPUs it may run on, e.g. 0-2,4")
	flags.StringP("memory", "m", "", "the memory limit, e.g. 64m (suffix b, k, m or g); as much swap again")
	flags.Int64("pids-limit", 0, fmt.Sprintf("the most tasks (processes and threads) at once, at least %d; 0 or -1 for no limit", minPidsLimit))
	flags.StringArray("device-read-bps", nil, "DEVICE:RATE, reads from a block device per second, e.g. /dev/loop3:1mb")
	flags.StringArray("device-write-bps", nil, "DEVICE:RATE, writes to a block device per second")
}

// resources are the limits asked for, checked. Zero means not asked for.
type resources struct {
	cpuQuota, cpuPeriod int64 // µs
	cpusetCPUs          string
	memory              int64  // bytes
	pidsMax             string // a number, or max for no limit
	throttles           []throttle
}

// throttle is a rate limit on one block device, from --device-read-bps
// or --device-write-bps.
type throttle struct {
	op     string // read or write
	device string // MAJOR:MINOR
	rate   int64  // bytes per second
}

// parseResources reads and checks every limit flag, so that nothing is
// made when one of them is wrong. What only the kernel knows (a CPU
// period it takes, the CPUs the host has) it checks as the limits are
// written, and the cgroup is removed.
func parseResources(flags *pflag.FlagSet) (resources, error) {
	var r resources
	var err error
	r.cpuPeriod, _ = flags.GetInt64("cpu-period")
	r.cpuQuota, _ = flags.GetInt64("cpu-quota")
	r.cpusetCPUs, _ = flags.GetString("cpuset-cpus")
	if cpus, _ := flags.GetString("cpus"); flags.Changed("cpus") {
		if flags.Changed("cpu-period") || flags.Changed("cpu-quota") {
			return r, errors.New("--cpus sets --cpu-quota and --cpu-period: give one or the others")
		}
		r.cpuPeriod = defaultCPUPeriod
		if r.cpuQuota, err = cpusQuota(cpus); err != nil {
			return r, err
		}
	}
	if text, _ := flags.GetString("memory"); flags.Changed("memory") {
		r.memory, err = parseSize("--memory", text)
		if err == nil && r.memory < minMemory {
			err = fmt.Errorf("--memory %s: give at least %s", text, formatBytes(minMemory))
		}
		if err != nil {
			return r, err
		}
	}
	// pids.max counts threads too: init, a Go program, needs several until
	// it becomes CMD. As with docker run, 0 or less is no limit.
	switch n, _ := flags.GetInt64("pids-limit"); {
	case !flags.Changed("pids-limit"):
	case n <= 0:
		r.pidsMax = "max"
	case n < minPidsLimit:
		return r, fmt.Errorf("--pids-limit %d: give at least %d ("+program+"'s init, a Go program, runs several threads before it becomes CMD, and each counts), or -1 for no limit", n, minPidsLimit)
	default:
		r.pidsMax = strconv.FormatInt(n, 10)
	}
	for _, op := range []string{"read", "write"} {
		values, _ := flags.GetStringArray("device-" + op + "-bps")
		for _, value := range values {
			t, err := parseThrottle(op, value)
			if err != nil {
				return r, err
			}
			r.throttles = append(r.throttles, t)
		}
	}
	return r, nil
}

// cpusQuota turns --cpus into a quota per default period: 0.5 CPUs may
// run 50000 µs in every 100000.
func cpusQuota(text string) (int64, error) {
	cpus, err := strconv.ParseFloat(text, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("--cpus %q: give a number, e.g. 0.5", text)
	case !(cpus*defaultCPUPeriod >= minCPUPeriod): // NaN too
		return 0, fmt.Errorf("--cpus %s: give at least 0.01", text)
	case cpus > float64(runtime.NumCPU()):
		return 0, fmt.Errorf("--cpus %s: this machine has %d CPUs", text, runtime.NumCPU())
	}
	return int64(cpus*defaultCPUPeriod + 0.5), nil
}

// sizePattern is a size as docker run takes one: a number of bytes, or of
// k, m or g (1024, 1024², 1024³), with an optional b: 64m, 64mb, 512k.
var sizePattern = regexp.MustCompile(`^([0-9]+)([kKmMgG]?)[bB]?$`)

// parseSize reads a size such as 64m into bytes.
func parseSize(flag, text string) (int64, error) {
	m := sizePattern.FindStringSubmatch(text)
	if m == nil {
		return 0, fmt.Errorf("%s %q: give a size, e.g. 64m (b, k, m or g)", flag, text)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30}[strings.ToLower(m[2])]
	if err != nil || n == 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%s %q: give a size above zero and below 4 exbibytes", flag, text)
	}
	return n << shift, nil
}

// formatBytes writes a size as Docker does (docker stats, docker
// images): four significant digits and a binary unit, 64MiB, 1.5GiB.
func formatBytes(n int64) string {
	size, units := float64(n), []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for ; size >= 1024 && i < len(units)-1; i++ {
		size /= 1024
	}
	return strconv.FormatFloat(size, 'g', 4, 64) + units[i]
}

// parseThrottle reads DEVICE:RATE for --device-OP-bps. The device must be
// a block device: the kernel names it by its major and minor numbers,
// which stat(2) gives.
func parseThrottle(op, value string) (throttle, error) {
	flag := "--device-" + op + "-bps"
	device, rate, ok := strings.Cut(value, ":")
	if !ok || device == "" {
		return throttle{}, fmt.Errorf("%s %q: want DEVICE:RATE, e.g. /dev/loop3:1mb", flag, value)
	}
	var st unix.Stat_t
	if err := unix.Stat(device, &st); err != nil {
		return throttle{}, fmt.Errorf("%s %s: %w", flag, device, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return throttle{}, fmt.Errorf("%s %s: not a block device", flag, device)
	}
	n, err := parseSize(flag, rate)
	return throttle{op, fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)), n}, err
}

// limit is one value to write into one file of the container's cgroup.
type limit struct {
	flag        string // the flag it comes from, for the error when the kernel refuses it
	controller  string // the v1 hierarchy, or the v2 controller, the file belongs to
	file, value string
}

// limits are the files to write, in order.
type limits []limit

// add adds the value of one file, from flag, to the list.
func (ls *limits) add(flag, controller, file string, value any) {
	*ls = append(*ls, limit{flag, controller, file, fmt.Sprint(value)})
}

// v1Limits is each limit asked for, in the files of cgroup v1. The
// order matters where one file bounds another: the kernel refuses a
// memory+swap limit below the memory limit, so the memory limit comes
// first.
func v1Limits(r resources) (ls limits) {
	if r.cpuPeriod != 0 {
		ls.add("--cpu-period", "cpu", "cpu.cfs_period_us", r.cpuPeriod)
	}
	if r.cpuQuota != 0 {
		ls.add("--cpu-quota", "cpu", "cpu.cfs_quota_us", r.cpuQuota)
	}
	if r.cpusetCPUs != "" {
		ls.add("--cpuset-cpus", "cpuset", "cpuset.cpus", r.cpusetCPUs)
	}
	if r.memory != 0 {
		ls.add("--memory", "memory", "memory.limit_in_bytes", r.memory)
		// memsw is memory plus swap: as much swap again, as docker run's
		// default.
		ls.add("--memory", "memory", "memory.memsw.limit_in_bytes", 2*r.memory)
	}
	if r.pidsMax != "" {
		ls.add("--pids-limit", "pids", "pids.max", r.pidsMax)
	}
	for _, t := range r.throttles {
		// One file per direction; each line names a device.
		ls.add("--device-"+t.op+"-bps", "blkio", "blkio.throttle."+t.op+"_bps_device", t.device+" "+fmt.Sprint(t.rate))
	}
	return ls
}

// v2Limits is each limit asked for, in the files of cgroup v2.
func v2Limits(r resources) (ls limits) {
	if r.cpuQuota != 0 || r.cpuPeriod != 0 {
		// One file, "QUOTA PERIOD", where "max" is no quota.
		flag, quota := "--cpu-period", "max"
		if r.cpuQuota != 0 {
			flag, quota = "--cpu-quota", fmt.Sprint(r.cpuQuota)
		}
		ls.add(flag, "cpu", "cpu.max", quota+" "+fmt.Sprint(cmp.Or(r.cpuPeriod, defaultCPUPeriod)))
	}
	if r.cpusetCPUs != "" {
		ls.add("--cpuset-cpus", "cpuset", "cpuset.cpus", r.cpusetCPUs)
	}
	if r.memory != 0 {
		ls.add("--memory", "memory", "memory.max", r.memory)
		// swap.max counts swap alone: as much as memory.
		ls.add("--memory", "memory", "memory.swap.max", r.memory)
	}
	if r.pidsMax != "" {
		ls.add("--pids-limit", "pids", "pids.max", r.pidsMax)
	}
	for _, t := range r.throttles {
		// One file for every rate: "MAJ:MIN rbps=N" sets one and keeps
		// the device's others.
		ls.add("--device-"+t.op+"-bps", "io", "io.max", fmt.Sprintf("%s %sbps=%d", t.device, t.op[:1], t.rate))
	}
	return ls
}

// cgroup is a container's cgroup: a controller → the container's folder
// for it, one in each v1 hierarchy, or the one v2 folder for every
// controller.
type cgroup struct {
	v2   bool
	dirs map[string]string
}

// isCgroupV2 tells the versions apart by what is mounted on
// /sys/fs/cgroup: the v2 filesystem itself, or (v1) a tmpfs holding one
// mount per hierarchy. statfs(2) names a filesystem's type by a number.
func isCgroupV2() (bool, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &fs); err != nil {
		return false, fmt.Errorf("statfs %s: %w", cgroupRoot, err)
	}
	if fs.Type != unix.CGROUP2_SUPER_MAGIC && fs.Type != unix.TMPFS_MAGIC {
		return false, fmt.Errorf("%s holds neither cgroup v2 nor v1's hierarchies (filesystem type %#x)", cgroupRoot, fs.Type)
	}
	return fs.Type == unix.CGROUP2_SUPER_MAGIC, nil
}

// newCgroup makes the container's cgroup, named id, and writes the
// limits into it, once it has removed what earlier runs left. Whatever
// fails, it leaves nothing behind.
func newCgroup(id string, r resources) (*cgroup, error) {
	v2, err := isCgroupV2()
	if err == nil {
		err = checkCgroupParent()
	}
	if err != nil {
		return nil, err
	}
	removeLeftovers()
	cg := &cgroup{v2: v2, dirs: map[string]string{}}
	ls := v1Limits(r)
	if v2 {
		ls, err = v2Limits(r), cg.makeV2(id)
	} else {
		err = cg.makeV1(id)
	}
	if err == nil {
		err = cg.writeLimits(ls)
	}
	if err != nil {
		cg.remove()
		return nil, err
	}
	return cg, nil
}

// makeV2 makes boxcraft/ID in the v2 tree, and turns the controllers on
// for boxcraft's children (cgroup.subtree_control), without which a v2
// folder has no files for them. Only what the host's root cgroup hands
// down can be turned on: a limit whose controller it keeps back fails at
// its file (writeLimits). The runtime never changes the root cgroup.
func (cg *cgroup) makeV2(id string) error {
	dir, err := makeFolder(cgroupRoot, id)
	if err != nil {
		return err
	}
	for _, name := range v2Controllers {
		_ = writeCgroupFile(filepath.Dir(dir), "cgroup.subtree_control", "+"+name)
		cg.dirs[name] = dir
	}
	return nil
}

// makeV1 makes boxcraft/ID in each v1 hierarchy that is mounted. Some
// systems mount two controllers as one hierarchy (cpu,cpuacct, with
// cpu and cpuacct as links to it): one folder serves both.
func (cg *cgroup) makeV1(id string) error {
	made := map[string]string{} // a hierarchy's real path → the container's folder in it
	for _, name := range v1Hierarchies {
		hierarchy, err := filepath.EvalSymlinks(filepath.Join(cgroupRoot, name))
		if err == nil {
			_, err = os.Stat(filepath.Join(hierarchy, "cgroup.procs")) // a hierarchy, not an empty folder
		}
		if err != nil {
			continue // not mounted: a limit that needs it fails (writeLimits)
		}
		if made[hierarchy] == "" {
			if made[hierarchy], err = makeFolder(hierarchy, id); err != nil {
				return err
			}
		}
		cg.dirs[name] = made[hierarchy]
	}
	if dir, ok := cg.dirs["cpuset"]; ok {
		return inheritCpuset(dir)
	}
	return nil
}

// makeFolder makes the container's folder, PARENT/ID, in a hierarchy (v1)
// or the tree (v2), and the workshop's parent unless it is there.
func makeFolder(hierarchy, id string) (string, error) {
	parent := filepath.Join(hierarchy, cgroupParent)
	if err := unix.Mkdir(parent, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return "", fmt.Errorf("make the cgroup %s: %w", parent, err)
	}
	dir := filepath.Join(parent, id)
	if err := unix.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("make the cgroup %s: %w", dir, err)
	}
	return dir, nil
}

// inheritCpuset fills an empty cpuset.cpus and cpuset.mems, in the
// workshop's parent and then in the container's folder, from their
// parent's. A new v1 cpuset starts with none of either, and the kernel
// refuses to put a process in a cpuset that has no CPU or no memory.
func inheritCpuset(dir string) error {
	for _, dir := range []string{filepath.Dir(dir), dir} {
		for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
			own, err := os.ReadFile(filepath.Join(dir, file))
			if err == nil && strings.TrimSpace(string(own)) == "" {
				var parents []byte
				if parents, err = os.ReadFile(filepath.Join(filepath.Dir(dir), file)); err == nil {
					err = writeCgroupFile(dir, file, strings.TrimSpace(string(parents)))
				}
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// writeLimits writes each limit into its file: the kernel checks the
// value there and applies it at once.
func (cg *cgroup) writeLimits(ls limits) error {
	for _, l := range ls {
		err := os.ErrNotExist // no folder: v1's hierarchy is not mounted
		if dir, ok := cg.dirs[l.controller]; ok {
			err = writeCgroupFile(dir, l.file, l.value)
		}
		switch {
		case errors.Is(err, os.ErrNotExist) && slices.Contains(swapFiles, l.file):
			continue // the kernel does not count swap: nothing to limit
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("%s: the container's cgroup has no %s: is the %s controller there and handed down?", l.flag, l.file, l.controller)
		case err != nil:
			return fmt.Errorf("%s: the kernel refused %s in %s: %w", l.flag, l.value, l.file, err)
		}
	}
	return nil
}

// writeCgroupFile writes one value into one cgroup file, in one write(2):
// the kernel reads each write as a whole value. It returns the kernel's
// error number alone, for the caller to say what was refused.
func writeCgroupFile(dir, file, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, file), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(value)
	return errors.Unwrap(err) // the *PathError's errno, or nil
}

// folders lists the container's folders, each once: co-mounted
// hierarchies, and v2's controllers, share one.
func (cg *cgroup) folders() []string {
	var list []string
	for _, dir := range cg.dirs {
		if !slices.Contains(list, dir) {
			list = append(list, dir)
		}
	}
	return list
}

// openV2 opens the container's v2 folder, for clone(2) to start init
// straight in it (CLONE_INTO_CGROUP).
func (cg *cgroup) openV2() (*os.File, error) { return os.Open(cg.folders()[0]) }

// addV1 moves a process into the container's folder in each v1
// hierarchy: writing a pid to cgroup.procs moves the process, with all
// its threads.
func (cg *cgroup) addV1(pid int) error {
	for _, dir := range cg.folders() {
		if err := writeCgroupFile(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// oomKills is how many processes the kernel's OOM killer ended in the
// cgroup: "oom_kill N" in memory.events (v2) or memory.oom_control (v1).
func (cg *cgroup) oomKills() int {
	file := "memory.oom_control"
	if cg.v2 {
		file = "memory.events"
	}
	dir, ok := cg.dirs["memory"]
	if !ok {
		return 0 // no memory hierarchy: nothing counted
	}
	data, _ := os.ReadFile(filepath.Join(dir, file))
	for _, line := range strings.Split(string(data), "\n") {
		if count, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(count)
			return n
		}
	}
	return 0
}

// remove removes the container's folders. The kernel removes a cgroup
// only when no process is in it: a process CMD left in the background may
// still run (without a PID namespace nothing ends it), and the last ones
// may not be reaped yet. So remove kills what is left (only the
// container's processes are in its cgroup) and retries for a while.
func (cg *cgroup) remove() error {
	deadline := time.Now().Add(5 * time.Second)
	var failed []error
	for _, dir := range cg.folders() {
		for {
			err := unix.Rmdir(dir)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				failed = append(failed, fmt.Errorf("remove the cgroup %s: %w", dir, err))
				break
			}
			killProcessesIn(dir)
			time.Sleep(10 * time.Millisecond)
		}
	}
	return errors.Join(failed...)
}

// killProcessesIn sends SIGKILL to each process in a cgroup.
func killProcessesIn(dir string) {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, field := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// runName names what a run makes after the runtime's process that runs
// it, run-PID: its cgroup and, from step04 on, its state folder.
func runName(pid int) string { return "run-" + strconv.Itoa(pid) }

// removeLeftovers removes the cgroups of runs whose runtime was killed
// (SIGKILL cannot be caught) before it could. The kernel killed their
// containers with it (Pdeathsig), and the name run-PID says whose it was.
// A cgroup that still holds a process cannot be removed, and stays.
func removeLeftovers() {
	folders, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", cgroupParent, "run-*"))
	more, _ := filepath.Glob(filepath.Join(cgroupRoot, cgroupParent, "run-*"))
	for _, dir := range append(folders, more...) {
		if runnerIsGone(dir) {
			_ = unix.Rmdir(dir) // fails, harmlessly, while a process is in it
		}
	}
}

// runnerIsGone tells whether the runtime that a run-PID folder is named
// after is gone: no process has that pid, or this very one has it (pids
// are reused). Another name is none of the runtime's.
func runnerIsGone(dir string) bool {
	pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), "run-"))
	return err == nil && (pid == os.Getpid() || unix.Kill(pid, 0) == unix.ESRCH)
}
