package testkit

// What the RootFilesystem and Layers suites may know of a runtime's state
// folder ($BOXCRAFT_STATE_DIR, StateDir) and of a running container, and
// nothing more (docs/contract.md): no name of a folder or file the runtime
// makes there but a stored layer's, which is its diffID's hex; a container
// found through the kernel, as a process of the runtime's whose root is
// not the host's; a kept container found by the path the run prints.

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// stateEntries lists what lies below the test's state folder: each path,
// relative to it, with its type. It follows no symlink, and enters the
// mounts there (a container's root, while it runs).
func stateEntries(t testing.TB) map[string]fs.FileMode {
	t.Helper()
	state := StateDir(t)
	entries := map[string]fs.FileMode{}
	err := filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		if path != state {
			rel, _ := filepath.Rel(state, path)
			entries[rel] = d.Type()
		}
		return nil
	})
	require.NoError(t, err, "read the state folder %s", state)
	return entries
}

// added lists, sorted, the paths of after that before has not.
func added(before, after map[string]fs.FileMode) []string {
	var paths []string
	for path := range after {
		if _, ok := before[path]; !ok {
			paths = append(paths, path)
		}
	}
	sort.Strings(paths)
	return paths
}

// layerFolders finds the folders below the state folder named by the
// hex of a layer's diffID: where the store keeps the layer (Layers).
func layerFolders(t testing.TB, diffID string) []string {
	t.Helper()
	name := strings.TrimPrefix(diffID, "sha256:")
	var found []string
	for path, kind := range stateEntries(t) {
		if kind.IsDir() && filepath.Base(path) == name {
			found = append(found, filepath.Join(StateDir(t), path))
		}
	}
	sort.Strings(found)
	return found
}

// storedLayer is the folder where the store keeps the layer with this
// diffID: the one folder below the state folder named by its hex.
func storedLayer(t testing.TB, diffID string) string {
	t.Helper()
	found := layerFolders(t, diffID)
	require.Len(t, found, 1, "the store keeps each layer once, in a folder named by its diffID's hex (%s) below the state folder %s",
		strings.TrimPrefix(diffID, "sha256:"), StateDir(t))
	return found[0]
}

// storedLayerFor is storedLayer for a container whose root is host uid
// uid: a store keeps a layer once per id map (boxcraft keeps the one it
// loads as it is, and one for each map it runs it with), so it is the one
// folder named by the diffID's hex where path, a file of the layer, is
// uid's.
func storedLayerFor(t testing.TB, diffID string, uid uint32, path string) string {
	t.Helper()
	var found []string
	for _, folder := range layerFolders(t, diffID) {
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(folder, path), &st) == nil && st.Uid == uid {
			found = append(found, folder)
		}
	}
	require.Len(t, found, 1, "the store keeps each layer once per id map, in a folder named by its diffID's hex (%s) below the state folder %s, "+
		"where /%s is host uid %d's: %v", strings.TrimPrefix(diffID, "sha256:"), StateDir(t), path, uid, layerFolders(t, diffID))
	return found[0]
}

// assertNotStored checks that no folder of the store holds the layer.
func assertNotStored(t testing.TB, diffID string) {
	t.Helper()
	assert.Empty(t, layerFolders(t, diffID), "the layer %s was refused: it must not be in the store (a folder named by its hex)", diffID)
}

// filesBelowState finds the regular files below the state folder whose
// path ends in name (a path in the container's root, such as "tmp/made")
// and that hold content.
func filesBelowState(t testing.TB, name, content string) []string {
	t.Helper()
	var found []string
	for path, kind := range stateEntries(t) {
		if kind.IsRegular() && (path == name || strings.HasSuffix(path, "/"+name)) {
			full := filepath.Join(StateDir(t), path)
			if data, err := os.ReadFile(full); err == nil && string(data) == content {
				found = append(found, full)
			}
		}
	}
	sort.Strings(found)
	return found
}

// keptFolder finds what a --keep run kept: on stderr, a path below the
// state folder that holds the file the container wrote (name, a path in
// its root, with content), there or in a folder below it. It returns the
// path the run named, for commit, and the folder where the container's
// root's own files are: its rootfs (step04), or its upper layer.
func keptFolder(t testing.TB, r Result, name, content string) (named, root string) {
	t.Helper()
	state := StateDir(t)
	for _, path := range regexp.MustCompile(regexp.QuoteMeta(state)+"/[^\\s\"'`]+").FindAllString(r.Stderr, -1) {
		path = strings.TrimRight(path, ".,;:)")
		var found string
		_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, "/"+name) {
				if data, err := os.ReadFile(p); err == nil && string(data) == content {
					found = p
					return filepath.SkipAll
				}
			}
			return nil
		})
		if found != "" {
			return path, strings.TrimSuffix(found, "/"+name)
		}
	}
	require.Failf(t, "the run names no kept container",
		"with --keep, the run prints on stderr the path of what it kept, below the state folder %s, "+
			"and the file the container wrote (/%s) is there:\n%s", state, name, r)
	return "", ""
}

// assertRefusedNaming is AssertRefused for a run of image, with the
// image's path and the state folder's taken out of the line first: a
// test's folders are named after the test, and a line that names only
// them could name what the test looks for by chance.
func (s Step) assertRefusedNaming(t *testing.T, r Result, image string, names ...string) {
	t.Helper()
	s.assertRefusedNamingAs(t, badInput, r, image, names...)
}

// assertRefusedNamingAs is assertRefusedNaming for a run that did not
// run CMD for why.
func (s Step) assertRefusedNamingAs(t *testing.T, why refusal, r Result, image string, names ...string) {
	t.Helper()
	for what, path := range map[string]string{"<image>": image, "<state folder>": StateDir(t)} {
		if path != "" && !slices.Contains(names, path) {
			r.Stderr = strings.ReplaceAll(r.Stderr, path, what)
		}
	}
	s.assertRefusedAs(t, why, r, names...)
}

// descendantsOf lists the processes below pid: its children, theirs, ….
func descendantsOf(pid int) []int {
	var found []int
	for _, child := range ChildrenOf(pid) {
		found = append(append(found, child), descendantsOf(child)...)
	}
	return found
}

// waitForContainer waits until the container that running (a run of the
// binary under test) started has the file name in its root, and returns
// its process: one of the runtime's, whose root (/proc/PID/root) is not
// the host's. A container that ends first fails the test.
func waitForContainer(t testing.TB, running *Running, name string) int {
	t.Helper()
	host := fileID(t, "/")
	deadline := time.Now().Add(Timeout)
	for {
		for _, pid := range descendantsOf(running.Cmd.Process.Pid) {
			root := "/proc/" + strconv.Itoa(pid) + "/root"
			id, err := facts.ReadFileID(root)
			if err != nil || id == host {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, name)); err == nil {
				return pid
			}
		}
		select {
		case <-running.done:
			t.Fatalf("the run ended before its container had /%s in its root:\n%s", name, running.Wait(t))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no process of the run has a root of its own with /%s in it: did the container pivot_root into its image?", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processesWithRoot lists the processes whose root is the folder id.
func processesWithRoot(id facts.FileID) []int {
	return processes(func(proc string) bool {
		got, err := facts.ReadFileID(filepath.Join(proc, "root"))
		return err == nil && got == id
	})
}

// rootMount reads, from a container process's own mountinfo, the mount
// that is its root: its type and the filesystem's options.
func rootMount(t testing.TB, pid int) (fstype, options string) {
	t.Helper()
	data := readFile(t, "/proc/"+strconv.Itoa(pid)+"/mountinfo")
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		// The last mount on / is the one on top, which the container sees.
		if _, point, typ, opts, ok := facts.ParseMount(line); ok && point == "/" {
			fstype, options, found = typ, opts, true
		}
	}
	require.True(t, found, "the container's mountinfo has a mount on /:\n%s", data)
	return fstype, options
}

// stateMounts lists the mounts below the test's state folder, on the host.
func stateMounts(t testing.TB) []string {
	t.Helper()
	return mountsBelow(t, StateDir(t))
}

// mountsBelow lists the host's mounts on dir or below it, deepest first.
func mountsBelow(t testing.TB, dir string) []string {
	t.Helper()
	var found []string
	for _, point := range MountPointsOfType(t, "") {
		point = unescapeMountPoint(point)
		if point == dir || strings.HasPrefix(point, dir+"/") {
			found = append(found, point)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(found)))
	return found
}

// unescapeMountPoint undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPoint(point string) string {
	return regexp.MustCompile(`\\[0-7]{3}`).ReplaceAllStringFunc(point, func(code string) string {
		n, _ := strconv.ParseUint(code[1:], 8, 8)
		return string(rune(n))
	})
}

// assertNoStateMount checks that no run left a mount below the state
// folder.
func assertNoStateMount(t testing.TB) {
	t.Helper()
	assert.Empty(t, stateMounts(t), "a run that has ended leaves no mount below the state folder: unmount the container's root")
}

// runLeavingOnlyTheStore runs the binary under test (run makes and runs
// one command, to the end) and checks what it left below the state
// folder: see assertOnlyTheStoreLeft. It returns what the run printed.
func runLeavingOnlyTheStore(t *testing.T, s Step, run func() Result, stored [][]byte, refused ...[]byte) Result {
	t.Helper()
	before := stateEntries(t)
	r := run()
	assertOnlyTheStoreLeft(t, s, before, func() {
		again := run()
		assert.Equal(t, r.Code, again.Code, "the same run again ends as the first did:\n%s", again)
	}, stored, refused...)
	return r
}

// linksToLayer says whether path, below the state folder, is a link to
// one of the stored layers' folders (relative to the state folder too).
func linksToLayer(t *testing.T, path string, layerPaths []string) bool {
	t.Helper()
	abs := filepath.Join(StateDir(t), path)
	target, err := os.Readlink(abs)
	if err != nil {
		return false
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(abs), target)
	}
	rel, err := filepath.Rel(StateDir(t), target)
	return err == nil && slices.Contains(layerPaths, rel)
}

// assertOnlyTheStoreLeft checks what a run without --keep left below the
// state folder, before being what was there before it: whether it ran its
// container, was refused or was stopped, nothing of its container may
// stay, and no mount.
//
// Before step05 nothing may stay at all. From step05 on, the store may:
// stored are the image's layers it may keep, each in a folder named by
// its diffID's hex, with what it holds and the folders it lies in; and
// records of images, which are folders and regular files, none of them a
// copy of a file of the image (stored or refused, the layers that were
// not to be kept), and links to the stored layers' folders. Then again
// runs the same container once more, and it must leave nothing new: what
// a run keeps in the store, a second run finds there, and anything of a
// container's would be there twice.
func assertOnlyTheStoreLeft(t *testing.T, s Step, before map[string]fs.FileMode, again func(), stored [][]byte, refused ...[]byte) {
	t.Helper()
	assertNoStateMount(t)
	after := stateEntries(t)
	left := added(before, after)
	if !s.Layers {
		assert.Empty(t, outermost(left), "a run without --keep leaves nothing below the state folder %s once it has ended, refused or not: "+
			"remove the container's folder", StateDir(t))
		return
	}
	layers := map[string]bool{}
	for _, layer := range stored {
		layers[strings.TrimPrefix(DiffID(layer), "sha256:")] = true
	}
	files := fileDigests(t, append(append([][]byte{}, stored...), refused...))
	var layerPaths []string // the stored layers' folders, relative
	for path, kind := range after {
		if kind.IsDir() && layers[filepath.Base(path)] {
			layerPaths = append(layerPaths, path)
		}
	}
	strays := map[string]string{} // path → why it is the container's
	for _, path := range left {
		if inOrAbove(path, after[path].IsDir(), layerPaths) {
			continue
		}
		switch kind := after[path]; {
		case kind.IsDir():
		case kind&fs.ModeSymlink != 0 && linksToLayer(t, path, layerPaths):
			// A link to a stored layer: the store's (boxcraft keeps a
			// folder of them for an image of many layers).
		case kind.IsRegular():
			if name, ok := files[fileSHA256(t, filepath.Join(StateDir(t), path))]; ok {
				strays[path] = path + " (a copy of the image's " + name + ")"
			}
		default:
			strays[path] = path + " (" + kind.String() + ")"
		}
	}
	var shown []string
	for _, path := range outermost(mapKeys(strays)) {
		shown = append(shown, strays[path])
	}
	assert.Empty(t, shown, "a run without --keep leaves, below the state folder %s, only the store: the layers, each in a folder "+
		"named by its diffID's hex, and records of images (no copy of the image's files, no symlink, device or FIFO)", StateDir(t))
	if again == nil {
		return
	}
	again()
	assertNoStateMount(t)
	assert.Empty(t, outermost(added(after, stateEntries(t))), "the same run a second time left more below the state folder %s: "+
		"what stays is the store's, and a second run finds it there; a container's own folder must go", StateDir(t))
}

// outermost keeps, of paths, those not in a folder that paths lists: a
// folder left behind, rather than all it holds.
func outermost(paths []string) []string {
	listed := map[string]bool{}
	for _, path := range paths {
		listed[path] = true
	}
	var kept []string
	for _, path := range paths {
		inListed := false
		for dir := filepath.Dir(path); dir != "." && dir != "/" && !inListed; dir = filepath.Dir(dir) {
			inListed = listed[dir]
		}
		if !inListed {
			kept = append(kept, path)
		}
	}
	sort.Strings(kept)
	return kept
}

// mapKeys lists a map's keys (go 1.22 has no maps.Keys iterator).
func mapKeys(m map[string]string) []string {
	var keys []string
	for key := range m {
		keys = append(keys, key)
	}
	return keys
}

// inOrAbove tells whether path is one of the folders folders, lies in
// one, or is a folder on the way to one.
func inOrAbove(path string, isDir bool, folders []string) bool {
	for _, folder := range folders {
		if path == folder || strings.HasPrefix(path, folder+"/") || (isDir && strings.HasPrefix(folder, path+"/")) {
			return true
		}
	}
	return false
}

// fileDigests maps the digest of each regular file (not empty) of the
// layers, tars, to its name.
func fileDigests(t testing.TB, layers [][]byte) map[string]string {
	t.Helper()
	digests := map[string]string{}
	for _, layer := range layers {
		archive := tar.NewReader(bytes.NewReader(layer))
		for {
			hdr, err := archive.Next()
			if err != nil {
				break // the end, or what is no tar (a refused image)
			}
			if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
				continue
			}
			sum := sha256.New()
			if _, err := io.Copy(sum, archive); err != nil {
				break
			}
			digests[hex.EncodeToString(sum.Sum(nil))] = fmt.Sprintf("/%s", strings.TrimPrefix(hdr.Name, "./"))
		}
	}
	return digests
}
