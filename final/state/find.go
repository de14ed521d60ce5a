package state

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// IDs lists the containers, by the folders in LIB/containers: a
// container's record is written first, so a folder without one is a
// start cut short before it had even a name, and it is listed too, for rm
// and prune to remove.
func (d Dirs) IDs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(d.Lib, "containers"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the containers: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && isID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Find finds a container by name, full ID or unique ID prefix, as docker
// does: an exact name or ID first, then a prefix.
func (d Dirs) Find(ref string) (string, error) {
	ids, err := d.IDs()
	if err != nil {
		return "", err
	}
	if slices.Contains(ids, ref) {
		return ref, nil
	}
	for _, id := range ids {
		if rec, err := d.ReadRecord(id); err == nil && rec.Spec.Name == strings.TrimPrefix(ref, "/") {
			return id, nil
		}
	}
	var found []string
	for _, id := range ids {
		if ref != "" && strings.HasPrefix(id, ref) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNoSuchContainer, ref)
	}
	return "", fmt.Errorf("multiple containers found with ID prefix %s: give more of it", ref)
}

// NameTaken says whether a container already has name.
func (d Dirs) NameTaken(name string) (string, bool) {
	ids, _ := d.IDs()
	for _, id := range ids {
		if rec, err := d.ReadRecord(id); err == nil && rec.Spec.Name == name {
			return id, true
		}
	}
	return "", false
}

// isID says whether name is 64 lowercase hex digits.
func isID(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, c := range name {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
