package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"
)

// update changes a running container's limits, as runc update does:
// from --resources (the spec's linux.resources as JSON, "-" for stdin:
// what containerd sends), or from the flags below.

// updateFlags are runc update's flags boxcraft-runc takes; the others
// (kernel memory, reservation, realtime CPU, Intel RDT) it refuses by
// name.
var updateRefused = []string{"kernel-memory", "kernel-memory-tcp", "memory-reservation", "cpu-rt-period", "cpu-rt-runtime", "l3-cache-schema", "mem-bw-schema"}

func addUpdateFlags(flags *pflag.FlagSet) {
	flags.StringP("resources", "r", "", "the new resources, as the spec's linux.resources JSON (- for stdin)")
	flags.String("memory", "", "memory limit (bytes, or with k, m, g)")
	flags.String("memory-swap", "", "memory plus swap limit (bytes, or with k, m, g; -1: unlimited)")
	flags.String("cpu-shares", "", "CPU shares (relative weight)")
	flags.String("cpu-period", "", "CPU CFS period (µs)")
	flags.String("cpu-quota", "", "CPU CFS quota (µs) in a period")
	flags.String("cpuset-cpus", "", "CPUs to run on (0-3, 0,1)")
	flags.String("cpuset-mems", "", "memory nodes to allocate from")
	flags.Int64("pids-limit", 0, "the most tasks (processes and threads)")
	flags.String("blkio-weight", "", "block I/O weight, 10 to 1000")
	for _, name := range updateRefused {
		flags.String(name, "", "refused: not implemented")
	}
}

func updateCommand(g *globals, flags *pflag.FlagSet) error {
	for _, name := range updateRefused {
		if flags.Changed(name) {
			return fmt.Errorf("update: --%s is not implemented", name)
		}
	}
	_, rt, c, err := findArg(g, flags)
	if err != nil {
		return err
	}
	r, err := updateResources(flags)
	if err != nil {
		return err
	}
	res, err := oci.ConvertUpdate(r)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return rt.UpdateOCI(c, res)
}

// updateResources are --resources' JSON, or the flags'.
func updateResources(flags *pflag.FlagSet) (*specs.LinuxResources, error) {
	if file, _ := flags.GetString("resources"); file != "" {
		return readResources(file)
	}
	var r specs.LinuxResources
	var err error
	num := func(name string, set func(n int64)) {
		if value, _ := flags.GetString(name); value != "" && err == nil {
			var n int64
			if n, err = parseBytes(value); err != nil {
				err = fmt.Errorf("update: --%s %q: %w", name, value, err)
				return
			}
			set(n)
		}
	}
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	num("memory", func(n int64) { mem().Limit = &n })
	num("memory-swap", func(n int64) { mem().Swap = &n })
	num("cpu-shares", func(n int64) { u := uint64(n); cpu().Shares = &u })
	num("cpu-period", func(n int64) { u := uint64(n); cpu().Period = &u })
	num("cpu-quota", func(n int64) { cpu().Quota = &n })
	num("blkio-weight", func(n int64) { w := uint16(n); r.BlockIO = &specs.LinuxBlockIO{Weight: &w} })
	if v, _ := flags.GetString("cpuset-cpus"); v != "" {
		cpu().Cpus = v
	}
	if v, _ := flags.GetString("cpuset-mems"); v != "" {
		cpu().Mems = v
	}
	if flags.Changed("pids-limit") {
		limit, _ := flags.GetInt64("pids-limit")
		r.Pids = &specs.LinuxPids{Limit: limit}
	}
	return &r, err
}

func readResources(file string) (*specs.LinuxResources, error) {
	var in io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("update: --resources: %w", err)
		}
		defer f.Close()
		in = f
	}
	var r specs.LinuxResources
	if err := json.NewDecoder(in).Decode(&r); err != nil {
		return nil, fmt.Errorf("update: --resources %s: %w", file, err)
	}
	return &r, nil
}

// parseBytes reads a number, with k, m or g (powers of 1024) after it.
func parseBytes(s string) (int64, error) {
	lower := strings.ToLower(strings.TrimSuffix(strings.ToLower(s), "b"))
	shift := 0
	switch {
	case strings.HasSuffix(lower, "k"):
		shift = 10
	case strings.HasSuffix(lower, "m"):
		shift = 20
	case strings.HasSuffix(lower, "g"):
		shift = 30
	}
	if shift > 0 {
		lower = lower[:len(lower)-1]
	}
	n, err := strconv.ParseInt(lower, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a number of bytes")
	}
	if n < 0 {
		return n, nil
	}
	return n << shift, nil
}
