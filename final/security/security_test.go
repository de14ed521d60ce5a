package security

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseCapability(t *testing.T) {
	for in, want := range map[string]string{"chown": "CAP_CHOWN", "NET_ADMIN": "CAP_NET_ADMIN", "cap_sys_time": "CAP_SYS_TIME", "all": "ALL"} {
		got, err := ParseCapability(in)
		assert.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "CAP_", "NOT_A_CAP", "CAP_CHOWN2"} {
		_, err := ParseCapability(bad)
		assert.Error(t, err, bad)
	}
	assert.Len(t, DefaultCapabilities(), 14, "Docker's 14")
	mask, err := Mask(DefaultCapabilities())
	require.NoError(t, err)
	assert.Equal(t, uint64(0xa80425fb), mask, "as /proc/PID/status shows Docker's")
}

func TestHostCapabilitiesAreTheBoundingSet(t *testing.T) {
	names, err := HostCapabilities()
	require.NoError(t, err)
	mask, err := Mask(names)
	require.NoError(t, err)
	want, err := statusMask("CapBnd")
	require.NoError(t, err)
	assert.Equal(t, want, mask)
}

// TestSealedExecutable: the copy runs, and nothing can write it: not a
// write on its descriptor, nor an open for writing through /proc, nor a
// change of size.
func TestSealedExecutable(t *testing.T) {
	f, err := SealedExecutable()
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("x"))
	assert.Error(t, err, "a write on the memfd")
	assert.ErrorIs(t, unix.Ftruncate(int(f.Fd()), 0), unix.EPERM, "a shrink is sealed")
	path := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		_, err = w.Write([]byte("x"))
		w.Close()
		assert.ErrorIs(t, err, unix.EPERM, "a write through a new descriptor is sealed")
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	assert.Equal(t, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE, seals)
	// It runs: this test binary, asked to list no test.
	cmd := exec.Command(path, "-test.run", "^$")
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "%s", out)
}

// TestReadOnlyExecutable: the view runs, and an open for writing is
// refused.
func TestReadOnlyExecutable(t *testing.T) {
	f, err := ReadOnlyExecutable()
	require.NoError(t, err)
	defer f.Close()
	path := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	_, err = os.OpenFile(path, os.O_WRONLY, 0)
	assert.True(t, errors.Is(err, unix.EROFS) || errors.Is(err, unix.ETXTBSY), "open for writing: %v", err)
	out, err := exec.Command(path, "-test.run", "^$").CombinedOutput()
	assert.NoError(t, err, "%s", out)
}
