package rootfs

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestParseCgroups reads /proc/self/cgroup as this machine writes it on
// v1 beside v2's tree (systemd's hybrid), in a cgroup namespace, and on
// v2: each hierarchy's path by its controllers, v2's under "", named
// hierarchies left out; v2's mount alone only where no v1 hierarchy is.
func TestParseCgroups(t *testing.T) {
	for _, c := range []struct {
		name, data string
		want       map[string]string
		v2Only     bool
	}{
		{"Hybrid", "9:name=systemd:/\n8:pids:/boxcraft/p/c\n2:cpu,cpuacct:/boxcraft/p/c\n0::/\n",
			map[string]string{"pids": "/boxcraft/p/c", "cpu,cpuacct": "/boxcraft/p/c", "": "/"}, false},
		{"CgroupNamespace", "8:pids:/\n4:memory:/\n", map[string]string{"pids": "/", "memory": "/"}, false},
		{"V2", "0::/boxcraft/p/c\n", map[string]string{"": "/boxcraft/p/c"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			own := parseCgroups(c.data)
			assert.Equal(t, c.want, own)
			assert.Equal(t, c.v2Only, v2Only(own), "v2's alone")
		})
	}
}
