package testkit

// Volumes is the end-to-end suite of boxcraft's -v, --mount and --tmpfs,
// and of -u and the image's User (issue 18): what the container sees,
// checked from inside (the probe, busybox's id) and from the host (the
// files the container wrote, or did not write).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// volumesSuite is what the subtests share: the top test, whose sandbox
// holds the loaded images, and the host folder the symlink image aims at.
type volumesSuite struct {
	top   *testing.T
	aimed string // a host folder that boxcraft/symlink's /data leads to, if it led out
}

// The users image's /etc/passwd and /etc/group: alice is in staff and
// video besides her own group, and is the image's User.
const (
	usersPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1001:1001:Alice:/home/alice:/bin/sh\n"
	usersGroup  = "root:x:0:\nnogroup:x:65534:\nalice:x:1001:\nstaff:x:50:alice\nvideo:x:44:bob,alice\n"
)

// Volumes checks volumes and users, end to end.
func Volumes(t *testing.T) {
	RequireRoot(t)
	s := &volumesSuite{top: t, aimed: t.TempDir()}
	base := BaseLayer(t)
	busybox := newNamedImage(t, "docker.io/library/busybox:latest", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, base)
	users := newNamedImage(t, "docker.io/boxcraft/users:v1", imageSettings{Env: []string{dockerPath}, User: "alice"}, base,
		Tar(t, TarEntry{Name: "etc/passwd", Body: usersPasswd}, TarEntry{Name: "etc/group", Body: usersGroup},
			TarEntry{Name: "home/", Type: '5'}, TarEntry{Name: "home/alice/", Type: '5', Uid: 1001, Gid: 1001}))
	// /data leads, climbing past the root, to a folder of the host's.
	symlink := newNamedImage(t, "docker.io/boxcraft/symlink:v1", imageSettings{Env: []string{dockerPath}}, base,
		Tar(t, TarEntry{Name: "data", Type: '2', Linkname: "/../../../../../.." + s.aimed}))
	loaded(t, Run(t, "load", "-i", busybox.layout(t)), "Loaded image: busybox:latest")
	loaded(t, Run(t, "load", "-i", users.layout(t)), "Loaded image: boxcraft/users:v1")
	loaded(t, Run(t, "load", "-i", symlink.layout(t)), "Loaded image: boxcraft/symlink:v1")

	t.Run("BindBothWays", s.bindBothWays)
	t.Run("ReadOnlyAllTheWayDown", s.readOnly)
	t.Run("SymlinkedDestinationStaysInside", s.symlinked)
	t.Run("Tmpfs", s.tmpfs)
	t.Run("Refused", s.refused)
	t.Run("UserNamespace", s.userNamespace)
	t.Run("Users", s.users)
	t.Run("UnknownUser", s.unknownUser)
}

// hostFolder is a new folder of the test's with the file from-host.
func hostFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "from-host"), []byte("host\n"), 0o644))
	return dir
}

// bindBothWays: what the host wrote is read inside, and what the
// container writes is on the host, with -v and with --mount.
func (s *volumesSuite) bindBothWays(t *testing.T) {
	for name, flags := range map[string]func(dir string) []string{
		"-v":      func(dir string) []string { return []string{"-v", dir + ":/data"} },
		"--mount": func(dir string) []string { return []string{"--mount", "type=bind,source=" + dir + ",target=/data"} },
	} {
		t.Run(name, func(t *testing.T) {
			ShareSandbox(t, s.top)
			dir := hostFolder(t)
			args := append(append([]string{"run", "--rm"}, flags(dir)...), "busybox", "sh", "-c", "cat /data/from-host; echo inside > /data/from-inside")
			r := Run(t, args...)
			require.Equal(t, 0, r.Code, r)
			assert.Equal(t, "host\n", r.Stdout, "the container reads the host's file")
			written, err := os.ReadFile(filepath.Join(dir, "from-inside"))
			require.NoError(t, err, "the file the container wrote is on the host")
			assert.Equal(t, "inside\n", string(written))
		})
	}
}

// readOnly: :ro and readonly cannot be written, nor can a mount below
// the host's folder, which comes along (rbind) and is read-only too;
// without them both can.
func (s *volumesSuite) readOnly(t *testing.T) {
	ShareSandbox(t, s.top)
	dir := hostFolder(t)
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	require.NoError(t, unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"), "a submount below the volume")
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	for _, flag := range [][]string{{"-v", dir + ":/data:ro"}, {"--mount", "type=bind,src=" + dir + ",dst=/data,readonly"}} {
		args := append(append([]string{"run", "--rm"}, flag...), "busybox", "/probe", "create=/data/top", "create=/data/sub/below")
		f := Probe(t, Run(t, args...))
		for _, path := range []string{"/data/top", "/data/sub/below"} {
			if made := f.Experiments.Creates[path]; assert.NotNil(t, made, path) {
				assert.False(t, made.OK, "%v: %s is read-only", flag, path)
				assert.Contains(t, made.Error, "read-only file system", "%v: %s: EROFS", flag, path)
			}
		}
	}
	f := Probe(t, Run(t, "run", "--rm", "-v", dir+":/data:rw", "busybox", "/probe", "create=/data/top", "create=/data/sub/below"))
	for _, path := range []string{"/data/top", "/data/sub/below"} {
		if made := f.Experiments.Creates[path]; assert.NotNil(t, made, path) {
			assert.True(t, made.OK, "control: :rw, %s is writable: %s", path, made.Error)
		}
	}
	assert.FileExists(t, filepath.Join(sub, "below"), "control: the submount came along (rbind)")
}

// symlinked: boxcraft/symlink's /data is a symlink that climbs out of the
// root to a folder of the host's; a volume on /data lands inside the
// root, and nothing is written in that host folder.
func (s *volumesSuite) symlinked(t *testing.T) {
	ShareSandbox(t, s.top)
	for _, flag := range [][]string{{"-v", hostFolder(t) + ":/data"}, {"--tmpfs", "/data"}} {
		r := Run(t, append(append([]string{"run", "--rm"}, flag...), "boxcraft/symlink:v1", "sh", "-c", "echo x > /data/written && cat /data/written")...)
		assert.Equal(t, 0, r.Code, "%v: %s", flag, r)
		assert.Equal(t, "x\n", r.Stdout, "%v: the container writes on its volume", flag)
		entries, err := os.ReadDir(s.aimed)
		require.NoError(t, err)
		assert.Empty(t, entries, "%v: the host folder the symlink aims at is untouched", flag)
		assertNoMountBelow(t, s.aimed)
	}
}

// assertNoMountBelow checks that the host has no mount at dir or below.
func assertNoMountBelow(t *testing.T, dir string) {
	t.Helper()
	for _, point := range MountPointsOfType(t, "") {
		assert.False(t, point == dir || strings.HasPrefix(point, dir+"/"), "a mount on the host at %s", point)
	}
}

// tmpfs: --tmpfs and --mount type=tmpfs are tmpfs of the size and mode
// asked for.
func (s *volumesSuite) tmpfs(t *testing.T) {
	ShareSandbox(t, s.top)
	f := Probe(t, Run(t, "run", "--rm", "--tmpfs", "/small:size=1m", "--mount", "type=tmpfs,target=/other,tmpfs-size=2m,tmpfs-mode=1770",
		"--tmpfs", "/runnable:exec,ro", "busybox", "/probe", "create=/small/file"))
	assert.Regexp(t, ` /small .* - tmpfs \S+ rw,size=1024k`, mountLine(f.Mounts, "/small"), "--tmpfs /small:size=1m")
	assert.Regexp(t, ` /other .* - tmpfs \S+ rw,size=2048k,mode=1770`, mountLine(f.Mounts, "/other"), "--mount type=tmpfs")
	assert.Contains(t, mountLine(f.Mounts, "/small"), "noexec", "--tmpfs is noexec, as Docker's")
	assert.Regexp(t, ` /runnable ro,nosuid,nodev,`, mountLine(f.Mounts, "/runnable"), "--tmpfs /runnable:exec,ro: exec takes Docker's noexec away, ro is kept")
	assert.NotContains(t, mountLine(f.Mounts, "/runnable"), "noexec", "--tmpfs /runnable:exec")
	if made := f.Experiments.Creates["/small/file"]; assert.NotNil(t, made) {
		assert.True(t, made.OK, "the tmpfs is writable: %s", made.Error)
	}
}

// mountLine is the mountinfo line of the mount on point, or "".
func mountLine(mounts []string, point string) string {
	for _, line := range mounts {
		if fields := strings.Fields(line); len(fields) > 4 && fields[4] == point {
			return line
		}
	}
	return ""
}

// refused: a missing host path, a relative one (a named volume, to
// Docker) and a bad --mount are refused in one line, leaving nothing.
func (s *volumesSuite) refused(t *testing.T) {
	ShareSandbox(t, s.top)
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		args  []string
		names []string
	}{
		{[]string{"-v", missing + ":/data"}, []string{missing}},
		{[]string{"--mount", "type=bind,source=" + missing + ",target=/data"}, []string{missing}},
		{[]string{"-v", "named:/data"}, []string{"named", "named volumes are not supported"}},
		{[]string{"-v", hostFolder(t) + ":relative"}, []string{"relative"}},
		{[]string{"--mount", "type=volume,target=/data"}, []string{"volume"}},
		{[]string{"--tmpfs", "/t:size=lots"}, []string{"lots"}},
	} {
		assertLeavesNothing(t, strings.Join(tc.args, " "), func() {
			assertFailedOneLine(t, Run(t, append(append([]string{"run", "--rm"}, tc.args...), "busybox", "true")...), 125, tc.names...)
		})
		assert.NoFileExists(t, missing, "a missing host path is not made")
	}
}

// userNamespace: with --uidmap, a volume's files keep their owners as
// the container sees them (an id-mapped mount): the host's root is root
// inside, and what root inside writes is the host root's. On a kernel
// without id-mapped mounts, the run is refused in one clear line.
func (s *volumesSuite) userNamespace(t *testing.T) {
	ShareSandbox(t, s.top)
	dir := hostFolder(t)
	require.NoError(t, os.Chown(filepath.Join(dir, "from-host"), 1000, 1000))
	r := Run(t, "run", "--rm", "--uidmap", "0:100000:65536", "-v", dir+":/data", "busybox", "sh", "-c",
		"stat -c '%u:%g' /data/from-host /data; echo inside > /data/from-inside")
	if !canIDMap(t, dir) {
		// Debian 12's 6.1 with the folder on a tmpfs (the v2 VM's root).
		assertFailedOneLine(t, r, 125, dir, "id-mapped")
		return
	}
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "1000:1000\n0:0\n", r.Stdout, "the host's 1000 is 1000 inside, and its root root")
	var st unix.Stat_t
	require.NoError(t, unix.Stat(filepath.Join(dir, "from-inside"), &st))
	assert.Equal(t, [2]uint32{0, 0}, [2]uint32{st.Uid, st.Gid}, "root inside wrote as the host's root, through the map")
}

// idOf runs `id` in image with args and returns uid, gid, groups and HOME.
func idOf(t *testing.T, args ...string) string {
	t.Helper()
	cmd := append(append([]string{"run", "--rm"}, args...), "sh", "-c", `echo "$(id -u) $(id -g) [$(id -G)] $HOME"`)
	r := Run(t, cmd...)
	require.Equal(t, 0, r.Code, r)
	return strings.TrimSpace(r.Stdout)
}

// users: -u by name and number, the image's User, supplementary groups
// from the image's /etc/group (id -G lists them as the kernel keeps
// them, sorted), HOME from its /etc/passwd.
func (s *volumesSuite) users(t *testing.T) {
	ShareSandbox(t, s.top)
	f := Probe(t, Run(t, "run", "--rm", "-u", "nobody", "busybox", "/probe"))
	assert.Equal(t, [4]int{65534, 65534, 65534, 65534}, [4]int{f.UID, f.EUID, f.GID, f.EGID}, "-u nobody: the image's nobody")
	for _, tc := range []struct{ args, want string }{
		{"-u nobody busybox", "65534 65534 [65534] /nonexistent"},
		{"-u 1000:1000 busybox", "1000 1000 [1000] /"},
		{"-u 1000 busybox", "1000 0 [0] /"},
		{"busybox", "0 0 [0] /root"},
		{"boxcraft/users:v1", "1001 1001 [1001 44 50] /home/alice"},
		{"-u alice:staff boxcraft/users:v1", "1001 50 [50] /home/alice"},
		{"-u root boxcraft/users:v1", "0 0 [0] /root"},
		{"-u alice -e HOME=/elsewhere boxcraft/users:v1", "1001 1001 [1001 44 50] /elsewhere"},
	} {
		assert.Equal(t, tc.want, idOf(t, strings.Fields(tc.args)...), "run %s: uid gid [groups] HOME", tc.args)
	}
	inspect := Run(t, "run", "--name", "as-alice", "boxcraft/users:v1", "true")
	t.Cleanup(func() { Run(t, "rm", "-f", "as-alice") })
	require.Equal(t, 0, inspect.Code, inspect)
	assert.Equal(t, "alice", inspectOne(t, "as-alice").Config.User, "inspect's Config.User is the image's")
}

// unknownUser: a name the image's /etc/passwd lacks is refused as
// Docker refuses it, leaving nothing.
func (s *volumesSuite) unknownUser(t *testing.T) {
	ShareSandbox(t, s.top)
	assertLeavesNothing(t, "an unknown user", func() {
		r := Run(t, "run", "--rm", "-u", "nobodyx", "busybox", "true")
		assertFailedOneLine(t, r, 125, "unable to find user nobodyx: no matching entries in passwd file")
	})
	assertLeavesNothing(t, "an unknown group", func() {
		assertFailedOneLine(t, Run(t, "run", "--rm", "-u", "nobody:nogroupx", "busybox", "true"), 125, "nogroupx")
	})
}

// canIDMap says whether this kernel id-maps mounts of dir's filesystem:
// from 5.12 (mount_setattr) for the disk filesystems, from 6.3 for tmpfs.
func canIDMap(t *testing.T, dir string) bool {
	var fs unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &fs))
	if fs.Type == unix.TMPFS_MAGIC {
		return kernelAtLeast(t, 6, 3)
	}
	return kernelAtLeast(t, 5, 12)
}

// kernelAtLeast compares the running kernel's version with major.minor.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	var u unix.Utsname
	require.NoError(t, unix.Uname(&u))
	var maj, min int
	_, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &maj, &min)
	require.NoError(t, err)
	return maj > major || (maj == major && min >= minor)
}
