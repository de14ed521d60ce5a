package main

// Images out: commit, tag and save (docker's), the other way from load
// and import.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/boxcraft/boxcraft/final/image"
	"github.com/boxcraft/boxcraft/final/imageout"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

func addCommitFlags(flags *pflag.FlagSet) {
	flags.StringP("message", "m", "", "a comment for the new layer's history")
	flags.StringP("author", "a", "", "the image's author")
	flags.BoolP("pause", "p", true, "freeze a running container while its changes are read")
}

// commitCommand makes an image of a container's changes, and prints its
// ID, as docker commit does.
func commitCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() < 1 || flags.NArg() > 2 {
		return statusFailed, errors.New("commit: give a container, and a name for the image if you want one")
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	o := runtime.CommitOptions{Name: flags.Arg(1)}
	o.Comment, _ = flags.GetString("message")
	o.Author, _ = flags.GetString("author")
	o.Pause, _ = flags.GetBool("pause")
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	rec, err := rt.Commit(ctx, flags.Arg(0), o)
	if err != nil {
		return statusFailed, err
	}
	fmt.Fprintln(a.stdout, rec.ID)
	return 0, nil
}

// diffCommand is docker diff: what the container changed in its root,
// a line a path (A added, C changed, D deleted), from its upper layer.
func diffCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() != 1 {
		return statusFailed, errors.New("diff: give one container")
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	lines, err := rt.Changes(context.Background(), flags.Arg(0))
	if err != nil {
		return statusFailed, err
	}
	for _, line := range lines {
		fmt.Fprintln(a.stdout, line)
	}
	return 0, nil
}

// tagCommand gives an image another name, as docker tag does.
func tagCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() != 2 {
		return statusFailed, errors.New("tag: give the image, and its new name")
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	_, err = rt.Store.Tag(flags.Arg(0), flags.Arg(1))
	return statusOf(err), err
}

func addSaveFlags(flags *pflag.FlagSet) {
	flags.StringP("output", "o", "", "write to this file (or folder, for oci-dir), not to stdout")
	flags.String("format", string(imageout.DockerArchive), "docker-archive (docker save's), oci-archive, or oci-dir (an OCI layout folder, for umoci and skopeo's oci:)")
}

// saveCommand writes images as docker save does, or as an OCI layout.
func saveCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if err := needArgs(flags, 1, "at least one image"); err != nil {
		return statusFailed, err
	}
	name, _ := flags.GetString("format")
	format, err := imageout.ParseFormat(name)
	if err != nil {
		return statusFailed, fmt.Errorf("save: %w", err)
	}
	out, _ := flags.GetString("output")
	switch {
	case out == "" && format == imageout.OCIDir:
		return statusFailed, errors.New("save: an oci-dir is a folder: name it with -o DIR")
	case out == "" && term.IsTerminal(int(os.Stdout.Fd())):
		return statusFailed, errors.New("save: refusing to write a tarball to a terminal: use -o FILE, or redirect stdout")
	}
	imgs, err := storedImages(a, flags.Args())
	if err != nil {
		return statusFailed, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	if out == "" {
		err = imageout.Write(ctx, a.stdout, format, imgs)
	} else {
		err = imageout.WriteFile(ctx, out, format, imgs)
	}
	if err != nil {
		return statusFailed, fmt.Errorf("save: %w", err)
	}
	return 0, nil
}

// storedImages finds each image in the store.
func storedImages(a *app, refs []string) ([]*image.Image, error) {
	rt, err := a.open()
	if err != nil {
		return nil, err
	}
	var imgs []*image.Image
	for _, ref := range refs {
		img, err := rt.Store.Image(ref)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}
