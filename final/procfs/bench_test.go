package procfs

import (
	"fmt"
	"os"
	"testing"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/spec"
)

// BenchmarkRender is what the monitor does for each read of a view's
// file and each sysinfo(2), against a read of the host's /proc/meminfo:
// as root, on a cgroup of its own below boxcraft/ (which it removes):
//
//	go test -run '^$' -bench Render ./final/procfs/
func BenchmarkRender(b *testing.B) {
	cg, err := cgroups.New("boxcraft", fmt.Sprintf("procfs-bench-%d", os.Getpid()), spec.Resources{Memory: 64 << 20, MemorySwap: 128 << 20}, nil) // as docker run -m 64m
	if err != nil {
		b.Fatal(err)
	}
	defer cg.Remove()
	v := NewView(cg)
	defer v.Close()
	for _, name := range []string{"meminfo", "stat", "cpuinfo", "uptime", "loadavg"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				v.Render(name)
			}
		})
	}
	b.Run("sysinfo", func(b *testing.B) {
		for b.Loop() {
			v.Sysinfo()
		}
	})
	b.Run("host-meminfo", func(b *testing.B) {
		for b.Loop() {
			_, _ = os.ReadFile("/proc/meminfo")
		}
	})
}
