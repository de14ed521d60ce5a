package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/boxcraft/boxcraft/final/durable"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/boxcraft/boxcraft/final/image"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImageRecord is a stored image.
type ImageRecord struct {
	ID      string    `json:"id"`
	Names   []string  `json:"names"` // from names.json, not kept in the record
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
	DiffIDs []string  `json:"diffIDs"` // the bottom layer first
	Digests []string  `json:"digests"` // each layer's blob, beside DiffIDs
}

// record reads the record of the image with that ID.
func (s *Store) record(id string) (ImageRecord, error) {
	var rec ImageRecord
	if !validDigest(id) {
		return rec, fmt.Errorf("%s: not an image ID (sha256: and 64 hex digits)", id)
	}
	data, err := os.ReadFile(s.path("images", digestHex(id)+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return rec, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil {
		return rec, fmt.Errorf("read the record of image %s: %w", id, err)
	}
	return rec, nil
}

// ids lists the stored images' IDs.
func (s *Store) ids() ([]string, error) {
	files, err := filepath.Glob(s.path("images", "*.json"))
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(files))
	for i, file := range files {
		ids[i] = "sha256:" + strings.TrimSuffix(filepath.Base(file), ".json")
	}
	return ids, nil
}

// records reads every image's record.
func (s *Store) records() ([]ImageRecord, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	records := make([]ImageRecord, 0, len(ids))
	for _, id := range ids {
		rec, err := s.record(id)
		if err != nil {
			return nil, err
		}
		records = append(records, rec)
	}
	return records, nil
}

// names reads names.json: each name, as Docker shows it, and its image.
func (s *Store) names() (map[string]string, error) {
	names := map[string]string{}
	data, err := os.ReadFile(s.path("names.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return names, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &names)
	}
	if err != nil {
		return nil, fmt.Errorf("read the images' names: %w", err)
	}
	return names, nil
}

func (s *Store) writeNames(names map[string]string) error {
	data, err := json.MarshalIndent(names, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(s.path("names.json"), append(data, '\n'))
}

// namesOf lists the names that name the image id, sorted.
func namesOf(names map[string]string, id string) []string {
	var of []string
	for name, named := range names {
		if named == id {
			of = append(of, name)
		}
	}
	sort.Strings(of)
	return of
}

// Images lists the stored images, the newest first.
func (s *Store) Images() ([]ImageRecord, error) {
	records, err := s.records()
	if err != nil {
		return nil, err
	}
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	for i := range records {
		records[i].Names = namesOf(names, records[i].ID)
	}
	sort.SliceStable(records, func(i, j int) bool { return records[i].Created.After(records[j].Created) })
	return records, nil
}

// Lookup finds an image as Docker does: by name (busybox is
// busybox:latest is docker.io/library/busybox:latest), by ID (sha256:HEX
// or HEX), or by a prefix of its ID's hex that no other image's has.
func (s *Store) Lookup(ref string) (ImageRecord, error) {
	rec, _, err := s.resolve(ref)
	return rec, err
}

// resolve is Lookup, and says which name ref was ("" when it was an ID).
func (s *Store) resolve(ref string) (ImageRecord, string, error) {
	names, err := s.names()
	if err != nil {
		return ImageRecord{}, "", err
	}
	// sha256:… reads as a name too (library/sha256, tagged): it is not one.
	if !strings.HasPrefix(ref, "sha256:") {
		if parsed, err := image.ParseReference(ref); err == nil {
			name := parsed.Familiar()
			if id, ok := names[name]; ok {
				rec, err := s.record(id)
				rec.Names = namesOf(names, id)
				return rec, name, err
			}
		}
	}
	id, err := s.matchID(ref)
	if err != nil {
		return ImageRecord{}, "", err
	}
	rec, err := s.record(id)
	rec.Names = namesOf(names, id)
	return rec, "", err
}

// matchID finds the one image whose ID's hex starts with ref's.
func (s *Store) matchID(ref string) (string, error) {
	prefix := strings.TrimPrefix(ref, "sha256:")
	if prefix == "" || len(prefix) > 64 || !isHex(prefix) {
		return "", fmt.Errorf("%s: %w", ref, ErrNotFound)
	}
	ids, err := s.ids()
	if err != nil {
		return "", err
	}
	var found []string
	for _, id := range ids {
		if strings.HasPrefix(digestHex(id), prefix) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%s: %w", ref, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%s is the start of %d images' IDs: give more of it", ref, len(found))
}

// Config is the image's config, read from its blob.
func (s *Store) Config(id string) (v1.Image, error) {
	var config v1.Image
	if !validDigest(id) {
		return config, fmt.Errorf("%s: not an image ID (sha256: and 64 hex digits)", id)
	}
	raw, err := os.ReadFile(s.blobPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return config, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if err == nil {
		err = json.Unmarshal(raw, &config)
	}
	if err != nil {
		return config, fmt.Errorf("read the config of image %s: %w", id, err)
	}
	return config, nil
}
