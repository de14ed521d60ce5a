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
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, parseCgroups(c.data)) })
	}
}
