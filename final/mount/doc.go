// Package mount performs planned mounts: it is given a value (an Overlay
// that final/store planned) and makes it so, as containerd's snapshotter
// returns mounts that other code performs.
//
// step05-layers (overlay.go) taught the idea: an image's layers, shared
// read-only, stacked by overlayfs under a container's own upper layer,
// and mount(2)'s one page of options stretched to 500 layers by
// mounting from a folder of short links. step05 moved the whole
// process's working folder to get there; this package moves only one
// thread's, a thread of its own that ends with the mount.
package mount
