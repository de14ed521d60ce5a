package network

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTornLeasesStartAfresh: leases.json is not synced, so a crash of
// the machine may leave it torn; the next start reads it as empty, when
// no container holds a lease any more, rather than failing every start.
func TestTornLeasesStartAfresh(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "leases.json"), []byte(`{"subnet": "10.88.0.0/16", "leases": {"ab`), 0o600))
	var seen int
	err := allocator{dir}.update(func(l *leases) error {
		seen = len(l.Leases)
		l.Leases["c1"] = Lease{Addr: "10.88.0.2"}
		return nil
	})
	require.NoError(t, err)
	assert.Zero(t, seen, "a torn file is read as no lease")
	data, err := os.ReadFile(filepath.Join(dir, "leases.json"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "10.88.0.2", "and written whole again")
}
