package main

// docker pull, and run's pull of an image it does not have.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/dockerfmt"
	"github.com/boxcraft/boxcraft/final/image"
	"github.com/boxcraft/boxcraft/final/registry/request"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/store"
	"github.com/spf13/pflag"
)

func addRegistryFlags(flags *pflag.FlagSet) {
	addList(flags, "insecure-registry", "", "a registry (host:port) that may be spoken to in plain HTTP (localhost's always may)")
}

func addPullFlags(flags *pflag.FlagSet) {
	addRegistryFlags(flags)
	flags.String("platform", "", "os/arch[/variant] to pull from a multi-platform image (default: this machine's)")
	flags.BoolP("quiet", "q", false, "print only the image's name")
}

// pullCommand is docker pull: the image's layers into the store, a line
// per layer, and its name.
func pullCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() != 1 {
		return statusFailed, errors.New("pull: give one image, NAME[:TAG|@DIGEST]")
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	quiet, _ := flags.GetBool("quiet")
	if _, err := pull(rt, flags, flags.Arg(0), quiet, ""); err != nil {
		return statusFailed, err
	}
	fmt.Fprintln(a.stdout, dockerfmt.FullName(flags.Arg(0)))
	return 0, nil
}

// pull has boxcraft-registry pull ref (its progress on stderr), saying
// intro first once the image is found in the registry, and returns the
// image as the store now holds it.
func pull(rt *runtime.Runtime, flags *pflag.FlagSet, ref string, quiet bool, intro string) (store.ImageRecord, error) {
	req := request.Request{Verb: "pull", Ref: ref, Quiet: quiet, Intro: intro, Limits: rt.Store.Limits}
	if flags.Lookup("platform") != nil {
		req.Platform, _ = flags.GetString("platform")
	}
	reply, err := askRegistry(flags, req)
	if err != nil {
		return store.ImageRecord{}, err
	}
	return rt.Store.Lookup(reply.ID)
}

// isName tells a name that may be pulled from an image ID's hex (or a
// prefix of it), which is looked up and never pulled.
func isName(ref string) bool {
	if strings.HasPrefix(ref, "sha256:") {
		return false
	}
	_, err := image.ParseReference(ref)
	return err == nil
}
