// Package dockerfmt prints what Docker's command line prints the way it
// prints it: an image's full name, an ID's first 12 hex digits, and a
// size in decimal units with three significant digits (4.26MB). boxcraft's commands and its
// registry helper share it, so that both print what a Docker user reads.
package dockerfmt

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/image"
)

// FullName is a name as docker pull and push print it:
// docker.io/library/busybox:latest for busybox. A ref that is not a
// name is printed as it is.
func FullName(ref string) string {
	if parsed, err := image.ParseReference(ref); err == nil {
		return parsed.String()
	}
	return ref
}

// ShortID is an ID as Docker shows it: its first 12 hex digits.
func ShortID(id string) string {
	hex := strings.TrimPrefix(id, "sha256:")
	return hex[:min(12, len(hex))]
}

// Size is a size as Docker shows it: 4.26MB.
func Size(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	size, i := float64(n), 0
	for size >= 1000 && i < len(units)-1 {
		size /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", size, units[i])
}
