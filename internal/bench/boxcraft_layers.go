package main

// boxcraft's figures of layers (issue 26): unpacking a large layer, a run
// against the number of layers, and commit, each against the same
// anchor as the step's figure (2, 3 and 4).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/oci"
)

// inTmpfs is a boxcraft of its own whose state folder is a tmpfs: the
// figures of layers are of the code, not of the disk. done unmounts it.
func (x *boxcraft) inTmpfs(name string) (*boxcraft, func(), error) {
	y := &boxcraft{bin: x.bin, dir: filepath.Join(workDir, name), parent: x.parent}
	if err := os.MkdirAll(y.dir, 0o700); err != nil {
		return nil, nil, err
	}
	// tmpfs over the folder, in bench's own mount namespace.
	if err := unix.Mount("tmpfs", y.dir, "tmpfs", 0, "mode=0700"); err != nil {
		return nil, nil, fmt.Errorf("mount a tmpfs on %s: %w", y.dir, err)
	}
	return y, func() {
		if ids, err := y.output("ps", "-aq"); err == nil && ids != "" {
			_, _ = y.output(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		_ = unix.Unmount(y.dir, unix.MNT_DETACH)
	}, nil
}

// bxUnpack is figure 11: the large layer of figure 2, imported, then run
// with its layer not yet unpacked, less the run with it unpacked.
func (s *b) bxUnpack(rootfs string) error {
	y, done, err := s.bx.inTmpfs("bx-unpack")
	if err != nil {
		return err
	}
	defer done()
	big := filepath.Join(workDir, "big.tar")
	if _, err := os.Stat(big); err != nil {
		return fmt.Errorf("figure 2 makes %s: %w", big, err)
	}
	info, _ := os.Stat(big)
	if _, err := y.output("import", big, "big"); err != nil {
		return err
	}
	diffID, err := fileDigest(big)
	if err != nil {
		return err
	}
	stored := filepath.Join(y.dir, "lib/store/layers/as-is", strings.TrimPrefix(diffID, "sha256:"))
	run := y.cmd("run", "--rm", "--network", "none", "big", "/bin/true")
	into := filepath.Join(y.dir, "tar-x")
	cold, warm, tar, err := s.unpackRuns(run, stored, big, into)
	if err != nil {
		return err
	}
	unpacked := cold.minus(warm)
	s.section("11. boxcraft: unpacking a large layer",
		fmt.Sprintf("Figure 2's layer (%.0f MB, 10,000 files of 10 kB), imported with `boxcraft import`, its blob and state in a tmpfs. boxcraft's unpacking is `boxcraft run --rm --network none big /bin/true` with the layer not unpacked yet (median %s) less the same run with it unpacked (median %s), run by run: the unpacker, the diffID checked as it reads (hashed on another core), and the move into the store. GNU tar: `tar -xf` as root, into the same tmpfs.", float64(info.Size())/1e6, round(cold.median()), round(warm.median())), ratioTable)
	s.row("boxcraft unpack", unpacked, tar, "tar -x", 1.0)
	fmt.Fprintf(&s.report, "\nboxcraft unpacks %.0f MB/s; GNU tar %.0f MB/s.\n", float64(info.Size())/1e6/unpacked.median().Seconds(), float64(info.Size())/1e6/tar.median().Seconds())
	return nil
}

// bxLayers is figure 12: a run of an image of N stored layers, against
// a run of one.
func (s *b) bxLayers(string) error {
	y, done, err := s.bx.inTmpfs("bx-layers")
	if err != nil {
		return err
	}
	defer done()
	base, err := os.ReadFile(s.image)
	if err != nil {
		return err
	}
	commands := map[string]func() *exec.Cmd{}
	for _, n := range []int{1, 500} {
		layers := [][]byte{base}
		for i := 1; i < n; i++ {
			layers = append(layers, tarOf(fmt.Sprintf("layer-%d", i), strconv.Itoa(i)))
		}
		dir := filepath.Join(workDir, "bx-image-"+strconv.Itoa(n))
		if err := oci.WriteLayout(dir, false, layers); err != nil {
			return err
		}
		name := "layers-" + strconv.Itoa(n)
		loaded, err := y.output("load", "-i", dir)
		if err != nil {
			return err
		}
		// An OCI layout without a name loads as "Loaded image ID: sha256:…".
		if _, err := y.output("tag", loaded[strings.LastIndex(loaded, " ")+1:], name); err != nil {
			return err
		}
		commands[name] = y.cmd("run", "--rm", "--network", "none", name, "/bin/true")
		if _, err := measure(commands[name], 1); err != nil { // unpack its layers first
			return err
		}
	}
	results, err := inTurn(s.runs, commands)
	if err != nil {
		return err
	}
	s.section("12. boxcraft: a run against the number of layers",
		"`boxcraft run --rm --network none IMAGE /bin/true` of an image of 500 layers (busybox's and 499 of one small file each), all unpacked, against the same run of busybox's one layer; state in a tmpfs.", ratioTable)
	s.row("boxcraft run, 500 layers", results["layers-500"], results["layers-1"], "boxcraft run, 1 layer", 1.5)
	return nil
}

// bxCommit is figure 13: boxcraft commit of a container that made 10,000
// files, against tar -c of its upper folder.
func (s *b) bxCommit(string) error {
	y, done, err := s.bx.inTmpfs("bx-commit")
	if err != nil {
		return err
	}
	defer done()
	if _, err := y.output("import", s.image, "busybox"); err != nil {
		return err
	}
	script := `mkdir /data; i=0; while [ $i -lt 10000 ]; do echo $i > /data/f$i; i=$((i+1)); done`
	id, err := y.output("run", "-d", "--network", "none", "busybox", "sh", "-c", script)
	if err != nil {
		return err
	}
	if _, err := y.output("wait", id); err != nil {
		return err
	}
	upper := filepath.Join(y.dir, "lib/containers", id, "upper")
	tarOut := filepath.Join(y.dir, "upper.tar")
	n := 0
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{
		"commit": func() *exec.Cmd {
			if n > 0 {
				_, _ = y.output("rmi", "committed:"+strconv.Itoa(n))
			}
			n++
			return y.cmd("commit", id, "committed:"+strconv.Itoa(n))()
		},
		"tar": func() *exec.Cmd { os.Remove(tarOut); return exec.Command("tar", "-cf", tarOut, "-C", upper, ".") },
	})
	if err != nil {
		return err
	}
	s.section("13. boxcraft: commit of 10,000 changed files",
		"`boxcraft commit` of a stopped container whose command made 10,000 small files (the image it made removed before the next run), state in a tmpfs; GNU tar: `tar -cf` of the container's upper folder.", ratioTable)
	s.row("boxcraft commit", results["commit"], results["tar"], "tar -c", 1.5)
	return nil
}
