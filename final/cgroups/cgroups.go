// Package cgroups: API sketch, filled in from step03's cgroup.go.
package cgroups

import (
	"os"

	"github.com/boxcraft/boxcraft/final/spec"
)

// The cgroup filesystem, and the workshop's own cgroup.
const (
	Root     = "/sys/fs/cgroup"
	Workshop = "boxcraft"
)

// CheckParent refuses a parent outside the workshop's cgroup.
func CheckParent(parent string) error { panic("todo") }

// Cgroup is one container's cgroup: a folder in each v1 hierarchy it
// uses, or one folder on v2.
type Cgroup struct{}

// New makes the container's cgroup, named id, below parent, and writes
// r's limits; it removes what it made when it fails. An error about a
// limit names its flag (--blkio-weight).
func New(parent, id string, r spec.Resources) (*Cgroup, error) { panic("todo") }

// Open finds the cgroup New made, for a later command.
func Open(parent, id string) (*Cgroup, error) { panic("todo") }

// IntoFD is, on v2, the cgroup's folder opened for CLONE_INTO_CGROUP;
// nil on v1.
func (c *Cgroup) IntoFD() (*os.File, error) { panic("todo") }

// Add moves pid into the cgroup (v1, where clone cannot).
func (c *Cgroup) Add(pid int) error { panic("todo") }

// OOMKills is how many processes the OOM killer killed in it.
func (c *Cgroup) OOMKills() int { panic("todo") }

// Remove kills what is left in it and removes its folders.
func (c *Cgroup) Remove() error { panic("todo") }

// Paths are its folders, by hierarchy ("" on v2).
func (c *Cgroup) Paths() map[string]string { panic("todo") }
