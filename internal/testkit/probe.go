package testkit

import (
	"encoding/json"
	"testing"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// Probe decodes the report the probe printed as the container's command.
// A run that failed or printed no report fails the test, showing all the
// run printed.
func Probe(t testing.TB, r Result) facts.Facts {
	t.Helper()
	var f facts.Facts
	if r.Code != 0 {
		t.Fatalf("the probe's run failed:\n%s", r)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &f); err != nil {
		t.Fatalf("the probe's report is not JSON (%v):\n%s", err, r)
	}
	return f
}
