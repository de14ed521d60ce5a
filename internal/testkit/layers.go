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
func Layers(t *testing.T, s Step) {
	RequireRoot(t)
	t.Run("UnionView", func(t *testing.T) {
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
		for name, flags := range userNamespace {
			t.Run(name, func(t *testing.T) {
				r := Run(t, append(append([]string{"run", "--image", image}, flags...), "/bin/sh", "-c", script)...)
				require.Equal(t, 0, r.Code, r)
				assert.Equal(t, want, r.Stdout, "the union of the layers")
				// On the host, the top layer's whiteouts are overlayfs's.
				stored := storedLayer(t, s, DiffID(upper), flags == nil)
				var st unix.Stat_t
				require.NoError(t, unix.Lstat(filepath.Join(stored, "t/deleted"), &st))
				assert.Equal(t, [2]uint32{unix.S_IFCHR, 0}, [2]uint32{st.Mode & unix.S_IFMT, uint32(st.Rdev)}, ".wh.deleted is a character device 0:0")
				assert.NoFileExists(t, filepath.Join(stored, "t/.wh.deleted"))
				assert.Equal(t, "y", xattr(t, filepath.Join(stored, "t/opaque"), "trusted.overlay.opaque"), ".wh..wh..opq made t/opaque opaque")
				assert.NoFileExists(t, filepath.Join(stored, "t/opaque/.wh..wh..opq"))
			})
		}
	})
	t.Run("WritesLandInTheUpperLayerOnly", func(t *testing.T) {
		base, top := BaseLayer(t), Tar(t, dir("t/"), file("t/lower", "lower"))
		image := OCILayout(t, false, base, top)
		require.Equal(t, 0, Run(t, "run", "--image", image, "/bin/true").Code, "a first run stores the layers")
		layers := []string{storedLayer(t, s, DiffID(base), true), storedLayer(t, s, DiffID(top), true)}
		before := []map[string]TreeEntry{Tree(t, layers[0]), Tree(t, layers[1])}
		const script = `echo new > /t/new; echo changed > /t/lower; rm /etc/hostname; touch /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.02; done`
		running := Start(t, Command(t, "run", "--image", image, "--keep", "/bin/sh", "-c", script))
		folder := filepath.Join(s.stateDir(), "run-"+strconv.Itoa(running.Cmd.Process.Pid))
		running.WaitForFile(t, filepath.Join(folder, "merged/tmp/ready"))
		// On the host, the root is an overlay mounted on merged/, its
		// lower layers the store's folders, top first, through links.
		options := overlayOptions(t, filepath.Join(folder, "merged"))
		assert.Subset(t, strings.Split(options, ","), []string{"lowerdir=0:1", "upperdir=../upper", "workdir=../work"}, options)
		assert.NotRegexp(t, volatile, options, "a kept upper layer is written to disk as any file is")
		for i, layer := range []string{layers[1], layers[0]} {
			link, err := os.Readlink(filepath.Join(folder, "lower", strconv.Itoa(i)))
			require.NoError(t, err)
			assert.Equal(t, layer, link, "lower/%d", i)
		}
		require.NoError(t, os.WriteFile(filepath.Join(folder, "merged/tmp/go"), nil, 0o644))
		r := running.Wait(t)
		require.Equal(t, 0, r.Code, r)
		upper := keptRootfs(t, s, r)
		assert.NotContains(t, MountPoints(t), filepath.Join(folder, "merged"), "unmounted")
		assert.ElementsMatch(t, []string{"container.json", "lower", "upper"}, folderNames(t, filepath.Dir(upper)),
			"a kept container is its upper layer, its links to the lower ones, and its record")
		got := Tree(t, upper)
		var names []string
		for name := range got {
			names = append(names, name)
		}
		assert.ElementsMatch(t, []string{".", "etc", "etc/hostname", "t", "t/lower", "t/new", "tmp", "tmp/ready", "tmp/go"}, names,
			"the upper layer holds what the container changed, and only that")
		assert.Equal(t, "Dc---------", got["etc/hostname"].Mode)
		assert.Equal(t, "0:0", got["etc/hostname"].Rdev, "a deleted file is a whiteout")
		assert.Equal(t, sha256Hex("changed\n"), got["t/lower"].SHA256, "a changed file is copied up")
		assert.Equal(t, sha256Hex("new\n"), got["t/new"].SHA256)
		for i, layer := range layers {
			assert.Equal(t, before[i], Tree(t, layer), "layer %d is as it was", i)
		}
	})
	t.Run("ContainersShareLayerFolders", func(t *testing.T) {
		base := BaseLayer(t)
		images := []string{OCILayout(t, false, base, Tar(t, file("a", "a"))), DockerSave(t, true, base, Tar(t, file("b", "b")))}
		const script = `stat -c %i /bin/busybox; touch /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.02; done`
		var running []*Running
		var folders []string
		for _, image := range images {
			r := Start(t, Command(t, "run", "--image", image, "/bin/sh", "-c", script))
			folder := filepath.Join(s.stateDir(), "run-"+strconv.Itoa(r.Cmd.Process.Pid))
			r.WaitForFile(t, filepath.Join(folder, "merged/tmp/ready"))
			running, folders = append(running, r), append(folders, folder)
			assert.Regexp(t, volatile, overlayOptions(t, filepath.Join(folder, "merged")), "an upper layer that goes at the end is never synced to disk")
		}
		stored := storedLayer(t, s, DiffID(base), true)
		for _, folder := range folders {
			link, err := os.Readlink(filepath.Join(folder, "lower/1"))
			require.NoError(t, err)
			assert.Equal(t, stored, link, "both containers' bottom layer is the store's folder")
		}
		top0, _ := os.Readlink(filepath.Join(folders[0], "lower/0"))
		top1, _ := os.Readlink(filepath.Join(folders[1], "lower/0"))
		assert.NotEqual(t, top0, top1, "and their top layers differ")
		var st unix.Stat_t
		require.NoError(t, unix.Stat(filepath.Join(stored, "bin/busybox"), &st))
		for i, r := range running {
			require.NoError(t, os.WriteFile(filepath.Join(folders[i], "merged/tmp/go"), nil, 0o644))
			result := r.Wait(t)
			require.Equal(t, 0, result.Code, result)
			assert.Equal(t, strconv.FormatUint(st.Ino, 10)+"\n", result.Stdout, "inside, /bin/busybox is the store's file, not a copy")
		}
	})
	t.Run("CommitRoundTrip", func(t *testing.T) { commitRoundTrip(t, s) })
	t.Run("TamperedBlobsAreRefused", func(t *testing.T) { tamperedBlobs(t, s) })
	t.Run("DeepImages", func(t *testing.T) {
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
				r := Run(t, "run", "--image", image, "/bin/sh", "-c", `for f in /layers/*; do cat $f; echo; done | sort -n; grep -o 'lowerdir=[^,]*' /proc/self/mountinfo | head -n 1`)
				require.Equal(t, 0, r.Code, r)
				files, lowerdir, _ := strings.Cut(r.Stdout, "lowerdir=")
				assert.Equal(t, want.String(), files, "each layer's own file")
				assert.Len(t, strings.Split(strings.TrimSpace(lowerdir), ":"), n, "every layer in the stack")
			})
		}
	})
	t.Run("DockerSaveAndOCILayoutAreTheSameImage", func(t *testing.T) {
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
				r := Run(t, "run", "--image", image, "/bin/sh", "-c", showFiles)
				require.Equal(t, 0, r.Code, r)
				assert.Equal(t, "/t/a: one\n/t/b: two\n/t/gone: gone\n", r.Stdout)
			})
		}
	})
	t.Run("AFreshImageRunThreeTimesAtOnce", func(t *testing.T) {
		layer := Tar(t, file("unique", t.Name()+" at "+time.Now().String()))
		image := OCILayout(t, false, BaseLayer(t), layer)
		var running []*Running
		for range 3 {
			running = append(running, Start(t, Command(t, "run", "--image", image, "/bin/cat", "/unique")))
		}
		for _, r := range running {
			result := r.Wait(t)
			require.Equal(t, 0, result.Code, result)
			assert.Contains(t, result.Stdout, "at ")
		}
		storedLayer(t, s, DiffID(layer), true)
		leftovers, err := filepath.Glob(filepath.Join(s.stateDir(), "run-*"))
		require.NoError(t, err)
		assert.Empty(t, leftovers, "each run's folder, and the copies of the layer that lost the race, are gone")
	})
	t.Run("AMultiPlatformIndexGivesThisMachinesImage", func(t *testing.T) {
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
		r := Run(t, "run", "--image", dir, "/bin/cat", "/platform")
		require.Equal(t, 0, r.Code, r)
		assert.Equal(t, "this", r.Stdout, "the manifest for linux/"+runtime.GOARCH)
	})
	t.Run("HostileLayersAreRefused", func(t *testing.T) { hostileLayers(t, s) })
	t.Run("BadImagesAreRefused", func(t *testing.T) { badImages(t, s) })
	t.Run("ImagesAndLayersShowTheStore", func(t *testing.T) {
		base := BaseLayer(t)
		a, b := OCILayout(t, false, base, Tar(t, file("a", "a"))), DockerSave(t, false, base, Tar(t, file("b", "b")))
		for _, image := range []string{a, b} {
			require.Equal(t, 0, Run(t, "run", "--image", image, "/bin/true").Code)
		}
		images := Run(t, "images")
		require.Equal(t, 0, images.Code, images)
		short := DiffID(base)[:len("sha256:")+12]
		assert.Contains(t, images.Stdout, a+" (OCI layout), 2 layers, top first:\n")
		assert.Contains(t, images.Stdout, b+" (docker save), 2 layers, top first:\n")
		assert.Regexp(t, `(?m)^  `+short+` +\S+  also in .*`+b, images.Stdout, "the base layer is shared")
		layers := Run(t, "layers")
		require.Equal(t, 0, layers.Code, layers)
		assert.Regexp(t, `(?m)^`+short+` +u0-100000-65536 +\S+ +.*`+a+`.*`+b, layers.Stdout)
	})
	layoutIsolation(t, s) // isolation.go
}

// volatile matches overlayfs's option that skips syncing the upper
// layer, as /proc/self/mountinfo shows it (fsync=volatile since 6.x).
const volatile = `(^|,)(fsync=)?volatile(,|$)`

// showFiles prints each file below /t, sorted, with its content.
const showFiles = `for f in $(find /t -type f | sort); do echo "$f: $(cat $f)"; done`

// listing prints what a container sees on its root's own filesystem:
// each path's type, mode, owner and symlink target, then each regular
// file's checksum.
// The mount points are left out: /proc's owner, say, depends on the
// user namespace, not on the image.
const listing = `find / -xdev -exec stat -c '%n %F %a %u:%g %N' {} + | grep -v -e '^/proc ' -e '^/sys ' -e '^/dev ' | sort; ` +
	`find / -xdev -type f -exec md5sum {} + | sort`

// commitRoundTrip changes a kept container's files in every way a layer
// records, commits it, and runs the new image: its view must be exactly
// the container's, with and without a user namespace.
func commitRoundTrip(t *testing.T, s Step) {
	image := OCILayout(t, true, BaseLayer(t), Tar(t, dir("t/"), file("t/keep", "keep"), file("t/override", "lower"),
		dir("t/dir/"), file("t/dir/x", "x"), dir("t/opaque/"), file("t/opaque/old", "old"), file("t/owned", "owned"),
		dir("t/moved/"), file("t/moved/y", "y")))
	const changes = `set -e; echo added > /t/added; echo upper > /t/override; rm /t/keep; rm -r /t/dir; ` +
		`rm -r /t/opaque; mkdir /t/opaque; echo new > /t/opaque/new; chown 1000:1000 /t/owned; chmod 600 /t/owned; ` +
		`ln -s /t/added /t/symlink; ln /t/added /t/hardlink; mkfifo /t/fifo; mv /t/moved /t/renamed; `
	r := Run(t, "run", "--image", image, "--keep", "/bin/sh", "-c", changes+listing)
	require.Equal(t, 0, r.Code, r)
	kept := filepath.Dir(keptRootfs(t, s, r))
	// A file's own extended attribute goes into the layer; overlayfs's
	// (trusted.overlay.*, or user.overlay.* when it is mounted without
	// privilege) stay out. tmpfs before Linux 6.6 has no user.* at all.
	added := filepath.Join(kept, "upper/t/added")
	require.NoError(t, unix.Setxattr(added, "trusted.boxcraft", []byte("kept"), 0))
	require.NoError(t, unix.Setxattr(added, "trusted.overlay.origin", []byte("x"), 0))
	if err := unix.Setxattr(added, "user.overlay.origin", []byte("x"), 0); err != unix.ENOTSUP {
		require.NoError(t, err)
	}
	out := filepath.Join(t.TempDir(), "committed")
	t.Cleanup(func() { forgetLayout(t, out) })
	c := Run(t, "commit", filepath.Base(kept), out)
	require.Equal(t, 0, c.Code, c)
	assert.Contains(t, c.Stdout, "committed "+filepath.Base(kept)+" as "+out+": 3 layers")
	for name, flags := range userNamespace {
		t.Run(name, func(t *testing.T) {
			again := Run(t, append(append([]string{"run", "--image", out}, flags...), "/bin/sh", "-c", listing)...)
			require.Equal(t, 0, again.Code, again)
			assert.Equal(t, r.Stdout, again.Stdout, "the committed image's view is the container's")
		})
	}
	// The new layer is an image layer: whiteouts as .wh. files, the
	// container's own ids.
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
	if assert.Contains(t, entries, "t/added") {
		xattrs := map[string]string{}
		for key, value := range entries["t/added"].PAXRecords {
			if name, ok := strings.CutPrefix(key, "SCHILY.xattr."); ok {
				xattrs[name] = value
			}
		}
		assert.Equal(t, map[string]string{"trusted.boxcraft": "kept"}, xattrs, "the file's xattrs, not overlayfs's")
	}
	if assert.Contains(t, entries, "t/hardlink") {
		assert.Equal(t, "t/added", entries["t/hardlink"].Linkname, "a hard link stays one")
	}
}

// tamperedBlobs changes one byte of an image's blob: the image must be
// refused, naming the blob, before anything of it is used.
func tamperedBlobs(t *testing.T, s Step) {
	base := BaseLayer(t)
	body := "unique to " + t.Name() + " at " + time.Now().String()
	layer := Tar(t, file("unique", body))
	layout := func(t *testing.T) (string, string) {
		dir := OCILayout(t, false, base, layer)
		return dir, filepath.Join(dir, "blobs/sha256", strings.TrimPrefix(DiffID(layer), "sha256:"))
	}
	for name, tc := range map[string]struct {
		image func(t *testing.T) (image, tampered string)
		says  string
	}{
		"a layer of an OCI layout": {layout, "(blob " + DiffID(layer) + "): its content does not match its digest"},
		"the config of an OCI layout": {func(t *testing.T) (string, string) {
			dir, _ := layout(t)
			return dir, filepath.Join(dir, "blobs/sha256", strings.TrimPrefix(ociConfig(t, dir).Digest, "sha256:"))
		}, "its content does not match its digest"},
		"a layer of docker save's": {func(t *testing.T) (string, string) {
			path := DockerSave(t, false, base, layer)
			return path, path
		}, "/layer.tar): its content does not match its digest"},
	} {
		t.Run(name, func(t *testing.T) {
			image, tampered := tc.image(t)
			data := readFile(t, tampered)
			// One byte of the file's content, or of the config's JSON.
			at := bytes.Index(data, []byte(body))
			if at < 0 {
				at = bytes.Index(data, []byte(`"os"`)) + 2
			}
			data[at] ^= 0x20
			require.NoError(t, os.WriteFile(tampered, data, 0o644))
			r, folder := runImage(t, s, Command(t, "run", "--image", image, "/bin/true"))
			AssertRefused(t, r, s.Name, tc.says)
			assert.NoDirExists(t, folder, "the container's folder is gone")
			assertNotStored(t, s, DiffID(layer))
		})
	}
	// Every blob whole, but the config says the layer is another: stored
	// under that name, it would be a lie in the store, shared with every
	// image that has the other layer.
	t.Run("a diffID that is another layer's", func(t *testing.T) {
		other := Tar(t, file("unique", "another "+body))
		dir, _ := layout(t)
		withDiffIDs(t, dir, []string{DiffID(base), DiffID(other)})
		r, folder := runImage(t, s, Command(t, "run", "--image", dir, "/bin/true"))
		AssertRefused(t, r, s.Name, "its digest is "+DiffID(layer)+", but the image's config says "+DiffID(other))
		assert.NoDirExists(t, folder, "the container's folder is gone")
		assertNotStored(t, s, DiffID(other))
	})
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
		hostile("overlayfs's own attribute", "t/",
			TarEntry{Name: "t/", Type: tar.TypeDir, Xattrs: map[string]string{"trusted.overlay.redirect": "/etc"}}),
	)
	base := BaseLayer(t)
	for _, h := range cases {
		t.Run(h.Name, func(t *testing.T) {
			before := Listing(t, outside, "")
			image := OCILayout(t, false, base, h.Tar)
			r, folder := runImage(t, s, Command(t, "run", "--image", image, "/bin/true"))
			AssertRefused(t, r, s.Name, `entry "`+h.Entry+`"`)
			assert.Equal(t, before, Listing(t, outside, ""), "nothing written outside the layer")
			assert.NoDirExists(t, folder, "the container's folder is gone")
			assertNotStored(t, s, DiffID(h.Tar))
		})
	}
}

// badImages are images that are not whole, or not images: each is
// refused in one line, and leaves nothing.
func badImages(t *testing.T, s Step) {
	layout := func(t *testing.T, index string) string {
		dir := filepath.Join(t.TempDir(), "oci-image")
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "blobs/sha256"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "index.json"), []byte(index), 0o644))
		return dir
	}
	dockerSave := func(t *testing.T, entries ...TarEntry) string {
		path := filepath.Join(t.TempDir(), "docker-save.tar")
		require.NoError(t, os.WriteFile(path, Tar(t, entries...), 0o644))
		return path
	}
	layer := Tar(t, file("a", "a"))
	config := string(imageConfig(t, [][]byte{layer}))
	configName := strings.TrimPrefix(DiffID([]byte(config)), "sha256:") + ".json"
	// withConfig is docker save's tarball of the one layer, with this
	// config, named by its digest.
	withConfig := func(t *testing.T, config string) string {
		name := strings.TrimPrefix(DiffID([]byte(config)), "sha256:") + ".json"
		return dockerSave(t, file(name, config), file("a/layer.tar", string(layer)),
			file("manifest.json", `[{"Config":"`+name+`","Layers":["a/layer.tar"]}]`))
	}
	for name, tc := range map[string]struct {
		image func(t *testing.T) string
		says  string
	}{
		"an OCI layout with no image": {func(t *testing.T) string {
			return layout(t, `{"schemaVersion":2,"manifests":[]}`)
		}, "index.json lists no image"},
		"a digest that names a path": {func(t *testing.T) string {
			return layout(t, `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../../etc/passwd","size":1}]}`)
		}, `digest "sha256:../../../../etc/passwd": `},
		"more layers than overlayfs stacks": {func(t *testing.T) string {
			layers := make([][]byte, 501)
			for i := range layers {
				layers[i] = Tar(t, file(strconv.Itoa(i), ""))
			}
			return OCILayout(t, false, layers...)
		}, "the image has 501 layers: overlayfs stacks at most 500"},
		"a layer compressed with zstd": {func(t *testing.T) string {
			return OCILayout(t, false, []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0})
		}, "compressed with zstd"},
		"docker save with a config not named by its digest": {func(t *testing.T) string {
			return dockerSave(t, file("config.json", config), file("manifest.json", `[{"Config":"config.json","Layers":["a/layer.tar"]}]`))
		}, `config "config.json" is not named by its digest`},
		"a diffID that names a path": {func(t *testing.T) string {
			return withConfig(t, `{"rootfs":{"type":"layers","diff_ids":["sha256:../../../etc"]}}`)
		}, `config: diffID "sha256:../../../etc": `},
		"a config with fewer diffIDs than layers": {func(t *testing.T) string {
			return withConfig(t, `{"rootfs":{"type":"layers","diff_ids":[]}}`)
		}, "the config lists 0 diffIDs, one per layer, for the manifest's 1 layer"},
		"docker save with no image": {func(t *testing.T) string {
			return dockerSave(t, file("manifest.json", `[]`))
		}, "manifest.json lists no image"},
		"docker save, gzipped": {func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "docker-save.tar.gz")
			require.NoError(t, os.WriteFile(path, Gzip(t, readFile(t, withConfig(t, config))), 0o644))
			return path
		}, "docker save's tarball, compressed: "},
		"a blob that is a FIFO": {func(t *testing.T) string {
			dir := OCILayout(t, false, layer)
			blob := blobPath(dir, DiffID(layer))
			require.NoError(t, os.Remove(blob))
			require.NoError(t, unix.Mkfifo(blob, 0o644))
			return dir
		}, strings.TrimPrefix(DiffID(layer), "sha256:") + " is not a file"},
		"docker save without a layer it names": {func(t *testing.T) string {
			return dockerSave(t, file(configName, config), file("manifest.json", `[{"Config":"`+configName+`","Layers":["a/layer.tar"]}]`))
		}, "a/layer.tar is not in the tarball"},
	} {
		t.Run(name, func(t *testing.T) {
			r, folder := runImage(t, s, Command(t, "run", "--image", tc.image(t), "/bin/true"))
			AssertRefused(t, r, s.Name, tc.says)
			assert.NoDirExists(t, folder, "no folder left")
		})
	}
	t.Run("commit", func(t *testing.T) {
		existing := t.TempDir()
		r := Run(t, "run", "--image", OCILayout(t, false, BaseLayer(t)), "--keep", "/bin/true")
		require.Equal(t, 0, r.Code, r)
		kept := filepath.Base(filepath.Dir(keptRootfs(t, s, r)))
		for name, tc := range map[string]struct {
			args []string
			says string
		}{
			"no arguments":       {[]string{"commit"}, "usage: " + s.Name + " commit CONTAINER IMAGE_OUT"},
			"no such container":  {[]string{"commit", "kept-nothing", filepath.Join(existing, "out")}, "no such file or directory"},
			"not a container":    {[]string{"commit", "/etc", filepath.Join(existing, "out")}, "/etc is no kept container"},
			"an existing folder": {[]string{"commit", "kept-nothing", existing}, existing + " is there already"},
			"a folder in none":   {[]string{"commit", kept, filepath.Join(existing, "none/out")}, "make the image: mkdir " + filepath.Join(existing, "none/out") + ": no such file or directory"},
		} {
			t.Run(name, func(t *testing.T) {
				AssertRefused(t, Run(t, tc.args...), s.Name, tc.says)
				assert.NoDirExists(t, filepath.Join(existing, "out"), "no image written")
			})
		}
	})
}

// storedLayer is the folder of the layer with this diffID in the store
// of the step under test, unpacked with the default user namespace's ids
// (shifted) or the archive's own.
func storedLayer(t *testing.T, s Step, diffID string, shifted bool) string {
	t.Helper()
	set := "as-is"
	if shifted {
		set = "u0-100000-65536"
	}
	folder := filepath.Join(s.stateDir(), "layers", set, strings.TrimPrefix(diffID, "sha256:"))
	require.DirExists(t, folder, "the layer is in the store")
	return folder
}

// assertNotStored checks that no folder of the store holds the layer.
func assertNotStored(t *testing.T, s Step, diffID string) {
	t.Helper()
	folders, err := filepath.Glob(filepath.Join(s.stateDir(), "layers/*", strings.TrimPrefix(diffID, "sha256:")))
	require.NoError(t, err)
	assert.Empty(t, folders, "no folder of the layer in the store")
	leftovers, err := filepath.Glob(filepath.Join(s.stateDir(), "run-*/unpacking"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "no layer half unpacked")
}

// forgetImage removes, when the test ends, what running the image left
// in every workshop store: the image's record, and the folders of its
// layers that were not in the store before.
func forgetImage(t testing.TB, path string, layers [][]byte) {
	var diffIDs []string
	for _, layer := range layers {
		diffIDs = append(diffIDs, DiffID(layer))
	}
	before := map[string]bool{}
	for _, folder := range storedFolders(diffIDs) {
		before[folder] = true
	}
	t.Cleanup(func() { removeStored(t, path, diffIDs, before) })
}

// forgetLayout is forgetImage for an image the runtime wrote, at the end
// of the test: its top layer is the new one, and the test's alone.
func forgetLayout(t testing.TB, dir string) {
	if _, err := os.Stat(dir); err != nil {
		return
	}
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, blobPath(dir, ociConfig(t, dir).Digest)), &config))
	diffIDs := config.RootFS.DiffIDs
	removeStored(t, dir, diffIDs[len(diffIDs)-1:], nil)
}

// storedFolders are the layers' folders in every workshop store.
func storedFolders(diffIDs []string) []string {
	var all []string
	for _, id := range diffIDs {
		folders, _ := filepath.Glob(filepath.Join("/var/lib/boxcraft/*/layers/*", strings.TrimPrefix(id, "sha256:")))
		all = append(all, folders...)
	}
	return all
}

// removeStored removes the image's record, and its layers' folders that
// are not in keep.
func removeStored(t testing.TB, path string, diffIDs []string, keep map[string]bool) {
	for _, folder := range storedFolders(diffIDs) {
		if !keep[folder] {
			assert.NoError(t, os.RemoveAll(folder))
		}
	}
	name := sha256.Sum256([]byte(path))
	records, _ := filepath.Glob(filepath.Join("/var/lib/boxcraft/*/images", hex.EncodeToString(name[:8])+".json"))
	for _, record := range records {
		assert.NoError(t, os.Remove(record))
	}
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

// overlayOptions are the options of the overlay mounted on point, on the
// host.
func overlayOptions(t testing.TB, point string) string {
	t.Helper()
	data := readFile(t, "/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if _, p, fstype, options, ok := facts.ParseMount(line); ok && p == point && fstype == "overlay" {
			return options
		}
	}
	t.Fatalf("no overlay is mounted on %s", point)
	return ""
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
