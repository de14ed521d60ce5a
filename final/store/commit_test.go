package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/boxcraft/boxcraft/final/store"
)

// Commit stores the layer as a plain tar (its digest its diffID), leaves
// its unpacking to the first Prepare, and records an image whose config is the parent's with the
// layer and a line of history added; Tag names it again; Image gives it
// back as final/image reads one.
func TestCommitTagAndImage(t *testing.T) {
	s, root := openStore(t)
	parent := fakeImage(t, "a", []string{"base"}, layer(t, "etc/a", "a", 0))
	load(t, s, parent)
	top := layer(t, "etc/b", "b", 0)
	rec, err := s.Commit(context.Background(), store.Commit{Parent: parent.ID, CreatedBy: "sh -c x", Comment: "why",
		Layer: func(w io.Writer) error { _, err := w.Write(top); return err }, Names: []string{"committed:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.DiffIDs) != 2 || rec.DiffIDs[1] != sha(top) || rec.Digests[1] != sha(top) {
		t.Errorf("record %+v; want the parent's layer and %s", rec, sha(top))
	}
	unpacked := filepath.Join(root, "layers", "as-is", strings.TrimPrefix(sha(top), "sha256:"), "etc/b")
	if !exists(filepath.Join(root, "blobs", "sha256", strings.TrimPrefix(sha(top), "sha256:"))) || exists(unpacked) {
		t.Error("the new layer's blob is missing, or it was unpacked before a container needs it")
	}
	if _, err := s.Prepare(context.Background(), rec.ID, nil, nil, t.TempDir(), false); err != nil || !exists(unpacked) {
		t.Errorf("Prepare = %v; want the new layer unpacked", err)
	}
	config, err := s.Config(rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(config.RootFS.DiffIDs) != 2 || len(config.History) != 1 || config.History[0].Comment != "why" || config.Config.Env[0] != "TAG=a" {
		t.Errorf("config %+v; want the parent's, with the layer and a line of history", config)
	}
	if _, err := s.Tag("committed:1", "localhost:5000/again:2"); err != nil {
		t.Fatal(err)
	}
	img, err := s.Image("localhost:5000/again:2")
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != rec.ID || len(img.Layers) != 2 || strings.Join(img.Names, ",") != "localhost:5000/again:2" || img.Layers[1].Size != int64(len(top)) {
		t.Errorf("Image = %+v", img)
	}
	var raw map[string]any
	if err := json.Unmarshal(img.Config, &raw); err != nil || sha(img.Config) != rec.ID {
		t.Errorf("Image's config is not its ID's: %v", err)
	}
	if byID, err := s.Image(rec.ID); err != nil || len(byID.Names) != 0 {
		t.Errorf("Image by ID = %+v, %v; want no names, as docker save by ID", byID, err)
	}
}

// A commit whose layer cannot be written, or whose parent is gone,
// leaves nothing: no blob, no layer, no image.
func TestCommitFailureLeavesNothing(t *testing.T) {
	s, root := openStore(t)
	parent := fakeImage(t, "a", nil, layer(t, "etc/a", "a", 0))
	load(t, s, parent)
	blobs, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256"))
	_, err := s.Commit(context.Background(), store.Commit{Parent: parent.ID,
		Layer: func(w io.Writer) error { _, _ = w.Write([]byte("half")); return errors.New("refused") }})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Commit: %v; want the layer's error", err)
	}
	after, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256"))
	if len(after) != len(blobs) {
		t.Errorf("%d blobs before, %d after", len(blobs), len(after))
	}
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ holds %d entries", len(left))
	}
	if images, _ := s.Images(); len(images) != 1 {
		t.Errorf("%d images; want the parent alone", len(images))
	}
	if _, err := s.Commit(context.Background(), store.Commit{Parent: sha([]byte("none")), Layer: func(io.Writer) error { return nil }}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Commit on a missing parent: %v", err)
	}
	if _, err := s.Tag(parent.ID, "x@"+parent.ID); err == nil {
		t.Error("a name with a digest given as a tag")
	}
}
