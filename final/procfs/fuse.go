package procfs

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Server is a View served as a FUSE filesystem: one folder holding
// Files. It is never mounted on the host: its root is a mount attached
// nowhere (Tree) until init attaches it in the container, and it lives
// as long as the container's mounts of it (and its server, the caller's
// process).
type Server struct {
	srv  *fuse.Server
	root *folder
	dev  *os.File // /dev/fuse, the connection
	// Tree is the filesystem's root, a mount attached nowhere
	// (open_tree): init attaches it, and binds each of Files from it.
	Tree *os.File
}

// Serve mounts v's files on dir (made, and removed again), opens the
// mount as a detached one (Tree), and serves the files from goroutines
// of the calling process until every mount of them is gone.
//
// The mount is made in a mount namespace of one thread's own, which
// ends with the thread as soon as the tree is open (inPrivateMounts):
// the host's mount table never holds it, even for a moment, so that a
// monitor killed at any point leaves nothing mounted.
//
// This process never touches its own files: a FUSE request waits for
// its answer even when the caller is killed, and a server killed while
// one of its own threads waits for itself could never end (nor its
// /dev/fuse close, which is what ends the connection). So the mount is
// made here (mount(2) on an open /dev/fuse, go-fuse's "/dev/fd/N"),
// with no look-up by go-fuse, and its root, which takes none either, is
// what init gets: init binds the files from it (containerinit).
//
// It is the kernel's fuse filesystem, read-only, with allow_other:
// without it the kernel lets only the mounting user (the host's root)
// in, and a container with a user namespace runs as another.
func Serve(v *View, dir string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make %s: %w", dir, err)
	}
	defer os.Remove(dir)
	dev, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("the /proc view: %w", err)
	}
	s := &Server{root: &folder{view: v}, dev: dev}
	err = inPrivateMounts(func() error { return s.mount(dir) })
	if err == nil {
		err = s.serve()
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// maxRead is the most a read asks of the server at once.
const maxRead = 16 << 10

// mount mounts the filesystem on dir, read-only, nothing in it to run
// (each bind of its files keeps these flags), and opens it as a mount of
// its own, attached nowhere (open_tree(2) with OPEN_TREE_CLONE).
func (s *Server) mount(dir string) error {
	const flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	data := fmt.Sprintf("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,max_read=%d", s.dev.Fd(), maxRead)
	if err := unix.Mount("boxcraft-proc", dir, "fuse.boxcraft", flags, data); err != nil {
		return fmt.Errorf("mount the /proc view on %s: %w", dir, err)
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", dir, err)
	}
	s.Tree = os.NewFile(uintptr(fd), "procview")
	return nil
}

// serve starts go-fuse's server on the open /dev/fuse.
func (s *Server) serve() error {
	// The attributes (the size) stay cached until Open says they changed
	// (NotifyContent). The names too: the files are the same for the
	// filesystem's life, and a name the kernel knows needs no second
	// look-up here (issue 26). The monitor never looks its own files up to
	// warm that cache: a process that is killed while one of its threads
	// waits for its own FUSE server's answer never ends (the kernel waits
	// for the answer, in D state, and the server's thread is gone).
	zero, long := time.Duration(0), time.Hour
	opts := &fs.Options{MountOptions: fuse.MountOptions{
		AllowOther: true, FsName: "boxcraft-proc", Name: "boxcraft",
		DisableXAttrs: true, MaxWrite: maxRead, MaxBackground: 4,
	}, EntryTimeout: &long, AttrTimeout: &long, NegativeTimeout: &zero}
	raw := &nodeIDs{RawFileSystem: fs.NewNodeFS(s.root, opts), root: s.root}
	// go-fuse takes the descriptor it is given as its own (it wraps it in
	// an *os.File and closes it when it ends): give it a copy, so that
	// s.dev's close, or its finalizer, can never close a number that by
	// then names another container's /dev/fuse.
	fd, err := unix.FcntlInt(s.dev.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("serve the /proc view: %w", err)
	}
	srv, err := fuse.NewServer(raw, fmt.Sprintf("/dev/fd/%d", fd), &opts.MountOptions)
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("serve the /proc view: %w", err)
	}
	s.dev.Close() // the mount and go-fuse's copy keep the connection
	s.dev = nil
	s.srv, s.root.srv = srv, srv
	go srv.Serve()
	return srv.WaitMount()
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

// HandedOver closes the monitor's copy of the tree, once init has it.
func (s *Server) HandedOver() {
	if s.Tree != nil {
		s.Tree.Close()
		s.Tree = nil
	}
}

// Close closes what the server holds of its filesystem: once the
// container's mounts of it are gone too, the kernel ends the connection
// and the server's goroutines end. (go-fuse reads /dev/fuse through its
// own copy of the descriptor.)
func (s *Server) Close() {
	s.HandedOver()
	if s.srv == nil && s.dev != nil {
		s.dev.Close() // no server took it
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
	srv   *fuse.Server
}

// nodeIDs is go-fuse's filesystem, which also notes each file's node
// id, the kernel's name for it, as the kernel looks it up: Open needs it
// to tell the kernel a file's new size (NOTIFY_STORE).
type nodeIDs struct {
	fuse.RawFileSystem
	root *folder
}

func (n *nodeIDs) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	status := n.RawFileSystem.Lookup(cancel, header, name, out)
	if status == fuse.OK {
		for _, f := range n.root.files {
			if f.name == name {
				f.nodeID.Store(out.NodeId)
			}
		}
	}
	return status
}

var _ fs.NodeOnAdder = (*folder)(nil)

func (d *folder) OnAdd(ctx context.Context) {
	for _, f := range Files {
		node := &file{view: d.view, name: f.Name, size: -1, srv: func() *fuse.Server { return d.srv }}
		d.files = append(d.files, node)
		d.AddChild(f.Name, d.NewPersistentInode(ctx, node, fs.StableAttr{Mode: syscall.S_IFREG}), false)
	}
}

// file is one of Files: read-only, its text rendered at each open.
type file struct {
	fs.Inode
	view   *View
	name   string
	srv    func() *fuse.Server
	nodeID atomic.Uint64 // the kernel's id of it, once looked up

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
//
// Before any open it says 0, as /proc does, and renders nothing: the
// kernel asks at each name's first look-up, which is init's bind of the
// file over /proc's, on a start's path (issue 26: eight renders, 1.5 ms
// and eight waits for the monitor). The first open's text is then a new
// size, which Open tells the kernel (f.size is still -1).
func (f *file) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	if s, ok := fh.(*snapshot); ok {
		out.Size = uint64(len(s.data))
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out.Size = uint64(max(f.size, 0))
	return 0
}

// Open renders the file: the reads of one open see one moment, as the
// kernel's seq_file gives /proc's readers. The text is read through the
// page cache (no FOPEN_DIRECT_IO; without FOPEN_KEEP_CACHE the kernel
// drops the last open's pages): a read(2) at the end is answered by the
// kernel, with no round trip here. A read stops at the size the kernel
// knows: when the text's size is not that one, Open drops the kernel's
// attributes (NOTIFY_INVAL_INODE), and the reader's kernel asks this
// open's size (Getattr, with its handle) before it reads past the old
// one. Opens of one file take turns.
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
	if changed {
		_ = f.NotifyContent(-1, 0) // the attributes only: the pages go at this open anyway
		// sendfile(2), which busybox cat uses, reads the page cache up to
		// the size without asking for it again: a larger one is told now,
		// with the text itself in the cache (NOTIFY_STORE grows the size).
		if id := f.nodeID.Load(); id != 0 && f.srv() != nil {
			_ = f.srv().InodeNotifyStoreCache(id, 0, text)
		}
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
