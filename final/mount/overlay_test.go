package mount_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/boxcraft/boxcraft/final/mount"
	"github.com/boxcraft/boxcraft/internal/testkit"
	"golang.org/x/sys/unix"
)

// plan makes n layers below a long path, each with a file of its own and
// a file "top" saying which layer it is, and plans their overlay.
func plan(t *testing.T, n int) mount.Overlay {
	t.Helper()
	testkit.RequireRoot(t)
	dir := t.TempDir()
	store := filepath.Join(dir, strings.Repeat("long-folder-name/", 5))
	o := mount.Overlay{
		Upper:  filepath.Join(dir, "upper"),
		Work:   filepath.Join(dir, "work"),
		Target: filepath.Join(dir, "rootfs"),
	}
	for i := n - 1; i >= 0; i-- { // top first
		layer := filepath.Join(store, fmt.Sprintf("%064d", i))
		write(t, filepath.Join(layer, fmt.Sprintf("file%d", i)), "")
		write(t, filepath.Join(layer, "top"), fmt.Sprint(i))
		write(t, filepath.Join(layer, fmt.Sprintf("folder%d", i), "file"), "")
		o.Lower = append(o.Lower, layer)
	}
	for _, d := range []string{o.Upper, o.Work, o.Target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mountIt(t *testing.T, o mount.Overlay) {
	t.Helper()
	if err := o.Mount(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mount.Unmount(o.Target); err != nil {
			t.Error(err)
		}
	})
}

// mountOptions returns the super options of the mount on target, from
// this process's mountinfo.
func mountOptions(t *testing.T, target string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && fields[4] == target {
			return fields[len(fields)-1]
		}
	}
	return ""
}

func TestMountStacksManyLayersTopFirst(t *testing.T) {
	o := plan(t, 300) // 300 paths of over 150 bytes: ten pages
	before, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	mountIt(t, o)
	if after, _ := os.Getwd(); after != before {
		t.Errorf("working folder moved from %s to %s", before, after)
	}
	top, err := os.ReadFile(filepath.Join(o.Target, "top"))
	if err != nil || string(top) != "299" {
		t.Errorf("top = %q, %v; want the top layer's, 299", top, err)
	}
	for _, i := range []int{0, 150, 299} {
		if _, err := os.Stat(filepath.Join(o.Target, fmt.Sprintf("file%d", i))); err != nil {
			t.Errorf("layer %d's file not seen: %v", i, err)
		}
	}
	// A write lands in the upper layer, whole, and nowhere else.
	write(t, filepath.Join(o.Target, "new"), "hello")
	if data, err := os.ReadFile(filepath.Join(o.Upper, "new")); err != nil || string(data) != "hello" {
		t.Errorf("upper/new = %q, %v", data, err)
	}
	// redirect_dir=off: a lower folder is not renamed in place (recorded
	// as an xattr pointing below); rename(2) says EXDEV, for mv to copy.
	err = os.Rename(filepath.Join(o.Target, "folder0"), filepath.Join(o.Target, "moved"))
	if !errors.Is(err, unix.EXDEV) {
		t.Errorf("rename of a lower folder: %v; want EXDEV", err)
	}
	if options := mountOptions(t, o.Target); strings.Contains(options, "volatile") {
		t.Errorf("mount options %q: volatile not asked for", options)
	}
	links, _ := filepath.Glob(filepath.Join(filepath.Dir(o.Work), ".lower-*"))
	if len(links) != 0 {
		t.Errorf("links left behind: %v", links)
	}
}

func TestMountVolatileAndLayerTwice(t *testing.T) {
	o := plan(t, 3)
	o.Volatile = true
	// The bottom layer again on top: kept at its top place only.
	o.Lower = append([]string{o.Lower[2]}, o.Lower...)
	mountIt(t, o)
	if top, _ := os.ReadFile(filepath.Join(o.Target, "top")); string(top) != "0" {
		t.Errorf("top = %q; want the layer listed first, 0", top)
	}
	if options := mountOptions(t, o.Target); !strings.Contains(options, "volatile") {
		t.Errorf("mount options %q lack volatile", options)
	}
	// Three layers fit in a page as they are: no links were needed.
	if options := mountOptions(t, o.Target); !strings.Contains(options, "lowerdir="+o.Lower[0]+":") {
		t.Errorf("mount options %q: want the layers' own paths, %s first", options, o.Lower[0])
	}
}

func TestMountRefusesTooManyLayers(t *testing.T) {
	o := plan(t, mount.MaxLayers+1)
	err := o.Mount(nil)
	if err == nil {
		_ = mount.Unmount(o.Target)
		t.Fatal("mounted 501 layers")
	}
	if !strings.Contains(err.Error(), "501 layers") {
		t.Errorf("error %q does not say how many layers", err)
	}
}

func TestUnmountNothingMounted(t *testing.T) {
	testkit.RequireRoot(t)
	dir := t.TempDir()
	if err := mount.Unmount(dir); err != nil {
		t.Errorf("unmount of a plain folder: %v", err)
	}
	if err := mount.Unmount(filepath.Join(dir, "none")); err != nil {
		t.Errorf("unmount of no folder: %v", err)
	}
}

// TestMountFromKeptLinks mounts through a folder of links its planner
// keeps (final/store's, for a deep image), leaves it, and removes it when
// a mount through it fails, for the planner to make again.
func TestMountFromKeptLinks(t *testing.T) {
	o := plan(t, 300)
	o.Links = filepath.Join(t.TempDir(), "links")
	if err := os.Mkdir(o.Links, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := mount.MakeLinks(o.Links, o.Links, o.Lower); err != nil {
		t.Fatal(err)
	}
	mountIt(t, o)
	if top, err := os.ReadFile(filepath.Join(o.Target, "top")); err != nil || string(top) != "299" {
		t.Errorf("top = %q, %v; want the top layer's, 299", top, err)
	}
	if entries, _ := os.ReadDir(o.Links); len(entries) != 300 {
		t.Errorf("%d links left in the kept folder; want all 300", len(entries))
	}
	broken := plan(t, 300)
	broken.Links = o.Links
	if err := os.Remove(filepath.Join(o.Links, "7")); err != nil {
		t.Fatal(err)
	}
	if err := broken.Mount(nil); err == nil {
		_ = mount.Unmount(broken.Target)
		t.Fatal("mounted through a folder that lacks a layer's link")
	}
	if _, err := os.Lstat(o.Links); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the broken folder of links is still there (%v): its planner would use it again", err)
	}
}
