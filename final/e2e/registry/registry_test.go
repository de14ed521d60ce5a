package registry

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestRegistry pulls from and pushes to docker-registry, started by the
// test kit (internal/testkit/final_registry.go).
func TestRegistry(t *testing.T) { testkit.Registry(t) }

// TestBuild builds Dockerfiles; it needs no registry
// (internal/testkit/final_build.go).
func TestBuild(t *testing.T) { testkit.Build(t) }
