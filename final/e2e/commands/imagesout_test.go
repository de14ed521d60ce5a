package commands

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestImagesOut runs commit, tag and save end to end, and reads what
// save wrote back with boxcraft load, skopeo and umoci
// (internal/testkit/final_imagesout.go).
func TestImagesOut(t *testing.T) { testkit.ImagesOut(t) }
