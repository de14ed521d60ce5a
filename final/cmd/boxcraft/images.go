package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/boxcraft/boxcraft/final/dockerfmt"
	"github.com/boxcraft/boxcraft/final/image"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/store"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

func addImagesFlags(flags *pflag.FlagSet) {
	flags.BoolP("quiet", "q", false, "show only the IDs")
	flags.BoolP("all", "a", false, "show boxcraft build's intermediate images too")
}

// imagesCommand is docker images: a line per name, and one for an image
// with none; with REPO[:TAG], the lines of that repository (and tag)
// alone.
func imagesCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() > 1 {
		return statusFailed, errors.New("give one repository at most: boxcraft images [REPOSITORY[:TAG]]")
	}
	keep := func(string) bool { return true }
	if flags.NArg() == 1 {
		var err error
		if keep, err = namesOf(flags.Arg(0)); err != nil {
			return statusFailed, err
		}
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	list, err := rt.Store.Images()
	if err != nil {
		return statusFailed, err
	}
	quiet, _ := flags.GetBool("quiet")
	if all, _ := flags.GetBool("all"); !all {
		list = withoutBuildSteps(list, rt.Store.BuildSteps())
	}
	w := tabwriter.NewWriter(a.stdout, 0, 8, 3, ' ', 0)
	if !quiet {
		fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	for _, img := range list {
		id := dockerfmt.ShortID(img.ID)
		names := img.Names
		if len(names) == 0 {
			names = []string{"<none>:<none>"}
		}
		names = slices.DeleteFunc(slices.Clone(names), func(name string) bool { return !keep(name) })
		if quiet && len(names) > 0 {
			fmt.Fprintln(w, id)
			continue
		}
		for _, name := range names {
			i := strings.LastIndex(name, ":")
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", name[:i], name[i+1:], id, created(img.Created), dockerfmt.Size(img.Size))
		}
	}
	return 0, w.Flush()
}

// namesOf says which image names docker images REPO[:TAG] lists: REPO's,
// with any tag unless it names one. REPO is read as a pull reads it
// (docker.io/library/busybox is busybox).
func namesOf(repo string) (func(name string) bool, error) {
	ref, err := image.ParseReference(repo)
	if err != nil {
		return nil, err
	}
	name, _, _ := strings.Cut(repo, "@") // a digest's sha256: is no tag
	tagGiven := strings.LastIndex(name, ":") > strings.LastIndex(name, "/")
	want := ref.Familiar()
	ref.Tag, ref.Digest = "", ""
	prefix := ref.Familiar() + ":"
	return func(name string) bool {
		if tagGiven {
			return name == want
		}
		return strings.HasPrefix(name, prefix)
	}, nil
}

// withoutBuildSteps leaves out the unnamed images a build made on its way.
func withoutBuildSteps(list []store.ImageRecord, steps map[string]bool) []store.ImageRecord {
	var kept []store.ImageRecord
	for _, img := range list {
		if len(img.Names) > 0 || !steps[img.ID] {
			kept = append(kept, img)
		}
	}
	return kept
}

func addRmiFlags(flags *pflag.FlagSet) {
	flags.BoolP("force", "f", false, "remove it even when a container was made from it")
}

// rmiCommand untags and removes images, refusing one that a container
// uses (its layers are that container's root).
func rmiCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if err := needArgs(flags, 1, "at least one image"); err != nil {
		return statusFailed, err
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	force, _ := flags.GetBool("force")
	var errs []error
	for _, ref := range flags.Args() {
		if err := removeImage(a, rt, ref, force); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return statusFailed, errors.Join(errs...)
	}
	return 0, nil
}

func removeImage(a *app, rt *runtime.Runtime, ref string, force bool) error {
	img, err := rt.Store.Lookup(ref)
	if err != nil {
		return err
	}
	list, err := rt.List()
	if err != nil {
		return err
	}
	for _, c := range list {
		if c.Record.Spec.Image == img.ID && (!force || c.Status.Status == state.Running) {
			return fmt.Errorf("unable to remove image %s: container %s (%s) uses it: remove the container first", ref, c.ID[:12], c.Record.Spec.Name)
		}
	}
	untagged, deleted, err := rt.Store.Remove(ref, force)
	for _, name := range untagged {
		fmt.Fprintln(a.stdout, "Untagged:", name)
	}
	for _, id := range deleted {
		fmt.Fprintln(a.stdout, "Deleted:", id)
	}
	return err
}

func addLoadFlags(flags *pflag.FlagSet) {
	flags.StringP("input", "i", "", "the image: a docker save tarball, an OCI layout folder, or a rootfs tarball")
}

// importCommand makes an image of a rootfs tarball and names it, as
// docker import does: the set-up imports the workshop's busybox tarball
// as busybox:latest.
func importCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() < 1 || flags.NArg() > 2 {
		return statusFailed, errors.New("import: give a rootfs tarball, and a name if you want one")
	}
	var names []string
	if flags.NArg() == 2 {
		ref, err := image.ParseReference(flags.Arg(1))
		if err != nil {
			return statusFailed, fmt.Errorf("import: %w", err)
		}
		names = []string{ref.Familiar()}
	}
	rec, err := storeImage(a, flags.Arg(0), func(img *image.Image) error {
		if len(img.Layers) != 1 || len(img.Names) > 0 {
			return errors.New("is an image, not a rootfs tarball: boxcraft load -i reads it")
		}
		img.Names = names
		return nil
	})
	if err != nil {
		return statusFailed, err
	}
	fmt.Fprintln(a.stdout, rec.ID)
	return 0, nil
}

// loadCommand stores an image and names it, as docker load does.
func loadCommand(a *app, flags *pflag.FlagSet) (int, error) {
	path, _ := flags.GetString("input")
	if flags.NArg() > 0 {
		return statusFailed, errors.New("load: give the image with -i PATH, or on stdin")
	}
	if path == "" && flags.Changed("input") {
		return statusFailed, errors.New("load: -i needs a path (or leave it out, and give the image on stdin)")
	}
	if path == "" {
		path = "-" // docker load reads stdin
	}
	var names []string
	rec, err := storeImage(a, path, func(img *image.Image) error { names = img.Names; return nil })
	if err != nil {
		return statusFailed, err
	}
	if len(names) == 0 {
		fmt.Fprintln(a.stdout, "Loaded image ID:", rec.ID)
	}
	for _, name := range names {
		fmt.Fprintln(a.stdout, "Loaded image:", name)
	}
	return 0, nil
}

// storeImage reads the image at path, lets check look at it, and stores it,
// with a progress bar on a terminal. SIGINT stops it as a refusal.
func storeImage(a *app, path string, check func(*image.Image) error) (store.ImageRecord, error) {
	rt, err := a.open()
	if err != nil {
		return store.ImageRecord{}, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	file, err := spooled(ctx, path, rt.Dirs.Lib)
	if err != nil {
		return store.ImageRecord{}, err
	}
	if file != path {
		defer os.Remove(file)
	}
	img, err := image.Read(file)
	if err != nil {
		return store.ImageRecord{}, fmt.Errorf("%s: %w", path, err)
	}
	defer img.Close()
	if err := check(img); err != nil {
		return store.ImageRecord{}, fmt.Errorf("%s %w", path, err)
	}
	bar := newProgress(os.Stderr)
	rec, err := rt.Store.Load(ctx, img, bar.report)
	bar.done()
	if err != nil {
		return rec, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}

// created is when an image was made, or N/A when its config does not say
// (a rootfs tarball's), as docker images shows it.
func created(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return ago(t)
}
