package main

// The pull: its progress, a line (or a bar) per layer.

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/boxcraft/boxcraft/final/dockerfmt"
	"github.com/boxcraft/boxcraft/final/image"
	"github.com/boxcraft/boxcraft/final/registry"
	"github.com/boxcraft/boxcraft/final/registry/request"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/store"
	"golang.org/x/term"
)

// pull pulls req.Ref, drawing each layer's progress on stderr when it
// is a terminal, and a line per layer and the image's ID otherwise; it
// says req.Intro first, once the image is found in the registry: a pull
// that fails says one line, its error (boxcraft's).
func pull(ctx context.Context, rt *runtime.Runtime, req request.Request, ropts registry.Options) (store.ImageRecord, error) {
	opts := registry.PullOptions{Options: ropts, Platform: req.Platform}
	ref, intro, quiet := req.Ref, req.Intro, req.Quiet
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
	fmt.Fprintf(out, "Status: stored %s as %s\n", rec.ID, dockerfmt.FullName(ref))
	return rec, nil
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
			fmt.Fprintf(b.out, "%s: Already exists\n", dockerfmt.ShortID(l.Digest))
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
			fmt.Fprintf(b.out, "%s: Pull complete (%s)\n", dockerfmt.ShortID(d), dockerfmt.Size(b.done[d][1]))
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
		fmt.Fprintf(b.out, "%s: [%s%s] %s/%s\x1b[K\n", dockerfmt.ShortID(d), strings.Repeat("=", filled), strings.Repeat(" ", width-filled), dockerfmt.Size(n[0]), dockerfmt.Size(n[1]))
		b.drawn++
	}
}
