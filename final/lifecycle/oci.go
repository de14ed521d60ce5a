package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

// The OCI runtime spec's lifecycle (issue 23), for cmd/boxcraft-runc: the
// same record, cgroup and init as boxcraft run's, with the start split in
// two. Create makes the container and leaves its init waiting on a fifo;
// start opens the fifo. No monitor: the engine that called the runtime
// (containerd's shim, a subreaper) adopts init and reaps it, and the
// kernel says whether it still runs.

// The OCI statuses.
const (
	OCICreated = "created"
	OCIRunning = "running"
	OCIPaused  = "paused"
	OCIStopped = "stopped"
)

// startFifo is the fifo init waits on (runc's exec.fifo).
func (r *Runtime) startFifo(id string) string { return filepath.Join(r.Dirs.Runtime(id), "exec.fifo") }

// CreateOCI makes the container c (its Name the engine's id) and starts
// its init with files as its stdio; it returns once init waits for
// StartOCI. On a failure nothing is left.
func (r *Runtime) CreateOCI(c *spec.Container, files monitor.Files) (state.Record, error) {
	c.StartFifo = r.startFifo(c.ID)
	rec := state.Record{Spec: *c, Created: time.Now().UTC(), Detached: true}
	if err := r.newOCIRecord(rec); err != nil {
		return rec, err
	}
	pid, err := r.startWaiting(rec, files)
	if err == nil {
		err = r.Dirs.WriteStatus(c.ID, state.Status{Status: state.Created, Pid: pid, NoMonitor: true})
	}
	if err != nil {
		return rec, errors.Join(err, r.Discard(c.ID))
	}
	return rec, nil
}

// newOCIRecord writes the record, under the lock of the set of
// containers: until it is written, a delete that finds the folder
// without it waits (DiscardUnreadable). The folder is named from the
// engine's id (oci.InternalID), so a second container of that id finds
// it there (mkdir's EEXIST), without a look at every record.
func (r *Runtime) newOCIRecord(rec state.Record) error {
	lock, err := r.Dirs.Lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	err = r.Dirs.NewContainer(rec)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: container %q exists already", ErrConflict, rec.Spec.Name)
	}
	return err
}

// DiscardUnreadable removes the folders of container id, whose record
// could not be read, if it still cannot once the lock is held: a create
// holds the lock until its record is written (newOCIRecord), so a
// container being made is not taken for one that a crash left without a
// record. Nothing of such a container runs: its init starts after the
// record is written, and a crash of the machine ended it.
func (r *Runtime) DiscardUnreadable(id string) error {
	lock, err := r.Dirs.Lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if _, err := r.Dirs.ReadRecord(id); err == nil {
		return fmt.Errorf("%w: container %s was being created: its record is there now", ErrConflict, id)
	}
	return r.Dirs.RemoveContainer(id)
}

// startWaiting makes the cgroup and the fifo, and starts init.
func (r *Runtime) startWaiting(rec state.Record, files monitor.Files) (int, error) {
	if err := r.MakeCgroup(rec); err != nil {
		return 0, err
	}
	// Writable by all (0622): init may be another user by the time it
	// opens it, as in runc.
	if err := unix.Mkfifo(rec.Spec.StartFifo, 0o622); err != nil {
		return 0, fmt.Errorf("make the start fifo: %w", err)
	}
	// Again, past the umask, which took the others' write bit: init's
	// root in a user namespace is another user of the host's.
	if err := os.Chmod(rec.Spec.StartFifo, 0o622); err != nil {
		return 0, fmt.Errorf("make the start fifo: %w", err)
	}
	return monitor.Create(rec, files)
}

// StartOCI lets a created container's init execute its command: opening
// the fifo to read unblocks init's open to write, and its byte says that
// it goes on.
func (r *Runtime) StartOCI(c Container) error {
	if st := r.OCIStatus(c); st != OCICreated {
		return fmt.Errorf("container %s is %s, not created: only a created container starts", c.Record.Spec.Name, st)
	}
	fifo := r.startFifo(c.ID)
	// O_NONBLOCK: the open returns at once (init's blocked open to write
	// then returns too); the reads wait for init's byte.
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the start fifo: %w", err)
	}
	defer unix.Close(fd)
	if err := readStartByte(fd, c.Status.Pid); err != nil {
		return fmt.Errorf("start container %s: %w", c.Record.Spec.Name, err)
	}
	_ = os.Remove(fifo) // started once: a second start finds no fifo
	status := c.Status
	status.Status, status.StartedAt = state.Running, time.Now().UTC()
	return r.Dirs.WriteStatus(c.ID, status)
}

// readStartByte waits for init's byte on the fifo, then for its end of
// file: init's end is close-on-exec, so the command runs by then (or
// init has ended). All while init lives.
func readStartByte(fd, pid int) error {
	buf := make([]byte, 1)
	started := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		n, err := unix.Read(fd, buf)
		switch {
		case n == 1:
			started = true
			continue
		case n == 0 && err == nil && started:
			return nil // end of file: executed
		case err != nil && err != unix.EAGAIN:
			return fmt.Errorf("read the start fifo: %w", err)
		}
		if !alive(pid) {
			if started {
				return nil // the command ran and ended already
			}
			return errors.New("its init ended before it started")
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("its init did not answer on the start fifo")
}

// OCIStatus is c's status in the OCI spec's words, from the kernel: a
// container whose init has ended (or been reaped) is stopped, one whose
// cgroup is frozen paused.
func (r *Runtime) OCIStatus(c Container) string {
	if c.Status.Pid == 0 || !alive(c.Status.Pid) {
		return OCIStopped
	}
	if c.Status.Status == state.Created {
		return OCICreated
	}
	if r.Frozen(c) {
		return OCIPaused
	}
	return OCIRunning
}

// alive says whether pid runs: it exists and is not a zombie waiting to
// be reaped (its parent, the engine, may be slow to).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "PID (COMM) STATE …": COMM may hold spaces and parentheses.
	rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
	fields := strings.Fields(rest)
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func (r *Runtime) cgroupOf(c Container) (*cgroups.Cgroup, error) {
	return cgroups.Open(c.Record.Spec.CgroupParent, c.Record.Spec.CgroupName())
}

// DeleteOCI removes a container: a running one only with force, which
// kills it first. Its cgroup (thawed, and with whatever is left in it
// killed) and its folders go; of one whose record is unreadable, the
// folders alone (DiscardUnreadable).
func (r *Runtime) DeleteOCI(c Container, force bool) error {
	if c.Broken {
		return r.DiscardUnreadable(c.ID)
	}
	status := r.OCIStatus(c)
	if (status == OCIRunning || status == OCIPaused) && !force {
		return fmt.Errorf("cannot delete container %s: it is %s: kill it first, or delete --force", c.Record.Spec.Name, status)
	}
	_ = r.SetFrozen(c, false) // a frozen process does not die of SIGKILL on v1
	return r.Discard(c.ID)
}

// KillOCI sends sig to c's init, or with all to every process in its
// cgroup.
func (r *Runtime) KillOCI(c Container, sig unix.Signal, all bool) error {
	if !all {
		if status := r.OCIStatus(c); status == OCIStopped {
			return fmt.Errorf("container %s is not running", c.Record.Spec.Name)
		}
		return unix.Kill(c.Status.Pid, sig)
	}
	pids, err := r.Procs(c)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			return fmt.Errorf("kill %d: %w", pid, err)
		}
	}
	return nil
}

// Procs lists the processes in c's cgroup, by pid on the host.
func (r *Runtime) Procs(c Container) ([]int, error) {
	cg, err := r.cgroupOf(c)
	if err != nil {
		return nil, err
	}
	return cg.Procs()
}

// Pause freezes c's processes; Resume thaws them.
func (r *Runtime) Pause(c Container) error { return r.freeze(c, true) }

// Resume thaws c's processes.
func (r *Runtime) Resume(c Container) error { return r.freeze(c, false) }

func (r *Runtime) freeze(c Container, frozen bool) error {
	want := map[bool]string{true: OCIRunning, false: OCIPaused}[frozen]
	if status := r.OCIStatus(c); status != want {
		return fmt.Errorf("container %s is %s, not %s", c.Record.Spec.Name, status, want)
	}
	return r.SetFrozen(c, frozen)
}

// ExecOCI starts p in the running container c with files as its stdio,
// and returns the process once its command runs.
func (r *Runtime) ExecOCI(c Container, p spec.Process, files monitor.Files) (*os.Process, error) {
	if status := r.OCIStatus(c); status != OCIRunning {
		return nil, fmt.Errorf("container %s is %s: exec needs it running", c.Record.Spec.Name, status)
	}
	return monitor.ExecFiles(r.Dirs, c.Record, c.Status.Pid, p, files)
}

// UpdateOCI writes new limits into a running container's cgroup (an OCI
// update): the kernel applies them at once.
func (r *Runtime) UpdateOCI(c Container, res spec.Resources) error {
	if status := r.OCIStatus(c); status == OCIStopped {
		return fmt.Errorf("container %s is stopped: update needs it created or running", c.Record.Spec.Name)
	}
	cg, err := r.cgroupOf(c)
	if err != nil {
		return err
	}
	if err := cg.Update(res); err != nil {
		return fmt.Errorf("update container %s: %w", c.Record.Spec.Name, err)
	}
	return nil
}

// OOMKills is how many of c's processes the kernel's OOM killer ended
// (0 once its cgroup is gone).
func (r *Runtime) OOMKills(c Container) int {
	cg, err := r.cgroupOf(c)
	if err != nil {
		return 0
	}
	return cg.OOMKills()
}
