package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
)

// formatFuncs are the functions Docker's --format templates have (its
// templates package, which inspect and ps share), beside text/template's
// own (index, len, range, …).
var formatFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false) // a command's && and <, as they are
		err := enc.Encode(v)
		return strings.TrimSuffix(out.String(), "\n"), err
	},
	"join":    strings.Join,
	"split":   strings.Split,
	"lower":   strings.ToLower,
	"upper":   strings.ToUpper,
	"println": fmt.Sprintln,
	// pad and truncate are Docker's: {{pad .Status 1 0}}, {{truncate .ID 5}}.
	"pad": func(s string, before, after int) string {
		if s == "" {
			return s
		}
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"truncate": func(s string, n int) string {
		if n < 0 || len(s) < n {
			return s
		}
		return s[:n]
	},
}

// headerFuncs stand in for formatFuncs when a table's header is drawn
// with its rows' template: as Docker's, they leave a column's name as it
// is ({{upper .Names}} is headed NAMES, not upper-cased twice), but for
// pad, which keeps the columns lined up.
var headerFuncs = template.FuncMap{
	"json":     func(s string) string { return s },
	"join":     func(s string, _ ...any) string { return s },
	"split":    func(s string, _ ...any) string { return s },
	"lower":    func(s string) string { return s },
	"upper":    func(s string) string { return s },
	"truncate": func(s string, _ ...any) string { return s },
}

// parseFormat reads --format's template; none is nil.
func parseFormat(format string) (*template.Template, error) {
	if format == "" {
		return nil, nil
	}
	return newTemplate(format)
}

// newTemplate is a template with Docker's functions. missingkey=error:
// a field no object has ({{.State.Pidd}}) is an error, as in docker
// inspect, not "<no value>".
func newTemplate(text string) (*template.Template, error) {
	tmpl, err := template.New("format").Funcs(formatFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	return tmpl, nil
}
