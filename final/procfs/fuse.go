package procfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Server is a View served as a FUSE filesystem: one folder holding
// Files. It is never mounted on the host: its files are mounts attached
// nowhere (Trees), until init attaches them in the container, and it
// lives as long as the container's mounts of them (and its server, the
// caller's process).
type Server struct {
	srv  *fuse.Server
	root *folder
	// Trees are the files, each a detached mount of its own (open_tree),
	// in the order of Files: init attaches each over its target.
	Trees []*os.File
}

// Serve mounts v's files on dir (made, and removed again), opens each as
// a detached mount, and serves the files from goroutines of the calling
// process until every mount of them is gone.
//
// The mount is made in a mount namespace of one thread's own, which
// ends with the thread as soon as the files are open (inPrivateMounts):
// the host's mount table never holds it, even for a moment, so that a
// monitor killed at any point leaves nothing mounted.
//
// It is the kernel's fuse filesystem, mounted with mount(2) directly
// (the caller is root: no fusermount), read-only, with allow_other:
// without it the kernel lets only the mounting user (the host's root)
// in, and a container with a user namespace runs as another. Each open
// goes to this process, which renders the file anew.
func Serve(v *View, dir string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make %s: %w", dir, err)
	}
	defer os.Remove(dir)
	opts := &fs.Options{MountOptions: fuse.MountOptions{
		AllowOther: true, DirectMountStrict: true, FsName: "boxcraft-proc", Name: "boxcraft",
		DisableXAttrs: true, MaxWrite: 16 << 10, MaxBackground: 4,
		// Read-only, as /sys is where the view binds cpu/online, and
		// nothing in it to run: each file's bind keeps these flags.
		DirectMountFlags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC,
	}}
	// The attributes (the size) stay cached until Open says they changed
	// (NotifyContent): an fstat costs no round trip to this process.
	zero, long := time.Duration(0), time.Hour
	opts.EntryTimeout, opts.AttrTimeout, opts.NegativeTimeout = &zero, &long, &zero
	root := &folder{view: v}
	s := &Server{root: root}
	err := inPrivateMounts(func() error {
		srv, err := fs.Mount(dir, root, opts)
		if err != nil {
			return fmt.Errorf("mount the /proc view on %s: %w", dir, err)
		}
		s.srv = srv
		return s.openTrees(dir)
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// inPrivateMounts calls f on a thread of its own, in a mount namespace
// of its own, whose mounts are private (they travel to no other
// namespace). The thread ends after f (its goroutine locks it and never
// unlocks it), and its namespace with it: the mounts f made are gone
// then, but for what f opened of them, which stays usable.
func inPrivateMounts(f func() error) error {
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		// CLONE_FS too: a mount namespace belongs to a thread's fs
		// state, which Go's threads share.
		err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS)
		if err == nil {
			err = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
		}
		if err != nil {
			done <- fmt.Errorf("a mount namespace for the /proc view: %w", err)
			return
		}
		done <- f()
	}()
	return <-done
}

// openTrees opens each file as a mount of its own, attached nowhere
// (open_tree(2) with OPEN_TREE_CLONE: a bind mount not yet placed).
func (s *Server) openTrees(dir string) error {
	for i, f := range Files {
		fd, err := unix.OpenTree(unix.AT_FDCWD, filepath.Join(dir, f.Name), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return fmt.Errorf("open_tree %s: %w", f.Name, err)
		}
		s.Trees = append(s.Trees, os.NewFile(uintptr(fd), f.Target))
		if s.root.files[i].stat, err = unix.Open(filepath.Join(dir, f.Name), unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open %s: %w", f.Name, err)
		}
	}
	return nil
}

// HandedOver closes the monitor's copies of the trees, once init has
// them.
func (s *Server) HandedOver() {
	for _, t := range s.Trees {
		t.Close()
	}
	s.Trees = nil
}

// Close closes what the server holds of its files: once the container's
// mounts of them are gone too, the kernel ends the connection and the
// server's goroutines end.
func (s *Server) Close() {
	s.HandedOver()
	for _, f := range s.root.files {
		if f.stat >= 0 {
			unix.Close(f.stat)
			f.stat = -1
		}
	}
}

// Wait waits until the kernel has ended the connection: every mount of
// the files is gone.
func (s *Server) Wait() {
	if s.srv != nil {
		s.srv.Wait()
	}
}

// folder is the filesystem's root: one file for each of Files.
type folder struct {
	fs.Inode
	view  *View
	files []*file // in the order of Files
}

var _ fs.NodeOnAdder = (*folder)(nil)

func (d *folder) OnAdd(ctx context.Context) {
	for _, f := range Files {
		node := &file{view: d.view, name: f.Name, stat: -1, size: -1}
		d.files = append(d.files, node)
		d.AddChild(f.Name, d.NewPersistentInode(ctx, node, fs.StableAttr{Mode: syscall.S_IFREG}), false)
	}
}

// file is one of Files: read-only, its text rendered at each open.
type file struct {
	fs.Inode
	view *View
	name string
	stat int // an O_PATH descriptor of it, for Open's fstat; -1: none

	opening sync.Mutex // one Open at a time
	mu      sync.Mutex
	size    int // the size the kernel was last told; -1: none yet
}

var (
	_ fs.NodeOpener    = (*file)(nil)
	_ fs.NodeGetattrer = (*file)(nil)
)

// Getattr says the file's size: that of the open file's text when
// asked through one (fstat), else that of the text the last open got.
// /proc's own files say 0, and read(2) goes on past it; but sendfile(2),
// which busybox cat uses, reads through the page cache, which stops at
// the size the kernel knows.
func (f *file) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	if s, ok := fh.(*snapshot); ok {
		out.Size = uint64(len(s.data))
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.size < 0 {
		f.size = len(f.view.Render(f.name))
	}
	out.Size = uint64(f.size)
	return 0
}

// Open renders the file: the reads of one open see one moment, as the
// kernel's seq_file gives /proc's readers. The text is read through the
// page cache (no FOPEN_DIRECT_IO; without FOPEN_KEEP_CACHE the kernel
// drops the last open's pages): a read(2) at the end is answered by the
// kernel, with no round trip here, and so is sendfile(2). Both stop at
// the size the kernel knows: when the text's size is not that one, Open
// drops the kernel's attributes (NOTIFY_INVAL_INODE) and has it ask
// again (fstat, answered by another of the server's goroutines) before
// it answers. Opens of one file take turns, so that the size the kernel
// knows is the last open's.
func (f *file) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		return nil, 0, syscall.EACCES
	}
	f.opening.Lock()
	defer f.opening.Unlock()
	text := []byte(f.view.Render(f.name))
	f.mu.Lock()
	changed := f.size != len(text)
	f.size = len(text)
	f.mu.Unlock()
	if changed && f.stat >= 0 {
		_ = f.NotifyContent(-1, 0) // the attributes only: the pages go at this open anyway
		var st unix.Stat_t
		_ = unix.Fstat(f.stat, &st)
	}
	return &snapshot{data: text}, 0, 0
}

// snapshot is an open file's text.
type snapshot struct{ data []byte }

var (
	_ fs.FileReader  = (*snapshot)(nil)
	_ fs.FileFlusher = (*snapshot)(nil)
)

// Flush answers ENOSYS, which the kernel remembers: it sends no FLUSH at
// the next close(2)s, a round trip fewer for each read of a file.
func (s *snapshot) Flush(ctx context.Context) syscall.Errno { return syscall.ENOSYS }

func (s *snapshot) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(s.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(s.data)))
	return fuse.ReadResultData(s.data[off:end]), 0
}
