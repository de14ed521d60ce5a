package cgroups

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/boxcraft/boxcraft/final/spec"
)

// files is the table as file → value, with each file's flag.
func files(limits []limit) map[string]string {
	out := map[string]string{}
	for _, l := range limits {
		out[l.file] = l.flag + " " + l.value
	}
	return out
}

func TestLimitsTable(t *testing.T) {
	throttle := spec.Throttle{Major: 7, Minor: 3, Op: "write", Unit: "bps", Rate: 1 << 20}
	for _, tc := range []struct {
		name   string
		r      spec.Resources
		v1, v2 map[string]string
	}{
		{"nothing asked", spec.Resources{}, map[string]string{}, map[string]string{}},
		{"--cpus 0.5", spec.Resources{CPUQuota: 50000, CPUPeriod: 100000},
			map[string]string{"cpu.cfs_period_us": "--cpu-period 100000", "cpu.cfs_quota_us": "--cpu-quota 50000"},
			map[string]string{"cpu.max": "--cpu-quota 50000 100000"}},
		{"--cpu-period alone", spec.Resources{CPUPeriod: 50000},
			map[string]string{"cpu.cfs_period_us": "--cpu-period 50000"},
			map[string]string{"cpu.max": "--cpu-period max 50000"}},
		{"--cpu-quota alone", spec.Resources{CPUQuota: 20000},
			map[string]string{"cpu.cfs_quota_us": "--cpu-quota 20000"},
			map[string]string{"cpu.max": "--cpu-quota 20000 100000"}},
		{"--cpu-shares 1024", spec.Resources{CPUShares: 1024},
			map[string]string{"cpu.shares": "--cpu-shares 1024"},
			map[string]string{"cpu.weight": "--cpu-shares 100"}},
		{"-m 64m", spec.Resources{Memory: 64 << 20, MemorySwap: 128 << 20},
			map[string]string{"memory.limit_in_bytes": "--memory 67108864", "memory.memsw.limit_in_bytes": "--memory-swap 134217728"},
			map[string]string{"memory.max": "--memory 67108864", "memory.swap.max": "--memory-swap 67108864"}},
		{"--memory-swap -1", spec.Resources{Memory: 64 << 20, MemorySwap: spec.Unlimited, SwapGiven: true},
			map[string]string{"memory.limit_in_bytes": "--memory 67108864", "memory.memsw.limit_in_bytes": "--memory-swap -1"},
			map[string]string{"memory.max": "--memory 67108864", "memory.swap.max": "--memory-swap max"}},
		{"--pids-limit 0", spec.Resources{PidsLimit: spec.Unlimited},
			map[string]string{"pids.max": "--pids-limit max"}, map[string]string{"pids.max": "--pids-limit max"}},
		{"--pids-limit 100", spec.Resources{PidsLimit: 100},
			map[string]string{"pids.max": "--pids-limit 100"}, map[string]string{"pids.max": "--pids-limit 100"}},
		{"cpusets", spec.Resources{CpusetCPUs: "0-1", CpusetMems: "0"},
			map[string]string{"cpuset.cpus": "--cpuset-cpus 0-1", "cpuset.mems": "--cpuset-mems 0"},
			map[string]string{"cpuset.cpus": "--cpuset-cpus 0-1", "cpuset.mems": "--cpuset-mems 0"}},
		{"--blkio-weight 500", spec.Resources{BlkioWeight: 500},
			map[string]string{"blkio.bfq.weight": "--blkio-weight 500"},
			map[string]string{"io.bfq.weight": "--blkio-weight 500"}},
		{"--device-write-bps", spec.Resources{Throttles: []spec.Throttle{throttle}},
			map[string]string{"blkio.throttle.write_bps_device": "--device-write-bps 7:3 1048576"},
			map[string]string{"io.max": "--device-write-bps 7:3 wbps=1048576"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.v1, files(v1Limits(tc.r)), "v1")
			assert.Equal(t, tc.v2, files(v2Limits(tc.r)), "v2")
		})
	}
}

func TestSwapIsOptionalUnlessGiven(t *testing.T) {
	for _, given := range []bool{false, true} {
		r := spec.Resources{Memory: 64 << 20, MemorySwap: 128 << 20, SwapGiven: given}
		for _, limits := range [][]limit{v1Limits(r), v2Limits(r)} {
			assert.Equal(t, "--memory", limits[0].flag, "memory first: the kernel refuses memory+swap below memory")
			assert.Equal(t, !given, limits[1].optional)
		}
	}
}

func TestBlkioWeightFallsBackToIOWeightOnV2(t *testing.T) {
	for weight, want := range map[int64]string{10: "1", 1000: "10000", 500: "4950"} {
		limits := v2Limits(spec.Resources{BlkioWeight: weight})
		assert.Equal(t, limit{flag: "--blkio-weight", controller: "io", file: "io.weight", value: want}, *limits[0].orElse)
	}
}

func TestSharesToWeight(t *testing.T) {
	// runc's curve: both ends and both defaults.
	for shares, weight := range map[int64]int64{2: 1, 1024: 100, 262144: 10000, 512: 59, 1: 1} {
		assert.Equal(t, weight, sharesToWeight(shares), "%d shares", shares)
	}
}
