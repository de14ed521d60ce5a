package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// sandbox is a folder for one unpack: the target, eight folders down
// (sandbox/1/2/…/8/target), and beside them outside, which holds a
// victim file. An escape from the target lands in the sandbox.
type sandbox struct{ dir, target, outside string }

func newSandbox(t testing.TB) sandbox {
	t.Helper()
	dir := t.TempDir()
	s := sandbox{dir, filepath.Join(dir, "1/2/3/4/5/6/7/8/target"), filepath.Join(dir, "outside")}
	require.NoError(t, os.MkdirAll(s.target, 0o755))
	require.NoError(t, os.Mkdir(s.outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(s.outside, "victim"), []byte("the host's\n"), 0o644))
	return s
}

// fuzzOutside is the sandbox's outside as the target sees it. The fuzz
// seeds are made before any sandbox exists, so they aim at it by this
// relative path (nine ".." climb from target to the sandbox): an escape
// lands in the sandbox, where the fuzz target looks, and a hard link to
// the victim would show in its link count.
const fuzzOutside = "../../../../../../../../../outside"

// around describes everything in the sandbox but what is in the target
// (testkit.Listing): an escape changes it.
func (s sandbox) around(t testing.TB) []string {
	t.Helper()
	return testkit.Listing(t, s.dir, s.target)
}

// unpackFile unpacks an image file as step04 does.
func unpackFile(image, dir string, uidMap, gidMap *syscall.SysProcIDMap) error {
	file, err := os.Open(image)
	if err != nil {
		return err
	}
	defer file.Close()
	r, err := unzip(file)
	if err != nil {
		return err
	}
	return unpack(r, dir, uidMap, gidMap)
}

func unpackBytes(t *testing.T, data []byte, dir string) error {
	t.Helper()
	image := filepath.Join(t.TempDir(), "image.tar")
	require.NoError(t, os.WriteFile(image, data, 0o644))
	return unpackFile(image, dir, nil, nil)
}

// asMe makes entries owned by the user running the test, so that a test
// of something else needs no root.
func asMe(entries ...testkit.TarEntry) []testkit.TarEntry {
	for i := range entries {
		entries[i].Uid, entries[i].Gid = os.Getuid(), os.Getgid()
	}
	return entries
}

// Every attack is refused, with an error of one line that names the
// entry, and nothing outside the target appears or changes.
func TestUnpackRefusesHostileArchives(t *testing.T) {
	testkit.RequireRoot(t)
	for i, h := range testkit.HostileArchives("/outside") {
		t.Run(h.Name, func(t *testing.T) {
			s := newSandbox(t)
			h := testkit.HostileArchives(s.outside)[i] // the same attack, aimed at this sandbox
			before := s.around(t)
			err := unpack(bytes.NewReader(h.Tar), s.target, nil, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), fmt.Sprintf("entry %q: ", h.Entry))
			assert.NotContains(t, err.Error(), "\n")
			assert.Equal(t, before, s.around(t), "nothing outside the target appears or changes")
		})
	}
}

// A symlink an earlier entry planted is replaced or changed itself, never
// written through.
func TestUnpackReplacesPlantedSymlinks(t *testing.T) {
	testkit.RequireRoot(t)
	for i, h := range testkit.PlantedSymlinkArchives("/outside") {
		t.Run(h.Name, func(t *testing.T) {
			s := newSandbox(t)
			h := testkit.PlantedSymlinkArchives(s.outside)[i]
			before := s.around(t)
			require.NoError(t, unpack(bytes.NewReader(h.Tar), s.target, nil, nil))
			assert.Equal(t, before, s.around(t), "nothing outside the target appears or changes")
			_, err := os.Lstat(filepath.Join(s.target, h.Entry))
			assert.NoError(t, err, "the entry is in the target")
		})
	}
	t.Run("the file lands inside", func(t *testing.T) {
		s := newSandbox(t)
		require.NoError(t, unpack(bytes.NewReader(testkit.PlantedSymlinkArchives(s.outside)[0].Tar), s.target, nil, nil))
		info, err := os.Lstat(filepath.Join(s.target, "victim-link"))
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o666), info.Mode(), "a regular file, with the archive's mode")
		data, err := os.ReadFile(filepath.Join(s.target, "victim-link"))
		require.NoError(t, err)
		assert.Equal(t, "written inside\n", string(data))
	})
}

// Symlinks that stay inside are followed, as the container will see them
// (merged /usr: lib -> usr/lib); an absolute one is refused, though it
// would stay inside once the rootfs is the root: RESOLVE_BENEATH cannot
// tell.
func TestUnpackFollowsSymlinksThatStayInside(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, unpackBytes(t, testkit.Tar(t, asMe(
		testkit.TarEntry{Name: "usr/", Type: tar.TypeDir},
		testkit.TarEntry{Name: "usr/lib/", Type: tar.TypeDir},
		testkit.TarEntry{Name: "lib", Type: tar.TypeSymlink, Linkname: "usr/lib"},
		testkit.TarEntry{Name: "lib/x", Body: "in usr/lib\n"},
	)...), dir))
	data, err := os.ReadFile(filepath.Join(dir, "usr/lib/x"))
	require.NoError(t, err)
	assert.Equal(t, "in usr/lib\n", string(data))

	err = unpackBytes(t, testkit.Tar(t, asMe(
		testkit.TarEntry{Name: "abs", Type: tar.TypeSymlink, Linkname: "/usr"},
		testkit.TarEntry{Name: "abs/y", Body: "refused\n"},
	)...), t.TempDir())
	assert.EqualError(t, err, `entry "abs/y": its path leads outside the rootfs through a symlink`)
}

// The root entry ("./") sets the rootfs's own mode and owner.
func TestUnpackRootEntrySetsTheRootfsMetadata(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, unpackBytes(t, testkit.Tar(t, asMe(
		testkit.TarEntry{Name: "./", Type: tar.TypeDir, Mode: 0o750},
		testkit.TarEntry{Name: "./file", Body: "x"},
	)...), dir))
	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, fs.ModeDir|0o750, info.Mode())
}

// A docker-export-like image comes out as GNU tar unpacks it (names,
// types, modes, owners, link targets, contents, hard links, FIFOs,
// times), with the owners moved up by a user namespace's map.
func TestUnpackMatchesGNUTar(t *testing.T) {
	testkit.RequireRoot(t)
	if _, err := exec.LookPath("tar"); err != nil {
		testkit.Skip(t, "GNU tar is not installed")
	}
	idMap := &syscall.SysProcIDMap{ContainerID: 0, HostID: 100000, Size: 65536}
	for name, m := range map[string]*syscall.SysProcIDMap{"ids kept": nil, "ids shifted": idMap} {
		t.Run(name, func(t *testing.T) {
			// No device node (see TestUnpackRefusesBadEntries) and no xattrs,
			// which unpack leaves out as GNU tar does without --xattrs.
			image := testkit.StepsExportTar(t)
			shift := 0
			if m != nil {
				shift = m.HostID // as step04 gives the rootfs to the container's root
			}
			testkit.AssertUnpacksAsGNUTar(t, image, shift, func(dir string) error { return unpack(bytes.NewReader(image), dir, m, m) })
		})
	}
}

// unzip tells a gzip-compressed image by its first bytes, not its name.
func TestUnzipReadsPlainAndGzip(t *testing.T) {
	testkit.RequireRoot(t)
	image := testkit.DockerExportTar(t, false)
	for name, data := range map[string][]byte{"image.tar": testkit.Gzip(t, image), "image.tar.gz": image} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), name)
			require.NoError(t, os.WriteFile(file, data, 0o644))
			dir := t.TempDir()
			require.NoError(t, unpackFile(file, dir, nil, nil))
			assert.FileExists(t, filepath.Join(dir, "etc/hostname"))
		})
	}
}

// Entries that are not attacks but cannot be unpacked are refused in one
// line that names them.
func TestUnpackRefusesBadEntries(t *testing.T) {
	dir := testkit.TarEntry{Name: "d/", Type: tar.TypeDir}
	small := &syscall.SysProcIDMap{ContainerID: 0, HostID: os.Getuid(), Size: 65536}
	for name, tc := range map[string]struct {
		entries []testkit.TarEntry
		idMap   *syscall.SysProcIDMap
		err     string
	}{
		"dotdot":               {[]testkit.TarEntry{{Name: "../evil"}}, nil, `entry "../evil": the name leads outside the rootfs`},
		"absolute":             {[]testkit.TarEntry{{Name: "/etc/x"}}, nil, `entry "/etc/x": the name leads outside the rootfs`},
		"empty name":           {[]testkit.TarEntry{{Name: ""}}, nil, `entry "": the name is empty`},
		"unsupported type":     {[]testkit.TarEntry{{Name: "z", Type: 'Z'}}, nil, `entry "z": type 'Z' is not supported`},
		"rootfs as a file":     {[]testkit.TarEntry{{Name: "."}}, nil, `entry ".": remove what is there: invalid argument`},
		"hard link to dir":     {[]testkit.TarEntry{dir, {Name: "h", Type: tar.TypeLink, Linkname: "d/"}}, nil, `entry "h": link to "d/": operation not permitted`},
		"hard link to nothing": {[]testkit.TarEntry{{Name: "h", Type: tar.TypeLink, Linkname: "gone"}}, nil, `entry "h": link to "gone": no such file or directory`},
		"hard link outside":    {[]testkit.TarEntry{{Name: "h", Type: tar.TypeLink, Linkname: "/etc/shadow"}}, nil, `entry "h": link target "/etc/shadow": the name leads outside the rootfs`},
		"full dir in the way":  {[]testkit.TarEntry{dir, {Name: "d/f"}, {Name: "d"}}, nil, `entry "d": remove what is there: directory not empty`},
		"device node":          {[]testkit.TarEntry{{Name: "c", Type: tar.TypeChar, Devmajor: 1, Devminor: 3}}, nil, `entry "c": a device node, which this runtime does not unpack`},
		"uid outside the map":  {[]testkit.TarEntry{{Name: "f", Uid: 65536}}, small, `entry "f": owner uid 65536 is outside the container's uid map (0-65535)`},
		"gid outside the map":  {[]testkit.TarEntry{{Name: "f", Gid: 70000}}, small, `entry "f": owner gid 70000 is outside the container's gid map (0-65535)`},
		"device with a map":    {[]testkit.TarEntry{{Name: "b", Type: tar.TypeBlock, Devmajor: 8}}, small, `entry "b": a device node, which this runtime does not unpack`},
	} {
		t.Run(name, func(t *testing.T) {
			entries := tc.entries
			if tc.idMap == nil {
				entries = asMe(entries...)
			}
			err := unpack(bytes.NewReader(testkit.Tar(t, entries...)), t.TempDir(), tc.idMap, tc.idMap)
			assert.EqualError(t, err, tc.err)
		})
	}
}

// An entry whose folder the archive has not listed before it is refused,
// in one line that names it: unpack makes no folder the archive left out
// (GNU tar and boxcraft's final/archive do).
func TestUnpackRefusesAnEntryWithoutItsFolder(t *testing.T) {
	image := testkit.Tar(t, asMe(testkit.TarEntry{Name: "a/b/c", Body: "x"})...)
	err := unpack(bytes.NewReader(image), t.TempDir(), nil, nil)
	assert.EqualError(t, err, `entry "a/b/c": open its folder "a/b": no such file or directory`)
}

// GNU tar writes a PAX global header, named /tmp/GlobalHead.PID.N, when
// asked for an archive comment: it is no file, and no name to refuse.
func TestUnpackSkipsGlobalHeaders(t *testing.T) {
	tree := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(tree, "file"), []byte("x"), 0o644))
	image := filepath.Join(t.TempDir(), "image.tar")
	out, err := exec.Command("tar", "--format=pax", "--pax-option=comment=made by a test", "-cf", image, "-C", tree, "file").CombinedOutput()
	require.NoError(t, err, "%s", out)
	dir := t.TempDir()
	require.NoError(t, unpackFile(image, dir, nil, nil))
	assert.FileExists(t, filepath.Join(dir, "file"))
}

// Input that is no tar archive, or a broken one, is an error, not a panic.
func TestUnpackRefusesGarbage(t *testing.T) {
	image := testkit.Tar(t, asMe(testkit.TarEntry{Name: "file", Body: strings.Repeat("x", 2000)})...)
	for name, data := range map[string][]byte{
		"text":           []byte(strings.Repeat("this is not a tar archive\n", 40)),
		"short text":     []byte("not a tar"),
		"gzip of text":   testkit.Gzip(t, []byte(strings.Repeat("not a tar\n", 100))),
		"broken gzip":    {0x1f, 0x8b, 8, 0, 1, 2, 3},
		"truncated tar":  image[:1500],
		"truncated gzip": testkit.Gzip(t, image)[:40],
		"GNU sparse":     gnuSparse(t),
		"PAX sparse":     paxSparse(t),
	} {
		t.Run(name, func(t *testing.T) {
			err := unpackBytes(t, data, t.TempDir())
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
	t.Run("sparse files are refused by name", func(t *testing.T) {
		assert.EqualError(t, unpackBytes(t, gnuSparse(t), t.TempDir()), `entry "sparse": type 'S' is not supported`)
		assert.EqualError(t, unpackBytes(t, paxSparse(t), t.TempDir()), `entry "sparse": sparse files are not supported`)
	})
}

// gnuSparse is an old GNU sparse file, type 'S'.
func gnuSparse(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "sparse", Typeflag: tar.TypeGNUSparse, Format: tar.FormatGNU}))
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// paxSparse is a GNU sparse file of format 1.0, in PAX records, that
// claims a terabyte. archive/tar writes no such records, so the PAX
// header is written as an entry of type 'Z', then retyped 'x'.
func paxSparse(t *testing.T) []byte {
	records := "22 GNU.sparse.major=1\n22 GNU.sparse.minor=0\n26 GNU.sparse.name=sparse\n" +
		"37 GNU.sparse.realsize=1000000000000\n"
	sparseMap := "1\n1000000000000\n0\n" // one data block of no bytes, at the end
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "pax", Typeflag: 'Z', Size: int64(len(records)), Format: tar.FormatUSTAR}))
	_, err := tw.Write([]byte(records))
	require.NoError(t, err)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "sparse", Typeflag: tar.TypeReg, Size: 512, Format: tar.FormatUSTAR}))
	_, err = tw.Write([]byte(sparseMap + strings.Repeat("\x00", 512-len(sparseMap))))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	data := buf.Bytes()
	data[156] = tar.TypeXHeader
	copy(data[148:156], "        ") // the checksum counts its own field as spaces
	sum := 0
	for _, b := range data[:512] {
		sum += int(b)
	}
	copy(data[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return data
}

// FuzzUnpack feeds unpack any bytes at all (through unzip, so gzip
// too) and checks that nothing outside the target appears or changes,
// and that an error is one line. Errors are fine: as a normal user, every
// chown to another owner is one.
func FuzzUnpack(f *testing.F) {
	for _, h := range testkit.HostileArchives(fuzzOutside) {
		f.Add(h.Tar)
	}
	for _, h := range testkit.PlantedSymlinkArchives(fuzzOutside) {
		f.Add(h.Tar)
	}
	image := testkit.DockerExportTar(f, true)
	f.Add(image)
	f.Add(testkit.Gzip(f, image))
	// Each input gets a fresh sandbox, made and removed: on tmpfs that is
	// ten times as fast as on a disk mounted with discard, and the fuzzer
	// tries ten times as many inputs. t.TempDir goes where TMPDIR says.
	var shm unix.Statfs_t
	if unix.Statfs("/dev/shm", &shm) == nil && shm.Type == unix.TMPFS_MAGIC && unix.Access("/dev/shm", unix.W_OK) == nil {
		f.Setenv("TMPDIR", "/dev/shm")
	}
	f.Fuzz(func(t *testing.T, archive []byte) {
		s := newSandbox(t)
		// Cleanups run last first: this one, before t.TempDir's removal,
		// opens up a folder a normal user's unpack left without write or
		// search permission.
		t.Cleanup(func() {
			_ = filepath.WalkDir(s.target, func(name string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					_ = os.Chmod(name, 0o700)
				}
				return nil
			})
		})
		before := s.around(t)
		if err := unpackBytes(t, archive, s.target); err != nil {
			assert.NotContains(t, err.Error(), "\n", "an error is one line")
		}
		assert.Equal(t, before, s.around(t), "nothing outside the target appears or changes")
	})
}
