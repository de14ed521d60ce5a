// Package mount: API sketch, filled in from step05's overlay.go.
package mount

// Overlay is a planned overlayfs mount.
type Overlay struct {
	Lower       []string // the layers' folders, top first
	Upper, Work string
	Target      string
	Volatile    bool
}

// Mount performs it, without changing the process's working folder.
func (o Overlay) Mount() error { panic("todo") }

// Unmount unmounts target.
func Unmount(target string) error { panic("todo") }
