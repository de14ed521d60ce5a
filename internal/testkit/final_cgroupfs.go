package testkit

import (
	"path"
	"strings"
	"testing"

	"github.com/boxcraft/boxcraft/internal/facts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cgroupFS: boxcraft run gives a container the cgroup filesystem at
// /sys/fs/cgroup, as Docker does, so that a program reads its own limits
// there (-m and --pids-limit). In the container's own cgroup namespace,
// the top of each hierarchy is the container's cgroup: no folder above
// it, such as boxcraft's, shows. It is read-only, with a user namespace
// too, and over the host's /sys, which a user namespace with the host's
// network binds with the host's cgroups below it; it is writable with
// --privileged; a mount of the user's on that path takes its place. The file names differ between v1 and v2, as in
// cgroupMount (final_oci_cgroupfs.go).
func (s *commandsSuite) cgroupFS(t *testing.T) {
	s.enter(t)
	v2 := CgroupV2(t)
	// The pids hierarchy's top, and the limit files as the probe names
	// them (below /sys/fs/cgroup).
	pids, pidsMax, memoryMax := "/sys/fs/cgroup/pids", "pids/pids.max", "memory/memory.limit_in_bytes"
	if v2 {
		pids, pidsMax, memoryMax = "/sys/fs/cgroup", "pids.max", "memory.max"
	}
	limits := []string{"-m", "64m", "--pids-limit", "42"}
	userns := []string{"--uidmap", "0:100000:65536"}
	for _, c := range []struct {
		name  string
		flags []string
	}{{"ReadOnly", nil}, {"ReadOnlyInAUserNamespace", userns}, {"ReadOnlyOverTheHostsSys", append(userns, "--network", "host")}} {
		t.Run(c.name, func(t *testing.T) {
			ShareSandbox(t, s.top)
			// ls's listing on stderr, the probe's facts on stdout.
			script := "ls -a " + pids + " >&2; exec /probe create=/sys/fs/cgroup/" + pidsMax
			r := Run(t, append(append(append([]string{"run", "--rm"}, c.flags...), limits...), "busybox", "sh", "-c", script)...)
			f := Probe(t, r)
			assert.Equal(t, map[string]string{pidsMax: "42", memoryMax: "67108864"},
				map[string]string{pidsMax: f.CgroupFiles[pidsMax], memoryMax: f.CgroupFiles[memoryMax]},
				"/sys/fs/cgroup shows the container's own limits, -m 64m and --pids-limit 42")
			listed := strings.Fields(r.Stderr)
			assert.Contains(t, listed, path.Base(pidsMax), "%s lists the container's own files:\n%s", pids, r.Stderr)
			assert.NotContains(t, listed, "boxcraft", "the container's own cgroup is the top of %s: no folder above it shows:\n%s", pids, r.Stderr)
			for _, controller := range []string{"pids", "memory"} {
				assert.Equal(t, "/", ownCgroup(f, controller, v2), "/proc/self/cgroup: the container's %s cgroup is its cgroup namespace's root", controller)
				m, ok := cgroupMountOf(f, controller, v2)
				if assert.True(t, ok, "a cgroup mount of %s below /sys/fs/cgroup, among %q", controller, mountsAtCgroupFS(f)) {
					assert.Equal(t, "/", m.root, "the mount at %s shows the namespace's root, the container's own cgroup", m.point)
					assert.Contains(t, strings.Split(m.options, ","), "ro", "%s is read-only", m.point)
				}
			}
			tried := f.Experiments.Creates["/sys/fs/cgroup/"+pidsMax]
			require.NotNil(t, tried, "the probe tried the write")
			assert.False(t, tried.OK, "a limit file cannot be written")
			if c.flags == nil {
				// In a user namespace the host root's files refuse its
				// root first (EACCES); here only the mount does.
				assert.Contains(t, tried.Error, "read-only file system", "the write is refused by the read-only mount")
			}
		})
	}
	t.Run("WritableWhenPrivileged", func(t *testing.T) {
		ShareSandbox(t, s.top)
		child := pids + "/made-inside"
		r := Run(t, append(append([]string{"run", "--rm", "--privileged"}, limits...),
			"busybox", "sh", "-c", "cat "+pids+"/pids.max; mkdir "+child+" && rmdir "+child+" && echo writable")...)
		require.Equal(t, 0, r.Code, "--privileged: a cgroup made and removed below the container's own:\n%s", r)
		assert.Equal(t, "42\nwritable\n", r.Stdout, "--privileged: the container's own cgroup, writable")
	})
	t.Run("UsersOwnMountWins", func(t *testing.T) {
		ShareSandbox(t, s.top)
		f := Probe(t, Run(t, "run", "--rm", "--tmpfs", "/sys/fs/cgroup", "busybox", "/probe"))
		assert.Equal(t, []string{"tmpfs on /sys/fs/cgroup"}, mountsAtCgroupFS(f), "--tmpfs /sys/fs/cgroup: the user's mount, and no cgroup mount")
	})
}

// mountsAtCgroupFS are the probe's mounts at /sys/fs/cgroup and below
// it, as "TYPE on POINT".
func mountsAtCgroupFS(f facts.Facts) []string {
	var at []string
	for _, line := range f.Mounts {
		if _, point, fstype, _, ok := facts.ParseMount(line); ok && atCgroupFS(point) {
			at = append(at, fstype+" on "+point)
		}
	}
	return at
}

// atCgroupFS says whether a mount point is /sys/fs/cgroup or below it.
func atCgroupFS(point string) bool {
	return point == "/sys/fs/cgroup" || strings.HasPrefix(point, "/sys/fs/cgroup/")
}
