package main

// docker pull, and run's pull of an image it does not have.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"

	"github.com/boxcraft/boxcraft/final/image"
	"github.com/boxcraft/boxcraft/final/registry"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/store"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

func addRegistryFlags(flags *pflag.FlagSet) {
	flags.StringArray("insecure-registry", nil, "a registry (host:port) that may be spoken to in plain HTTP (localhost's always may)")
}

func addPullFlags(flags *pflag.FlagSet) {
	addRegistryFlags(flags)
	flags.String("platform", "", "os/arch[/variant] to pull from a multi-platform image (default: this machine's)")
	flags.BoolP("quiet", "q", false, "print only the image's name")
}

func registryOptions(flags *pflag.FlagSet) registry.Options {
	insecure, _ := flags.GetStringArray("insecure-registry")
	return registry.Options{Insecure: insecure}
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
	opts := registry.PullOptions{Options: registryOptions(flags)}
	opts.Platform, _ = flags.GetString("platform")
	quiet, _ := flags.GetBool("quiet")
	if _, err := pull(rt, flags.Arg(0), opts, quiet); err != nil {
		return statusFailed, err
	}
	fmt.Fprintln(a.stdout, fullName(flags.Arg(0)))
	return 0, nil
}

// pull pulls ref, drawing each layer's progress on stderr when it is a
// terminal, and a line per layer and the image's ID otherwise.
func pull(rt *runtime.Runtime, ref string, opts registry.PullOptions, quiet bool) (store.ImageRecord, error) {
	return pullSaying(rt, ref, opts, quiet, "")
}

// pullSaying is pull, printing intro first once the image is found in
// the registry: a pull that fails says one line, its error.
func pullSaying(rt *runtime.Runtime, ref string, opts registry.PullOptions, quiet bool, intro string) (store.ImageRecord, error) {
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	out := io.Writer(os.Stderr)
	if quiet {
		out = io.Discard
	}
	bars := newLayerBars(out, term.IsTerminal(int(os.Stderr.Fd())) && !quiet)
	opts.Progress = bars.report
	opts.Layers = func(layers []image.Layer) {
		fmt.Fprint(out, intro)
		bars.start(rt.Store, layers)
	}
	rec, err := registry.Pull(ctx, rt.Store, ref, opts)
	if err != nil {
		return rec, err
	}
	bars.complete()
	fmt.Fprintf(out, "Status: stored %s as %s\n", rec.ID, fullName(ref))
	return rec, nil
}

// fullName is a name as docker pull prints it: docker.io/library/busybox:latest.
func fullName(ref string) string {
	if parsed, err := image.ParseReference(ref); err == nil {
		return parsed.String()
	}
	return ref
}

// layerBars shows a line per layer: on a terminal a bar redrawn in
// place, otherwise a line once each layer is stored. The store calls
// report from several goroutines at once.
type layerBars struct {
	mu     sync.Mutex
	out    io.Writer
	tty    bool
	order  []string
	done   map[string][2]int64
	drawn  int
	exists map[string]bool
}

func newLayerBars(out io.Writer, tty bool) *layerBars {
	return &layerBars{out: out, tty: tty, done: map[string][2]int64{}, exists: map[string]bool{}}
}

// start lists the layers, saying of each the store has that it is there.
func (b *layerBars) start(s *store.Store, layers []image.Layer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range layers {
		b.order = append(b.order, l.Digest)
		b.done[l.Digest] = [2]int64{0, l.Size}
		if s.HasBlob(l.Digest) {
			b.exists[l.Digest] = true
			fmt.Fprintf(b.out, "%s: Already exists\n", shortID(l.Digest))
		}
	}
}

func (b *layerBars) report(digest string, done, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exists[digest] {
		return
	}
	b.done[digest] = [2]int64{done, total}
	if b.tty {
		b.redraw()
	}
}

// complete says, once the image is stored, which layers were pulled.
func (b *layerBars) complete() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tty {
		return
	}
	for _, d := range b.order {
		if !b.exists[d] {
			fmt.Fprintf(b.out, "%s: Pull complete (%s)\n", shortID(d), humanSize(b.done[d][1]))
		}
	}
}

// redraw moves up over the bars drawn last, and draws them again.
func (b *layerBars) redraw() {
	if b.drawn > 0 {
		fmt.Fprintf(b.out, "\x1b[%dA", b.drawn)
	}
	b.drawn = 0
	for _, d := range b.order {
		if b.exists[d] {
			continue
		}
		n := b.done[d]
		const width = 30
		filled := width
		if n[1] > 0 {
			filled = int(min(n[0]*width/n[1], width))
		}
		fmt.Fprintf(b.out, "%s: [%s%s] %s/%s\x1b[K\n", shortID(d), strings.Repeat("=", filled), strings.Repeat(" ", width-filled), humanSize(n[0]), humanSize(n[1]))
		b.drawn++
	}
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
