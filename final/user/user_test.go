package user

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// root writes a root folder whose /etc is a symlink that climbs out of
// it: read beneath the root, it is the root's own /etc2.
func root(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "etc2"), 0o755))
	require.NoError(t, os.Symlink("/../../../etc2", filepath.Join(dir, "etc")))
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "etc2", name), []byte(body), 0o644))
	}
	write("passwd", "root:x:0:0:root:/root:/bin/sh\n# a comment\nbroken line\nalice:x:1001:1001::/home/alice:/bin/sh\nbob:x:1002:1002::/home/bob:/bin/sh\n")
	write("group", "root:x:0:\nalice:x:1001:\nstaff:x:50:alice,bob\nvideo:x:44:alice\n")
	return dir
}

func TestLookup(t *testing.T) {
	dir := root(t)
	for _, tc := range []struct {
		name string
		want spec.User
	}{
		{"", spec.User{UID: 0, GID: 0, Home: "/root"}},
		{"root", spec.User{UID: 0, GID: 0, Home: "/root"}},
		{"alice", spec.User{UID: 1001, GID: 1001, AdditionalGids: []uint32{50, 44}, Home: "/home/alice"}},
		{"1001", spec.User{UID: 1001, GID: 1001, Home: "/home/alice"}}, // by number: no supplementary groups, as runc
		{"alice:staff", spec.User{UID: 1001, GID: 50, Home: "/home/alice"}},
		{"alice:7", spec.User{UID: 1001, GID: 7, Home: "/home/alice"}},
		{"4242", spec.User{UID: 4242, GID: 0, Home: "/"}},
		{"4242:4242", spec.User{UID: 4242, GID: 4242, Home: "/"}},
	} {
		got, err := Lookup(dir, tc.name)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, "-u %q", tc.name)
	}
}

func TestLookupRefuses(t *testing.T) {
	dir := root(t)
	for name, want := range map[string]string{
		"nobodyx":       "unable to find user nobodyx: no matching entries in passwd file",
		"alice:nogroup": "unable to find group nogroup: no matching entries in group file",
		"alice:":        "give USER:GROUP",
		"4294967295":    "unable to find user 4294967295",
	} {
		_, err := Lookup(dir, name)
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), want, name)
		}
	}
	_, err := Lookup(t.TempDir(), "alice")
	assert.ErrorContains(t, err, "no matching entries in passwd file", "no /etc/passwd: no names")
}

// TestLookupRefusesAFifo: a FIFO in place of /etc/passwd (a hostile
// image) is refused at once, not waited on: boxcraft exec reads it from
// the host.
func TestLookupRefusesAFifo(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	require.NoError(t, unix.Mkfifo(filepath.Join(dir, "etc", "passwd"), 0o644))
	_, err := Lookup(dir, "alice")
	assert.ErrorContains(t, err, "/etc/passwd is not a regular file")
}

// TestLookupRefusesADeviceOrAKernelFile: a device node in place of
// /etc/passwd is never opened, and a file of procfs is not read.
func TestLookupRefusesADeviceOrAKernelFile(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mknod needs root")
	}
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	require.NoError(t, unix.Mknod(filepath.Join(dir, "etc", "passwd"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))))
	_, err := Lookup(dir, "alice")
	assert.ErrorContains(t, err, "/etc/passwd is not a regular file")

	fd, err := unix.Open("/proc/self/status", unix.O_PATH|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	assert.ErrorContains(t, ordinaryFile(fd, "/etc/passwd"), "/etc/passwd is a file of proc, not of the image")
}
