package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/boxcraft/boxcraft/final/image"
	"github.com/boxcraft/boxcraft/final/mount"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/store"
	"github.com/boxcraft/boxcraft/internal/testkit"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// layer is a tar layer with one file, named and owned as given.
func layer(t *testing.T, name, body string, uid int) []byte {
	return testkit.Tar(t,
		testkit.TarEntry{Name: "etc/", Type: '5'},
		testkit.TarEntry{Name: name, Body: body, Uid: uid, Gid: uid})
}

// fakeImage is an image as final/image reads one: its layers' blobs are
// gzipped tars, read from memory. tag makes its config (and ID) its own.
func fakeImage(t *testing.T, tag string, names []string, tars ...[]byte) *image.Image {
	t.Helper()
	diffIDs := []string{}
	img := &image.Image{Names: names}
	for _, tarball := range tars {
		blob := testkit.Gzip(t, tarball)
		diffIDs = append(diffIDs, sha(tarball))
		img.Layers = append(img.Layers, image.Layer{
			Digest: sha(blob), DiffID: sha(tarball), Size: int64(len(blob)),
			MediaType: v1.MediaTypeImageLayerGzip,
			Open:      func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil },
		})
	}
	raw, err := json.Marshal(map[string]any{
		"created": time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		"config":  map[string]any{"Env": []string{"TAG=" + tag}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		t.Fatal(err)
	}
	img.Config, img.ID = raw, sha(raw)
	return img
}

func openStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	testkit.RequireRoot(t)
	root := filepath.Join(t.TempDir(), "store")
	s, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func load(t *testing.T, s *store.Store, img *image.Image) store.ImageRecord {
	t.Helper()
	rec, err := s.Load(context.Background(), img, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func TestLoadConcurrentlyStoresOnce(t *testing.T) {
	s, root := openStore(t)
	img := fakeImage(t, "a", []string{"busybox"}, layer(t, "etc/a", "a", 0), layer(t, "etc/b", "b", 0))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	var mu sync.Mutex
	bytesSeen := map[string]int64{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Load(context.Background(), img, func(what string, done, total int64) {
				mu.Lock()
				bytesSeen[what] = max(bytesSeen[what], done)
				mu.Unlock()
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range img.Layers {
		if bytesSeen[l.Digest] != l.Size {
			t.Errorf("progress of %s reached %d bytes of %d", l.Digest, bytesSeen[l.Digest], l.Size)
		}
		if !exists(filepath.Join(root, "blobs", "sha256", strings.TrimPrefix(l.Digest, "sha256:"))) {
			t.Errorf("blob %s not kept", l.Digest)
		}
	}
	if got, _ := filepath.Glob(filepath.Join(root, "layers", "*", "*")); len(got) != 2 {
		t.Errorf("layers/ holds %v; want each of the 2 layers once", got)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ holds %d entries after the loads", len(left))
	}
	images, err := s.Images()
	if err != nil || len(images) != 1 || images[0].ID != img.ID || fmt.Sprint(images[0].Names) != "[busybox:latest]" {
		t.Errorf("Images() = %+v, %v; want %s named busybox:latest", images, err, img.ID)
	}
	if images[0].Size != 2 {
		t.Errorf("size %d; want 2 bytes (two one-byte files)", images[0].Size)
	}
}

func TestLoadRefusesTamperedBlob(t *testing.T) {
	s, root := openStore(t)
	good := layer(t, "etc/a", "a", 0)
	img := fakeImage(t, "a", []string{"x"}, good)
	changed := testkit.Gzip(t, layer(t, "etc/a", "evil", 0))
	img.Layers[0].Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(changed)), nil }
	_, err := s.Load(context.Background(), img, nil)
	if err == nil || !strings.Contains(err.Error(), img.Layers[0].Digest) {
		t.Fatalf("Load of a changed blob: %v; want an error naming %s", err, img.Layers[0].Digest)
	}
	nothingStored(t, s, root, img.Layers[0].DiffID)
}

func TestLoadRefusesWrongDiffID(t *testing.T) {
	s, root := openStore(t)
	// The blob is its digest's, but the config says its tar is another.
	img := fakeImage(t, "a", []string{"x"}, layer(t, "etc/a", "a", 0))
	other := fakeImage(t, "b", nil, layer(t, "etc/a", "b", 0))
	img.Layers[0].Open = other.Layers[0].Open
	img.Layers[0].Digest, img.Layers[0].Size = other.Layers[0].Digest, other.Layers[0].Size
	_, err := s.Load(context.Background(), img, nil)
	if err == nil || !strings.Contains(err.Error(), other.Layers[0].Digest) || !strings.Contains(err.Error(), "diffID") && !strings.Contains(err.Error(), "config says") {
		t.Fatalf("Load of a blob with the wrong diffID: %v", err)
	}
	nothingStored(t, s, root, img.Layers[0].DiffID)
}

func nothingStored(t *testing.T, s *store.Store, root, diffID string) {
	t.Helper()
	if layers, _ := filepath.Glob(filepath.Join(root, "layers", "*", strings.TrimPrefix(diffID, "sha256:"))); len(layers) != 0 {
		t.Errorf("stored under the diffID: %v", layers)
	}
	if images, _ := s.Images(); len(images) != 0 {
		t.Errorf("an image recorded: %+v", images)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ holds %d entries", len(left))
	}
}

func TestLookup(t *testing.T) {
	s, _ := openStore(t)
	shared := layer(t, "etc/a", "a", 0)
	img := fakeImage(t, "0", []string{"busybox:latest", "localhost:5000/x/y:1"}, shared)
	load(t, s, img)
	hexID := strings.TrimPrefix(img.ID, "sha256:")
	for _, ref := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest",
		"library/busybox", "localhost:5000/x/y:1", img.ID, hexID, hexID[:12], "sha256:" + hexID[:5]} {
		if rec, err := s.Lookup(ref); err != nil || rec.ID != img.ID {
			t.Errorf("Lookup(%q) = %s, %v; want %s", ref, rec.ID, err, img.ID)
		}
	}
	for _, ref := range []string{"busybox:1", "nothing", "sha256:", "localhost:5000/x/y", "zz" + hexID[2:]} {
		if _, err := s.Lookup(ref); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Lookup(%q): %v; want ErrNotFound", ref, err)
		}
	}
	// 17 images: two at least start with the same hex digit.
	byFirst := map[byte]int{}
	byFirst[hexID[0]]++
	for i := 1; i < 17; i++ {
		other := fakeImage(t, fmt.Sprint(i), nil, shared)
		load(t, s, other)
		byFirst[other.ID[len("sha256:")]]++
	}
	for first, n := range byFirst {
		_, err := s.Lookup(string(first))
		if n > 1 && (err == nil || errors.Is(err, store.ErrNotFound)) {
			t.Errorf("Lookup(%q), the start of %d IDs: %v; want an ambiguity", first, n, err)
		}
		if n == 1 && err != nil {
			t.Errorf("Lookup(%q), the start of one ID: %v", first, err)
		}
	}
}

func TestRemove(t *testing.T) {
	s, root := openStore(t)
	shared, own := layer(t, "etc/a", "a", 0), layer(t, "etc/b", "b", 0)
	img := fakeImage(t, "a", []string{"a", "b:1"}, shared, own)
	other := fakeImage(t, "b", []string{"c"}, shared)
	load(t, s, img)
	load(t, s, other)
	if _, _, err := s.Remove(img.ID, false); err == nil {
		t.Error("an image with two names removed by ID, unforced")
	}
	untagged, deleted, err := s.Remove("a:latest", false)
	if err != nil || fmt.Sprint(untagged) != "[a:latest]" || len(deleted) != 0 {
		t.Errorf("Remove(a) = %v, %v, %v; want a:latest untagged alone", untagged, deleted, err)
	}
	// A name moves: c now names img, and other is left without a name.
	img.Names = []string{"c"}
	load(t, s, img)
	if rec, _ := s.Lookup(other.ID); len(rec.Names) != 0 {
		t.Errorf("names of the image c moved from: %v", rec.Names)
	}
	untagged, deleted, err = s.Remove(img.ID, true)
	if err != nil || fmt.Sprint(untagged) != "[b:1 c:latest]" {
		t.Fatalf("Remove(ID, force) = %v, %v, %v", untagged, deleted, err)
	}
	if want := fmt.Sprint([]string{img.ID, img.Layers[1].DiffID}); fmt.Sprint(deleted) != want {
		t.Errorf("deleted %v; want %v (the image and its own layer)", deleted, want)
	}
	if _, err := s.Lookup(img.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lookup of the removed image: %v", err)
	}
	hexOf := func(d string) string { return strings.TrimPrefix(d, "sha256:") }
	if exists(filepath.Join(root, "layers", "as-is", hexOf(img.Layers[1].DiffID))) || exists(filepath.Join(root, "blobs", "sha256", hexOf(img.Layers[1].Digest))) {
		t.Error("the removed image's own layer or blob is left")
	}
	if !exists(filepath.Join(root, "layers", "as-is", hexOf(img.Layers[0].DiffID))) || !exists(filepath.Join(root, "blobs", "sha256", hexOf(img.Layers[0].Digest))) {
		t.Error("the layer another image shares was deleted")
	}
	if _, deleted, err := s.Remove(other.ID[:20], false); err != nil || len(deleted) != 2 {
		t.Errorf("Remove of the unnamed image by ID prefix: %v, %v", deleted, err)
	}
	if blobs, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256")); len(blobs) != 0 {
		t.Errorf("%d blobs left with no image", len(blobs))
	}
}

func TestPrepareMappedAndMount(t *testing.T) {
	s, root := openStore(t)
	img := fakeImage(t, "a", nil, layer(t, "etc/a", "bottom", 7), layer(t, "etc/a", "top", 7))
	load(t, s, img)
	idMap := []spec.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	dir := t.TempDir()
	o, err := s.Prepare(context.Background(), img.ID, idMap, idMap, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(root, "layers", "u0-100000-65536", strings.TrimPrefix(img.Layers[1].DiffID, "sha256:"))
	if len(o.Lower) != 2 || o.Lower[0] != top || !o.Volatile || o.Target != filepath.Join(dir, "rootfs") {
		t.Fatalf("plan %+v; want the top layer %s first, volatile, on rootfs", o, top)
	}
	for path, uid := range map[string]uint32{filepath.Join(top, "etc/a"): 100007, o.Upper: 100000, o.Work: 100000} {
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil || st.Uid != uid {
			t.Errorf("%s owned by %d (%v); want %d", path, st.Uid, err, uid)
		}
	}
	if err := o.Mount(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mount.Unmount(o.Target) })
	if data, err := os.ReadFile(filepath.Join(o.Target, "etc/a")); err != nil || string(data) != "top" {
		t.Errorf("etc/a in the root = %q, %v; want the top layer's", data, err)
	}
}

func TestOpenRemovesLeftovers(t *testing.T) {
	_, root := openStore(t)
	dead := filepath.Join(root, "tmp", "999999999-1")
	alive := filepath.Join(root, "tmp", fmt.Sprint(os.Getpid())+"-1")
	for _, d := range []string{dead, alive} {
		if err := os.MkdirAll(filepath.Join(d, "layer"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Open(root); err != nil {
		t.Fatal(err)
	}
	if exists(dead) || !exists(alive) {
		t.Errorf("after Open: a dead process's work left %v, a live one's kept %v", exists(dead), exists(alive))
	}
}

// TestDeepImageKeepsItsLinks: a stack too long for mount(2)'s page is
// mounted through a folder of links that the store keeps for the image
// (and id maps), so that the next container of it does not make 500
// links again; it goes with its image, and only with it.
func TestDeepImageKeepsItsLinks(t *testing.T) {
	s, root := openStore(t)
	img, _ := deepImage(t, s, "deep")
	other, _ := deepImage(t, s, "other")
	idMap := []spec.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	links := func(img *image.Image, set string) string {
		return filepath.Join(root, "links", strings.TrimPrefix(img.ID, "sha256:")+"-"+set)
	}
	var inodes []uint64
	for _, run := range []struct {
		img    *image.Image
		idMap  []spec.IDMap
		set, f string
	}{{img, nil, "as-is", "etc/deep0"}, {img, nil, "as-is", "etc/deep0"}, {img, idMap, "u0-100000-65536", "etc/deep0"}, {other, nil, "as-is", "etc/other0"}} {
		o, err := s.Prepare(context.Background(), run.img.ID, run.idMap, run.idMap, t.TempDir(), false)
		if err != nil {
			t.Fatal(err)
		}
		if o.Links != links(run.img, run.set) {
			t.Fatalf("mounted from %q; want the image's kept links %s", o.Links, links(run.img, run.set))
		}
		if err := o.Mount(nil); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(o.Target, run.f))
		if err := mount.Unmount(o.Target); err != nil {
			t.Fatal(err)
		}
		if err != nil || string(data) != "0" {
			t.Errorf("%s, the bottom layer's = %q, %v", run.f, data, err)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(o.Links, &st); err != nil {
			t.Fatalf("the image's links are not kept: %v", err)
		}
		inodes = append(inodes, st.Ino)
		if entries, _ := os.ReadDir(o.Links); len(entries) != 40 {
			t.Errorf("%d links kept; want one a layer, 40", len(entries))
		}
	}
	if inodes[0] != inodes[1] {
		t.Error("the second container of the image made its links again")
	}
	if _, _, err := s.Remove("deep", false); err != nil {
		t.Fatal(err)
	}
	if exists(links(img, "as-is")) || exists(links(img, "u0-100000-65536")) {
		t.Error("links left after their image was removed")
	}
	if !exists(links(other, "as-is")) {
		t.Error("another image's links went with the removed one")
	}
}

// deepImage loads an image of 40 layers of one file each (etc/TAGi, the
// bottom layer's i 0): 40 paths of over 100 bytes, more than mount(2)'s
// page, so the store keeps a folder of links for it.
func deepImage(t *testing.T, s *store.Store, tag string) (*image.Image, [][]byte) {
	var tars [][]byte
	for i := range 40 {
		tars = append(tars, layer(t, fmt.Sprintf("etc/%s%d", tag, i), fmt.Sprint(i), 0))
	}
	img := fakeImage(t, tag, []string{tag}, tars...)
	load(t, s, img)
	return img, tars
}

// TestDeepImageLinksHealWhenALayerGoes: a start of a deep image trusts
// the links the store keeps (it looks at no layer: issue 26), so a layer
// folder removed by hand is found by the mount, which fails once, says
// so and removes the links; the next start unpacks the layer again and
// mounts.
func TestDeepImageLinksHealWhenALayerGoes(t *testing.T) {
	s, root := openStore(t)
	img, tars := deepImage(t, s, "deep")
	prepare := func() mount.Overlay {
		o, err := s.Prepare(context.Background(), img.ID, nil, nil, t.TempDir(), false)
		if err != nil {
			t.Fatal(err)
		}
		if o.Links == "" {
			t.Fatal("a deep image is not mounted through the links the store keeps")
		}
		return o
	}
	prepare() // the links are made
	bottom := filepath.Join(root, "layers", "as-is", strings.TrimPrefix(sha(tars[0]), "sha256:"))
	if !exists(bottom) {
		t.Fatalf("the bottom layer is not unpacked at %s", bottom)
	}
	if err := os.RemoveAll(bottom); err != nil {
		t.Fatal(err)
	}
	o := prepare()
	err := o.Mount(nil)
	if err == nil {
		_ = mount.Unmount(o.Target)
		t.Fatal("a mount through links to a removed layer succeeded")
	}
	if exists(o.Links) || !strings.Contains(err.Error(), "the next start checks its layers") {
		t.Fatalf("a mount through links to a removed layer failed (%v), and its links are there: %v", err, exists(o.Links))
	}
	o = prepare()
	if err := o.Mount(nil); err != nil {
		t.Fatalf("the start after the failed one: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(o.Target, "etc/deep0"))
	if err := mount.Unmount(o.Target); err != nil {
		t.Fatal(err)
	}
	if err != nil || string(data) != "0" {
		t.Fatalf("etc/deep0, the bottom layer's = %q, %v", data, err)
	}
}

// TestRemoveTakesLinksBeforeLayers: an image's folder of links goes
// before its layers, so that a removal cut short (here a layer that
// cannot go: a mount inside it) leaves no links to a missing layer.
func TestRemoveTakesLinksBeforeLayers(t *testing.T) {
	s, root := openStore(t)
	img, tars := deepImage(t, s, "deep")
	o, err := s.Prepare(context.Background(), img.ID, nil, nil, t.TempDir(), false)
	if err != nil || o.Links == "" {
		t.Fatalf("prepare: links %q, %v", o.Links, err)
	}
	busy := filepath.Join(root, "layers", "as-is", strings.TrimPrefix(sha(tars[0]), "sha256:"), "etc")
	if err := syscall.Mount("tmpfs", busy, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(busy, syscall.MNT_DETACH) })
	if _, _, err := s.Remove("deep", false); err == nil {
		t.Fatal("removing an image with a layer that cannot go did not fail")
	}
	if exists(o.Links) {
		t.Error("a removal cut short left the image's links, and not its layers")
	}
}
