package rootfs

import (
	"testing"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/stretchr/testify/assert"
)

// TestDevptsGroup: devpts takes gid=5 (tty) as Docker's, but only where
// the container has a group 5: a user namespace whose map leaves it
// out would have the mount refused.
func TestDevptsGroup(t *testing.T) {
	withMap := func(maps ...spec.IDMap) spec.Namespaces {
		return spec.Namespaces{UIDMap: maps, GIDMap: maps}
	}
	for name, tc := range map[string]struct {
		ns   spec.Namespaces
		want string
	}{
		"no user namespace":      {spec.Namespaces{}, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		"a map that holds 5":     {withMap(spec.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}), "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		"root alone":             {withMap(spec.IDMap{ContainerID: 0, HostID: 100000, Size: 1}), "newinstance,ptmxmode=0666,mode=0620"},
		"5 in a second range":    {withMap(spec.IDMap{ContainerID: 0, HostID: 100000, Size: 1}, spec.IDMap{ContainerID: 5, HostID: 200005, Size: 1}), "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		"a range that ends at 5": {withMap(spec.IDMap{ContainerID: 0, HostID: 100000, Size: 5}), "newinstance,ptmxmode=0666,mode=0620"},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, "pts", devMounts(tc.ns, 0)[0].target)
			assert.Equal(t, tc.want, devMounts(tc.ns, 0)[0].data)
		})
	}
}
