package main

import (
	"strings"
	"testing"
)

// TestParseFilters: docker's command line's reading of -f, and Docker's
// refusals, one line each.
func TestParseFilters(t *testing.T) {
	f, err := parseFilters([]string{" Name = web ", "name=web", "status=exited", "", "label=a=b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f["name"], ","); got != "web" {
		t.Errorf("a key in any case, spaces dropped, a value given twice kept once: name=%q", got)
	}
	if len(f) != 3 || f["label"][0] != "a=b" {
		t.Errorf("an empty -f is no filter; a label's value keeps its =: %v", f)
	}
	for given, want := range map[string]string{
		"foo=bar":    "invalid filter 'foo'",
		"status":     "expected name=value",
		"health=yes": "no health checks",
	} {
		if _, err := parseFilters([]string{given}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("-f %s: %v, want an error saying %q", given, err, want)
		}
	}
}

// TestPsFormat: --format's kinds, and a template ps cannot run refused
// before any container is read.
func TestPsFormat(t *testing.T) {
	for format, table := range map[string]bool{"": true, "table": true, "json": false, "{{.ID}}": false, `table {{.Names}}\t{{.Size}}`: true} {
		f, err := newPsFormat(format, false, false)
		if err != nil || f.table != table {
			t.Errorf("--format %q: table %v, %v; want table %v", format, f.table, err, table)
		}
	}
	for _, format := range []string{"{{.Nmes}}", "{{.Names", `{{.Label}}`} {
		if _, err := newPsFormat(format, false, false); err == nil {
			t.Errorf("--format %q: taken, want refused", format)
		}
	}
	if f, err := newPsFormat("{{.Nmes}}", true, false); err != nil || f.table {
		t.Errorf("-q: the IDs alone, whatever the format: %v", err)
	}
	if got := ellipsis("héllo wörld", 6); got != "héllo…" {
		t.Errorf("ellipsis cuts characters, not bytes: %q", got)
	}
}
