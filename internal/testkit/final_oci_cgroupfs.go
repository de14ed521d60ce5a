package testkit

import (
	"slices"
	"strings"
	"testing"

	"github.com/boxcraft/boxcraft/internal/facts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cgroupMount: a bundle's read-only cgroup mount on /sys/fs/cgroup, in
// a container without a cgroup namespace of its own, shows the
// container its own cgroup, whose limit files hold the config's limits,
// and cannot be written. In a user namespace the kernel refuses a new
// cgroup filesystem (it takes a cgroup namespace that user namespace
// owns), and boxcraft binds the container's own folders instead, as
// runc does on v1. Without one, v1's hierarchies are bound the same
// way, and v2's is a new mount, which shows the whole tree, as under
// runc.
func (s *ociSuite) cgroupMount(t *testing.T) {
	host, err := facts.ReadNamespaces()
	require.NoError(t, err)
	v2 := CgroupV2(t)
	// The limit files, as the probe names them (below /sys/fs/cgroup).
	pidsMax, memoryMax := "pids/pids.max", "memory/memory.limit_in_bytes"
	if v2 {
		pidsMax, memoryMax = "pids.max", "memory.max"
	}
	for _, c := range []struct {
		name   string
		userns bool
	}{{"UserNamespace", true}, {"HostUsers", false}} {
		t.Run(c.name, func(t *testing.T) {
			id := "g-" + strings.ToLower(c.name)
			bundle, _ := s.bundle(t, id, func(config map[string]any) { limitedCgroupMount(config, c.userns) },
				"/probe", "create=/sys/fs/cgroup/"+pidsMax) // a write to a limit file
			f := Probe(t, s.runc(t, "run", "--bundle", bundle, id))
			assert.Equal(t, c.userns, f.Namespaces["user"] != host["user"], "a user namespace of its own")
			assert.Equal(t, host["cgroup"], f.Namespaces["cgroup"], "the host's cgroup namespace")

			parent, _ := CgroupParent(t)
			own := "/" + parent + "/" + id // from the host's root: no cgroup namespace
			shown := own
			if v2 && !c.userns {
				shown = "/" // a new cgroup2 mount: the whole tree
			}
			for _, controller := range []string{"pids", "memory"} {
				assert.Equal(t, own, ownCgroup(f, controller, v2), "/proc/self/cgroup: the container's %s cgroup", controller)
				m, ok := cgroupMountOf(f, controller, v2)
				require.True(t, ok, "a cgroup mount of %s below /sys/fs/cgroup: %q", controller, f.Mounts)
				assert.Equal(t, shown, m.root, "the folder of the hierarchy the mount shows, at %s", m.point)
				assert.Contains(t, strings.Split(m.options, ","), "ro", "%s is read-only", m.point)
			}
			assert.Equal(t, map[string]string{pidsMax: "42", memoryMax: "67108864"},
				map[string]string{pidsMax: f.CgroupFiles[pidsMax], memoryMax: f.CgroupFiles[memoryMax]},
				"the limit files of the container's own cgroup hold the config's limits")
			tried := f.Experiments.Creates["/sys/fs/cgroup/"+pidsMax]
			require.NotNil(t, tried, "the probe tried the write")
			assert.False(t, tried.OK, "a limit file cannot be written")
			if !c.userns {
				// The user namespace's root is refused before (EACCES:
				// the files are the host root's); the host's root only
				// by the read-only mount.
				assert.Contains(t, tried.Error, "read-only file system", "the host's root cannot write a limit file either")
			}
		})
	}
}

// limitedCgroupMount gives a config limits of pids and memory and the
// cgroup mount runc spec writes (read-only), and, with userns, a user
// namespace; no cgroup namespace.
func limitedCgroupMount(config map[string]any, userns bool) {
	linux := config["linux"].(map[string]any)
	linux["resources"].(map[string]any)["pids"] = map[string]any{"limit": 42}
	linux["resources"].(map[string]any)["memory"] = map[string]any{"limit": 64 << 20}
	mounts := slices.DeleteFunc(config["mounts"].([]any), func(m any) bool {
		return m.(map[string]any)["destination"] == "/sys/fs/cgroup"
	})
	config["mounts"] = append(mounts, map[string]any{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
		"options": []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
	if userns {
		linux["namespaces"] = append(linux["namespaces"].([]any), map[string]any{"type": "user"})
		idMap := []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}}
		linux["uidMappings"], linux["gidMappings"] = idMap, idMap
	}
}

// ownCgroup is the probe's cgroup in a controller's hierarchy, from
// /proc/self/cgroup: on v2 the one line with no controllers.
func ownCgroup(f facts.Facts, controller string, v2 bool) string {
	for _, line := range f.Cgroup {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (v2 && parts[1] == "" || !v2 && slices.Contains(strings.Split(parts[1], ","), controller)) {
			return parts[2]
		}
	}
	return ""
}

// seenMount is a mountinfo line's root (the folder of the filesystem
// it shows), mount point and mount options.
type seenMount struct{ root, point, options string }

// cgroupMountOf finds the mount at or below /sys/fs/cgroup of a
// controller's hierarchy: on v2 the cgroup2 one, on v1 the cgroup one
// whose options name the controller. Of two, the later is on top.
func cgroupMountOf(f facts.Facts, controller string, v2 bool) (seenMount, bool) {
	var found []seenMount
	for _, line := range f.Mounts {
		root, point, fstype, options, ok := facts.ParseMount(line)
		if !ok || !atCgroupFS(point) {
			continue
		}
		if v2 && fstype == "cgroup2" || !v2 && fstype == "cgroup" && slices.Contains(strings.Split(options, ","), controller) {
			found = append(found, seenMount{root: root, point: point, options: facts.MountOptions(line)})
		}
	}
	if len(found) == 0 {
		return seenMount{}, false
	}
	return found[len(found)-1], true
}
