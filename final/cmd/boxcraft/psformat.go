package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/boxcraft/boxcraft/final/dockerfmt"
	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/final/runtime"
)

// psTable is docker ps's default format.
const psTable = `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}`

// psFormat is how ps prints the containers it shows: a line of the
// template for each, and for a table a header above them, drawn with the
// same template over the columns' names, all aligned.
type psFormat struct {
	tmpl, header *template.Template
	table        bool
}

// newPsFormat reads --format as docker ps does: "" and "table" are the
// default table (with a SIZE column for -s), "json" a JSON object a
// line, "table TEMPLATE" a table of the template's columns, and any
// other text a template printed for each container; \t and \n written
// out in it are a tab and a newline. -q is the IDs alone, whatever the
// format.
func newPsFormat(format string, quiet, size bool) (psFormat, error) {
	text := format
	switch {
	case quiet:
		text = "{{.ID}}"
	case format == "" || format == "table":
		text = psTable
		if size {
			text += `\t{{.Size}}`
		}
	case format == "json":
		text = "{{json .}}"
	}
	var f psFormat
	if f.table = strings.HasPrefix(text, "table"); f.table {
		text = text[len("table"):]
	}
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(strings.Trim(text, " "))
	var err error
	if f.tmpl, err = newTemplate(text); err != nil {
		return f, err
	}
	if f.header, err = f.tmpl.Clone(); err != nil {
		return f, err
	}
	f.header.Funcs(headerFuncs)
	// Once over no container, as Docker does first: a field ps does not
	// have ({{.Nmes}}) fails before anything is printed, even when no
	// container is shown.
	if err := f.tmpl.Execute(io.Discard, &psRow{}); err != nil {
		return f, fmt.Errorf("--format: %w", err)
	}
	return f, nil
}

// write prints rows. A template that fails on one prints nothing.
func (f psFormat) write(w io.Writer, rows []*psRow) error {
	var body bytes.Buffer
	for _, r := range rows {
		if err := f.tmpl.Execute(&body, r); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		body.WriteByte('\n')
	}
	if !f.table {
		_, err := w.Write(body.Bytes())
		return err
	}
	var head bytes.Buffer
	// As Docker's, a header the template cannot draw is drawn as far as
	// it goes: its rows are what matter.
	_ = f.header.Execute(&head, psHeaders)
	head.WriteByte('\n')
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	_, _ = tw.Write(head.Bytes())
	_, _ = tw.Write(body.Bytes())
	return tw.Flush()
}

// psHeader is a table's header: each field's column name, as Docker's.
type psHeader map[string]string

// Label is {{.Label "com.example.x"}}'s column: COM.EXAMPLE.X.
func (psHeader) Label(name string) string { return strings.ToUpper(name) }

var psHeaders = psHeader{
	"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
	"Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
}

// psRow is a container as ps's templates see it: docker ps's fields,
// each a string, the ID and command cut short unless --no-trunc.
type psRow struct {
	c     runtime.Container
	state string // Docker's: its status, or paused (runtime.DockerState)
	trunc bool
	size  func() string // asked for by -s or .Size only: it reads the container's files
}

func newPsRow(rt *runtime.Runtime, c runtime.Container, trunc bool) *psRow {
	return &psRow{c: c, state: rt.DockerState(c), trunc: trunc, size: func() string { return containerSize(rt, c) }}
}

func (r *psRow) ID() string {
	if r.trunc {
		return dockerfmt.ShortID(r.c.ID)
	}
	return r.c.ID
}

func (r *psRow) Names() string { return r.c.Record.Spec.Name }
func (r *psRow) Image() string { return imageName(r.c) }

// Command is quoted, and cut at 20 characters unless --no-trunc.
func (r *psRow) Command() string {
	cmd := strings.Join(r.c.Record.Spec.Process.Args, " ")
	if r.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

// CreatedAt is when the container was made, as Go prints a time, to the
// second, here: 2026-12-05 10:32:09 +0000 UTC.
func (r *psRow) CreatedAt() string { return time.Unix(r.c.Record.Created.Unix(), 0).String() }

func (r *psRow) RunningFor() string { return ago(r.c.Record.Created) }
func (r *psRow) Ports() string      { return publishedPorts(r.c) }
func (r *psRow) State() string      { return r.state }
func (r *psRow) Status() string     { return statusText(r.c.Status, r.state) }

// Size is what the container wrote (its upper layer), and with its
// image's, Docker's "virtual" size: 12B (virtual 1.98MB).
func (r *psRow) Size() string {
	if r.size == nil {
		return "0B"
	}
	return r.size()
}

// Labels are KEY=VALUE, by key, between commas.
func (r *psRow) Labels() string {
	var list []string
	for k, v := range r.c.Record.Labels {
		list = append(list, k+"="+v)
	}
	slices.Sort(list)
	return strings.Join(list, ",")
}

func (r *psRow) Label(name string) string { return r.c.Record.Labels[name] }

// Mounts are the host's folders and files the container binds, each cut
// at 15 characters unless --no-trunc.
func (r *psRow) Mounts() string {
	var list []string
	for _, m := range r.c.Record.Spec.Mounts {
		if m.Type != "bind" {
			continue
		}
		name := m.Source
		if r.trunc {
			name = ellipsis(name, 15)
		}
		list = append(list, name)
	}
	return strings.Join(list, ",")
}

// LocalVolumes counts named volumes, which boxcraft does not have.
func (r *psRow) LocalVolumes() string { return "0" }

func (r *psRow) Networks() string { return strings.Join(networks(r.c), ",") }

// MarshalJSON is {{json .}} and --format json: every field, as Docker's.
func (r *psRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"ID": r.ID(), "Names": r.Names(), "Image": r.Image(), "Command": r.Command(), "CreatedAt": r.CreatedAt(),
		"RunningFor": r.RunningFor(), "Ports": r.Ports(), "State": r.State(), "Status": r.Status(), "Size": r.Size(),
		"Labels": r.Labels(), "Mounts": r.Mounts(), "LocalVolumes": r.LocalVolumes(), "Networks": r.Networks(),
	})
}

// containerSize is docker ps -s's SIZE. The /etc files boxcraft writes
// into the root are not the container's doing: Docker bind-mounts its
// own, outside the layer, and its SIZE leaves them out; so does this.
func containerSize(rt *runtime.Runtime, c runtime.Container) string {
	written := filesSize(filepath.Join(rt.Dirs.Container(c.ID), "upper"), network.EtcFileNames())
	if c.Record.Spec.Image == "" {
		return dockerfmt.Size(written) // --rootfs: no layer of its own, no image
	}
	img, err := rt.Store.Lookup(c.Record.Spec.Image)
	if err != nil {
		return dockerfmt.Size(written) // its image is gone (rmi -f)
	}
	return fmt.Sprintf("%s (virtual %s)", dockerfmt.Size(written), dockerfmt.Size(written+img.Size))
}

// filesSize adds up the sizes of the files below dir but those named
// in leave (relative to dir), a file with many names once, as Docker's
// does for a container's layer. What cannot be read (a file removed
// meanwhile) counts for nothing.
func filesSize(dir string, leave []string) int64 {
	var total int64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if rel, err := filepath.Rel(dir, name); err == nil && slices.Contains(leave, rel) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		total += info.Size()
		return nil
	})
	return total
}

// ellipsis cuts s to n characters, the last one "…", as Docker cuts a
// column.
func ellipsis(s string, n int) string {
	runes := []rune(s)
	if len(runes) <= n {
		return s
	}
	return string(runes[:n-1]) + "…"
}
