//go:build !cgo

package nsexec

// Available is false in a program built without cgo (CGO_ENABLED=0):
// it has no constructor to join namespaces with, and
// boxcraft-exec-init refuses to start.
const Available = false
