// Command mkrootfs writes the workshop's default image, a tar of a busybox
// root filesystem (see package busybox). `make rootfs` runs it. It uses
// the standard library only, so that it builds with no module download:
// making the image needs no network.
//
//	mkrootfs _build/busybox.tar
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/boxcraft/boxcraft/internal/busybox"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkrootfs OUTPUT.tar")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "mkrootfs: %v\n", err)
		os.Exit(1)
	}
}

// write builds the image next to its destination and renames it into
// place, so an interrupted run never leaves half an image behind.
func write(out string) error {
	path, err := busybox.Find()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".mkrootfs-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := busybox.WriteTar(tmp, path); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
