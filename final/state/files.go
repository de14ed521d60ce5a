package state

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/durable"
)

// WriteJSON writes v to path as JSON, whole or not at all, and waits
// until it is on the disk.
func WriteJSON(path string, v any) error {
	return writeJSON(path, v, durable.WriteFile)
}

// ReplaceJSON writes v to path as JSON, whole or not at all, but does not
// wait for the disk: for a file that need not outlive a crash.
func ReplaceJSON(path string, v any) error {
	return writeJSON(path, v, durable.ReplaceFile)
}

// writeJSON writes v to path as JSON with write: durable.WriteFile, or
// durable.ReplaceFile for a file that need not outlive a crash.
func writeJSON(path string, v any, write func(string, []byte) error) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return write(path, append(data, '\n'))
}

// ReadJSON reads path into v.
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
