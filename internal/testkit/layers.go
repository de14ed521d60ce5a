package testkit

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
	"github.com/boxcraft/boxcraft/internal/oci"
)

// Layers checks what every step from step05 on does with an image: reads
// it as an OCI layout or docker save's tarball, checks every blob's
// digest, unpacks each layer once into a store shared by every container,
// with whiteouts converted for overlayfs, stacks the layers with overlayfs
// under a writable layer of the container's own, and commits that layer
// as a new image's top layer.
//
// What it relies on, beyond RootFilesystem's (docs/contract.md), and
// nothing of one runtime's own:
//   - the store: each layer is kept once (per id map), in a folder named
//     by its diffID's hex, anywhere below the state folder, which holds
//     the layer's files, whiteouts as overlayfs's (a character device 0:0,
//     trusted.overlay.opaque=y), and which no container changes; a layer
//     that is refused (a digest that does not match, a hostile entry) is
//     in no such folder;
//   - the container's root, in its own mountinfo, is an overlay mount
//     (lowerdir, upperdir, workdir), the image's layers in the stack: a
//     file the container has not written is the layer folder's own (the
//     same inode); a kept container's is not mounted volatile, since what
//     it wrote must reach the disk;
//   - what --keep names is the container's upper layer, where what it
//     wrote lies, deleted files as overlayfs's whiteouts, and nothing more;
//   - `commit KEPT IMAGE_OUT` takes the path the --keep line named, and
//     writes an OCI layout in the new folder IMAGE_OUT: the image's layers
//     and the container's on top, in image form (.wh. whiteouts, the
//     container's own ids);
//   - (boxcraft alone) `inspect IMAGE` lists the image's layers' diffIDs,
//     so that two images show which layers they share;
//   - a run leaves, below the state folder, only the store: the layers'
//     folders and records of images (folders and regular files, no copy
//     of an image's file), which a second run of the same image finds
//     there and adds nothing to.
func Layers(t *testing.T, s Step) {
	RequireRoot(t)
	t.Run("UnionView", func(t *testing.T) { unionView(t, s) })
	// boxcraft has no --keep, by which this finds the upper layer.
	if !s.Docker {
		t.Run("WritesLandInTheUpperLayerOnly", func(t *testing.T) { writesLandInTheUpperLayerOnly(t, s) })
	}
	t.Run("ContainersShareLayerFolders", func(t *testing.T) { containersShareLayerFolders(t, s) })
	if !s.Docker { // boxcraft has no --keep nor commit
		t.Run("CommitRoundTrip", func(t *testing.T) { commitRoundTrip(t) })
	}
	t.Run("TamperedBlobsAreRefused", func(t *testing.T) { tamperedBlobs(t, s) })
	t.Run("AFreshImageRunThreeTimesAtOnce", func(t *testing.T) { aFreshImageRunThreeTimesAtOnce(t, s) })
	// Production weight, which the steps leave to boxcraft (step05's
	// README, "Further"): 500 layers and a layer twice in one image
	// (final/mount), docker save's tarballs and indexes of images for
	// several platforms (final/image).
	if s.Docker {
		boxcraftImages(t, s)
	}
	t.Run("HostileLayersAreRefused", func(t *testing.T) { hostileLayers(t, s) })
	t.Run("BadImagesAreRefused", func(t *testing.T) { badImages(t, s) })
	// The steps keep no list of their images: boxcraft's store does
	// (final/store), and inspect shows it.
	if s.Docker {
		t.Run("InspectShowsTheLayersImagesShare", func(t *testing.T) { inspectShowsTheLayersImagesShare(t, s) })
	}
	layoutIsolation(t, s) // isolation.go
}

// unionView checks the union of an image's layers, as the container sees
// it (the top layer's file wins, a whiteout hides, an opaque folder hides
// all below), and the whiteouts in the store, which are overlayfs's.
func unionView(t *testing.T, s Step) {
	lower := Tar(t, dir("t/"), file("t/keep", "keep"), file("t/override", "lower"), file("t/deleted", "deleted"),
		dir("t/opaque/"), file("t/opaque/a", "a"), file("t/opaque/b", "b"),
		dir("t/dir-to-file/"), file("t/dir-to-file/x", "x"), file("t/file-to-dir", "a file"))
	upper := Tar(t, dir("t/"), file("t/override", "upper"), file("t/.wh.deleted", ""),
		dir("t/opaque/"), file("t/opaque/.wh..wh..opq", ""), file("t/opaque/c", "c"),
		file("t/dir-to-file", "now a file"), dir("t/file-to-dir/"), file("t/file-to-dir/y", "y"))
	image := OCILayout(t, true, BaseLayer(t), lower, upper)
	const script = `find /t | sort; echo; find /t -type d | sort; echo; ` + showFiles
	want := "/t\n/t/dir-to-file\n/t/file-to-dir\n/t/file-to-dir/y\n/t/keep\n/t/opaque\n/t/opaque/c\n/t/override\n\n" +
		"/t\n/t/file-to-dir\n/t/opaque\n\n" +
		"/t/dir-to-file: now a file\n/t/file-to-dir/y: y\n/t/keep: keep\n/t/opaque/c: c\n/t/override: upper\n"
	for name, flags := range withAndWithoutUserNamespace {
		t.Run(name, func(t *testing.T) {
			r := s.RunImage(t, image, flags, "/bin/sh", "-c", script)
			require.Equal(t, 0, r.Code, r)
			assert.Equal(t, want, r.Stdout, "the union of the layers: the top layer's file wins, a whiteout hides, an opaque folder hides all below")
			// On the host, the top layer's whiteouts are overlayfs's.
			stored := storedLayerFor(t, DiffID(upper), rootUID(flags), "t")
			var st unix.Stat_t
			require.NoError(t, unix.Lstat(filepath.Join(stored, "t/deleted"), &st),
				"in the store, the layer's whiteout .wh.deleted is overlayfs's: t/deleted")
			assert.Equal(t, [2]uint32{unix.S_IFCHR, 0}, [2]uint32{st.Mode & unix.S_IFMT, uint32(st.Rdev)},
				"in the store, .wh.deleted became overlayfs's whiteout: a character device 0:0 named deleted")
			assert.NoFileExists(t, filepath.Join(stored, "t/.wh.deleted"), "the image's whiteout file is not kept as it is")
			assert.Equal(t, "y", xattr(t, filepath.Join(stored, "t/opaque"), "trusted.overlay.opaque"),
				".wh..wh..opq made t/opaque opaque, as overlayfs marks it: trusted.overlay.opaque=y")
			assert.NoFileExists(t, filepath.Join(stored, "t/opaque/.wh..wh..opq"), "the image's opaque marker is not kept as it is")
		})
	}
}

// writesLandInTheUpperLayerOnly checks that the container's root is an
// overlay whose lower layers are the store's folders, and that what the
// container writes lands in its kept upper layer alone.
func writesLandInTheUpperLayerOnly(t *testing.T, s Step) {
	base, top := BaseLayer(t), Tar(t, dir("t/"), file("t/lower", "lower"), file("t/same", "same"))
	image := OCILayout(t, false, base, top)
	require.Equal(t, 0, s.RunImage(t, image, nil, "/bin/true").Code, "a first run stores the layers")
	layers := []string{storedLayer(t, DiffID(base)), storedLayer(t, DiffID(top))}
	before := []map[string]TreeEntry{Tree(t, layers[0]), Tree(t, layers[1])}
	const script = `echo new > /t/new; echo changed > /t/lower; rm /etc/hostname; touch /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.02; done`
	running := Start(t, Command(t, "run", "--image", image, "--keep", "/bin/sh", "-c", script))
	pid := waitForContainer(t, running, "tmp/ready")
	root := "/proc/" + strconv.Itoa(pid) + "/root"
	// Seen from inside, the root is an overlay, the store's folders
	// its lower layers: a file not written is the layer's own.
	fstype, options := rootMount(t, pid)
	assert.Equal(t, "overlay", fstype, "the container's root is an overlay mount (its mountinfo): %s", options)
	assert.Subset(t, mountOptionNames(options), []string{"upperdir", "workdir"}, "with an upper layer to write to: %s", options)
	assert.NotRegexp(t, volatile, options, "a kept upper layer is written to disk as any file is: no volatile")
	for i, file := range []string{"bin/busybox", "t/same"} {
		assert.Equal(t, inode(t, filepath.Join(layers[i], file)), inode(t, filepath.Join(root, file)),
			"/%s in the container is the store's file (the same inode), not a copy: the layer's folder is in the stack", file)
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "tmp/go"), nil, 0o644))
	r := running.Wait(t)
	require.Equal(t, 0, r.Code, r)
	_, upper := keptFolder(t, r, "t/new", "new\n")
	got := Tree(t, upper)
	var names []string
	for name := range got {
		names = append(names, name)
	}
	assert.ElementsMatch(t, []string{".", "etc", "etc/hostname", "t", "t/lower", "t/new", "tmp", "tmp/ready", "tmp/go"}, names,
		"the kept upper layer %s holds what the container changed, and only that", upper)
	assert.Equal(t, "Dc---------", got["etc/hostname"].Mode, "a deleted file is overlayfs's whiteout")
	assert.Equal(t, "0:0", got["etc/hostname"].Rdev, "a deleted file is overlayfs's whiteout, device 0:0")
	assert.Equal(t, sha256Hex("changed\n"), got["t/lower"].SHA256, "a changed file is copied up")
	assert.Equal(t, sha256Hex("new\n"), got["t/new"].SHA256)
	for i, layer := range layers {
		assert.Equal(t, before[i], Tree(t, layer), "the store's layer %d is as it was: a container writes only its upper layer", i)
	}
}

// containersShareLayerFolders checks that two containers of two images
// with a layer in common run on the store's one folder of it.
func containersShareLayerFolders(t *testing.T, s Step) {
	base := BaseLayer(t)
	names := []string{"a", "b"} // each image's top layer has one file, so named
	tops := [][]byte{Tar(t, file(names[0], "a")), Tar(t, file(names[1], "b"))}
	images := []string{OCILayout(t, false, base, tops[0]), OCILayout(t, true, base, tops[1])}
	const script = `stat -c %i /bin/busybox; touch /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.02; done`
	var running []*Running
	var roots []string
	for _, image := range images {
		r := Start(t, s.ImageCommand(t, image, nil, "/bin/sh", "-c", script))
		pid := waitForContainer(t, r, "tmp/ready")
		running, roots = append(running, r), append(roots, "/proc/"+strconv.Itoa(pid)+"/root")
		fstype, _ := rootMount(t, pid)
		assert.Equal(t, "overlay", fstype, "the container's root is an overlay mount")
	}
	stored := storedLayerFor(t, DiffID(base), rootUID(nil), "bin/busybox") // once, for both images
	for i, top := range tops {
		assert.Equal(t, inode(t, filepath.Join(stored, "bin/busybox")), inode(t, filepath.Join(roots[i], "bin/busybox")),
			"both containers' bottom layer is the store's one folder")
		own, other := names[i], names[1-i]
		assert.Equal(t, inode(t, filepath.Join(storedLayerFor(t, DiffID(top), rootUID(nil), own), own)), inode(t, filepath.Join(roots[i], own)),
			"and each its own top layer's folder in the store")
		assert.NoFileExists(t, filepath.Join(roots[i], other), "and not the other image's top layer")
	}
	busybox := strconv.FormatUint(inode(t, filepath.Join(stored, "bin/busybox")), 10) + "\n"
	for i, r := range running {
		require.NoError(t, os.WriteFile(filepath.Join(roots[i], "tmp/go"), nil, 0o644))
		result := r.Wait(t)
		require.Equal(t, 0, result.Code, result)
		assert.Equal(t, busybox, result.Stdout, "inside, /bin/busybox is the store's file, not a copy")
	}
}

// boxcraftImages are the images only boxcraft is asked to run: 500
// layers, docker save's tarballs, an index of images for several
// platforms. The steps leave them to it.
func boxcraftImages(t *testing.T, s Step) {
	t.Run("DeepImages", func(t *testing.T) { deepImages(t, s) })
	t.Run("DockerSaveAndOCILayoutAreTheSameImage", func(t *testing.T) { dockerSaveAndOCILayoutAgree(t, s) })
	t.Run("AMultiPlatformIndexGivesThisMachinesImage", func(t *testing.T) { multiPlatformIndex(t, s) })
}

// deepImages checks that an image of hundreds of layers runs, each layer a
// lower layer of the overlay.
func deepImages(t *testing.T, s Step) {
	base := BaseLayer(t)
	for _, n := range []int{128, 500} {
		t.Run(strconv.Itoa(n)+" layers", func(t *testing.T) {
			layers := [][]byte{base}
			var want strings.Builder
			for i := 1; i < n; i++ {
				layers = append(layers, Tar(t, dir("layers/"), file("layers/"+strconv.Itoa(i), strconv.Itoa(i))))
				fmt.Fprintf(&want, "%d\n", i)
			}
			image := OCILayout(t, false, layers...)
			r := s.RunImage(t, image, nil, "/bin/sh", "-c", `for f in /layers/*; do cat $f; echo; done | sort -n; echo ---; cat /proc/self/mountinfo`)
			require.Equal(t, 0, r.Code, r)
			files, mountinfo, _ := strings.Cut(r.Stdout, "---\n")
			assert.Equal(t, want.String(), files, "each layer's own file")
			assert.Equal(t, n, lowerLayers(t, mountinfo), "every layer in the overlay's stack, each a lower layer of its own")
		})
	}
}

// dockerSaveAndOCILayoutAgree checks that the same layers, as an OCI
// layout or as docker save's tarball (both formats), give the same view,
// with one layer twice: overlayfs stacks a folder once (ELOOP).
func dockerSaveAndOCILayoutAgree(t *testing.T, s Step) {
	base := BaseLayer(t)
	one := Tar(t, dir("t/"), file("t/a", "one"), file("t/gone", "gone"))
	two := Tar(t, dir("t/"), file("t/.wh.gone", ""), file("t/b", "two"))
	// one again on top (the same files copied in twice): t/gone is back.
	layers := [][]byte{base, one, two, one}
	for name, image := range map[string]string{
		"OCI layout, gzip":         OCILayout(t, true, layers...),
		"docker save, Docker < 25": DockerSave(t, false, layers...),
		"docker save, Docker 25+":  DockerSave(t, true, layers...),
	} {
		t.Run(name, func(t *testing.T) {
			r := s.RunImage(t, image, nil, "/bin/sh", "-c", showFiles)
			require.Equal(t, 0, r.Code, r)
			assert.Equal(t, "/t/a: one\n/t/b: two\n/t/gone: gone\n", r.Stdout)
		})
	}
}

// aFreshImageRunThreeTimesAtOnce checks that three runs of an image whose
// layer is not yet stored, which store it at once, leave one copy of it
// in the store: one copy wins, and the others go.
func aFreshImageRunThreeTimesAtOnce(t *testing.T, s Step) {
	base, layer := BaseLayer(t), Tar(t, file("unique", t.Name()+" at "+time.Now().String()))
	image := OCILayout(t, false, base, layer)
	before := stateEntries(t)
	var running []*Running
	if s.Docker { // boxcraft stores the image's layers when it loads it
		for range 3 {
			running = append(running, Start(t, Command(t, s.loadArgs(image)...)))
		}
		for _, r := range running {
			result := r.Wait(t)
			require.Equal(t, 0, result.Code, result)
		}
		running = nil
	}
	for range 3 {
		running = append(running, Start(t, s.ImageCommand(t, image, nil, "/bin/cat", "/unique")))
	}
	for _, r := range running {
		result := r.Wait(t)
		require.Equal(t, 0, result.Code, result)
		assert.Contains(t, result.Stdout, "at ")
	}
	storedLayerFor(t, DiffID(layer), rootUID(nil), "unique")
	assertOnlyTheStoreLeft(t, s, before, func() {
		require.Equal(t, 0, s.RunImage(t, image, nil, "/bin/true").Code)
	}, [][]byte{base, layer})
}

// multiPlatformIndex checks that, of an index of images for two platforms,
// the runtime runs this machine's.
func multiPlatformIndex(t *testing.T, s Step) {
	base := BaseLayer(t)
	other, this := Tar(t, file("platform", "other")), Tar(t, file("platform", "this"))
	dir := OCILayout(t, false, base, this)
	mine := ociIndex(t, dir)[0]
	mine.Platform = &oci.Platform{OS: "linux", Architecture: runtime.GOARCH}
	// The other platform's image: its blobs copied in, listed first.
	elsewhere := OCILayout(t, false, base, other)
	copyBlobs(t, elsewhere, dir)
	foreign := ociIndex(t, elsewhere)[0]
	foreign.Platform = &oci.Platform{OS: "linux", Architecture: "riscv64"}
	if runtime.GOARCH == "riscv64" {
		foreign.Platform.Architecture = "s390x"
	}
	index := writeJSONBlob(t, dir, oci.MediaTypeIndex, map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeIndex,
		"manifests": []oci.Descriptor{foreign, mine}})
	writeIndex(t, dir, index)
	r := s.RunImage(t, dir, nil, "/bin/cat", "/platform")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "this", r.Stdout, "the manifest for linux/"+runtime.GOARCH)
}

// inspectShowsTheLayersImagesShare checks that boxcraft's inspect lists
// each loaded image's layers by diffID, the bottom first: two images of
// one base show the layer they share, and each its own on top.
func inspectShowsTheLayersImagesShare(t *testing.T, s Step) {
	base, topA, topB := BaseLayer(t), Tar(t, file("a", "a")), Tar(t, file("b", "b"))
	for image, want := range map[string][]string{
		OCILayout(t, false, base, topA): {DiffID(base), DiffID(topA)},
		OCILayout(t, true, base, topB):  {DiffID(base), DiffID(topB)},
	} {
		loaded := Run(t, s.loadArgs(image)...)
		require.Equal(t, 0, loaded.Code, loaded)
		id := loadedImage.FindStringSubmatch(loaded.Stdout)
		require.NotNil(t, id, loaded.Stdout)
		r := Run(t, "inspect", id[1])
		require.Equal(t, 0, r.Code, r)
		var images []struct {
			RootFS struct{ Layers []string }
		}
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &images), r.Stdout)
		require.Len(t, images, 1, r.Stdout)
		assert.Equal(t, want, images[0].RootFS.Layers, "the image's layers, the bottom first, by diffID (RootFS.Layers, as docker inspect)")
	}
}

// volatile matches overlayfs's option that skips syncing the upper
// layer, as mountinfo shows it (fsync=volatile since 6.x).
const volatile = `(^|,)(fsync=)?volatile(,|$)`

// showFiles prints each file below /t, sorted, with its content.
const showFiles = `for f in $(find /t -type f | sort); do echo "$f: $(cat $f)"; done`

// rootListingScript is a shell script that prints what a container sees
// on its root's own filesystem: each path's type, mode, owner and symlink
// target, then each regular file's checksum. The mount points are left
// out: /proc's owner, say, depends on the user namespace, not on the
// image.
const rootListingScript = `find / -xdev -exec stat -c '%n %F %a %u:%g %N' {} + | grep -v -e '^/proc ' -e '^/sys ' -e '^/dev ' | sort; ` +
	`find / -xdev -type f -exec md5sum {} + | sort`

// commitRoundTrip changes a kept container's files in every way a layer
// records, commits it, and runs the new image: its view must be exactly
// the container's, with and without a user namespace.
func commitRoundTrip(t *testing.T) {
	image := OCILayout(t, true, BaseLayer(t), Tar(t, dir("t/"), file("t/keep", "keep"), file("t/override", "lower"),
		dir("t/dir/"), file("t/dir/x", "x"), dir("t/opaque/"), file("t/opaque/old", "old"), file("t/owned", "owned"),
		dir("t/moved/"), file("t/moved/y", "y")))
	const changes = `set -e; echo added > /t/added; echo upper > /t/override; rm /t/keep; rm -r /t/dir; ` +
		`rm -r /t/opaque; mkdir /t/opaque; echo new > /t/opaque/new; chown 1000:1000 /t/owned; chmod 600 /t/owned; ` +
		`ln -s /t/added /t/symlink; ln /t/added /t/hardlink; mkfifo /t/fifo; mv /t/moved /t/renamed; `
	r := Run(t, "run", "--image", image, "--keep", "/bin/sh", "-c", changes+rootListingScript)
	require.Equal(t, 0, r.Code, r)
	// A file's xattrs go into a layer with boxcraft's commit
	// (final/archive's diff_test); the steps', as GNU tar without
	// --xattrs, leave them out.
	kept, _ := keptFolder(t, r, "t/added", "added\n")
	out := filepath.Join(t.TempDir(), "committed")
	c := Run(t, "commit", kept, out)
	require.Equal(t, 0, c.Code, "commit takes the path that run --keep named (%s):\n%s", kept, c)
	require.Len(t, ociManifest(t, out).Layers, 3, "the committed image is the container's image, two layers, and the container's layer on top")
	for name, flags := range withAndWithoutUserNamespace {
		t.Run(name, func(t *testing.T) {
			again := Run(t, append(append([]string{"run", "--image", out}, flags...), "/bin/sh", "-c", rootListingScript)...)
			require.Equal(t, 0, again.Code, again)
			assert.Equal(t, r.Stdout, again.Stdout, "the committed image's view is the container's")
		})
	}
	assertCommittedLayer(t, out)
}

// assertCommittedLayer checks the top layer of the image that commit
// wrote in out: an image layer, whiteouts as .wh. files, the container's
// own ids.
func assertCommittedLayer(t *testing.T, out string) {
	entries := map[string]*tar.Header{}
	archive := tar.NewReader(bytes.NewReader(readFile(t, topLayerBlob(t, out))))
	for {
		hdr, err := archive.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		entries[hdr.Name] = hdr
	}
	for _, name := range []string{"t/.wh.keep", "t/.wh.dir", "t/opaque/.wh..wh..opq", "t/opaque/new", "t/added", "t/override"} {
		assert.Contains(t, entries, name)
	}
	assert.NotContains(t, entries, "t/opaque/.wh.old", "an opaque folder needs no whiteout for what it hides")
	if assert.Contains(t, entries, "t/owned") {
		assert.Equal(t, [2]int{1000, 1000}, [2]int{entries["t/owned"].Uid, entries["t/owned"].Gid}, "the container's ids, not the host's")
	}
	// A hard link stays one in boxcraft's layers (final/archive's
	// TestDiffWritesALayer); the steps' commit writes each name as a file.
	assert.Contains(t, entries, "t/hardlink")
}

// tamperedBlobs changes one byte of an image's blob: the image must be
// refused, naming the blob, before anything of it is used.
func tamperedBlobs(t *testing.T, s Step) {
	base := BaseLayer(t)
	body := "unique to " + t.Name() + " at " + time.Now().String()
	layer := Tar(t, file("unique", body))
	layerHex := strings.TrimPrefix(DiffID(layer), "sha256:")
	layout := func(t *testing.T) (string, string, []string) {
		dir := OCILayout(t, false, base, layer)
		return dir, blobPath(dir, DiffID(layer)), []string{layerHex}
	}
	// Each case: the image, the file of it to change, and what the
	// refusal must name (any one of them): the blob.
	for name, image := range map[string]func(t *testing.T) (image, tampered string, names []string){
		"a layer of an OCI layout": layout,
		"the config of an OCI layout": func(t *testing.T) (string, string, []string) {
			dir, _, _ := layout(t)
			config := ociConfig(t, dir).Digest
			return dir, blobPath(dir, config), []string{strings.TrimPrefix(config, "sha256:")}
		},
		"a layer of docker save's": func(t *testing.T) (string, string, []string) {
			path := DockerSave(t, false, base, layer)
			return path, path, []string{"layer.tar", layerHex}
		},
	} {
		if !s.Docker && strings.Contains(name, "docker save") { // boxcraft's alone
			continue
		}
		t.Run(name, func(t *testing.T) {
			image, tampered, names := image(t)
			oneByteTampered(t, s, image, tampered, names, body, base, layer)
		})
	}
	t.Run("a gzip layer compressed again", func(t *testing.T) { gzipLayerCompressedAgain(t, s, base, layer) })
	t.Run("a diffID that is another layer's", func(t *testing.T) {
		dir, _, _ := layout(t)
		diffIDOfAnotherLayer(t, s, dir, body, base, layer)
	})
}

// oneByteTampered changes one byte of the file tampered of image, in its
// content (body) or in a config's JSON, and checks that the image is
// refused, naming one of names, and its layer not stored.
func oneByteTampered(t *testing.T, s Step, image, tampered string, names []string, body string, base, layer []byte) {
	data := readFile(t, tampered)
	// One byte of the file's content, or of the config's JSON.
	at := bytes.Index(data, []byte(body))
	if at < 0 {
		at = bytes.Index(data, []byte(`"os"`)) + 2
	}
	data[at] ^= 0x20
	require.NoError(t, os.WriteFile(tampered, data, 0o644))
	r := runLeavingOnlyTheStore(t, s, func() Result { return s.RunImage(t, image, nil, "/bin/true") }, [][]byte{base}, layer)
	s.assertRefusedNaming(t, r, image, names...)
	assertNotStored(t, DiffID(layer))
}

// gzipLayerCompressedAgain checks a layer whose content is whole, but
// whose blob is compressed anew: the diffID (of what it unpacks to)
// still holds, and only the blob's own digest, which the manifest names,
// shows the change. A runtime that checks only diffIDs would run it.
func gzipLayerCompressedAgain(t *testing.T, s Step, base, layer []byte) {
	dir := OCILayout(t, true, base, layer)
	blob := topLayerBlob(t, dir)
	digest := ociManifest(t, dir).Layers[1].Digest
	again := Gzip(t, layer)
	again[9] ^= 0xff // gzip's OS byte: the same content, other bytes
	require.NotEqual(t, readFile(t, blob), again)
	require.NoError(t, os.WriteFile(blob, again, 0o644))
	r := runLeavingOnlyTheStore(t, s, func() Result { return s.RunImage(t, dir, nil, "/bin/true") }, [][]byte{base}, layer)
	s.assertRefusedNaming(t, r, dir, strings.TrimPrefix(digest, "sha256:"), digest)
	assertNotStored(t, DiffID(layer))
}

// diffIDOfAnotherLayer checks an OCI layout dir, of base and layer, whose
// blobs are whole, but whose config says the layer is another: stored
// under that name, it would be a lie in the store, shared with every
// image that has the other layer.
func diffIDOfAnotherLayer(t *testing.T, s Step, dir, body string, base, layer []byte) {
	other := Tar(t, file("unique", "another "+body))
	withDiffIDs(t, dir, []string{DiffID(base), DiffID(other)})
	r := runLeavingOnlyTheStore(t, s, func() Result { return s.RunImage(t, dir, nil, "/bin/true") }, [][]byte{base}, layer, other)
	s.assertRefusedNaming(t, r, dir, strings.TrimPrefix(DiffID(layer), "sha256:"), strings.TrimPrefix(DiffID(other), "sha256:"))
	assertNotStored(t, DiffID(other))
	assertNotStored(t, DiffID(layer))
}

// withDiffIDs rewrites an OCI layout's config to list these diffIDs, and
// its manifest and index to point to the new config: every blob is then
// what its digest says, and a diffID is not.
func withDiffIDs(t *testing.T, dir string, diffIDs []string) {
	manifest := ociManifest(t, dir)
	var config map[string]any
	require.NoError(t, json.Unmarshal(readFile(t, blobPath(dir, manifest.Config.Digest)), &config))
	config["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}
	manifest.Config = writeJSONBlob(t, dir, oci.MediaTypeConfig, config)
	writeIndex(t, dir, writeJSONBlob(t, dir, oci.MediaTypeManifest, map[string]any{"schemaVersion": 2,
		"mediaType": oci.MediaTypeManifest, "config": manifest.Config, "layers": manifest.Layers}))
}

// writeJSONBlob writes v as a blob of the OCI layout dir.
func writeJSONBlob(t *testing.T, dir, mediaType string, v any) oci.Descriptor {
	data, err := json.Marshal(v)
	require.NoError(t, err)
	d := oci.Descriptor{MediaType: mediaType, Digest: oci.Digest(data), Size: len(data)}
	require.NoError(t, os.WriteFile(blobPath(dir, d.Digest), data, 0o644))
	return d
}

// writeIndex makes index.json list one manifest, or index: d.
func writeIndex(t *testing.T, dir string, d oci.Descriptor) {
	data, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeIndex, "manifests": []oci.Descriptor{d}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.json"), data, 0o644))
}

// ociIndex is what index.json lists.
func ociIndex(t testing.TB, dir string) []oci.Descriptor {
	t.Helper()
	var index struct{ Manifests []oci.Descriptor }
	require.NoError(t, json.Unmarshal(readFile(t, filepath.Join(dir, "index.json")), &index))
	return index.Manifests
}

// copyBlobs copies every blob of one OCI layout into another.
func copyBlobs(t *testing.T, from, to string) {
	blobs, err := filepath.Glob(filepath.Join(from, "blobs/sha256/*"))
	require.NoError(t, err)
	for _, blob := range blobs {
		require.NoError(t, os.WriteFile(filepath.Join(to, "blobs/sha256", filepath.Base(blob)), readFile(t, blob), 0o644))
	}
}

// hostileLayers runs images whose top layer is hostile: step04's hostile
// archives, and whiteouts that name a path outside the layer.
func hostileLayers(t *testing.T, s Step) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "victim"), []byte("the host's\n"), 0o644))
	link := TarEntry{Name: "link", Type: tar.TypeSymlink, Linkname: outside}
	cases := append(HostileArchives(outside),
		hostile("a whiteout of ..", ".wh...", file(".wh...", "")),
		hostile("a whiteout of the layer itself", ".wh..", file(".wh..", "")),
		hostile("a whiteout that climbs out", climbTo(outside)+"/.wh.victim", file(climbTo(outside)+"/.wh.victim", "")),
		hostile("a whiteout through a symlink to outside", "link/.wh.victim", link, file("link/.wh.victim", "")),
		hostile("an opaque marker through a symlink to outside", "link/.wh..wh..opq", link, file("link/.wh..wh..opq", "")),
	)
	// The steps set no xattr of a layer's (as GNU tar without --xattrs);
	// boxcraft sets them, and refuses overlayfs's own (final/archive).
	if s.Docker {
		cases = append(cases, hostile("overlayfs's own attribute", "t/",
			TarEntry{Name: "t/", Type: tar.TypeDir, Xattrs: map[string]string{"trusted.overlay.redirect": "/etc"}}))
	}
	base := BaseLayer(t)
	for _, h := range cases {
		t.Run(h.Name, func(t *testing.T) {
			before := Listing(t, outside, "")
			image := OCILayout(t, false, base, h.Tar)
			r := runLeavingOnlyTheStore(t, s, func() Result { return s.RunImage(t, image, nil, "/bin/true") }, [][]byte{base}, h.Tar)
			s.assertRefusedNaming(t, r, image, entryNames(h.Entry)...)
			assert.Equal(t, before, Listing(t, outside, ""), "nothing written outside the layer: the unpacker must not follow "+
				"a name, a symlink or a hard link out of it")
			assertNotStored(t, DiffID(h.Tar))
		})
	}
}

// badImages are images that are not whole, or not images: each is
// refused in one line, and leaves nothing.
func badImages(t *testing.T, s Step) {
	layer := Tar(t, file("a", "a"))
	for name, tc := range badImageCases(t, s, layer) {
		// docker save's tarballs and zstd are boxcraft's alone.
		if !s.Docker && (strings.Contains(name, "docker save") || strings.Contains(name, "zstd")) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			image := tc.image(t)
			names := tc.names
			if names == nil {
				names = []string{image}
			}
			r := runLeavingOnlyTheStore(t, s, func() Result { return s.RunImage(t, image, nil, "/bin/true") }, [][]byte{layer})
			s.assertRefusedNaming(t, r, image, names...)
		})
	}
	// boxcraft has no commit.
	if !s.Docker {
		t.Run("commit", func(t *testing.T) { commitRefusesBadInput(t, s) })
	}
}

// badImage is a case of BadImagesAreRefused: the image, and what the
// refusal must name (any one of them): the file, field or digest that is
// wrong. No names: the image itself.
type badImage struct {
	image func(t *testing.T) string
	names []string
}

// badImageCases are BadImagesAreRefused's images, each with the one
// layer, or with no layer at all.
func badImageCases(t *testing.T, s Step, layer []byte) map[string]badImage {
	config := string(imageConfig(t, [][]byte{layer}))
	configName := strings.TrimPrefix(DiffID([]byte(config)), "sha256:") + ".json"
	zstd := []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}
	const noDiffIDs = `{"rootfs":{"type":"layers","diff_ids":[]}}`
	return map[string]badImage{
		"an OCI layout with no image": {func(t *testing.T) string {
			return layoutWithIndex(t, `{"schemaVersion":2,"manifests":[]}`)
		}, []string{"index.json"}},
		"a digest that names a path": {func(t *testing.T) string {
			return layoutWithIndex(t, `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../../etc/passwd","size":1}]}`)
		}, []string{"../../../../etc/passwd"}},
		"more layers than overlayfs stacks": {func(t *testing.T) string {
			layers := make([][]byte, 501)
			for i := range layers {
				layers[i] = Tar(t, file(strconv.Itoa(i), ""))
			}
			return OCILayout(t, false, layers...)
		}, []string{"501", "500"}},
		"a layer compressed with zstd": {func(t *testing.T) string {
			return OCILayout(t, false, zstd)
		}, []string{"zstd", strings.TrimPrefix(DiffID(zstd), "sha256:")}},
		"docker save with a config not named by its digest": {func(t *testing.T) string {
			return dockerSaveOf(t, file("config.json", config), file("manifest.json", `[{"Config":"config.json","Layers":["a/layer.tar"]}]`))
		}, []string{"config.json"}},
		"a diffID that names a path": {func(t *testing.T) string {
			return imageWithDiffIDs(t, s, layer, `"sha256:../../../etc"`)
		}, []string{"../../../etc"}},
		"a config with fewer diffIDs than layers": {func(t *testing.T) string {
			return imageWithDiffIDs(t, s, layer, "")
		}, []string{"diff_ids", "diffID", "diffIDs", strings.TrimPrefix(DiffID([]byte(noDiffIDs)), "sha256:")}},
		"docker save with no image": {func(t *testing.T) string {
			return dockerSaveOf(t, file("manifest.json", `[]`))
		}, []string{"manifest.json"}},
		"docker save, gzipped": {func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "docker-save.tar.gz")
			require.NoError(t, os.WriteFile(path, Gzip(t, readFile(t, dockerSaveWithConfig(t, layer, config))), 0o644))
			return path
		}, nil},
		"a blob that is a FIFO": {func(t *testing.T) string {
			dir := OCILayout(t, false, layer)
			blob := blobPath(dir, DiffID(layer))
			require.NoError(t, os.Remove(blob))
			require.NoError(t, unix.Mkfifo(blob, 0o644))
			return dir
		}, []string{strings.TrimPrefix(DiffID(layer), "sha256:")}},
		"docker save without a layer it names": {func(t *testing.T) string {
			return dockerSaveOf(t, file(configName, config), file("manifest.json", `[{"Config":"`+configName+`","Layers":["a/layer.tar"]}]`))
		}, []string{"a/layer.tar"}},
	}
}

// dockerSaveWithConfig is docker save's tarball of one layer, with this
// config, named by its digest.
func dockerSaveWithConfig(t *testing.T, layer []byte, config string) string {
	name := strings.TrimPrefix(DiffID([]byte(config)), "sha256:") + ".json"
	return dockerSaveOf(t, file(name, config), file("a/layer.tar", string(layer)),
		file("manifest.json", `[{"Config":"`+name+`","Layers":["a/layer.tar"]}]`))
}

// imageWithDiffIDs is one layer's image with a config that lists these
// diffIDs: docker save's for boxcraft, an OCI layout for the steps,
// which read no other form.
func imageWithDiffIDs(t *testing.T, s Step, layer []byte, diffIDs string) string {
	if s.Docker {
		return dockerSaveWithConfig(t, layer, `{"rootfs":{"type":"layers","diff_ids":[`+diffIDs+`]}}`)
	}
	dir := OCILayout(t, false, layer)
	var list []string
	require.NoError(t, json.Unmarshal([]byte("["+diffIDs+"]"), &list))
	withDiffIDs(t, dir, list)
	return dir
}

// layoutWithIndex is an OCI layout that holds only this index.json.
func layoutWithIndex(t *testing.T, index string) string {
	dir := filepath.Join(t.TempDir(), "oci-image")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "blobs/sha256"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.json"), []byte(index), 0o644))
	return dir
}

// dockerSaveOf is a tarball, as docker save writes, of these entries.
func dockerSaveOf(t *testing.T, entries ...TarEntry) string {
	path := filepath.Join(t.TempDir(), "docker-save.tar")
	require.NoError(t, os.WriteFile(path, Tar(t, entries...), 0o644))
	return path
}

// commitRefusesBadInput checks that commit refuses a bad container or
// destination in one line, and writes nothing.
func commitRefusesBadInput(t *testing.T, s Step) {
	existing := t.TempDir()
	r := Run(t, "run", "--image", OCILayout(t, false, BaseLayer(t)), "--keep", "/bin/sh", "-c", "echo kept > /kept")
	require.Equal(t, 0, r.Code, r)
	kept, _ := keptFolder(t, r, "kept", "kept\n")
	missing := filepath.Join(StateDir(t), "no-such-container")
	out := filepath.Join(existing, "out")
	// Each row: the command line, and what the line must name (any
	// one of them).
	for name, tc := range map[string]struct {
		args  []string
		names []string
	}{
		"no arguments":       {[]string{"commit"}, []string{"usage", "commit"}},
		"no such container":  {[]string{"commit", missing, out}, []string{missing}},
		"not a container":    {[]string{"commit", "/etc", out}, []string{"/etc"}},
		"an existing folder": {[]string{"commit", kept, existing}, []string{existing}},
		"a folder in none":   {[]string{"commit", kept, filepath.Join(existing, "none/out")}, []string{filepath.Join(existing, "none")}},
	} {
		parent := t
		t.Run(name, func(t *testing.T) {
			ShareSandbox(t, parent) // the kept container is the parent's
			s.AssertRefused(t, Run(t, tc.args...), tc.names...)
			assert.NoDirExists(t, out, "no image written")
			assert.Empty(t, folderNames(t, existing), "nothing written in the existing folder")
		})
	}
}

// folderNames lists a folder's entries' names.
func folderNames(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// ociConfig is the descriptor of an OCI layout's config.
func ociConfig(t testing.TB, dir string) oci.Descriptor {
	t.Helper()
	return ociManifest(t, dir).Config
}

// ociManifest reads an OCI layout's one manifest.
func ociManifest(t testing.TB, dir string) struct {
	Config oci.Descriptor
	Layers []oci.Descriptor
} {
	t.Helper()
	index := ociIndex(t, dir)
	require.Len(t, index, 1)
	var manifest struct {
		Config oci.Descriptor
		Layers []oci.Descriptor
	}
	require.NoError(t, json.Unmarshal(readFile(t, blobPath(dir, index[0].Digest)), &manifest))
	return manifest
}

// topLayerBlob is the path of an OCI layout's top layer's blob.
func topLayerBlob(t testing.TB, dir string) string {
	t.Helper()
	layers := ociManifest(t, dir).Layers
	require.NotEmpty(t, layers)
	return blobPath(dir, layers[len(layers)-1].Digest)
}

// blobPath is where an OCI layout keeps the blob with this digest.
func blobPath(dir, digest string) string {
	return filepath.Join(dir, "blobs/sha256", strings.TrimPrefix(digest, "sha256:"))
}

// inode is the inode number of path. Seen through overlayfs, a file of a
// lower layer has its own when the layers lie on one filesystem.
func inode(t testing.TB, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return st.Ino
}

// mountOptionNames are the names of a mount's options: lowerdir for
// lowerdir=…, ….
func mountOptionNames(options string) []string {
	var names []string
	for _, option := range strings.Split(options, ",") {
		name, _, _ := strings.Cut(option, "=")
		names = append(names, name)
	}
	return names
}

// lowerLayers counts the lower layers of the overlay on / in mountinfo
// (a container's own): lowerdir=A:B:C, or since Linux 6.8 lowerdir+=A
// once per layer when the runtime gave them so (fsconfig(2)).
func lowerLayers(t testing.TB, mountinfo string) int {
	t.Helper()
	for _, line := range strings.Split(mountinfo, "\n") {
		_, point, fstype, options, ok := facts.ParseMount(line)
		if !ok || point != "/" || fstype != "overlay" {
			continue
		}
		n := 0
		for _, option := range strings.Split(options, ",") {
			if dirs, ok := strings.CutPrefix(option, "lowerdir="); ok {
				// A colon in a path is escaped (\:).
				n += strings.Count(dirs, ":") - strings.Count(dirs, `\:`) + 1
			} else if strings.HasPrefix(option, "lowerdir+=") {
				n++
			}
		}
		return n
	}
	t.Fatalf("the container's root is no overlay:\n%s", mountinfo)
	return 0
}

// xattr reads one extended attribute of path.
func xattr(t testing.TB, path, name string) string {
	t.Helper()
	value := make([]byte, 256)
	n, err := unix.Lgetxattr(path, name, value)
	require.NoError(t, err, "%s of %s", name, path)
	return string(value[:n])
}

// sha256Hex is the hex digest of a string, as Tree gives a file's.
func sha256Hex(data string) string {
	sum := sha256.Sum256([]byte(data))
	return hex.EncodeToString(sum[:])
}

// dir and file are a layer's entries.
func dir(name string) TarEntry        { return TarEntry{Name: name, Type: tar.TypeDir} }
func file(name, body string) TarEntry { return TarEntry{Name: name, Body: body} }
