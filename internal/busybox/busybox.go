// Package busybox makes the workshop's default image: a root filesystem
// holding the static busybox binary, a link for each of its applets, and
// the few files in /etc that programs expect. It is written as a tar
// archive, the same bytes every time for the same busybox binary, so
// that `make rootfs` is reproducible and the tests use the very image a
// learner does.
package busybox

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// Candidates are where Debian's and Ubuntu's busybox-static put the binary.
var Candidates = []string{"/bin/busybox", "/usr/bin/busybox"}

// Find returns the first static busybox binary among Candidates. A busybox
// linked against the C library would not run inside a rootfs that has no C
// library, so a dynamic one is refused with a hint.
func Find() (string, error) {
	for _, path := range Candidates {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if err := checkStatic(path); err != nil {
			return "", err
		}
		return path, nil
	}
	return "", fmt.Errorf("no busybox found in %s: install busybox-static (apt-get install busybox-static)",
		strings.Join(Candidates, " or "))
}

// checkStatic refuses an ELF binary that names a program interpreter
// (the dynamic loader): that is what "dynamically linked" means.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: install busybox-static (apt-get install busybox-static)", path)
		}
	}
	return nil
}

// entry is one file of the image.
type entry struct {
	name string // relative, no leading slash
	kind byte   // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	mode int64
	body []byte // for a regular file
	link string // for a symlink
}

// Directories of the image, with their modes.
var dirs = map[string]int64{
	"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555,
	"root": 0o700, "sbin": 0o755, "sys": 0o555, "tmp": 0o1777, "usr": 0o755,
	"usr/bin": 0o755, "usr/sbin": 0o755, "var": 0o755, "var/tmp": 0o1777,
}

// etcFiles are the configuration files every image carries.
var etcFiles = map[string]string{
	"etc/passwd":      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
	"etc/group":       "root:x:0:\nnogroup:x:65534:\n",
	"etc/hostname":    "boxcraft\n",
	"etc/resolv.conf": "# boxcraft's busybox image: no name server is set up.\n",
}

// WriteTar writes the image built around the busybox binary at path to w.
func WriteTar(w io.Writer, path string) error {
	entries, err := image(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: e.kind,
			Name:     e.name,
			Linkname: e.link,
			Mode:     e.mode,
			Size:     int64(len(e.body)),
			ModTime:  time.Unix(0, 0), // a fixed time keeps the bytes reproducible
			Format:   tar.FormatPAX,
		}
		if e.kind == tar.TypeDir {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return fmt.Errorf("write %s: %w", e.name, err)
		}
	}
	return tw.Close()
}

// image lists the image's entries in name order, directories before what
// they hold.
func image(path string) ([]entry, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read busybox: %w", err)
	}
	applets, err := appletPaths(path)
	if err != nil {
		return nil, err
	}
	var entries []entry
	for name, mode := range dirs {
		entries = append(entries, entry{name: name, kind: tar.TypeDir, mode: mode})
	}
	for name, content := range etcFiles {
		entries = append(entries, entry{name: name, kind: tar.TypeReg, mode: 0o644, body: []byte(content)})
	}
	entries = append(entries, entry{name: "bin/busybox", kind: tar.TypeReg, mode: 0o755, body: body})
	for _, applet := range applets {
		if applet == "bin/busybox" || dirs[applet] != 0 {
			continue
		}
		entries = append(entries, entry{name: applet, kind: tar.TypeSymlink, mode: 0o777, link: "/bin/busybox"})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}

// appletPaths asks busybox where each of its applets belongs
// (bin/sh, usr/bin/awk, …), keeping those in the image's directories.
func appletPaths(path string) ([]string, error) {
	out, err := exec.Command(path, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", path, err)
	}
	var paths []string
	for _, line := range strings.Fields(string(out)) {
		slash := strings.LastIndex(line, "/")
		if slash > 0 && dirs[line[:slash]] != 0 {
			paths = append(paths, line)
		}
	}
	return paths, nil
}

// Tar returns the image as bytes.
func Tar(path string) ([]byte, error) {
	var buf bytes.Buffer
	if err := WriteTar(&buf, path); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
