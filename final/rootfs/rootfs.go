// Package rootfs: API sketch, filled in from step04's rootfs.go.
package rootfs

import "github.com/boxcraft/boxcraft/final/spec"

// Setup makes c's root and pivots into it; init calls it.
func Setup(c *spec.Container) error { panic("todo") }
