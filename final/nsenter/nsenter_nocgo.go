//go:build !cgo

package nsenter

// Available is false in a boxcraft built without cgo (CGO_ENABLED=0):
// it has no constructor to join namespaces with, and exec refuses.
const Available = false
