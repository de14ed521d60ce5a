package main

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/boxcraft/boxcraft/final/dockerfmt"
)

// progress draws long work (unpacking layers) as a bar on a terminal,
// and says nothing otherwise: a log or a test wants quiet lines.
type progress struct {
	out  *os.File
	tty  bool
	last string
}

func newProgress(out *os.File) *progress {
	return &progress{out: out, tty: term.IsTerminal(int(out.Fd()))}
}

// report is a store.Progress: what is being done, and how far.
func (p *progress) report(what string, done, total int64) {
	if !p.tty {
		return
	}
	const width = 30
	filled := width
	if total > 0 {
		filled = int(done * width / total)
	}
	if filled > width {
		filled = width
	}
	line := fmt.Sprintf("%-28.28s [%s%s] %s/%s", what, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), dockerfmt.Size(done), dockerfmt.Size(total))
	if line != p.last {
		fmt.Fprintf(p.out, "\r%s\x1b[K", line)
		p.last = line
	}
}

// done ends the bar's line.
func (p *progress) done() {
	if p.tty && p.last != "" {
		fmt.Fprintln(p.out)
	}
}
