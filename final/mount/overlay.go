package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// MaxLayers is the most lower layers overlayfs stacks (OVL_MAX_STACK).
const MaxLayers = 500

// Overlay is a planned overlayfs mount.
type Overlay struct {
	Lower       []string // the layers' folders, top first
	Upper, Work string
	Target      string
	// Volatile: overlayfs skips syncing the upper layer's filesystem (all
	// of it, whoever wrote there) on sync(2) and at unmount. A crash may
	// lose what was written there, which is right for a layer that goes
	// with its container anyway.
	Volatile bool
	// Links, when not empty, is a folder of links to the stack's layers
	// (MakeLinks) that whoever planned the mount keeps: final/store keeps
	// one for each image whose layers' paths overflow mount(2)'s page
	// (issue 26). Mount mounts from it then, and removes it if that
	// fails (a link broken since), for the planner to make again. Empty:
	// Mount makes a folder of links of its own, and removes it once
	// mounted.
	Links string
}

// Mount performs it, without changing the process's working folder.
//
// mount(2) takes overlayfs's options as one string of at most a page
// (4096 bytes), and a layer's path in the store is over 100 bytes: 40
// layers would fill it. So, as Docker does with its l/ folder of short
// links, Mount makes a link to each layer in a folder of its own, named
// 0 (the top layer) to N-1, and mounts from inside it, where the paths
// are the links' names: 500 layers then take under 2000 bytes. overlayfs
// follows the links when it mounts and holds the layers' folders
// themselves, so the links go once it is mounted. The mount(2) is
// reported to tr (--trace; nil when not traced) with its options as the
// kernel was given them.
//
// When the layers' own paths fit in the page (a dozen layers or so, and
// none with a comma, colon or backslash in its path), Mount gives them
// as they are, from the calling thread: the links' folder, its links and
// the thread cost a start four changes to the state's disk and a new
// thread (issue 26: 1–5 ms on the shared disk). With Links, the folder
// of links is one the planner made once and keeps: 500 links made and
// removed cost a start of a 500-layer image about 7 ms.
func (o Overlay) Mount(tr *trace.Tracer) error {
	if err := o.mount(tr); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", o.Target, err)
	}
	return nil
}

func (o Overlay) mount(tr *trace.Tracer) error {
	layers, err := stack(o.Lower)
	if err != nil {
		return err
	}
	if options, ok := o.directOptions(layers); ok {
		return o.mountWith(options, len(layers), "by their paths", tr)
	}
	if o.Links != "" {
		err := o.mountFrom(o.Links, layers, tr)
		if err != nil {
			// The planner trusts a kept folder of links (final/store):
			// one that fails goes, for the next start to make again.
			os.RemoveAll(o.Links)
			err = fmt.Errorf("%w (the folder of links the store keeps for the image is removed: the next start checks its layers and makes it again)", err)
		}
		return err
	}
	links, err := os.MkdirTemp(filepath.Dir(o.Work), ".lower-")
	if err != nil {
		return fmt.Errorf("make a folder for the layers' links: %w", err)
	}
	defer os.RemoveAll(links)
	if err := MakeLinks(links, links, layers); err != nil {
		return err
	}
	return o.mountFrom(links, layers, tr)
}

// mountFrom mounts from inside the folder links, of a link to each
// layer named by its place (MakeLinks): the options name the links.
func (o Overlay) mountFrom(links string, layers []string, tr *trace.Tracer) error {
	options := o.options(linkNames(len(layers)))
	if limit := os.Getpagesize() - 1; len(options) > limit {
		return fmt.Errorf("%d layers need %d bytes of options, more than mount(2)'s %d", len(layers), len(options), limit)
	}
	return onThreadOfItsOwn(func() error {
		// The relative lowerdir names are the links', resolved by the
		// kernel from this thread's working folder when it mounts.
		if err := unix.Chdir(links); err != nil {
			return fmt.Errorf("enter the layers' links: %w", err)
		}
		return o.mountWith(options, len(layers), "by their links' names", tr)
	})
}

// FitsPage says whether mount(2) takes the layers' own paths; when not,
// Mount mounts from a folder of links, Links or one of its own.
func (o Overlay) FitsPage() bool {
	layers, err := stack(o.Lower)
	if err != nil {
		return true // Mount will say why
	}
	_, ok := o.directOptions(layers)
	return ok
}

// mountWith is mount(2) with type overlay: the union of the lower
// folders and the upper one, on Target.
func (o Overlay) mountWith(options string, layers int, named string, tr *trace.Tracer) error {
	return tr.Do("step05", "mount", func() string {
		return fmt.Sprintf("overlay on %s type overlay (%s)  lowerdir: %d layer(s), %s", o.Target, options, layers, named)
	}, func() error { return unix.Mount("overlay", o.Target, "overlay", 0, options) })
}

// directOptions are the options with the layers' own paths, and whether
// mount(2) takes them: within a page, and no path that lowerdir's
// separators (a colon; a comma ends the option) would cut.
func (o Overlay) directOptions(layers []string) (string, bool) {
	for _, layer := range layers {
		if strings.ContainsAny(layer, `:,\`) {
			return "", false
		}
	}
	options := o.options(layers)
	return options, len(options) <= os.Getpagesize()-1
}

// stack checks the layers, top first, and leaves out a layer's second
// and later places: an image may have the same layer twice (the same
// files copied in twice), and overlayfs refuses a folder twice (ELOOP).
// The top one shows all the lower one would.
func stack(lower []string) ([]string, error) {
	var layers []string
	stacked := map[string]bool{}
	for _, layer := range lower {
		if !filepath.IsAbs(layer) {
			return nil, fmt.Errorf("layer %q: not an absolute path", layer)
		}
		if !stacked[layer] {
			stacked[layer] = true
			layers = append(layers, layer)
		}
	}
	switch {
	case len(layers) == 0:
		return nil, errors.New("no layer to stack: overlayfs needs one at least")
	case len(layers) > MaxLayers:
		return nil, fmt.Errorf("%d layers, more than overlayfs stacks (%d)", len(layers), MaxLayers)
	}
	return layers, nil
}

// MakeLinks makes in dir, an empty folder, a link to each layer of
// lower as Mount stacks them (top first, each once), named by its place
// (0 the top), pointing to the layer's path relative to at: the folder
// dir will be when a mount reads it (final/store makes its kept folders
// aside, then renames them there). A relative link holds wherever the
// state folder is moved.
func MakeLinks(dir, at string, lower []string) error {
	layers, err := stack(lower)
	if err != nil {
		return err
	}
	for i, layer := range layers {
		target, err := filepath.Rel(at, layer)
		if err == nil {
			err = os.Symlink(target, filepath.Join(dir, strconv.Itoa(i)))
		}
		if err != nil {
			return fmt.Errorf("link the layers: %w", err)
		}
	}
	return nil
}

// linkNames are the names of n layers' links: their places, 0 the top.
func linkNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}

// options are overlayfs's mount options. With redirect_dir and metacopy
// off (the kernel's defaults, unless it was built or loaded otherwise),
// the upper layer holds whole files and folders, and a commit reads it
// alone: a folder renamed is copied up whole (mv does it when rename(2)
// says EXDEV), not recorded as an xattr pointing into the layers below.
func (o Overlay) options(lower []string) string {
	options := "lowerdir=" + strings.Join(lower, ":") +
		",upperdir=" + escape(o.Upper) + ",workdir=" + escape(o.Work) +
		",redirect_dir=off,metacopy=off"
	if o.Volatile {
		options += ",volatile"
	}
	return options
}

// escape writes a path as overlayfs reads one in its options, where a
// comma ends an option and a colon ends a lower layer: each after a
// backslash.
func escape(path string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`).Replace(path)
}

// onThreadOfItsOwn runs f on a thread whose working folder is its own,
// so that f may change it: unshare(CLONE_FS) gives the thread its own
// copy of the process's root, working folder and umask. The thread stays
// locked to its goroutine, and Go ends a locked thread when its goroutine
// returns: no other goroutine ever runs where f left it.
func onThreadOfItsOwn(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: this thread must end with the goroutine.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			done <- fmt.Errorf("give the mounting thread a working folder of its own: %w", err)
			return
		}
		done <- f()
	}()
	return <-done
}

// Unmount unmounts target. A process that has a file open there keeps
// it busy, and then it is detached (MNT_DETACH), to go when that file is
// closed. Nothing mounted there, or no target, is no error.
func Unmount(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	// EINVAL: nothing is mounted there; ENOENT: there is no target.
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount %s: %w", target, err)
}
