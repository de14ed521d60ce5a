package testkit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// RuncPackage is boxcraft-runc's package, built when neither
// $BOXCRAFT_RUNC_BIN nor a boxcraft-runc beside $BOXCRAFT_BIN is given.
const RuncPackage = "github.com/boxcraft/boxcraft/final/cmd/boxcraft-runc"

var runcBinary once

// RuncBinary is boxcraft-runc under test: $BOXCRAFT_RUNC_BIN, else the
// boxcraft-runc beside $BOXCRAFT_BIN (make bins builds both into
// _build/bin), else built from RuncPackage; with boxcraft's helpers
// beside it, as for boxcraft (its exec needs boxcraft-exec-init).
func RuncBinary(t testing.TB) string {
	t.Helper()
	if os.Getenv("BOXCRAFT_RUNC_BIN") == "" && os.Getenv("BOXCRAFT_BIN") != "" {
		beside := filepath.Join(filepath.Dir(os.Getenv("BOXCRAFT_BIN")), "boxcraft-runc")
		if _, err := os.Stat(beside); err == nil {
			t.Setenv("BOXCRAFT_RUNC_BIN", beside)
		}
	}
	bin := givenOrBuilt(t, &runcBinary, "BOXCRAFT_RUNC_BIN", "boxcraft-runc", RuncPackage)
	runcHelpers.get(t, func() (string, error) { return "", putHelpers(bin, os.Getenv("BOXCRAFT_RUNC_BIN")) })
	return bin
}

// ociSuite runs boxcraft-runc on bundles of the test's own, with a
// --root of the test's own and cgroups below the test's cgroup parent.
type ociSuite struct {
	root string // boxcraft-runc's --root
}

// OCILifecycle is the suite of boxcraft-runc driven directly, as an
// engine drives runc: create leaves init waiting until start, state
// says so in the spec's words, kill, delete, run's exit status, exec,
// ps, pause and resume on the freezer, the pty over --console-socket,
// the cgroup mount without a cgroup namespace, the refusal of a config
// field it does not implement, in one line naming it, leaving nothing
// behind; and a binary that links none of boxcraft's image store,
// bridge or /proc views.
func OCILifecycle(t *testing.T) {
	RequireRoot(t)
	s := &ociSuite{root: filepath.Join(t.TempDir(), "runc-root")}
	t.Run("CreateWaitsUntilStart", s.createWaitsUntilStart)
	t.Run("RunExitStatus", s.runExitStatus)
	t.Run("ExecPsPauseResume", s.execPsPauseResume)
	t.Run("DeleteRunningRefused", s.deleteRunningRefused)
	t.Run("RecordLostInACrash", s.recordLostInACrash)
	t.Run("ConsoleSocket", s.consoleSocket)
	t.Run("Refusals", s.refusals)
	t.Run("Hooks", s.hooks)
	t.Run("HookFailure", s.hookFailure)
	t.Run("KernelFields", s.kernelFields)
	t.Run("JoinByPath", s.joinByPath)
	t.Run("UpdateAndEvents", s.updateAndEvents)
	t.Run("CgroupMount", s.cgroupMount)
	t.Run("LinksWhatOCINeeds", s.linksWhatOCINeeds)
}

// runc runs boxcraft-runc with the suite's --root.
func (s *ociSuite) runc(t *testing.T, args ...string) Result {
	t.Helper()
	return RunCmd(t, HostCommand(t, RuncBinary(t), append([]string{"--root", s.root}, args...)...))
}

// bundle writes a bundle whose config is `boxcraft-runc spec`'s, changed
// by edit, with the test image as its root, its cgroup below the test's
// parent, and cmd as its process. It returns the bundle and the
// cgroup's folders.
func (s *ociSuite) bundle(t *testing.T, name string, edit func(config map[string]any), cmd ...string) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Rename(Rootfs(t), filepath.Join(dir, "rootfs")))
	r := RunCmd(t, HostCommand(t, RuncBinary(t), "spec", "--bundle", dir))
	require.Equal(t, 0, r.Code, "boxcraft-runc spec: %s", r)
	var config map[string]any
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &config))
	parent, parentDirs := CgroupParent(t)
	config["linux"].(map[string]any)["cgroupsPath"] = "/" + parent + "/" + name
	process := config["process"].(map[string]any)
	process["args"], process["terminal"] = cmd, false
	config["root"].(map[string]any)["readonly"] = false
	if edit != nil {
		edit(config)
	}
	data, err = json.Marshal(config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644))
	cgroups := map[string]string{}
	for hierarchy, d := range parentDirs {
		cgroups[hierarchy] = filepath.Join(d, name)
	}
	return dir, cgroups
}

// ociState is `state`'s JSON.
type ociState struct {
	ID, Status, Bundle string
	Pid                int
}

func (s *ociSuite) state(t *testing.T, id string) ociState {
	t.Helper()
	r := s.runc(t, "state", id)
	require.Equal(t, 0, r.Code, "state %s: %s", id, r)
	var st ociState
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &st), r.Stdout)
	return st
}

// createWaitsUntilStart: after create, init runs (the state's pid, in
// the container's cgroup) but its command has not: the file it would
// write is missing until start. Then kill stops it and delete removes it
// and its cgroup.
func (s *ociSuite) createWaitsUntilStart(t *testing.T) {
	bundle, cgroups := s.bundle(t, "c1", nil, "sh", "-c", "echo started >/started; exec sleep 1000")
	r := s.runc(t, "create", "--bundle", bundle, "--pid-file", filepath.Join(bundle, "pid"), "c1")
	require.Equal(t, 0, r.Code, "create: %s", r)
	t.Cleanup(func() { s.runc(t, "delete", "--force", "c1") })
	st := s.state(t, "c1")
	assert.Equal(t, ociState{ID: "c1", Status: "created", Bundle: bundle, Pid: st.Pid}, st)
	pidFile, err := os.ReadFile(filepath.Join(bundle, "pid"))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(st.Pid), string(pidFile), "--pid-file holds init's pid")
	assert.Contains(t, ociCgroupProcs(t, cgroups), st.Pid, "init waits in the container's cgroup")
	time.Sleep(200 * time.Millisecond)
	assert.NoFileExists(t, filepath.Join(bundle, "rootfs", "started"), "the command does not run before start")

	require.Equal(t, 0, s.runc(t, "start", "c1").Code)
	require.True(t, eventually(10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(bundle, "rootfs", "started"))
		return err == nil
	}), "the command runs once started")
	assert.Equal(t, "running", s.state(t, "c1").Status)
	assert.Equal(t, 1, s.runc(t, "start", "c1").Code, "a second start is refused")

	require.Equal(t, 0, s.runc(t, "kill", "c1", "KILL").Code)
	require.True(t, eventually(10*time.Second, func() bool { return s.state(t, "c1").Status == "stopped" }), "killed, it is stopped")
	require.Equal(t, 0, s.runc(t, "delete", "c1").Code)
	r = s.runc(t, "state", "c1")
	assert.Equal(t, 1, r.Code, "a deleted container has no state")
	assert.Contains(t, r.Stderr, "does not exist")
	for _, dir := range cgroups {
		assert.NoDirExists(t, dir, "delete removes the container's cgroup")
	}
}

// ociCgroupProcs are the pids in the container's cgroup (any hierarchy).
func ociCgroupProcs(t *testing.T, cgroups map[string]string) []int {
	t.Helper()
	for _, dir := range cgroups {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		require.NoError(t, err)
		var pids []int
		for _, f := range strings.Fields(string(data)) {
			pid, _ := strconv.Atoi(f)
			pids = append(pids, pid)
		}
		return pids
	}
	return nil
}

// runExitStatus: run waits for the command and exits with its status,
// leaving neither the container nor its cgroup.
func (s *ociSuite) runExitStatus(t *testing.T) {
	bundle, cgroups := s.bundle(t, "c2", nil, "sh", "-c", "echo out; echo err >&2; exit 7")
	r := s.runc(t, "run", "--bundle", bundle, "c2")
	assert.Equal(t, Result{Stdout: "out\n", Stderr: "err\n", Code: 7}, r)
	assert.Equal(t, "", s.runc(t, "list", "-q").Stdout, "run deletes the container it ran")
	for _, dir := range cgroups {
		assert.NoDirExists(t, dir)
	}
}

// execPsPauseResume: exec runs in the container (its hostname, its
// cgroup); ps lists init; pause freezes the cgroup (the freezer says so,
// state says paused) and resume thaws it.
func (s *ociSuite) execPsPauseResume(t *testing.T) {
	bundle, cgroups := s.bundle(t, "c3", nil, "sleep", "1000")
	require.Equal(t, 0, s.runc(t, "run", "--detach", "--bundle", bundle, "c3").Code)
	t.Cleanup(func() { s.runc(t, "delete", "--force", "c3") })
	pid := s.state(t, "c3").Pid

	r := s.runc(t, "exec", "c3", "sh", "-c", "hostname; cat /proc/self/cgroup; exit 3")
	assert.Equal(t, 3, r.Code, "exec exits with the command's status: %s", r)
	assert.True(t, strings.HasPrefix(r.Stdout, "boxcraft\n"), "exec runs in the container's uts namespace: %q", r.Stdout)
	assert.Contains(t, r.Stdout, "/c3\n", "exec runs in the container's cgroup")

	r = s.runc(t, "ps", "--format", "json", "c3")
	require.Equal(t, 0, r.Code, "ps: %s", r)
	var pids []int
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &pids))
	assert.Equal(t, []int{pid}, pids, "ps lists the container's processes: init alone now")

	require.Equal(t, 0, s.runc(t, "pause", "c3").Code)
	assert.Equal(t, "paused", s.state(t, "c3").Status)
	assert.True(t, frozen(t, cgroups), "pause freezes the container's cgroup")
	require.Equal(t, 0, s.runc(t, "resume", "c3").Code)
	assert.Equal(t, "running", s.state(t, "c3").Status)
	assert.False(t, frozen(t, cgroups), "resume thaws it")
}

// frozen reads the freezer: v1's freezer.state, v2's cgroup.events.
func frozen(t *testing.T, cgroups map[string]string) bool {
	t.Helper()
	if dir, ok := cgroups["freezer"]; ok {
		data, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
		require.NoError(t, err)
		return strings.TrimSpace(string(data)) == "FROZEN"
	}
	data, err := os.ReadFile(filepath.Join(cgroups[""], "cgroup.events"))
	require.NoError(t, err)
	return strings.Contains(string(data), "frozen 1")
}

// deleteRunningRefused: delete of a running container is refused
// without --force, and --force kills and removes it.
func (s *ociSuite) deleteRunningRefused(t *testing.T) {
	bundle, cgroups := s.bundle(t, "c4", nil, "sleep", "1000")
	require.Equal(t, 0, s.runc(t, "run", "--detach", "--bundle", bundle, "c4").Code)
	pid := s.state(t, "c4").Pid
	r := s.runc(t, "delete", "c4")
	assert.Equal(t, 1, r.Code)
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
	assert.Equal(t, "running", s.state(t, "c4").Status)
	require.Equal(t, 0, s.runc(t, "delete", "--force", "c4").Code)
	assert.True(t, eventually(10*time.Second, func() bool { return ended(pid) }), "delete --force killed init")
	for _, dir := range cgroups {
		assert.NoDirExists(t, dir)
	}
}

// recordLostInACrash: a container's record is not synced (runc syncs
// none), so a crash of the machine may leave it empty, its processes and
// cgroup gone with the reboot. state then says so in one line, and
// delete, which the engine runs for each of its containers after a
// reboot, removes it.
func (s *ociSuite) recordLostInACrash(t *testing.T) {
	bundle, cgroups := s.bundle(t, "lost", nil, "sleep", "1000")
	r := s.runc(t, "create", "--bundle", bundle, "lost")
	require.Equal(t, 0, r.Code, "create: %s", r)
	t.Cleanup(func() { s.runc(t, "delete", "--force", "lost") })
	pid := s.state(t, "lost").Pid
	record := s.recordOf(t, "lost")
	// The crash and the reboot: init and its cgroup go, the record is
	// left empty.
	require.NoError(t, unix.Kill(pid, unix.SIGKILL))
	require.True(t, eventually(10*time.Second, func() bool { return ended(pid) }), "init ended")
	for _, dir := range cgroups {
		require.True(t, eventually(10*time.Second, func() bool {
			err := unix.Rmdir(dir)
			return err == nil || os.IsNotExist(err)
		}), "cgroup %s removed", dir)
	}
	require.NoError(t, os.Truncate(record, 0))
	r = s.runc(t, "state", "lost")
	assert.Equal(t, 1, r.Code, "state of a container whose record is lost: %s", r)
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
	assert.Contains(t, r.Stderr, "unreadable", "state says why")
	r = s.runc(t, "delete", "lost")
	require.Equal(t, 0, r.Code, "delete of a container whose record is lost: %s", r)
	assert.NoDirExists(t, filepath.Dir(record), "its folder went")
	assert.NoDirExists(t, filepath.Join(s.root, "run", "containers", filepath.Base(filepath.Dir(record))), "its run folder went")
	r = s.runc(t, "state", "lost")
	assert.Contains(t, r.Stderr, "does not exist")
	// The engine may make a container of the same id again.
	r = s.runc(t, "create", "--bundle", bundle, "lost")
	require.Equal(t, 0, r.Code, "create again: %s", r)
	assert.Equal(t, "created", s.state(t, "lost").Status)
	require.Equal(t, 0, s.runc(t, "delete", "--force", "lost").Code)
}

// recordOf is the file in the suite's --root whose record names the
// container id: boxcraft-runc's own layout (LIB/containers/X/config.json).
func (s *ociSuite) recordOf(t *testing.T, id string) string {
	t.Helper()
	records, err := filepath.Glob(filepath.Join(s.root, "lib", "containers", "*", "config.json"))
	require.NoError(t, err)
	for _, record := range records {
		if data, err := os.ReadFile(record); err == nil && strings.Contains(string(data), `"name": "`+id+`"`) {
			return record
		}
	}
	t.Fatalf("no record in %s names %s", s.root, id)
	return ""
}

// ended says whether pid has ended: gone, or a zombie its parent (the
// test binary, a subreaper, or the host's init) has not reaped yet.
func ended(pid int) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// refusals: a field boxcraft does not implement is refused at create, in
// one line naming it, exit 1, and nothing is left: no container, no
// cgroup.
func (s *ociSuite) refusals(t *testing.T) {
	for _, c := range []struct {
		name, field string
		edit        func(c map[string]any)
	}{
		{"HostSysctl", "linux.sysctl.kernel.panic", func(c map[string]any) {
			c["linux"].(map[string]any)["sysctl"] = map[string]string{"kernel.panic": "1"}
		}},
		{"JoinUserByPath", "linux.namespaces[5].path", func(c map[string]any) {
			linux := c["linux"].(map[string]any)
			linux["namespaces"] = append(linux["namespaces"].([]any), map[string]any{"type": "user", "path": "/proc/1/ns/user"})
		}},
		{"CgroupOutsideWorkshop", "linux.cgroupsPath", func(c map[string]any) {
			c["linux"].(map[string]any)["cgroupsPath"] = "/elsewhere/c6"
		}},
		{"NoProc", "mounts", func(c map[string]any) {
			c["mounts"] = c["mounts"].([]any)[1:]
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			bundle, cgroups := s.bundle(t, "c6", c.edit, "true")
			r := s.runc(t, "create", "--bundle", bundle, "c6")
			assert.Equal(t, 1, r.Code)
			assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
			assert.Contains(t, r.Stderr, "config.json: "+c.field+":", "the refusal names the field")
			assert.Equal(t, "", s.runc(t, "list", "-q").Stdout, "no container is left")
			for _, dir := range cgroups {
				assert.NoDirExists(t, dir, "no cgroup is left")
			}
		})
	}
}
