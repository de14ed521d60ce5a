package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// step is the step under test, as the shared suites (internal/testkit) need to know it.
var step = testkit.Step{}

// What every step keeps from step01, now run in all the namespaces
// (internal/testkit/basics.go).
func TestBasics(t *testing.T) { testkit.Basics(t, step) }

// What every step from this one on does with namespaces
// (internal/testkit/namespaces.go).
func TestNamespaces(t *testing.T) { testkit.Namespaces(t, step) }

func TestFindSubIDRange(t *testing.T) {
	const file = "alice:100000:65536\n# a comment\n1001:165536:65536\nbob:bad:1\nbob:231072:65536\n"
	for name, tc := range map[string]struct {
		name, id     string
		start, count int
		ok           bool
	}{
		"by name":            {"alice", "1000", 100000, 65536, true},
		"by uid":             {"carol", "1001", 165536, 65536, true},
		"a bad line skipped": {"bob", "1002", 231072, 65536, true},
		"no range":           {"dave", "1003", 0, 0, false},
	} {
		t.Run(name, func(t *testing.T) {
			start, count, ok := findSubIDRange(strings.NewReader(file), tc.name, tc.id)
			assert.Equal(t, []any{tc.start, tc.count, tc.ok}, []any{start, count, ok})
		})
	}
}
