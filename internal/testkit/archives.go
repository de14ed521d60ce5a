package testkit

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"strings"
	"testing"
	"time"
)

// ArchiveTime is the modification time of every entry Tar writes: a fixed
// time keeps the bytes reproducible, and an unpacker's result comparable.
var ArchiveTime = time.Date(2024, time.March, 1, 12, 0, 0, 0, time.UTC)

// TarEntry is one entry of a test archive. Type is a tar type flag, and
// tar.TypeReg when left zero; Mode 0 means the type's usual mode (0755 for
// a directory, 0777 for a symlink, 0644 for the others). Body is a regular
// file's content. Xattrs become PAX "SCHILY.xattr.NAME" records, as GNU
// tar --xattrs writes them.
type TarEntry struct {
	Name, Linkname, Body string
	Type                 byte
	Mode                 int64
	Uid, Gid             int
	Xattrs               map[string]string
	Devmajor, Devminor   int64
}

// Tar writes entries as a PAX tar archive, in the order given.
func Tar(t testing.TB, entries ...TarEntry) []byte {
	t.Helper()
	data, err := TarBytes(entries...)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TarBytes is Tar for code that has no test at hand.
func TarBytes(entries ...TarEntry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := tw.WriteHeader(e.header()); err != nil {
			return nil, fmt.Errorf("tar entry %q: %w", e.Name, err)
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			return nil, fmt.Errorf("tar entry %q: %w", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (e TarEntry) header() *tar.Header {
	hdr := &tar.Header{
		Typeflag: e.Type,
		Name:     e.Name,
		Linkname: e.Linkname,
		Mode:     e.Mode,
		Uid:      e.Uid,
		Gid:      e.Gid,
		ModTime:  ArchiveTime,
		Devmajor: e.Devmajor,
		Devminor: e.Devminor,
		Format:   tar.FormatPAX,
	}
	if hdr.Typeflag == 0 {
		hdr.Typeflag = tar.TypeReg
	}
	if hdr.Typeflag == tar.TypeReg {
		hdr.Size = int64(len(e.Body))
	}
	if hdr.Mode == 0 {
		hdr.Mode = map[byte]int64{tar.TypeDir: 0o755, tar.TypeSymlink: 0o777}[hdr.Typeflag]
	}
	if hdr.Mode == 0 {
		hdr.Mode = 0o644
	}
	for name, value := range e.Xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+name] = value
	}
	return hdr
}

// Gzip compresses data, as an image may be.
func Gzip(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// GNUTarExtract unpacks the archive at image into dir with GNU tar, as
// root would, xattrs included: what an unpacker's result is compared with.
func GNUTarExtract(t testing.TB, image, dir string) {
	t.Helper()
	r := RunCmd(t, HostCommand(t, "tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", image, "-C", dir))
	if r.Code != 0 {
		t.Fatalf("GNU tar: %s", r)
	}
}

// Hostile is an archive made to reach outside the directory it is
// unpacked into. Entry is the name of the entry that must be refused, and
// that the refusal must name: the entries before it are harmless, and an
// unpacker that refuses it never reaches those after it.
type Hostile struct {
	Name  string // the attack, in a few words
	Tar   []byte
	Entry string
}

// HostileArchives returns one archive per attack, each aimed at outside,
// a directory that holds a file named "victim". A safe unpacker refuses
// every one with an error naming its Entry, and nothing in outside appears
// or changes.
//
// outside is absolute, or relative to the target directory. Relative is
// for archives made before the target exists (the fuzz seeds); then the
// "absolute" cases aim at outside by that relative path, since no
// absolute path to it is known yet.
func HostileArchives(outside string) []Hostile {
	climb := climbTo(outside)
	link := TarEntry{Name: "link", Type: tar.TypeSymlink, Linkname: outside}
	escaped := func(name string) TarEntry { return TarEntry{Name: name, Body: "escaped\n"} }
	return []Hostile{
		hostile("a name that climbs out with ..", climb+"/dotdot-name",
			escaped(climb+"/dotdot-name")),
		hostile("a .. in the middle of a name", "etc/../../dotdot-middle",
			TarEntry{Name: "etc/", Type: tar.TypeDir},
			escaped("etc/../../dotdot-middle")),
		hostile("an absolute name", outside+"/absolute-name",
			escaped(outside+"/absolute-name")),
		hostile("a symlink to outside, then a file written through it", "link/through-link",
			link,
			escaped("link/through-link")),
		hostile("a relative .. symlink, then a file written through it", "up/through-up",
			TarEntry{Name: "up", Type: tar.TypeSymlink, Linkname: climb},
			escaped("up/through-up")),
		hostile("a hard link to a file outside, by absolute name", "hardlink-absolute",
			TarEntry{Name: "hardlink-absolute", Type: tar.TypeLink, Linkname: outside + "/victim"}),
		hostile("a hard link to a file outside, by a .. name", "hardlink-dotdot",
			TarEntry{Name: "hardlink-dotdot", Type: tar.TypeLink, Linkname: climb + "/victim"}),
		hostile("a hard link through a symlinked directory", "hardlink-via-link",
			link,
			TarEntry{Name: "hardlink-via-link", Type: tar.TypeLink, Linkname: "link/victim"}),
		// usr/lib leads out and lib leads to usr/lib, so lib/nested/ would
		// be made outside, and the rest below it.
		hostile("a name that escapes through earlier symlinked directories", "lib/nested/",
			TarEntry{Name: "usr/", Type: tar.TypeDir},
			TarEntry{Name: "usr/lib", Type: tar.TypeSymlink, Linkname: "../" + climb},
			TarEntry{Name: "lib", Type: tar.TypeSymlink, Linkname: "usr/lib"},
			TarEntry{Name: "lib/nested/", Type: tar.TypeDir},
			TarEntry{Name: "lib/nested/deeper/", Type: tar.TypeDir},
			escaped("lib/nested/deeper/file")),
		hostile("the rootfs itself replaced by a symlink to outside", "./",
			TarEntry{Name: "./", Type: tar.TypeSymlink, Linkname: outside}),
	}
}

// hostile makes one case of HostileArchives or PlantedSymlinkArchives.
func hostile(name, entry string, entries ...TarEntry) Hostile {
	data, err := TarBytes(entries...)
	if err != nil {
		panic(err) // the archives are fixed: an error is a mistake in this file
	}
	return Hostile{Name: name, Tar: data, Entry: entry}
}

// PlantedSymlinkArchives returns archives that plant a symlink to outside
// (or to its victim) and then write the same name again: as a regular
// file, a directory, a hard link, a FIFO, or the symlink's own owner,
// times and an xattr. An unpacker that follows the last component of a
// name writes outside; a safe one replaces or changes the link itself.
// Unlike HostileArchives, every one must be accepted: Entry names what
// must then be inside the target, and outside is unchanged.
func PlantedSymlinkArchives(outside string) []Hostile {
	victim := outside + "/victim"
	planted := func(name, target string) TarEntry {
		return TarEntry{Name: name, Type: tar.TypeSymlink, Linkname: target}
	}
	return []Hostile{
		hostile("a symlink replaced by a regular file", "victim-link",
			planted("victim-link", victim),
			TarEntry{Name: "victim-link", Mode: 0o666, Body: "written inside\n"}),
		hostile("a symlink replaced by a directory", "dir-link",
			planted("dir-link", outside),
			TarEntry{Name: "dir-link/", Type: tar.TypeDir, Mode: 0o777}),
		hostile("a symlink replaced by a hard link", "hardlink-link",
			TarEntry{Name: "file", Body: "inside\n"},
			planted("hardlink-link", victim),
			TarEntry{Name: "hardlink-link", Type: tar.TypeLink, Linkname: "file"}),
		hostile("a hard link to a symlink that points outside", "hardlink-to-link",
			planted("victim-link", victim),
			TarEntry{Name: "hardlink-to-link", Type: tar.TypeLink, Linkname: "victim-link"}),
		hostile("a symlink replaced by a FIFO", "fifo-link",
			planted("fifo-link", victim),
			TarEntry{Name: "fifo-link", Type: tar.TypeFifo, Mode: 0o666}),
		hostile("a symlink given an owner, times and an xattr", "owned-link",
			TarEntry{Name: "owned-link", Type: tar.TypeSymlink, Linkname: victim, Uid: 4242, Gid: 4242,
				Xattrs: map[string]string{"trusted.boxcraft": "on the link"}}),
	}
}

// climbTo is a relative path from the target to outside: an absolute
// outside is reached by climbing to / first (extra ".." at / stay there).
func climbTo(outside string) string {
	if !path.IsAbs(outside) {
		return outside
	}
	return strings.Repeat("../", 40) + strings.TrimLeft(outside, "/")
}

// DockerExportTar is an archive shaped like what `docker export` writes:
// relative names with no "./", a directory before what it holds, and the
// file types and metadata of a real image (setuid, setgid and sticky bits,
// a user's files, hard links, absolute, relative and dangling symlinks, a
// FIFO, a device node when devices is true, and xattrs in the trusted
// namespace, which tmpfs and ext4 keep where user.* may be refused). GNU
// tar extracts it too. A runtime refuses the device node for a container
// with a user namespace.
func DockerExportTar(t testing.TB, devices bool) []byte {
	t.Helper()
	return Tar(t, dockerExportEntries(devices, true)...)
}

// StepsExportTar is DockerExportTar as the steps unpack it: no device
// node, and no xattrs, which the steps leave out as GNU tar does without
// --xattrs (boxcraft's final/archive makes both).
func StepsExportTar(t testing.TB) []byte {
	t.Helper()
	return Tar(t, dockerExportEntries(false, false)...)
}

// dockerExportEntries are DockerExportTar's entries, with a device node
// and xattrs or without.
func dockerExportEntries(devices, xattrs bool) []TarEntry {
	dir := func(name string, mode int64) TarEntry { return TarEntry{Name: name, Type: tar.TypeDir, Mode: mode} }
	symlink := func(name, target string) TarEntry {
		return TarEntry{Name: name, Type: tar.TypeSymlink, Linkname: target}
	}
	device := TarEntry{Name: "dev/null-copy", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}
	if !devices {
		device = TarEntry{Name: "dev/no-device", Body: "no device node here\n"}
	}
	attrs := func(value string) map[string]string {
		if !xattrs {
			return nil
		}
		return map[string]string{"trusted.boxcraft": value}
	}
	return []TarEntry{
		dir("bin/", 0o755),
		TarEntry{Name: "bin/hello", Mode: 0o755, Body: "#!/bin/sh\necho hello from the image\n"},
		TarEntry{Name: "bin/hello-again", Type: tar.TypeLink, Linkname: "bin/hello"},
		symlink("bin/sh", "/bin/hello"),
		TarEntry{Name: "bin/su", Mode: 0o4755, Body: "setuid root\n"},
		dir("dev/", 0o755),
		device,
		dir("etc/", 0o755),
		TarEntry{Name: "etc/empty"},
		TarEntry{Name: "etc/hostname", Body: "boxcraft\n"},
		symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
		dir("home/", 0o755),
		TarEntry{Name: "home/user/", Type: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1000},
		TarEntry{Name: "home/user/notes", Mode: 0o640, Uid: 1000, Gid: 1000, Body: "a note\n",
			Xattrs: attrs("hello")},
		symlink("lib", "usr/lib"),
		dir("run/", 0o755),
		TarEntry{Name: "run/fifo", Type: tar.TypeFifo, Mode: 0o620},
		dir("srv/", 0o755),
		TarEntry{Name: "srv/shared/", Type: tar.TypeDir, Mode: 0o2775, Gid: 50,
			Xattrs: attrs("shared")},
		dir("tmp/", 0o1777),
		dir("usr/", 0o755),
		dir("usr/lib/", 0o755),
		symlink("usr/lib/libgone.so", "libgone.so.9"),
		symlink("usr/lib/libhello.so", "libhello.so.1"),
		TarEntry{Name: "usr/lib/libhello.so.1", Body: "not really a library\n"},
		dir("var/", 0o755),
		symlink("var/run", "../run"),
	}
}
