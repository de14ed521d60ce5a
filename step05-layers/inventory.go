// This file keeps track of the store: which images the runtime has run, and
// from which layers, so that `PROGRAM images` and `PROGRAM layers` show a
// learner each image's stack and which images share which layers. A
// container's folder records its image too, for commit.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// imageRecords holds a record of each image the runtime has run.
var imageRecords = filepath.Join(stateRoot, "images")

// imageRecord is what the runtime remembers of an image it ran.
type imageRecord struct {
	Path    string   `json:"path"`
	Format  string   `json:"format"`
	DiffIDs []string `json:"diffIDs"` // the bottom layer first
}

// containerRecord is what a container's folder remembers of it: its image
// and, with a user namespace, the id maps its files were given.
type containerRecord struct {
	Image  imageRecord           `json:"image"`
	UIDMap *syscall.SysProcIDMap `json:"uidMap,omitempty"`
	GIDMap *syscall.SysProcIDMap `json:"gidMap,omitempty"`
}

// recordContainer writes the container's record in its folder, and the
// image's in the store's list of images.
func (c *container) recordContainer(img *image, layers []string, dir string) error {
	rec := containerRecord{Image: imageRecord{Path: img.path, Format: img.format}}
	for _, folder := range layers {
		rec.Image.DiffIDs = append(rec.Image.DiffIDs, "sha256:"+filepath.Base(folder))
	}
	if c.namespaces["user"] {
		rec.UIDMap, rec.GIDMap = &c.uidMap, &c.gidMap
	}
	if err := recordImage(rec.Image); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "container.json"), rec)
}

// recordImage writes an image's record, named after its path.
func recordImage(rec imageRecord) error {
	if err := os.MkdirAll(imageRecords, 0o700); err != nil {
		return fmt.Errorf("record the image: %w", err)
	}
	name := sha256.Sum256([]byte(rec.Path))
	return writeJSON(filepath.Join(imageRecords, hex.EncodeToString(name[:8])+".json"), rec)
}

// writeJSON writes v to path whole or not at all: into a file of its own
// first, renamed over path.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	temporary := fmt.Sprintf("%s.%d", path, os.Getpid())
	if err := os.WriteFile(temporary, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(temporary, path); err != nil {
		os.Remove(temporary)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readImageRecords reads every image's record, sorted by path.
func readImageRecords() ([]imageRecord, error) {
	files, _ := filepath.Glob(filepath.Join(imageRecords, "*.json"))
	records := make([]imageRecord, 0, len(files))
	for _, file := range files {
		var rec imageRecord
		if err := readJSONFile(file, &rec); err != nil {
			return nil, err
		}
		records = append(records, rec)
	}
	sort.Slice(records, func(i, j int) bool { return records[i].Path < records[j].Path })
	return records, nil
}

// listImages prints each image the runtime has run, its layers top first,
// their sizes in the store, and the other images that share each.
func listImages(args []string) error {
	if len(args) != 0 {
		return errors.New("usage: " + program + " images (it takes no argument)")
	}
	records, err := readImageRecords()
	if err != nil {
		return err
	}
	if len(records) == 0 {
		fmt.Println("no images yet: " + program + " run --image IMAGE … records each image it runs")
		return nil
	}
	users := layerUsers(records)
	for _, rec := range records {
		fmt.Printf("%s (%s), %s, top first:\n", rec.Path, rec.Format, layerCount(len(rec.DiffIDs)))
		for i := len(rec.DiffIDs) - 1; i >= 0; i-- {
			id := rec.DiffIDs[i]
			var others []string
			for _, path := range users[id] {
				if path != rec.Path {
					others = append(others, path)
				}
			}
			shared := ""
			if len(others) > 0 {
				shared = "  also in " + strings.Join(others, ", ")
			}
			fmt.Printf("  %s  %9s%s\n", shortDigest(id), storedSize(id), shared)
		}
	}
	return nil
}

// listLayers prints each layer in the store: its diffID, the set of ids
// it was unpacked with, its size, and the images it belongs to.
func listLayers(args []string) error {
	if len(args) != 0 {
		return errors.New("usage: " + program + " layers (it takes no argument)")
	}
	records, err := readImageRecords()
	if err != nil {
		return err
	}
	users := layerUsers(records)
	folders, _ := filepath.Glob(filepath.Join(layerStore, "*", "*"))
	if len(folders) == 0 {
		fmt.Println("no layers yet: " + program + " run --image IMAGE … unpacks an image's layers into " + layerStore)
		return nil
	}
	fmt.Printf("%-19s  %-16s  %9s  %s\n", "LAYER (diffID)", "IDS", "SIZE", "IMAGES")
	for _, folder := range folders {
		id := "sha256:" + filepath.Base(folder)
		images := strings.Join(users[id], ", ")
		if images == "" {
			images = "-"
		}
		fmt.Printf("%-19s  %-16s  %9s  %s\n", shortDigest(id), filepath.Base(filepath.Dir(folder)), formatSize(folderSize(folder)), images)
	}
	return nil
}

// layerUsers maps each diffID to the paths of the images that have it.
func layerUsers(records []imageRecord) map[string][]string {
	users := map[string][]string{}
	for _, rec := range records {
		for _, id := range rec.DiffIDs {
			if n := len(users[id]); n == 0 || users[id][n-1] != rec.Path {
				users[id] = append(users[id], rec.Path)
			}
		}
	}
	return users
}

// storedSize is the size of a layer's folder in the store, in any set,
// or "-" when it is in none: no container of the image has run yet.
func storedSize(diffID string) string {
	folders, _ := filepath.Glob(filepath.Join(layerStore, "*", digestHex(diffID)))
	if len(folders) == 0 {
		return "-"
	}
	return formatSize(folderSize(folders[0]))
}

// shortDigest is a digest cut to 12 hex digits, as docker images shows it.
func shortDigest(digest string) string {
	if len(digest) > len("sha256:")+12 {
		return digest[:len("sha256:")+12]
	}
	return digest
}

// formatSize writes a size in bytes as docker does: 1.9MB, 12.3kB, 512B.
func formatSize(size int64) string {
	switch {
	case size >= 1e6:
		return fmt.Sprintf("%.1fMB", float64(size)/1e6)
	case size >= 1e3:
		return fmt.Sprintf("%.1fkB", float64(size)/1e3)
	default:
		return fmt.Sprintf("%dB", size)
	}
}

// layerCount says how many layers: "1 layer", "3 layers".
func layerCount(n int) string {
	if n == 1 {
		return "1 layer"
	}
	return fmt.Sprintf("%d layers", n)
}
