package store

// This file is what boxcraft build needs of the store besides Commit: an
// image whose config (Env, Cmd, User …) changes and whose layers do not
// (ENV, CMD, USER … add no layer), the empty image FROM scratch starts
// from, and the build cache: a step's key and the image it made.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/boxcraft/boxcraft/final/durable"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Configure is what Configure makes an image of.
type Configure struct {
	Parent  string         // the image whose layers it keeps; "" for scratch
	Config  v1.ImageConfig // the image's new Env, Cmd, User …
	History []string       // a line per instruction that changed it
	Names   []string
}

// Configure stores an image with c.Parent's layers and c.Config as its
// config, and a line of history (marked empty_layer, as Docker marks it)
// per instruction that made it. It adds no layer.
func (s *Store) Configure(c Configure) (ImageRecord, error) {
	names, err := tagNames(c.Names)
	if err != nil {
		return ImageRecord{}, err
	}
	parent, parentConfig, err := s.parentOf(c.Parent)
	if err != nil {
		return ImageRecord{}, err
	}
	config, now, err := withImageConfig(parentConfig, c)
	if err != nil {
		return ImageRecord{}, err
	}
	rec := ImageRecord{ID: digestOf(config), Created: now, Size: parent.Size, DiffIDs: parent.DiffIDs, Digests: parent.Digests}
	if err := s.storeConfig(rec.ID, config); err != nil {
		return ImageRecord{}, err
	}
	return s.recordImage(rec, names)
}

// parentOf reads the parent's record and config; scratch has no layers,
// and a config that says only where it runs.
func (s *Store) parentOf(id string) (ImageRecord, []byte, error) {
	if id == "" {
		return ImageRecord{}, scratchConfig(), nil
	}
	parent, err := s.record(id)
	if err != nil {
		return parent, nil, err
	}
	config, err := os.ReadFile(s.blobPath(parent.ID))
	if err != nil {
		return parent, nil, fmt.Errorf("read the config of image %s: %w", parent.ID, err)
	}
	return parent, config, nil
}

func scratchConfig() []byte {
	return fmt.Appendf(nil, `{"architecture":%q,"os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`, goruntime.GOARCH)
}

// withImageConfig is the parent's config with c.Config and c.History.
func withImageConfig(parent []byte, c Configure) ([]byte, time.Time, error) {
	config := map[string]any{}
	decoder := json.NewDecoder(bytes.NewReader(parent))
	decoder.UseNumber()
	if err := decoder.Decode(&config); err != nil {
		return nil, time.Time{}, fmt.Errorf("the parent's config: %w", err)
	}
	now := time.Now().UTC()
	created := now.Format(time.RFC3339Nano)
	config["created"] = created
	config["config"] = c.Config
	history, _ := config["history"].([]any)
	for _, line := range c.History {
		history = append(history, map[string]any{"created": created, "created_by": line, "empty_layer": true})
	}
	if len(history) > 0 {
		config["history"] = history
	}
	data, err := json.Marshal(config)
	return data, now, err
}

// CachedStep is the image a build step with that key made, when it is
// still stored.
func (s *Store) CachedStep(key string) (string, bool) {
	data, err := os.ReadFile(s.path("build-cache", key))
	if err != nil {
		return "", false
	}
	id := strings.TrimSpace(string(data))
	if _, err := s.record(id); err != nil {
		return "", false
	}
	return id, true
}

// CacheStep remembers that the build step with that key made image id.
func (s *Store) CacheStep(key, id string) error {
	if !isHex(key) || len(key) != 64 {
		return errors.New("a build cache key is 64 hex digits")
	}
	if err := os.MkdirAll(s.path("build-cache"), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("the build cache: %w", err)
	}
	return durable.WriteFile(s.path("build-cache", key), []byte(id+"\n"))
}

// BuildSteps lists the images the build cache keeps: images ls leaves
// those without a name out, as docker images leaves out intermediate
// images, unless asked for all.
func (s *Store) BuildSteps() map[string]bool {
	steps := map[string]bool{}
	files, _ := filepath.Glob(s.path("build-cache", "*"))
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			steps[strings.TrimSpace(string(data))] = true
		}
	}
	return steps
}
