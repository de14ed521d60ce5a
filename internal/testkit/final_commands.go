package testkit

// Commands is the end-to-end suite of boxcraft (final/cmd/boxcraft), the
// complete runtime: every command, run as root on the real kernel, with
// the probe inside the containers and the kernel and the state folder
// looked at from the host. What it relies on is boxcraft's command line
// as Docker shapes it (the brief's cli.md): names, flags, output shapes
// and exit statuses (125 boxcraft's own failure, 126 CMD cannot run, 127
// CMD not found, else CMD's own); the state folder ($BOXCRAFT_STATE_DIR)
// where a container's folders are named by its ID and the store's layers
// by their diffID's hex; a container's cgroup named by its ID directly
// below $BOXCRAFT_CGROUP_PARENT.
//
// The images are loaded once, in the top test's sandbox, and the
// subtests share it (ShareSandbox): each removes the containers it made.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commandsSuite is what the subtests share: the top test, whose sandbox
// holds the loaded images, and those images.
type commandsSuite struct {
	top     *testing.T
	base    []byte     // the busybox layer, with the probe at /probe
	busybox namedImage // busybox:latest: the base layer, Docker's PATH, CMD /bin/sh
	config  namedImage // boxcraft/config:v1: Env, Entrypoint, Cmd and WorkingDir of its own
}

// configImage is boxcraft/config:v1's settings.
var configImage = imageSettings{
	Env:        []string{"PATH=/bin:/usr/bin:/opt/bin", "IMAGE_VAR=from-image", "OVERRIDE=image"},
	Entrypoint: []string{"/bin/echo", "entry"},
	Cmd:        []string{"default", "cmd"},
	WorkingDir: "/srv/work",
	Labels:     map[string]string{"org.example.from": "image", "app": "image"},
}

// Commands checks every command of boxcraft, end to end.
func Commands(t *testing.T) {
	RequireRoot(t)
	s := &commandsSuite{top: t, base: BaseLayer(t)}
	s.busybox = newNamedImage(t, "docker.io/library/busybox:latest", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, s.base)
	work := Tar(t, TarEntry{Name: "srv/", Type: '5'}, TarEntry{Name: "srv/work/", Type: '5'}, TarEntry{Name: "srv/work/here", Body: "here\n"})
	s.config = newNamedImage(t, "docker.io/boxcraft/config:v1", configImage, s.base, work)
	loaded(t, Run(t, "load", "-i", s.busybox.layout(t)), "Loaded image: busybox:latest")
	loaded(t, Run(t, "load", "-i", s.config.dockerSave(t, "boxcraft/config:v1")), "Loaded image: boxcraft/config:v1")

	t.Run("HelpAndVersion", s.helpAndVersion)
	t.Run("Load", s.load)
	t.Run("ImagesAndRmi", s.imagesAndRmi)
	t.Run("RunImageByNameAndIDPrefix", s.runByName)
	t.Run("ImageConfigHonoured", s.imageConfig)
	t.Run("RunFlags", s.runFlags)
	t.Run("ProcessFlags", s.processFlags)
	t.Run("CgroupFS", s.cgroupFS)
	t.Run("ExitStatuses", s.exitStatuses)
	t.Run("OOMKill", s.oomKill)
	t.Run("Detached", s.detached)
	t.Run("PsFilters", s.psFilters)
	t.Run("PsFormat", s.psFormat)
	t.Run("Logs", s.logs)
	t.Run("Stop", s.stop)
	t.Run("StartAndRestart", s.startAgain)
	t.Run("StartAttached", s.startAttached)
	t.Run("Create", s.created)
	t.Run("StartAgainEdges", s.startAgainEdges)
	t.Run("KillAndWait", s.killAndWait)
	t.Run("PauseAndTop", s.pauseAndTop)
	t.Run("RmAndPrune", s.rmAndPrune)
	t.Run("KilledFromTheHost", s.killedFromTheHost)
	t.Run("Terminal", s.terminal)
	t.Run("TerminalHangsUp", s.hangup)
	t.Run("PipedIntoATerminal", s.pipedIntoATerminal)
	t.Run("TerminalOfItsOwn", s.ownTerminal)
	t.Run("TerminalInAUserNamespace", s.terminalInAUserNamespace)
	t.Run("TerminalWithoutADevpts", s.terminalWithoutADevpts)
	t.Run("TerminalOverAConsole", s.terminalOverAConsole)
	t.Run("TwentyAtOnce", s.twentyAtOnce)
	t.Run("RunKilled", s.runKilled)
	t.Run("StartCutShortBetweenItsFolders", s.cutShortBetweenFolders)
	t.Run("MonitorKilled", s.monitorKilled)
	t.Run("RunIntoAClosedPipe", s.runIntoAClosedPipe)
}

// loaded checks load's output: the lines given, and nothing else.
func loaded(t *testing.T, r Result, lines ...string) {
	t.Helper()
	require.Equal(t, 0, r.Code, "load:\n%s", r)
	assert.Equal(t, strings.Join(lines, "\n")+"\n", r.Stdout, "load prints a line per name it gave the image, as docker load does")
}

// enter gives the subtest t the top test's sandbox, with its images.
func (s *commandsSuite) enter(t *testing.T) {
	t.Helper()
	ShareSandbox(t, s.top)
}

// detach runs `boxcraft run -d args…`, checks that it printed a new
// container's ID alone, and removes the container when the test ends.
func (s *commandsSuite) detach(t *testing.T, args ...string) string {
	t.Helper()
	r := Run(t, append([]string{"run", "-d"}, args...)...)
	require.Equal(t, 0, r.Code, "run -d %v:\n%s", args, r)
	id := strings.TrimSuffix(r.Stdout, "\n")
	require.Regexp(t, containerID, id, "run -d prints the container's ID (64 hex digits) and a newline, nothing else:\n%s", r)
	assert.Empty(t, r.Stderr, "run -d prints nothing on stderr")
	removeWhenDone(t, id)
	return id
}

// removeWhenDone removes container id (rm -f) when the test ends.
func removeWhenDone(t *testing.T, id string) {
	t.Helper()
	t.Cleanup(func() { Run(t, "rm", "-f", id) })
}

// waitFor runs `boxcraft wait` for one container and returns the exit
// status it printed.
func waitFor(t *testing.T, ref string) int {
	t.Helper()
	r := Run(t, "wait", ref)
	require.Equal(t, 0, r.Code, "wait %s:\n%s", ref, r)
	var code int
	_, err := fmt.Sscanf(r.Stdout, "%d\n", &code)
	require.NoError(t, err, "wait prints the container's exit status:\n%s", r)
	return code
}

// newContainerFiles runs do and returns the container files (see
// containerFiles) that it added below the state folder.
func newContainerFiles(t *testing.T, do func()) []string {
	t.Helper()
	before := containerFiles(t, "")
	do()
	var added []string
	for _, path := range containerFiles(t, "") {
		if !slices.Contains(before, path) {
			added = append(added, path)
		}
	}
	return added
}

// assertLeavesNothing runs a command that must fail, and checks that it
// left no container below the state folder, no cgroup below the test's
// parent and no mount.
func assertLeavesNothing(t *testing.T, what string, do func()) {
	t.Helper()
	var cgroupsBefore []string
	_, parents := CgroupParent(t)
	for _, dir := range parents {
		cgroupsBefore = append(cgroupsBefore, childCgroups(dir)...)
	}
	mountsBefore := len(stateMountPoints(t))
	added := newContainerFiles(t, do)
	assert.Empty(t, added, "%s leaves no container below the state folder", what)
	var cgroupsAfter []string
	for _, dir := range parents {
		cgroupsAfter = append(cgroupsAfter, childCgroups(dir)...)
	}
	assert.ElementsMatch(t, cgroupsBefore, cgroupsAfter, "%s leaves no cgroup", what)
	assert.Equal(t, mountsBefore, len(stateMountPoints(t)), "%s leaves no mount below the state folder", what)
	// run -d starts the container's monitor before it makes the
	// container: one whose container was not made ends at once.
	var stray []int
	assert.True(t, eventually(10*time.Second, func() bool { stray = strayMonitors(t); return len(stray) == 0 }),
		"%s leaves no monitor without a container: pids %v", what, stray)
}

// strayMonitors lists the pids of the monitors of the test's state
// folder (boxcraft-monitor ID, or boxcraft monitor ID) whose container
// has no folder there.
func strayMonitors(t testing.TB) []int {
	t.Helper()
	state := StateDir(t)
	var stray []int
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, proc := range procs {
		cmdline, err := os.ReadFile(filepath.Join(proc, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		var id string
		switch {
		case len(args) == 2 && filepath.Base(args[0]) == "boxcraft-monitor":
			id = args[1]
		case len(args) == 3 && args[1] == "monitor":
			id = args[2]
		default:
			continue
		}
		environ, err := os.ReadFile(filepath.Join(proc, "environ"))
		if err != nil || !slices.Contains(strings.Split(string(environ), "\x00"), StateDirEnv+"="+state) {
			continue
		}
		if _, err := os.Stat(filepath.Join(state, "lib", "containers", id)); os.IsNotExist(err) {
			pid, _ := strconv.Atoi(filepath.Base(proc))
			stray = append(stray, pid)
		}
	}
	return stray
}

// stateMountPoints lists the host's mounts below the state folder.
func stateMountPoints(t testing.TB) []string {
	t.Helper()
	var found []string
	for _, point := range MountPointsOfType(t, "") {
		if strings.HasPrefix(point, StateDir(t)+"/") {
			found = append(found, point)
		}
	}
	return found
}

// timestamp is a log line's time as docker logs -t prints it.
var timestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z `)

// helpAndVersion: help COMMAND is COMMAND --help, as docker help run;
// version and --version say which build this is, in one line.
func (s *commandsSuite) helpAndVersion(t *testing.T) {
	s.enter(t)
	r := Run(t, "help", "stop")
	assert.Equal(t, 0, r.Code, "%s", r)
	assert.True(t, strings.HasPrefix(r.Stdout, "Usage: boxcraft stop "), "help stop is stop's own help:\n%s", r)
	assert.Equal(t, Run(t, "stop", "--help").Stdout, r.Stdout)
	assertFailedOneLine(t, Run(t, "help", "nosuch"), 125, "nosuch")
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := Run(t, args...)
		assert.Equal(t, 0, r.Code, "%s", r)
		assert.Regexp(t, `^boxcraft version \S+, go1\.\S+, linux/\w+\n$`, r.Stdout, "%v", args)
	}
}
