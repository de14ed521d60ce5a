package main

// boxcraft build: a Dockerfile's steps, each RUN in a container started
// as boxcraft run starts one.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/boxcraft/boxcraft/final/build"
	"github.com/boxcraft/boxcraft/final/dockerfmt"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/store"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

func addBuildFlags(flags *pflag.FlagSet) {
	addRegistryFlags(flags)
	addTraceFlag(flags)
	addList(flags, "tag", "t", "name the image NAME[:TAG]")
	flags.StringP("file", "f", "", "the Dockerfile (default: CONTEXT/Dockerfile)")
	addList(flags, "build-arg", "", "set an ARG: KEY=VALUE")
	flags.Bool("no-cache", false, "do every step again")
	flags.BoolP("quiet", "q", false, "print only the image's ID")
}

// buildCommand is docker build: the image's ID, and its names.
func buildCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() != 1 {
		return statusFailed, errors.New("build: give the build context, a folder")
	}
	o, err := buildOptions(flags)
	if err != nil {
		return statusFailed, err
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	if err := startTrace(rt, flags); err != nil { // each RUN's container start
		return statusFailed, err
	}
	scratch, err := os.MkdirTemp(rt.Dirs.Lib, "build-")
	if err != nil {
		return statusFailed, err
	}
	defer os.RemoveAll(scratch)
	o.Scratch = scratch
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	b := build.Builder{Store: rt.Store, Runner: buildRunner{rt: rt, flags: flags}}
	rec, err := b.Build(ctx, o)
	if err != nil {
		return statusFailed, fmt.Errorf("build: %w", err)
	}
	if quiet, _ := flags.GetBool("quiet"); quiet {
		fmt.Fprintln(a.stdout, rec.ID)
		return 0, nil
	}
	fmt.Fprintf(a.stdout, "Successfully built %s\n", dockerfmt.ShortID(rec.ID))
	for _, tag := range o.Tags {
		fmt.Fprintf(a.stdout, "Successfully tagged %s\n", tag)
	}
	return 0, nil
}

// buildOptions reads build's flags and its Dockerfile.
func buildOptions(flags *pflag.FlagSet) (build.Options, error) {
	o := build.Options{Context: flags.Arg(0), Out: os.Stdout, BuildArgs: map[string]string{}}
	if quiet, _ := flags.GetBool("quiet"); quiet {
		o.Out = io.Discard
	}
	if st, err := os.Stat(o.Context); err != nil || !st.IsDir() {
		return o, fmt.Errorf("build: the context %s: not a folder", o.Context)
	}
	o.Tags = getList(flags, "tag")
	o.NoCache, _ = flags.GetBool("no-cache")
	args := getList(flags, "build-arg")
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			v, ok = os.LookupEnv(k) // as Docker: KEY alone takes the host's
		}
		if ok {
			o.BuildArgs[k] = v
		}
	}
	file, _ := flags.GetString("file")
	if file == "" {
		file = filepath.Join(o.Context, "Dockerfile")
	}
	var err error
	if o.Dockerfile, err = os.ReadFile(file); err != nil {
		return o, fmt.Errorf("build: %w", err)
	}
	return o, nil
}

// buildRunner runs build's RUN steps through the runtime, as boxcraft
// run and commit would: run's own flags, parsed from the step.
type buildRunner struct {
	rt    *runtime.Runtime
	flags *pflag.FlagSet
}

func (r buildRunner) Image(ctx context.Context, ref string) (string, error) {
	rec, err := r.rt.Store.Lookup(ref)
	if errors.Is(err, store.ErrNotFound) && isName(ref) {
		rec, err = pull(r.rt, r.flags, ref, false, "")
	}
	return rec.ID, err
}

// Run makes a container as boxcraft run --network none --entrypoint ""
// -e … IMAGE ARGV… would, runs it, commits it, and removes it.
func (r buildRunner) Run(ctx context.Context, image string, argv, env []string, createdBy string, out io.Writer) (string, error) {
	args := []string{"--network", "none", "--entrypoint", ""}
	for _, kv := range env {
		args = append(args, "-e", kv)
	}
	flags := pflag.NewFlagSet("run", pflag.ContinueOnError)
	flags.SetInterspersed(false)
	addRunFlags(flags)
	if err := flags.Parse(append(append(args, image), argv...)); err != nil {
		return "", err
	}
	c, o, err := settingsFromFlags(r.rt, flags)
	if err != nil {
		return "", err
	}
	rec, err := r.rt.Create(ctx, c, o)
	if err != nil {
		return "", err
	}
	defer r.remove(rec.Spec.ID)
	out = &dropOnceGone{w: out}
	result, err := r.rt.Run(rec, &monitor.Attach{Stdout: out, Stderr: out}, nil)
	if err != nil {
		return "", err
	}
	if result.ExitCode != 0 {
		return "", fmt.Errorf("the command %q returned a non-zero code: %d", strings.Join(argv, " "), result.ExitCode)
	}
	img, err := r.rt.Commit(ctx, rec.Spec.ID, runtime.CommitOptions{CreatedBy: createdBy})
	return img.ID, err
}

func (r buildRunner) remove(id string) {
	if c, err := r.rt.Get(id); err == nil {
		_ = r.rt.Remove(c, true)
	}
}

// dropOnceGone is a RUN's output to the caller: once its reader has gone
// (boxcraft build … | head), the output is dropped rather than the
// RUN's writes failed, which would fail the build for what the
// Dockerfile did not do.
type dropOnceGone struct {
	w    io.Writer
	gone bool
}

func (d *dropOnceGone) Write(p []byte) (int, error) {
	if !d.gone {
		if _, err := d.w.Write(p); errors.Is(err, unix.EPIPE) {
			d.gone = true
		} else if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
