package build

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// copySpec is one COPY or ADD: sources (globs) in a root, where they go
// in the image, and who owns them there.
type copySpec struct {
	root     string // the context, or a stage's root, mounted
	sources  []string
	dest     string // absolute, in the image
	chown    string // --chown=USER[:GROUP] as written ("" without it)
	uid, gid int    // --chown's, resolved; root's without it, as Docker's
	ignore   ignore // the context's .dockerignore; none for --from
	unpack   bool   // ADD: a local tar archive's contents go in, not the file
}

// entry is one file the layer gets: where it is read, where it goes.
type entry struct {
	src     string // on the host
	name    string // in the image, without the leading /
	info    fs.FileInfo
	archive bool // ADD's tar archive: its entries go below name
}

// entries lists the files, as Docker copies them: a folder's contents
// (not the folder itself) into dest; a file into dest, or into dest/
// when dest ends with / or there are several sources.
func (c copySpec) entries() ([]entry, error) {
	var matches []string
	for _, src := range c.sources {
		found, err := c.glob(src)
		if err != nil {
			return nil, err
		}
		matches = append(matches, found...)
	}
	intoDir := strings.HasSuffix(c.dest, "/") || len(matches) > 1
	var out []entry
	for _, m := range matches {
		found, err := c.walk(m, intoDir)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// glob finds a source's matches in the root; none is an error, and so
// is a path out of it (.., or a link leading out).
func (c copySpec) glob(src string) ([]string, error) {
	rel := path.Clean("/" + filepath.ToSlash(src))
	matches, err := filepath.Glob(filepath.Join(c.root, rel))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	var kept []string
	for _, m := range matches {
		r, _ := filepath.Rel(c.root, m)
		if c.ignore.excludes(filepath.ToSlash(r)) {
			continue
		}
		real, err := filepath.EvalSymlinks(m)
		if err != nil || !within(c.root, real) {
			return nil, fmt.Errorf("%s: leads out of the build context", src)
		}
		kept = append(kept, real)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%s: no such file in the build context", src)
	}
	sort.Strings(kept)
	return kept, nil
}

func within(root, p string) bool {
	rootReal, err := filepath.EvalSymlinks(root)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(rootReal, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// walk lists a match: a file, or a folder's contents, below dest.
func (c copySpec) walk(match string, intoDir bool) ([]entry, error) {
	info, err := os.Lstat(match)
	if err != nil {
		return nil, err
	}
	dest := strings.TrimPrefix(path.Clean(c.dest), "/")
	if !info.IsDir() {
		if c.unpack && isArchive(match) {
			return []entry{{src: match, name: dest, info: info, archive: true}}, nil
		}
		if intoDir {
			dest = path.Join(dest, filepath.Base(match))
		}
		return []entry{{src: match, name: dest, info: info}}, nil
	}
	var out []entry
	err = filepath.WalkDir(match, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == match {
			return err
		}
		rel, _ := filepath.Rel(match, p)
		if inContext, _ := filepath.Rel(c.root, p); c.ignore.excludes(filepath.ToSlash(inContext)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err == nil {
			out = append(out, entry{src: p, name: path.Join(dest, filepath.ToSlash(rel)), info: info})
		}
		return err
	})
	return out, err
}

// writeLayer writes the entries as a layer's tar, with the folders above
// them. forKey leaves the times out: the cache key is the files' names,
// modes, owners and contents, not when they were touched.
func (c copySpec) writeLayer(w io.Writer, entries []entry, forKey bool) error {
	tw := tar.NewWriter(w)
	made := map[string]bool{"": true, ".": true}
	for _, e := range entries {
		parent := path.Dir(e.name)
		if e.archive {
			parent = e.name
		}
		if err := c.writeParents(tw, parent, made); err != nil {
			return err
		}
		write := c.writeEntry
		if e.archive {
			write = c.writeArchive
		}
		if err := write(tw, e, forKey); err != nil {
			return err
		}
		made[e.name] = e.info.IsDir() || e.archive
	}
	return tw.Close()
}

// writeParents writes the folders above name that are not written yet:
// root's, 0755, as Docker makes them.
func (c copySpec) writeParents(tw *tar.Writer, dir string, made map[string]bool) error {
	if made[dir] {
		return nil
	}
	if err := c.writeParents(tw, path.Dir(dir), made); err != nil {
		return err
	}
	made[dir] = true
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: time.Unix(0, 0)})
}

func (c copySpec) writeEntry(tw *tar.Writer, e entry, forKey bool) error {
	link := ""
	if e.info.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(e.src); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(e.info, link)
	if err != nil {
		return fmt.Errorf("%s: %w", e.src, err)
	}
	hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = e.name, c.uid, c.gid, "", ""
	hdr.Format = tar.FormatPAX
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if forKey {
		hdr.ModTime = time.Unix(0, 0)
	}
	if e.info.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !e.info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
