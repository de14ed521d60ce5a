package store

import (
	"context"
	"errors"
	"fmt"
	"github.com/boxcraft/boxcraft/final/durable"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/boxcraft/boxcraft/final/archive"
	"github.com/boxcraft/boxcraft/final/mount"
	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// asIs is the set of layers whose files have the archive's own ids.
const asIs = "as-is"

// layerSet names the set of layers unpacked with these id maps: "as-is"
// without any, else the maps, as "u0-100000-65536", and "-g…" after it
// when the gids are mapped otherwise.
func layerSet(uidMap, gidMap []spec.IDMap) string {
	if len(uidMap) == 0 && len(gidMap) == 0 {
		return asIs
	}
	set := idMapName("u", uidMap)
	if g := idMapName("g", gidMap); g != idMapName("g", uidMap) {
		set += "-" + g
	}
	return set
}

func idMapName(kind string, idMap []spec.IDMap) string {
	name := kind
	for i, m := range idMap {
		if i > 0 {
			name += "-"
		}
		name += fmt.Sprintf("%d-%d-%d", m.ContainerID, m.HostID, m.Size)
	}
	return name
}

// rootID is the host's id for the container's id 0 in idMap: 0 itself
// without a map.
func rootID(idMap []spec.IDMap) (int, error) {
	if len(idMap) == 0 {
		return 0, nil
	}
	for _, m := range idMap {
		if m.ContainerID == 0 && m.Size > 0 {
			return m.HostID, nil
		}
	}
	return 0, errors.New("the id map gives the container no root (id 0)")
}

// makeRootFolder makes dir, unless it is there, owned by the container's
// root, as step04's rootfs was: the top of a layer and of the upper layer
// is the top of the container's root.
func makeRootFolder(dir string, mode os.FileMode, uidMap, gidMap []spec.IDMap) error {
	uid, err := rootID(uidMap)
	if err != nil {
		return err
	}
	gid, err := rootID(gidMap)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dir, mode); errors.Is(err, fs.ErrExist) {
		return nil
	} else if err != nil {
		return err
	}
	// Mkdir's mode passes through the umask: set it as meant.
	if err := os.Chmod(dir, mode); err != nil {
		return err
	}
	return os.Lchown(dir, uid, gid)
}

// unpackLayer returns the folder of the layer diffID in set, and first
// unpacks it there, from its stored blob, unless it is there already.
// The layer is unpacked into ROOT/tmp and renamed into place once whole
// and its diffID checked: rename(2) is atomic, so the folder is in the
// store whole or not at all. When another process stored it meanwhile,
// its folder stays and this copy goes.
func (s *Store) unpackLayer(ctx context.Context, set, diffID, digest string, uidMap, gidMap []spec.IDMap) (string, error) {
	folder := s.layerPath(set, diffID)
	if _, err := os.Stat(folder); err == nil {
		return folder, nil
	}
	if err := os.MkdirAll(filepath.Dir(folder), 0o700); err != nil {
		return "", fmt.Errorf("make the layer set %s: %w", set, err)
	}
	work, err := os.MkdirTemp(s.path("tmp"), tempName())
	if err != nil {
		return "", fmt.Errorf("make a folder to unpack into: %w", err)
	}
	defer os.RemoveAll(work)
	unpacked := filepath.Join(work, "layer")
	if err := makeRootFolder(unpacked, 0o755, uidMap, gidMap); err != nil {
		return "", fmt.Errorf("make a folder to unpack into: %w", err)
	}
	opt := archive.Options{Overlay: true, UIDMap: uidMap, GIDMap: gidMap}
	if err := s.unpackBlob(ctx, digest, diffID, unpacked, opt); err != nil {
		return "", fmt.Errorf("blob %s: %w", digest, err)
	}
	err = os.Rename(unpacked, folder)
	if err != nil && !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
		return "", fmt.Errorf("move layer %s into the store: %w", diffID, err)
	}
	return folder, durable.SyncFolder(filepath.Dir(folder))
}

// unpackBlob unpacks the stored blob into dir, and checks that the
// archive unzipped has the digest diffID.
func (s *Store) unpackBlob(ctx context.Context, digest, diffID, dir string, opt archive.Options) error {
	blob, err := os.Open(s.blobPath(digest))
	if err != nil {
		return err
	}
	defer blob.Close()
	unzipped, err := archive.DecompressWithin(blob, s.Limits)
	if err != nil {
		return err
	}
	hashed := newHashingReader(unzipped)
	defer hashed.Stop()
	if err := archive.Unpack(ctx, hashed, dir, opt); err != nil {
		return err
	}
	// The digest covers the whole archive, the tar's padding after its
	// last entry included.
	if _, err := io.Copy(io.Discard, hashed); err != nil {
		return fmt.Errorf("read it: %w", err)
	}
	if got := hashed.Digest(); got != diffID {
		return fmt.Errorf("unzipped, its digest is %s, but the image's config says %s: the blob was changed", got, diffID)
	}
	return nil
}

// Prepare plans a container's root in dir: it unpacks the image's layers
// for these id maps unless the store has them (for a stack mounted
// through the links the store keeps, their folder says that it has
// them: keepLinks), makes dir/upper and
// dir/work (the container's root's) and dir/rootfs, and returns the
// overlay to mount there. The upper layer is volatile unless kept. It
// does not mount.
func (s *Store) Prepare(ctx context.Context, id string, uidMap, gidMap []spec.IDMap, dir string, keep bool) (mount.Overlay, error) {
	o := mount.Overlay{
		Upper:    filepath.Join(dir, "upper"),
		Work:     filepath.Join(dir, "work"),
		Target:   filepath.Join(dir, "rootfs"),
		Volatile: !keep,
	}
	rec, err := s.record(id)
	if err != nil {
		return o, err
	}
	unlock, err := s.lock(layersLock, durable.Shared)
	if err != nil {
		return o, err
	}
	defer unlock()
	o.Lower = s.layerFolders(rec, layerSet(uidMap, gidMap))
	if o.FitsPage() {
		err = s.unpackLayers(ctx, rec, uidMap, gidMap)
	} else {
		o.Links, err = s.keepLinks(ctx, rec, uidMap, gidMap, o.Lower)
	}
	if err != nil {
		return o, fmt.Errorf("prepare a root of image %s: %w", id, err)
	}
	for _, folder := range []string{o.Upper, o.Work, o.Target} {
		if err := makeRootFolder(folder, 0o755, uidMap, gidMap); err != nil {
			return o, fmt.Errorf("prepare a root in %s: %w", dir, err)
		}
	}
	if o.Volatile {
		// A volatile mount leaves work/incompat/volatile in its work
		// folder, even unmounted cleanly, and the kernel mounts no
		// volatile overlay over it: the mark says that the upper layer
		// may have lost writes to a crash. A --rm container, volatile's
		// one user, is mounted again only after a clean unmount (a
		// restart): a crash of the machine removes it (a reboot empties
		// its run folder, and the next command removes the rest).
		if err := os.RemoveAll(filepath.Join(o.Work, "work", "incompat", "volatile")); err != nil {
			return o, fmt.Errorf("prepare a root in %s: %w", dir, err)
		}
	}
	return o, nil
}

// keepLinks returns the folder of links to the layers lower that the
// store keeps for image rec in these id maps' set, for a stack too long
// for mount(2)'s page (final/mount: MakeLinks, Overlay.Links). When it is
// there, every layer it links is unpacked: it is made once they are,
// and collect removes it before any of them, so a start of a 500-layer
// image looks at one folder, not at 500 (issue 26, figure 12). When it
// is missing, keepLinks unpacks the layers that are, then makes it:
// aside in ROOT/tmp, then renamed into place whole, so that no mount
// reads half of one, and of two starts at once one makes it (the
// other's rename finds it there). One folder an image and id maps; it
// goes with the image (collect). Its caller holds layersLock shared: no
// removal runs meanwhile.
func (s *Store) keepLinks(ctx context.Context, rec ImageRecord, uidMap, gidMap []spec.IDMap, lower []string) (string, error) {
	dir := s.path("links", digestHex(rec.ID)+"-"+layerSet(uidMap, gidMap))
	if _, err := os.Lstat(dir); err == nil {
		return dir, nil
	}
	if err := s.unpackLayers(ctx, rec, uidMap, gidMap); err != nil {
		return "", err
	}
	if err := os.MkdirAll(s.path("links"), 0o700); err != nil {
		return "", fmt.Errorf("keep the layers' links: %w", err)
	}
	making, err := os.MkdirTemp(s.path("tmp"), tempName())
	if err != nil {
		return "", fmt.Errorf("keep the layers' links: %w", err)
	}
	err = mount.MakeLinks(making, dir, lower)
	if err == nil {
		err = os.Rename(making, dir)
	}
	if err != nil {
		os.RemoveAll(making)
		if _, there := os.Lstat(dir); there == nil {
			return dir, nil // made by another start meanwhile
		}
		return "", fmt.Errorf("keep the layers' links: %w", err)
	}
	return dir, nil
}

// layerFolders are the folders of the image's layers in set, top first,
// as overlayfs lists them, whether they are unpacked yet or not.
func (s *Store) layerFolders(rec ImageRecord, set string) []string {
	lower := make([]string, len(rec.DiffIDs))
	for i, diffID := range rec.DiffIDs {
		lower[len(lower)-1-i] = s.layerPath(set, diffID)
	}
	return lower
}

// unpackLayers unpacks each of the image's layers that is not in the
// store for these id maps yet. Its caller holds layersLock shared.
func (s *Store) unpackLayers(ctx context.Context, rec ImageRecord, uidMap, gidMap []spec.IDMap) error {
	set := layerSet(uidMap, gidMap)
	for i, diffID := range rec.DiffIDs {
		if _, err := s.unpackLayer(ctx, set, diffID, rec.Digests[i], uidMap, gidMap); err != nil {
			return err
		}
	}
	return nil
}

// folderSize adds up the sizes of the files in a layer's folder, as
// Docker's overlay2 sizes a layer.
func folderSize(dir string) int64 {
	var size int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	return size
}

// AsInImage says whether st, a folder at name in a container's upper
// layer, has the mode and owner that image id's layers, unpacked for
// these id maps, give name; or, where none has it (or one deletes it),
// those of a folder made in a container's root (makeRootFolder's: 0755,
// the container's root user). A commit leaves out a folder that only
// the runtime's own files changed (archive.LeaveOut).
func (s *Store) AsInImage(id string, uidMap, gidMap []spec.IDMap, name string, st *unix.Stat_t) bool {
	uid, uidErr := rootID(uidMap)
	gid, gidErr := rootID(gidMap)
	if uidErr != nil || gidErr != nil {
		return false // unknown: kept
	}
	below := unix.Stat_t{Mode: unix.S_IFDIR | 0o755, Uid: uint32(uid), Gid: uint32(gid)}
	var got unix.Stat_t
	var found bool
	err := s.withLayers(id, uidMap, gidMap, func(folders []string) (err error) {
		got, found, err = lookBelow(folders, name)
		return err
	})
	if err != nil {
		return false
	}
	if found {
		below = got
	}
	return st.Mode == below.Mode && st.Uid == below.Uid && st.Gid == below.Gid
}

// InImage says which of names (relative to the root) image id,
// unpacked for these id maps, has: what docker diff calls a change (C)
// of the container's, rather than an addition (A). A layer's whiteout
// of a name hides it; an opaque folder above it is not looked at.
func (s *Store) InImage(id string, uidMap, gidMap []spec.IDMap, names []string) (map[string]bool, error) {
	has := make(map[string]bool, len(names))
	err := s.withLayers(id, uidMap, gidMap, func(folders []string) error {
		for _, name := range names {
			_, found, err := lookBelow(folders, name)
			if err != nil {
				return err
			}
			has[name] = found
		}
		return nil
	})
	return has, err
}

// withLayers calls look with the folders of image id's layers for these
// id maps, top first, holding layersLock shared: no removal runs
// meanwhile.
func (s *Store) withLayers(id string, uidMap, gidMap []spec.IDMap, look func(folders []string) error) error {
	rec, err := s.record(id)
	if err != nil {
		return err
	}
	unlock, err := s.lock(layersLock, durable.Shared)
	if err != nil {
		return err
	}
	defer unlock()
	return look(s.layerFolders(rec, layerSet(uidMap, gidMap)))
}

// lookBelow is name's attributes in the top one of folders that has it,
// found false when none has it or the top one that does holds a
// whiteout of it.
func lookBelow(folders []string, name string) (unix.Stat_t, bool, error) {
	for _, folder := range folders {
		got, err := statBeneath(folder, name)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			continue
		}
		if errors.Is(err, unix.ELOOP) {
			// A symlink of the layer's on the way: in the container, name
			// is somewhere else. Never followed out of the layer.
			return got, false, nil
		}
		if err != nil {
			return got, false, err
		}
		whiteout := got.Mode&unix.S_IFMT == unix.S_IFCHR && got.Rdev == 0
		return got, !whiteout, nil
	}
	return unix.Stat_t{}, false, nil
}

// statBeneath is the attributes of name in the folder dir, itself if a
// symlink, resolved beneath dir and through no symlink (openat2(2)
// RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS: ELOOP when one is on the way),
// for a name that comes from a container, a layer's symlinks being the
// image's to point anywhere.
func statBeneath(dir, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	dirFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return st, err
	}
	defer unix.Close(dirFD)
	fd, err := unix.Openat2(dirFD, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	return st, unix.Fstat(fd, &st)
}
