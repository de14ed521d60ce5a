package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/internal/testkit"
)

// parse parses args as run's limit flags.
func parse(t *testing.T, args ...string) (spec.Resources, error) {
	flags := pflag.NewFlagSet("run", pflag.ContinueOnError)
	addLimitFlags(flags)
	require.NoError(t, flags.Parse(args))
	return parseLimits(flags)
}

// hostCPUs is how many CPUs this machine has online, and the last's number.
func hostCPUs(t *testing.T) (int, int) {
	list, err := readCPUList(onlineCPUs)
	require.NoError(t, err)
	return len(list), list[len(list)-1]
}

func TestParseLimits(t *testing.T) {
	count, last := hostCPUs(t)
	for _, tc := range []struct {
		args []string
		want spec.Resources
	}{
		{nil, spec.Resources{}},
		{[]string{"--cpus", "0.5"}, spec.Resources{CPUQuota: 50000, CPUPeriod: 100000}},
		{[]string{"--cpus", "1.25"}, spec.Resources{CPUQuota: 125000, CPUPeriod: 100000}},
		{[]string{"--cpus", "0.01"}, spec.Resources{CPUQuota: 1000, CPUPeriod: 100000}},
		{[]string{"--cpus", fmt.Sprint(count)}, spec.Resources{CPUQuota: int64(count) * 100000, CPUPeriod: 100000}},
		{[]string{"--cpu-quota", "20000"}, spec.Resources{CPUQuota: 20000}},
		{[]string{"--cpu-period", "50000", "--cpu-quota", "25000"}, spec.Resources{CPUQuota: 25000, CPUPeriod: 50000}},
		{[]string{"--cpu-shares", "512"}, spec.Resources{CPUShares: 512}},
		{[]string{"--cpuset-cpus", "0"}, spec.Resources{CpusetCPUs: "0"}},
		{[]string{"--cpuset-cpus", fmt.Sprintf("0-%d", last)}, spec.Resources{CpusetCPUs: fmt.Sprintf("0-%d", last)}},
		{[]string{"--cpuset-mems", "0"}, spec.Resources{CpusetMems: "0"}},
		{[]string{"-m", "64m"}, spec.Resources{Memory: 64 << 20, MemorySwap: 128 << 20}},
		{[]string{"--memory", "1g"}, spec.Resources{Memory: 1 << 30, MemorySwap: 2 << 30}},
		{[]string{"-m", "65536k"}, spec.Resources{Memory: 64 << 20, MemorySwap: 128 << 20}},
		{[]string{"-m", "64MB"}, spec.Resources{Memory: 64 << 20, MemorySwap: 128 << 20}},
		{[]string{"-m", "6291456"}, spec.Resources{Memory: 6 << 20, MemorySwap: 12 << 20}},
		{[]string{"-m", "64m", "--memory-swap", "64m"}, spec.Resources{Memory: 64 << 20, MemorySwap: 64 << 20, SwapGiven: true}},
		{[]string{"-m", "64m", "--memory-swap", "100m"}, spec.Resources{Memory: 64 << 20, MemorySwap: 100 << 20, SwapGiven: true}},
		{[]string{"-m", "64m", "--memory-swap", "-1"}, spec.Resources{Memory: 64 << 20, MemorySwap: spec.Unlimited, SwapGiven: true}},
		{[]string{"--pids-limit", "16"}, spec.Resources{PidsLimit: 16}},
		{[]string{"--pids-limit", "0"}, spec.Resources{PidsLimit: spec.Unlimited}},
		{[]string{"-m", "0"}, spec.Resources{}},
		{[]string{"-m", "0m"}, spec.Resources{}},
		{[]string{"--pids-limit", "-1"}, spec.Resources{PidsLimit: spec.Unlimited}},
		{[]string{"--blkio-weight", "10"}, spec.Resources{BlkioWeight: 10}},
		{[]string{"--blkio-weight", "1000"}, spec.Resources{BlkioWeight: 1000}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := parse(t, tc.args...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseLimitsRefusesNamingTheFlag(t *testing.T) {
	count, last := hostCPUs(t)
	for _, tc := range []struct {
		args []string
		want string // the whole message
	}{
		{[]string{"--cpus", "half"}, `--cpus "half": give a number, e.g. 0.5`},
		{[]string{"--cpus", "0.001"}, "--cpus 0.001: give at least 0.01"},
		{[]string{"--cpus", "NaN"}, "--cpus NaN: give at least 0.01"},
		{[]string{"--cpus", fmt.Sprint(count + 1)}, fmt.Sprintf("--cpus %d: this machine has %d CPUs", count+1, count)},
		{[]string{"--cpus", "1", "--cpu-quota", "5000"}, "--cpus sets --cpu-quota and --cpu-period: give one or the others"},
		{[]string{"--cpu-period", "999"}, "--cpu-period 999: give 1000 to 1000000 µs"},
		{[]string{"--cpu-period", "1000001"}, "--cpu-period 1000001: give 1000 to 1000000 µs"},
		{[]string{"--cpu-quota", "999"}, "--cpu-quota 999: give at least 1000 µs"},
		{[]string{"--cpu-shares", "1"}, "--cpu-shares 1: give 2 to 262144"},
		{[]string{"--cpu-shares", "262145"}, "--cpu-shares 262145: give 2 to 262144"},
		{[]string{"--cpuset-cpus", "a"}, `--cpuset-cpus "a": give numbers and ranges, e.g. 0-2,4`},
		{[]string{"--cpuset-cpus", "2-1"}, `--cpuset-cpus "2-1": give numbers and ranges, e.g. 0-2,4`},
		{[]string{"--cpuset-cpus", ""}, `--cpuset-cpus "": give numbers and ranges, e.g. 0-2,4`},
		{[]string{"--cpuset-cpus", fmt.Sprint(last + 1)}, fmt.Sprintf("--cpuset-cpus %d: this machine has no %d (its CPUs are ", last+1, last+1)},
		{[]string{"--cpuset-mems", "4096"}, "--cpuset-mems 4096: this machine has no 4096 (its memory nodes are "},
		{[]string{"-m", "64x"}, `--memory "64x": give a size, e.g. 64m (b, k, m or g)`},
		{[]string{"-m", "4294967297g"}, `--memory "4294967297g": give a size above zero and below 4 exbibytes`},
		{[]string{"-m", "-1"}, `--memory "-1": give a size, e.g. 64m (b, k, m or g)`},
		{[]string{"-m", "5m"}, "--memory 5m: give at least 6 MiB"},
		{[]string{"--memory-swap", "128m"}, "--memory-swap needs --memory: it is the two together"},
		{[]string{"-m", "64m", "--memory-swap", "32m"}, "--memory-swap 32m is less than --memory: it counts memory plus swap"},
		{[]string{"-m", "64m", "--memory-swap", "lots"}, `--memory-swap "lots": give a size, e.g. 64m (b, k, m or g)`},
		{[]string{"--pids-limit", "15"}, "--pids-limit 15: give at least 16 ("},
		{[]string{"--blkio-weight", "9"}, "--blkio-weight 9: give 10 to 1000"},
		{[]string{"--blkio-weight", "1001"}, "--blkio-weight 1001: give 10 to 1000"},
		{[]string{"--device-read-bps", "/dev/null"}, `--device-read-bps "/dev/null": want DEVICE:RATE, e.g. /dev/loop3:1mb`},
		{[]string{"--device-read-bps", ":1mb"}, `--device-read-bps ":1mb": want DEVICE:RATE, e.g. /dev/loop3:1mb`},
		{[]string{"--device-write-bps", "/dev/null:1mb"}, "--device-write-bps /dev/null: not a block device"},
		{[]string{"--device-read-iops", "/no/such/device:10"}, "--device-read-iops /no/such/device: no such file or directory"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parse(t, tc.args...)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tc.want), "got %q, want %q", err, tc.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

func TestParseLimitsReadsDeviceThrottles(t *testing.T) {
	device := testkit.LoopDevice(t, 1<<20)
	var st unix.Stat_t
	require.NoError(t, unix.Stat(device, &st))
	major, minor := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	got, err := parse(t, "--device-read-bps", device+":1mb", "--device-write-bps", device+":512k",
		"--device-read-iops", device+":100", "--device-write-iops", device+":50")
	require.NoError(t, err)
	assert.Equal(t, []spec.Throttle{
		{Major: major, Minor: minor, Op: "read", Unit: "bps", Rate: 1 << 20},
		{Major: major, Minor: minor, Op: "read", Unit: "iops", Rate: 100},
		{Major: major, Minor: minor, Op: "write", Unit: "bps", Rate: 512 << 10},
		{Major: major, Minor: minor, Op: "write", Unit: "iops", Rate: 50},
	}, got.Throttles)

	for value, want := range map[string]string{
		device + ":0":    fmt.Sprintf("--device-write-iops %q: give a number of operations above zero", device+":0"),
		device + ":fast": fmt.Sprintf("--device-write-iops %q: give a number of operations above zero", device+":fast"),
	} {
		_, err := parse(t, "--device-write-iops", value)
		assert.EqualError(t, err, want)
	}
	_, err = parse(t, "--device-read-bps", device+":0")
	assert.EqualError(t, err, `--device-read-bps "0": give a size above zero and below 4 exbibytes`)
}

func TestMain(m *testing.M) {
	testkit.Main(m)
}
