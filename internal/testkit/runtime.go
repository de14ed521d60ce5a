package testkit

// What the suites know of the runtime under test: a step (step01 …
// step05, each with the steps' command line) or final/'s boxcraft, whose
// command line is Docker's and podman's. The suites write every run as a
// step's (flags, a root, CMD) and the Step turns it into the runtime's;
// what boxcraft cannot be asked, or does as Docker does rather than as
// the steps, is a case the suites do not call for it (never a skip).

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// Step is the runtime under test, as the shared suites need to know it.
type Step struct {
	// RootfsFlag is true from step04 on: run is given the root as
	// --rootfs DIR (or --image TAR) rather than as its first argument,
	// needs a mount namespace, and switches to the root with pivot_root,
	// out of which no escape leads.
	RootfsFlag bool
	// Layers is true from step05 on: an --image is a stack of layers,
	// kept in a store, under a writable layer of the container's own, and
	// --keep keeps only that layer.
	Layers bool
	// Docker is true for final/'s boxcraft, whose command line is
	// Docker's (docs/contract.md, and runtime.go here): an image is
	// loaded (load -i PATH) before it is run by its ID; a namespace is
	// the container's own unless a flag shares the host's (--pid host …),
	// and there is a user namespace only with --uidmap; stdin reaches
	// CMD only with -i; a refusal is status 125, and a CMD that is not
	// there 127, one that cannot run 126; a run keeps its container
	// unless --rm. It has no --keep nor commit, no images by path nor
	// layers command, no time namespace, and no run without a mount
	// namespace.
	Docker bool
}

// Boxcraft is final/'s boxcraft, as the suites know it: step05's root
// and layers, behind Docker's command line.
var Boxcraft = Step{RootfsFlag: true, Layers: true, Docker: true}

// Why a run did not run CMD, each with its exit status.
type refusal int

const (
	badInput       refusal = iota // the runtime refuses what it was given
	cmdNotFound                   // CMD is not in the root
	cmdNotRunnable                // CMD is there, and cannot be run (a folder)
)

// status is the exit status of a run refused for why: 2 for every
// refusal in the steps; Docker's 125, 127 and 126 for boxcraft.
func (s Step) status(why refusal) int {
	if !s.Docker {
		return 2
	}
	return map[refusal]int{badInput: 125, cmdNotFound: 127, cmdNotRunnable: 126}[why]
}

// namespaces are the namespace types the runtime makes in its fullest
// run (a step's default): boxcraft has no time namespace.
func (s Step) namespaces() []string {
	if s.Docker {
		return slices.DeleteFunc(slices.Clone(allNamespaces), func(n string) bool { return n == "time" })
	}
	return allNamespaces
}

// Args is a command line of the runtime: run, flags (as a step takes
// them), the root, then CMD and its arguments. For boxcraft, the flags
// are translated (dockerFlags), the run removes its container when it
// ends (--rm, as a step's run leaves nothing), and the root is --rootfs.
func (s Step) Args(flags []string, rootfs string, cmd ...string) []string {
	if s.Docker {
		args := append(append(append([]string{"run", "--rm"}, stepsSecurity...), dockerFlags(flags)...), "--rootfs", rootfs)
		return append(args, cmd...)
	}
	args := append([]string{"run"}, flags...)
	if s.RootfsFlag {
		args = append(args, "--rootfs")
	}
	return append(append(args, rootfs), cmd...)
}

// stepsSecurity makes a boxcraft run the steps' container: a root that
// keeps every capability, and system call, with /proc and /sys as the
// kernel shows them but /proc/sys read-only (step02). What boxcraft
// takes away by default (issue 20) is the Breakout suite's to judge, and
// its own /proc's files (issue 21), --proc host here, the Proc suite's.
var stepsSecurity = []string{"--cap-add", "ALL", "--security-opt", "no-new-privileges=false",
	"--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined", "--proc", "host"}

// withStdin adds to flags what lets CMD read the runtime's stdin: a step
// always passes it on; boxcraft, as Docker, with -i.
func (s Step) withStdin(flags []string) []string {
	if s.Docker {
		return append(slices.Clone(flags), "-i")
	}
	return flags
}

// defaultIDMap is the map a step's user namespace has by default, which
// a boxcraft run is given (--uidmap, --gidmap) to be the same container.
const defaultIDMap = "0:100000:65536"

// dockerFlags turns a step's run flags into boxcraft's. --ns LIST names
// the namespaces of the container's own: each of uts, pid, ipc, net and
// cgroup that it leaves out is shared with the host (--uts host …), and
// user in it is a user namespace with the step's default map, unless
// --uid-map gives one. Without --ns, the step makes every type, user
// included. --uid-map and --gid-map are --uidmap and --gidmap. What
// boxcraft has no way to say (a run without a mount namespace, a time
// namespace, --ns none) is left as it is, for boxcraft to refuse: a case
// that asks for it is not called for boxcraft.
func dockerFlags(flags []string) []string {
	own := map[string]bool{"uts": true, "pid": true, "mnt": true, "ipc": true, "net": true, "user": true, "cgroup": true}
	var out []string
	given := map[string]bool{} // the maps given: --uid-map, --gid-map
	for i := 0; i < len(flags); i++ {
		name, value, inline := strings.Cut(flags[i], "=")
		if !inline && i+1 < len(flags) && (name == "--ns" || name == "--uid-map" || name == "--gid-map") {
			i++
			value = flags[i]
		}
		switch kinds := strings.Split(value, ","); name {
		case "--ns":
			if !slices.Contains(kinds, "mnt") || slices.Contains(kinds, "time") {
				out = append(out, name+"="+value) // untranslatable (--ns none too): boxcraft refuses it
				continue
			}
			for kind := range own {
				own[kind] = slices.Contains(kinds, kind)
			}
		case "--uid-map", "--gid-map":
			given[name] = true
			out = append(out, dockerFlagName(name), value)
		default:
			out = append(out, flags[i])
		}
	}
	for _, kind := range []string{"uts", "pid", "ipc", "net", "cgroup"} {
		switch {
		case !own[kind]:
			out = append(out, dockerHostFlag[kind], "host")
		case kind == "net": // a step's own network namespace holds lo alone: boxcraft's bridge is not the lesson's
			out = append(out, "--network", "none")
		}
	}
	for _, name := range []string{"--uid-map", "--gid-map"} {
		if own["user"] && !given[name] {
			out = append(out, dockerFlagName(name), defaultIDMap)
		}
	}
	return out
}

// dockerHostFlag is the flag of boxcraft's run that shares the host's
// namespace of each type.
var dockerHostFlag = map[string]string{"uts": "--uts", "pid": "--pid", "ipc": "--ipc", "net": "--network", "cgroup": "--cgroupns"}

// dockerFlagName is boxcraft's name for a step's flag, for a refusal to
// name: --uid-map is --uidmap, --image is load's -i.
func dockerFlagName(name string) string {
	switch name {
	case "--uid-map":
		return "--uidmap"
	case "--gid-map":
		return "--gidmap"
	case "--image":
		return "-i"
	}
	return name
}

// inItsWords is what a refusal may name (names), in the runtime's own
// words: boxcraft's name for a step's flag.
func (s Step) inItsWords(names []string) []string {
	if !s.Docker {
		return names
	}
	var out []string
	for _, name := range names {
		out = append(out, dockerFlagName(name))
	}
	return out
}

// loadArgs is the command line that reads an image, and does nothing
// more: a step's run of /bin/true, boxcraft's load.
func (s Step) loadArgs(image string) []string {
	if s.Docker {
		return []string{"load", "-i", image}
	}
	return []string{"run", "--image", image, "/bin/true"}
}

// RunImage runs CMD in a container of image (a path: a tarball or an OCI
// layout), with flags as a step takes them. A step's run is given the
// path; boxcraft first loads the image, and runs it by its ID: a load
// refused is the result.
func (s Step) RunImage(t *testing.T, image string, flags []string, cmd ...string) Result {
	t.Helper()
	return s.runImageAs(t, nil, image, flags, cmd...)
}

// ImageCommand prepares a run of CMD in a container of image, as
// RunImage, for a test to start: boxcraft's load must succeed.
func (s Step) ImageCommand(t *testing.T, image string, flags []string, cmd ...string) *exec.Cmd {
	t.Helper()
	if !s.Docker {
		return Command(t, append(append([]string{"run", "--image", image}, flags...), cmd...)...)
	}
	loaded := Run(t, s.loadArgs(image)...)
	require.Equal(t, 0, loaded.Code, "load the image %s:\n%s", image, loaded)
	return Command(t, s.imageArgs(t, loaded, flags, cmd)...)
}

// imageArgs is boxcraft's run of the image a load printed.
func (s Step) imageArgs(t *testing.T, loaded Result, flags, cmd []string) []string {
	t.Helper()
	id := loadedImage.FindStringSubmatch(loaded.Stdout)
	require.NotNil(t, id, "load prints the image it loaded (Loaded image: NAME, or Loaded image ID: sha256:HEX):\n%s", loaded)
	return append(append(append([]string{"run", "--rm"}, dockerFlags(flags)...), id[1]), cmd...)
}

// loadedImage is the last line of Docker's load: the image's name, or
// its ID when it has none.
var loadedImage = regexp.MustCompile(`(?m)^Loaded image(?: ID)?: (\S+)\s*$`)

// runImageAs is RunImage with each command of the runtime started with
// attr: as a process in a user namespace of its own, say.
func (s Step) runImageAs(t *testing.T, attr *syscall.SysProcAttr, image string, flags []string, cmd ...string) Result {
	t.Helper()
	command := func(args ...string) Result {
		c := Command(t, args...)
		c.SysProcAttr = attr
		return RunCmd(t, c)
	}
	if !s.Docker {
		return command(append(append([]string{"run", "--image", image}, flags...), cmd...)...)
	}
	loaded := command(s.loadArgs(image)...)
	if loaded.Code != 0 {
		return loaded
	}
	return command(s.imageArgs(t, loaded, flags, cmd)...)
}

// readyState gives the runtime's state folder what any first command
// makes there, for a test that compares the folder before and after a
// command that must leave nothing: boxcraft lays out its folders (lib/,
// run/) on its first command, whatever it is.
func (s Step) readyState(t *testing.T) {
	t.Helper()
	if s.Docker {
		r := Run(t, "ps", "-a")
		require.Equal(t, 0, r.Code, r)
	}
}
