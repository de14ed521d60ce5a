package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/boxcraft/boxcraft/final/logs"
)

// logPrinter prints log entries, after skipping the first skip.
type logPrinter struct {
	a      *app
	stamps bool
	skip   int
}

func (p *logPrinter) print(e logs.Entry) error {
	if p.skip > 0 {
		p.skip--
		return nil
	}
	var w io.Writer = p.a.stdout
	if e.Stream == "stderr" {
		w = os.Stderr
	}
	if p.stamps {
		fmt.Fprint(w, e.Time.Format(time.RFC3339Nano)+" ")
	}
	_, err := io.WriteString(w, e.Log)
	return err
}

// countEntries counts the log's entries, for --tail.
func countEntries(path string) int {
	n := 0
	_ = logs.Read(path, nil, func(logs.Entry) error { n++; return nil })
	return n
}
