package rootfs

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestParseCgroups reads /proc/self/cgroup as this machine writes it on
// v1 beside v2's tree (systemd's hybrid), in a cgroup namespace, and on
// v2: each hierarchy's path by its controllers, v2's under "", named
// hierarchies left out.
func TestParseCgroups(t *testing.T) {
	for _, c := range []struct {
		name, data string
		want       map[string]string
	}{
		{"Hybrid", "9:name=systemd:/\n8:pids:/boxcraft/p/c\n2:cpu,cpuacct:/boxcraft/p/c\n0::/\n",
			map[string]string{"pids": "/boxcraft/p/c", "cpu,cpuacct": "/boxcraft/p/c", "": "/"}},
		{"CgroupNamespace", "8:pids:/\n4:memory:/\n", map[string]string{"pids": "/", "memory": "/"}},
		{"V2", "0::/boxcraft/p/c\n", map[string]string{"": "/boxcraft/p/c"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, parseCgroups(c.data))
		})
	}
}

// TestContainersHierarchies: boxcraft run's cgroup mount shows only the
// hierarchies where init is in the container's cgroup. On a v1 host with
// hierarchies the runtime does not manage (net_cls, perf_event), and the
// hybrid's v2 tree, init is in its monitor's cgroup there, often the
// root: a new mount would show the host's tree. On a v2 host where a
// program mounted a v1 hierarchy (net_cls), v2's tree is the container's.
func TestContainersHierarchies(t *testing.T) {
	const mine = "/boxcraft/c"
	for _, c := range []struct {
		name   string
		before map[string]string
		want   map[string]string
	}{
		{"V1 with others", map[string]string{"pids": mine, "cpu,cpuacct": mine, "net_cls,net_prio": "/", "perf_event": "/user.slice", "": "/"},
			map[string]string{"pids": "/", "cpu,cpuacct": "/"}},
		{"V2 with a v1 hierarchy", map[string]string{"": mine, "net_cls": "/"}, map[string]string{"": "/"}},
		{"None", map[string]string{"pids": "/other"}, map[string]string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, containersHierarchies(c.before, mine))
		})
	}
}
