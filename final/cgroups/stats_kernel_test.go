package cgroups_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/spec"
)

// TestStatsReadsTheKernelsFigures reads a real cgroup's figures, on
// whichever version this machine has: the limit written, its tasks as
// the kernel lists them, and CPU time that only grows.
func TestStatsReadsTheKernelsFigures(t *testing.T) {
	parent := testParent(t)
	c := newCgroup(t, parent, "stats", spec.Resources{Memory: 48 << 20, MemorySwap: 96 << 20})
	empty, err := c.Stats()
	require.NoError(t, err)
	assert.Equal(t, uint64(48<<20), empty.MemoryLimit, "the limit New wrote")
	assert.Zero(t, empty.Pids, "nothing in it yet")

	start(t, c, "wait")
	tasks, hierarchy := "tasks", "pids" // v1: the pids hierarchy lists them
	if isV2(t) {
		tasks, hierarchy = "cgroup.threads", ""
	}
	// The child, a Go program, may still be starting threads: compare
	// once the kernel's list is the same before and after Stats.
	// The count Stats is held to is the one read just after it, not a
	// later read: the child may start another thread meanwhile.
	var got cgroups.Stats
	var listed int
	for range 50 {
		before := len(strings.Fields(read(t, c, hierarchy, tasks)))
		got, err = c.Stats()
		require.NoError(t, err)
		if listed = len(strings.Fields(read(t, c, hierarchy, tasks))); listed == before {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.EqualValues(t, listed, got.Pids, "a task for each thread of the child, as the kernel lists them")
	assert.Positive(t, got.Pids)
	again, err := c.Stats()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, again.CPU, got.CPU, "CPU time only grows")

	// A cgroup without a limit says 0, on either version.
	free := newCgroup(t, parent, "free", spec.Resources{})
	unlimited, err := free.Stats()
	require.NoError(t, err)
	assert.Zero(t, unlimited.MemoryLimit, "no limit reads as 0 (v1's huge number, v2's max)")
}
