package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/spec"
)

// Change is one path an upper layer changed, as docker diff lists it:
// Deleted, or a file or folder of the upper layer (added, or changed:
// Changes cannot tell, its caller knows what the image has).
type Change struct {
	Path    string // absolute, in the container
	Deleted bool   // a whiteout
}

// Changes lists what the upper layer upper holds, as Diff would archive
// it (the same walk, the same names, what leave leaves out left out too)
// but without reading a file's content: its whiteouts as Deleted, and
// every other file and folder, in the walk's order. Owners outside the
// id maps are refused as Diff refuses them.
func Changes(ctx context.Context, upper string, uidMap, gidMap []spec.IDMap, leave LeaveOut) ([]Change, error) {
	var list []Change
	d := &differ{ctx: ctx, uidMap: uidMap, gidMap: gidMap, names: map[fileID]string{},
		dirents: make([]byte, 64<<10), leave: newLeaving(leave)}
	d.listed = func(hdr *tar.Header) {
		dir, base := path.Split(strings.TrimSuffix(hdr.Name, "/"))
		switch {
		case base == opaqueWhiteout:
			// the folder itself is listed: its lower content is hidden
		case strings.HasPrefix(base, whiteoutPrefix):
			list = append(list, Change{Path: "/" + dir + strings.TrimPrefix(base, whiteoutPrefix), Deleted: true})
		default:
			list = append(list, Change{Path: "/" + strings.TrimSuffix(hdr.Name, "/")})
		}
	}
	dir, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the upper layer: %w", err)
	}
	defer unix.Close(dir)
	if err := d.walk(dir, ""); err != nil {
		return nil, err
	}
	return list, nil
}
