package main

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestMain removes what the test kit built once the tests have run.
func TestMain(m *testing.M) { testkit.Main(m) }
