// An external test package: testkit itself imports busybox.
package busybox_test

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/internal/busybox"
	"github.com/boxcraft/boxcraft/internal/testkit"
)

func findBusybox(t *testing.T) string {
	path, err := busybox.Find()
	if err != nil {
		testkit.Skip(t, err.Error())
	}
	return path
}

func TestTheSameBusyboxGivesTheSameBytes(t *testing.T) {
	path := findBusybox(t)
	first, err := busybox.Tar(path)
	require.NoError(t, err)
	second, err := busybox.Tar(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(first, second), "two builds of the image differ")
}

func TestImageHoldsBusyboxItsAppletsAndEtc(t *testing.T) {
	data, err := busybox.Tar(findBusybox(t))
	require.NoError(t, err)

	headers := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		headers[hdr.Name] = hdr
	}

	require.Contains(t, headers, "bin/busybox")
	assert.Equal(t, int64(0o755), headers["bin/busybox"].Mode)
	require.Contains(t, headers, "bin/sh")
	assert.Equal(t, byte(tar.TypeSymlink), headers["bin/sh"].Typeflag)
	assert.Equal(t, "/bin/busybox", headers["bin/sh"].Linkname)
	for _, name := range []string{"etc/passwd", "etc/group", "etc/hostname", "etc/resolv.conf"} {
		assert.Contains(t, headers, name)
	}
	assert.Equal(t, int64(0o1777), headers["tmp/"].Mode, "/tmp is world-writable and sticky")
	for name, hdr := range headers {
		assert.Zero(t, hdr.Uid, name)
		assert.Zero(t, hdr.ModTime.Unix(), name)
	}
}

func TestADynamicBusyboxIsRefused(t *testing.T) {
	// /bin/true comes from coreutils, linked against the C library.
	saved := busybox.Candidates
	t.Cleanup(func() { busybox.Candidates = saved })
	busybox.Candidates = []string{"/bin/true"}
	_, err := busybox.Find()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "install busybox-static")
}
