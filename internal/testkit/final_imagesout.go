package testkit

// ImagesOut is the end-to-end suite of boxcraft's images out (issue 18):
// commit (a stopped container's upper layer as a new layer: a file
// written, a file deleted, a folder replaced), tag, save (docker save's
// tarball, Docker 25's: an OCI layout with manifest.json and repositories
// beside it; and an OCI layout folder), read back by boxcraft load in a
// fresh state folder, and by skopeo and umoci where the machine has them.

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/internal/oci"
)

// imagesOutSuite is what the subtests share: the top test's sandbox, with
// the base image and the image committed from it.
type imagesOutSuite struct {
	top       *testing.T
	committed string // the committed image's ID
	saved     string // docker save's tarball of boxcraft/committed:1
}

// changeScript is what the committed container does: a file written in
// a folder of the image, one deleted, and a folder replaced (rm -r, then
// mkdir: overlayfs marks the new one opaque).
const changeScript = "echo new > /data/new && rm /data/gone && rm -r /swap && mkdir /swap && echo fresh > /swap/fresh"

// showScript prints what a container of the committed image sees.
const showScript = "cat /data/new; ls /data; ls -a /swap; stat -c %u /data/new"

// showWant is showScript's output in the committed image, when the
// container that made the change ran as root (id 0 inside).
const showWant = "new\nkeep\nnew\n.\n..\nfresh\n0\n"

// ImagesOut checks commit, tag and save, end to end.
func ImagesOut(t *testing.T) {
	RequireRoot(t)
	data := Tar(t, TarEntry{Name: "data/", Type: '5', Mode: 0o755}, TarEntry{Name: "data/keep", Body: "keep\n"},
		TarEntry{Name: "data/gone", Body: "gone\n"}, TarEntry{Name: "swap/", Type: '5', Mode: 0o755},
		TarEntry{Name: "swap/old", Body: "old\n"})
	base := newNamedImage(t, "docker.io/boxcraft/base:1", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, BaseLayer(t), data)
	loaded(t, Run(t, "load", "-i", base.layout(t)), "Loaded image: boxcraft/base:1")
	s := &imagesOutSuite{top: t}
	t.Run("Commit", s.commit)
	t.Run("CommitWithUserNamespace", s.commitMapped)
	t.Run("CommitRefusals", s.refusals)
	t.Run("CommitRunning", s.commitRunning)
	t.Run("Diff", s.diff)
	t.Run("Tag", s.tag)
	t.Run("Save", s.save)
	t.Run("LoadIntoAFreshStore", s.loadFresh)
	t.Run("OCILayoutSkopeoAndUmoci", s.ociLayout)
}

// commitContainer runs changeScript in a container of boxcraft/base:1
// with flags, and commits it as name; it returns the image's ID.
func commitContainer(t *testing.T, name string, flags ...string) string {
	t.Helper()
	container := "commit-" + strings.NewReplacer(":", "-", "/", "-").Replace(name)
	args := append(append([]string{"run", "--name", container}, flags...), "boxcraft/base:1", "sh", "-c", changeScript)
	r := Run(t, args...)
	require.Equal(t, 0, r.Code, "the container makes its change:\n%s", r)
	t.Cleanup(func() { Run(t, "rm", "-f", container) })
	r = Run(t, "commit", "-m", "a change", container, name)
	require.Equal(t, 0, r.Code, "commit:\n%s", r)
	require.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, r.Stdout, "commit prints the new image's ID, as docker commit does")
	return strings.TrimSpace(r.Stdout)
}

// commit commits a stopped container's changes, and runs the new image:
// the new file is there, the deleted one is gone, the replaced folder
// holds only what the container put there. The base image is unchanged.
func (s *imagesOutSuite) commit(t *testing.T) {
	ShareSandbox(t, s.top)
	s.committed = commitContainer(t, "boxcraft/committed:1")
	r := Run(t, "run", "--rm", "boxcraft/committed:1", "sh", "-c", showScript)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, showWant, r.Stdout, "the committed image has the container's change")
	r = Run(t, "run", "--rm", "boxcraft/base:1", "sh", "-c", "ls /data /swap")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "/data:\ngone\nkeep\n\n/swap:\nold\n", r.Stdout, "the base image is as it was")
	row := imageRow(imageRows(t), "boxcraft/committed", "1")
	if assert.NotNil(t, row, "images lists the committed image") {
		assert.Equal(t, ShortID(s.committed), row["IMAGE ID"])
	}
}

// commitMapped commits a container that ran in a user namespace: its
// files are owned by the host's 100000 and up, and the layer gives them
// back the container's ids (root's file is 0's again).
func (s *imagesOutSuite) commitMapped(t *testing.T) {
	ShareSandbox(t, s.top)
	commitContainer(t, "boxcraft/committed:mapped", "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536")
	r := Run(t, "run", "--rm", "boxcraft/committed:mapped", "sh", "-c", showScript)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, showWant, r.Stdout, "the layer has the container's ids, not the host's")
}

// refusals: a file the container named .wh.… is refused by commit,
// naming it, and nothing is left: no image, no blob, no layer. An
// unknown container is refused too.
func (s *imagesOutSuite) refusals(t *testing.T) {
	ShareSandbox(t, s.top)
	r := Run(t, "run", "--name", "whiteout-maker", "boxcraft/base:1", "touch", "/data/.wh.x")
	require.Equal(t, 0, r.Code, r)
	t.Cleanup(func() { Run(t, "rm", "-f", "whiteout-maker") })
	store := filepath.Join(StateDir(t), "lib", "store")
	before := storeFiles(t, store)
	assertFailedOneLine(t, Run(t, "commit", "whiteout-maker", "boxcraft/evil:1"), 125, ".wh.x")
	assert.Equal(t, before, storeFiles(t, store), "a refused commit leaves nothing in the store")
	assert.Nil(t, imageRow(imageRows(t), "boxcraft/evil", "1"), "no image is named")

	assertFailedOneLine(t, Run(t, "commit", "no-such-container", "boxcraft/none:1"), 125, "no-such-container")
	assert.Equal(t, before, storeFiles(t, store), "refused commits leave nothing in the store")
}

// commitRunning commits a running container, as docker commit does: the
// image has what it had written, and the container runs on afterwards,
// unpaused (its counter goes on); one that was paused stays paused; and
// --pause=false commits without the freezer.
func (s *imagesOutSuite) commitRunning(t *testing.T) {
	ShareSandbox(t, s.top)
	r := Run(t, "run", "-d", "boxcraft/base:1", "sh", "-c",
		"echo live > /data/live; i=0; while :; do i=$((i+1)); echo $i > /data/n; usleep 10000; done")
	require.Equal(t, 0, r.Code, r)
	id := strings.TrimSpace(r.Stdout)
	require.Regexp(t, containerID, id)
	removeWhenDone(t, id)
	count := func() string { return Run(t, "exec", id, "cat", "/data/n").Stdout }
	require.True(t, eventually(10*time.Second, func() bool { return count() != "" }), "the container counts")

	for i, flags := range [][]string{nil, {"--pause=false"}} {
		name := "boxcraft/running:" + strconv.Itoa(i+1)
		r = Run(t, append(append([]string{"commit"}, flags...), id, name)...)
		require.Equal(t, 0, r.Code, "commit %v of a running container:\n%s", flags, r)
		require.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, r.Stdout)
		t.Cleanup(func() { Run(t, "rmi", name) })
		r = Run(t, "run", "--rm", name, "cat", "/data/live")
		require.Equal(t, 0, r.Code, r)
		assert.Equal(t, "live\n", r.Stdout, "the image holds what the running container wrote")
	}
	assert.Equal(t, "running", inspectOne(t, id).State.Status, "the container runs on, unpaused")
	first := count()
	assert.True(t, eventually(10*time.Second, func() bool { return count() != first }), "its counter goes on")

	require.Equal(t, 0, Run(t, "pause", id).Code)
	r = Run(t, "commit", id, "boxcraft/running:3")
	require.Equal(t, 0, r.Code, r)
	t.Cleanup(func() { Run(t, "rmi", "boxcraft/running:3") })
	assert.Equal(t, "paused", inspectOne(t, id).State.Status, "a paused container stays paused")
	require.Equal(t, 0, Run(t, "unpause", id).Code)
}

// diff lists what a container changed, as docker diff does: the
// folder it wrote in changed, its new file added, the deleted one
// deleted, the replaced folder changed and its file added; not the /etc
// files its start wrote, nor /etc for them. The same with a user
// namespace, and for a running container; an unknown one is refused.
func (s *imagesOutSuite) diff(t *testing.T) {
	ShareSandbox(t, s.top)
	want := "C /data\nD /data/gone\nA /data/new\nC /swap\nA /swap/fresh\n"
	for _, flags := range [][]string{nil, {"--uidmap", "0:100000:65536"}} {
		name := "differ" + strconv.Itoa(len(flags))
		r := Run(t, append(append([]string{"run", "--name", name}, flags...), "boxcraft/base:1", "sh", "-c", changeScript)...)
		require.Equal(t, 0, r.Code, "%s", r)
		t.Cleanup(func() { Run(t, "rm", "-f", name) })
		r = Run(t, "diff", name)
		require.Equal(t, 0, r.Code, "%s", r)
		assert.Equal(t, want, r.Stdout, "diff %v", flags)
	}
	r := Run(t, "run", "-d", "boxcraft/base:1", "sh", "-c", "touch /data/live; exec sleep 1000")
	require.Equal(t, 0, r.Code, "%s", r)
	id := strings.TrimSpace(r.Stdout)
	removeWhenDone(t, id)
	assert.True(t, eventually(10*time.Second, func() bool {
		return Run(t, "diff", id).Stdout == "C /data\nA /data/live\n"
	}), "diff of a running container: %s", Run(t, "diff", id))
	assertFailedOneLine(t, Run(t, "diff", "no-such-container"), 125, "no-such-container")
}

// storeFiles lists the store's blobs, records and names, and its work in
// progress, by name and size.
func storeFiles(t *testing.T, store string) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"blobs/sha256/*", "images/*", "layers/*/*", "tmp/*", "names.json"} {
		matches, err := filepath.Glob(filepath.Join(store, pattern))
		require.NoError(t, err)
		for _, m := range matches {
			info, err := os.Stat(m)
			require.NoError(t, err)
			files = append(files, m+" "+info.Mode().String()+" "+strings.Repeat("#", int(min(info.Size(), 64))))
		}
	}
	return files
}

// tag names the committed image again, runs it by the new name, and
// refuses an unknown image and a bad name.
func (s *imagesOutSuite) tag(t *testing.T) {
	ShareSandbox(t, s.top)
	require.NotEmpty(t, s.committed, "Commit ran")
	r := Run(t, "tag", "boxcraft/committed:1", "localhost:5000/team/copy:2")
	require.Equal(t, 0, r.Code, r)
	assert.Empty(t, r.Stdout, "tag prints nothing, as docker tag")
	r = Run(t, "run", "--rm", "localhost:5000/team/copy:2", "sh", "-c", showScript)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, showWant, r.Stdout, "the new name runs the committed image")
	r = Run(t, "tag", ShortID(s.committed), "boxcraft/by-id")
	require.Equal(t, 0, r.Code, r)
	for _, name := range [][2]string{{"boxcraft/committed", "1"}, {"localhost:5000/team/copy", "2"}, {"boxcraft/by-id", "latest"}} {
		row := imageRow(imageRows(t), name[0], name[1])
		if assert.NotNil(t, row, "images lists %s:%s", name[0], name[1]) {
			assert.Equal(t, ShortID(s.committed), row["IMAGE ID"])
		}
	}
	assertFailedOneLine(t, Run(t, "tag", "no-such-image:1", "boxcraft/x:1"), 125, "no-such-image")
	assertFailedOneLine(t, Run(t, "tag", "boxcraft/committed:1", "Bad Name"), 125, "Bad Name")
}

// savedTarball is docker save's tarball, read: its files by name.
type savedTarball map[string][]byte

// readSaved reads a tarball into memory.
func readSaved(t *testing.T, path string) savedTarball {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	files := savedTarball{}
	archive := tar.NewReader(f)
	for {
		hdr, err := archive.Next()
		if err == io.EOF {
			return files
		}
		require.NoError(t, err)
		data, err := io.ReadAll(archive)
		require.NoError(t, err)
		files[hdr.Name] = data
	}
}

// save writes the committed image as docker save does, and checks the
// tarball's layout: manifest.json naming it, its config and layers, each
// blob named by its digest, the config's diffIDs its layers' and the top
// layer holding the change as whiteouts.
func (s *imagesOutSuite) save(t *testing.T) {
	ShareSandbox(t, s.top)
	require.NotEmpty(t, s.committed, "Commit ran")
	s.saved = filepath.Join(s.top.TempDir(), "committed.tar") // read by the subtests after
	r := Run(t, "save", "-o", s.saved, "boxcraft/committed:1")
	require.Equal(t, 0, r.Code, r)
	files := readSaved(t, s.saved)
	for _, name := range []string{"manifest.json", "repositories", "index.json", "oci-layout"} {
		assert.Contains(t, files, name, "docker save (25 and later) writes %s", name)
	}
	for name, data := range files {
		if hex, ok := strings.CutPrefix(name, "blobs/sha256/"); ok && hex != "" {
			assert.Equal(t, "sha256:"+hex, oci.Digest(data), "the blob %s is named by its digest", name)
		}
	}
	var manifest []struct {
		Config           string
		RepoTags, Layers []string
	}
	require.NoError(t, json.Unmarshal(files["manifest.json"], &manifest))
	require.Len(t, manifest, 1, "manifest.json lists the one image")
	m := manifest[0]
	assert.Equal(t, []string{"boxcraft/committed:1"}, m.RepoTags)
	assert.Equal(t, "blobs/sha256/"+strings.TrimPrefix(s.committed, "sha256:"), m.Config, "the config is the image's ID's blob")
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
		History []struct{ Comment string } `json:"history"`
	}
	require.NoError(t, json.Unmarshal(files[m.Config], &config))
	require.Len(t, m.Layers, 3, "the base image's two layers and the new one")
	require.Len(t, config.RootFS.DiffIDs, 3)
	top := files[m.Layers[2]]
	assert.Equal(t, config.RootFS.DiffIDs[2], oci.Digest(top), "the new layer is a plain tar: its digest is its diffID")
	if assert.NotEmpty(t, config.History) {
		assert.Equal(t, "a change", config.History[len(config.History)-1].Comment, "commit -m is the history's comment")
	}
	assertLayerChange(t, top)
}

// assertLayerChange checks the committed layer's entries: the new file,
// the deletion as data/.wh.gone, the replaced folder as
// swap/.wh..wh..opq, and nothing of overlayfs's own, nor the /etc files
// of the container's start.
func assertLayerChange(t *testing.T, layer []byte) {
	t.Helper()
	names := map[string]*tar.Header{}
	archive := tar.NewReader(bytes.NewReader(layer))
	for {
		hdr, err := archive.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		names[strings.TrimSuffix(hdr.Name, "/")] = hdr
	}
	for _, want := range []string{"data/new", "data/.wh.gone", "swap/.wh..wh..opq", "swap/fresh"} {
		assert.Contains(t, names, want, "the layer holds %s", want)
	}
	assert.NotContains(t, names, "data/keep", "the layer holds only what changed")
	// The container's start wrote them (its address, its name, the
	// host's name servers): docker commit leaves them out, and so the
	// folder that only they changed.
	for _, left := range []string{"etc", "etc/hosts", "etc/hostname", "etc/resolv.conf"} {
		assert.NotContains(t, names, left, "the layer holds %s, which the container's start wrote", left)
	}
	assert.NotContains(t, names, "data/gone", "a deleted file is a whiteout, not a file")
	for name, hdr := range names {
		for key := range hdr.PAXRecords {
			assert.NotContains(t, key, "overlay.", "%s carries no overlayfs attribute", name)
		}
	}
}

// loadFresh loads the saved tarball into a fresh state folder (this
// subtest's own sandbox) and runs it: the same change.
func (s *imagesOutSuite) loadFresh(t *testing.T) {
	require.NotEmpty(t, s.saved, "Save ran")
	loaded(t, Run(t, "load", "-i", s.saved), "Loaded image: boxcraft/committed:1")
	r := Run(t, "run", "--rm", "boxcraft/committed:1", "sh", "-c", showScript)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, showWant, r.Stdout, "the saved image, loaded elsewhere, has the change")
	row := imageRow(imageRows(t), "boxcraft/committed", "1")
	if assert.NotNil(t, row) {
		assert.Equal(t, ShortID(s.committed), row["IMAGE ID"], "the same image: the same ID")
	}
}

// ociLayout saves the committed image as an OCI layout folder, which
// boxcraft loads into a fresh state folder (this subtest's own sandbox)
// and runs; then skopeo copies the docker save tarball to an OCI layout,
// and umoci unpacks both layouts: the change is in each root. skopeo and
// umoci are checked where the machine has them (CI installs them); the
// test says so in its log where it does not, and does not skip: the v2
// VM has neither.
func (s *imagesOutSuite) ociLayout(t *testing.T) {
	require.NotEmpty(t, s.saved, "Save ran")
	own := filepath.Join(t.TempDir(), "boxcraft-oci")
	r := Run(s.top, "save", "--format", "oci-dir", "-o", own, "boxcraft/committed:1") // from the top test's store
	require.Equal(t, 0, r.Code, r)
	assert.FileExists(t, filepath.Join(own, "oci-layout"))
	assert.NoFileExists(t, filepath.Join(own, "manifest.json"), "an OCI layout alone")
	loaded(t, Run(t, "load", "-i", own), "Loaded image: boxcraft/committed:1")
	r = Run(t, "run", "--rm", "boxcraft/committed:1", "sh", "-c", showScript)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, showWant, r.Stdout, "the OCI layout, loaded elsewhere, has the change")
	layouts := map[string]string{own + ":1": "boxcraft's oci-dir"} // the tag alone names it, as Docker's index.json does
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Logf("skopeo is not installed (apt-get install skopeo): docker-archive: not read by skopeo")
	} else {
		copied := filepath.Join(t.TempDir(), "skopeo-oci")
		r := RunCmd(t, HostCommand(t, "skopeo", "copy", "docker-archive:"+s.saved, "oci:"+copied+":committed"))
		require.Equal(t, 0, r.Code, "skopeo reads boxcraft's docker save tarball:\n%s", r)
		layouts[copied+":committed"] = "skopeo's copy"
	}
	if _, err := exec.LookPath("umoci"); err != nil {
		t.Logf("umoci is not installed (apt-get install umoci): the layouts are not unpacked by it")
		return
	}
	for image, what := range layouts {
		bundle := filepath.Join(t.TempDir(), "bundle")
		r := RunCmd(t, HostCommand(t, "umoci", "unpack", "--image", image, bundle))
		require.Equal(t, 0, r.Code, "umoci unpacks %s:\n%s", what, r)
		rootfs := filepath.Join(bundle, "rootfs")
		assert.Equal(t, "new\n", string(readFile(t, filepath.Join(rootfs, "data/new"))), what)
		assert.NoFileExists(t, filepath.Join(rootfs, "data/gone"), "%s: the whiteout deleted it", what)
		entries, err := os.ReadDir(filepath.Join(rootfs, "swap"))
		require.NoError(t, err)
		assert.Len(t, entries, 1, "%s: the opaque folder holds only fresh", what)
	}
}
