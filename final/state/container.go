package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/boxcraft/boxcraft/final/durable"
	"github.com/boxcraft/boxcraft/final/spec"
)

// A container's life, as docker ps names it.
const (
	Created = "created" // made, not started (or its start failed or was cut short)
	Running = "running"
	Exited  = "exited"
)

// Record is what a container was made with: written once, when it is
// created, as config.json.
type Record struct {
	Spec       spec.Container `json:"spec"`
	Created    time.Time      `json:"created"`
	AutoRemove bool           `json:"autoRemove"` // --rm
	Detached   bool           `json:"detached"`   // -d
	Mounted    bool           `json:"mounted"`    // its root is an overlay boxcraft mounts
	// CreatedOnly: made by boxcraft create, to start later. A Created
	// container without it, and without a failed start's Error, is one
	// that run is still making: no start may take it.
	CreatedOnly bool `json:"createdOnly,omitempty"`
	// Entrypoint and Cmd are the two halves of Spec.Process.Args, as
	// docker inspect shows them.
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	// Labels are the image's labels and run's --label, as Docker keeps
	// them in the container's Config.Labels: ps -f label= reads them.
	Labels map[string]string `json:"labels,omitempty"`
}

// Status is where a container is in its life: state.json, rewritten
// at each change.
type Status struct {
	Status     string `json:"status"`
	Pid        int    `json:"pid,omitempty"`        // the container's first process, on the host
	MonitorPid int    `json:"monitorPid,omitempty"` // the process that waits for it
	// NoMonitor: an OCI container (issue 23), which its engine waits
	// for; whether it runs is the kernel's to say (runtime's oci.go).
	NoMonitor  bool      `json:"noMonitor,omitempty"`
	ExitCode   int       `json:"exitCode"`
	OOMKilled  bool      `json:"oomKilled"`
	Error      string    `json:"error,omitempty"` // why it did not start, or why its monitor went
	StartedAt  time.Time `json:"startedAt,omitempty"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`
}

// MonitorGone is the Error of a container whose monitor was killed: it
// was killed with it (or is to be: see lifecycle's finishOrphan).
const MonitorGone = "its monitor was killed, and the container with it"

// MachineRestarted is the Error of a container whose status a reboot
// took (it lives in /run): whatever ran has stopped.
const MachineRestarted = "the machine restarted"

// ErrNoSuchContainer: no container has that name or ID.
var ErrNoSuchContainer = errors.New("no such container")

// Paths of a container's files.
func (d Dirs) configFile(id string) string  { return filepath.Join(d.Container(id), "config.json") }
func (d Dirs) statusFile(id string) string  { return filepath.Join(d.Runtime(id), "state.json") }
func (d Dirs) monitorLock(id string) string { return filepath.Join(d.Runtime(id), "monitor.lock") }

// LogFile is the container's output, as json-lines.
func (d Dirs) LogFile(id string) string { return filepath.Join(d.Container(id), id+"-json.log") }

// NewContainer makes a container's folders and writes its record and a
// first status, Created. It is the first thing a start does, so that
// whatever happens next, even a SIGKILL, leaves a container that ps
// shows and rm removes.
func (d Dirs) NewContainer(rec Record) error {
	id := rec.Spec.ID
	for _, dir := range []string{d.Container(id), d.Runtime(id)} {
		if err := os.Mkdir(dir, 0o711); err != nil {
			return fmt.Errorf("make the container's folder: %w", err)
		}
	}
	if err := d.WriteStatus(id, Status{Status: Created}); err != nil {
		return err
	}
	// A --rm container's record need not outlive a crash: the container
	// would be gone with it (issue 26: each fsync is a start's
	// milliseconds on a busy disk). Nor need an OCI container's: its
	// folder is named from the engine's id, so delete finds it even when
	// a crash left the record empty, and removes it (runc syncs none).
	write := durable.WriteFile
	if rec.AutoRemove || rec.Spec.OCI != nil {
		write = durable.ReplaceFile
	}
	return writeJSON(d.configFile(id), rec, write)
}

// ReadRecord reads a container's record.
func (d Dirs) ReadRecord(id string) (Record, error) {
	var rec Record
	err := ReadJSON(d.configFile(id), &rec)
	return rec, err
}

// WriteStatus records a container's status. It lives in the run folder
// (/run, a tmpfs), which a reboot empties (ReadStatus then says so):
// replaced whole, as readers need, but never waited for on a disk.
func (d Dirs) WriteStatus(id string, s Status) error {
	return writeJSON(d.statusFile(id), s, durable.ReplaceFile)
}

// ReadStatus reads a container's status as it really is: a container
// marked running whose monitor is gone (killed with it, or the machine
// rebooted) has exited, and a container whose start was cut short is
// Created with nothing running.
func (d Dirs) ReadStatus(id string) (Status, error) {
	var s Status
	err := ReadJSON(d.statusFile(id), &s)
	if errors.Is(err, os.ErrNotExist) {
		// A reboot emptied /run: whatever ran has stopped.
		return Status{Status: Exited, ExitCode: 137, Error: MachineRestarted}, nil
	}
	if err != nil {
		return s, err
	}
	if s.Status == Running && !s.NoMonitor && !d.MonitorAlive(id) {
		s.Status, s.ExitCode = Exited, 137
		s.Error = MonitorGone
		s.FinishedAt = time.Time{}
	}
	return s, nil
}

// HoldMonitorLock is taken by a container's monitor for as long as it
// lives.
func (d Dirs) HoldMonitorLock(id string) (*durable.Lock, error) {
	return durable.LockFile(d.monitorLock(id), durable.Exclusive)
}

// MonitorAlive says whether a monitor holds the container's lock. It
// never makes the lock's file (a monitor does): a removal may be
// emptying the container's run folder.
func (d Dirs) MonitorAlive(id string) bool {
	l, err := durable.TryLock(d.monitorLock(id))
	if err != nil {
		return errors.Is(err, durable.ErrLocked)
	}
	l.Unlock()
	return false
}

// MarkRestarting leaves a mark in container id's run folder for the
// time of a restart (docker restart): the monitor of a --rm container
// that finds it when its container ends keeps the container for the
// start that follows, instead of removing it. UnmarkRestarting takes it
// away; a restart cut short leaves it, and the container stopped rather
// than removed.
func (d Dirs) MarkRestarting(id string) error {
	return os.WriteFile(d.restartingFile(id), nil, 0o600)
}

// UnmarkRestarting takes MarkRestarting's mark away.
func (d Dirs) UnmarkRestarting(id string) { _ = os.Remove(d.restartingFile(id)) }

// Restarting says whether a restart holds container id (MarkRestarting).
func (d Dirs) Restarting(id string) bool {
	_, err := os.Lstat(d.restartingFile(id))
	return err == nil
}

func (d Dirs) restartingFile(id string) string { return filepath.Join(d.Runtime(id), "restarting") }

// A container's run folder is locked (flock(2) on the folder: nothing is
// made in it, which would keep a removal from taking it) by whoever
// reads or writes the container's end once its monitor has gone. A wait
// holds it shared, from before the container ends until it has read its
// status (WatchEnd). The monitor of a --rm container that has ended
// holds it exclusively to remove its folders (HoldForRemoval), and so
// does a command that finishes a container whose monitor was killed
// (ClaimOrphan). The monitor's own lock is another: while it is held,
// the container runs.

// lockRunFolder locks container id's run folder: nil, and no error, once
// the folder is gone.
func (d Dirs) lockRunFolder(id string, kind int) (*durable.Lock, error) {
	lock, err := durable.LockExisting(d.Runtime(id), kind)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return lock, err
}

// WatchEnd is held by a wait from before container id ends until it has
// read its status: the folders of a --rm container, its status among
// them, go only once no wait holds it.
func (d Dirs) WatchEnd(id string) (*durable.Lock, error) {
	return d.lockRunFolder(id, durable.Shared)
}

// HoldForRemoval is taken before the folders of a --rm container that has
// ended are removed: it waits until each wait that watched its end has
// read it. nil once the folders are gone.
func (d Dirs) HoldForRemoval(id string) (*durable.Lock, error) {
	return d.lockRunFolder(id, durable.Exclusive)
}

// HoldEnded is taken by a command that changes a container that has
// ended: a start of it (boxcraft start), or its removal (rm, prune). No
// other such command, and no command that finishes it (ClaimOrphan),
// works on it meanwhile. nil once the folders are gone.
func (d Dirs) HoldEnded(id string) (*durable.Lock, error) {
	return d.lockUnlessStarted(id)
}

// ErrStarted is HoldEnded's failure when the container was started again
// while the command waited to hold it.
var ErrStarted = errors.New("it was started again meanwhile")

// lockUnlessStarted locks container id's run folder exclusively,
// waiting while another command holds it, unless the container is
// started meanwhile (its monitor holds its lock): a wait may then hold
// the folder, shared, for as long as the new run lasts, and the caller
// looked at a container that has ended. nil once the folders are gone.
func (d Dirs) lockUnlessStarted(id string) (*durable.Lock, error) {
	for {
		lock, err := d.lockRunFolder(id, durable.Exclusive|durable.NoWait)
		if !errors.Is(err, durable.ErrLocked) {
			return lock, err
		}
		if d.MonitorAlive(id) {
			return nil, ErrStarted
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ClaimOrphan is for a command that found container id's monitor gone
// (ReadStatus's MonitorGone), to finish what the monitor left: its
// teardown, and with --rm its removal. It locks the container's run
// folder, waiting while another command that found it too holds it, and
// reads the status as the monitor left it. The monitor's own lock is left
// alone: a command that looks meanwhile must not take the container for
// running. When the status still says running, no one has finished the
// container: the lock is returned held, and the caller finishes it and
// records that before it lets go. Otherwise (another command finished
// it, or the monitor was ending, not killed, when ReadStatus looked) the
// lock is nil and the status is what that left; an error that wraps
// ErrNoSuchContainer once it was removed.
func (d Dirs) ClaimOrphan(id string) (*durable.Lock, Status, error) {
	var s Status
	lock, err := d.lockUnlessStarted(id)
	if errors.Is(err, ErrStarted) { // it runs again: as it is now
		err = ReadJSON(d.statusFile(id), &s)
		return nil, s, err
	}
	if err == nil && lock == nil {
		err = os.ErrNotExist
	}
	if err == nil {
		err = ReadJSON(d.statusFile(id), &s)
	}
	if errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("%w: %s", ErrNoSuchContainer, id)
	}
	if err != nil || s.Status != Running || d.MonitorAlive(id) {
		lock.Unlock()
		return nil, s, err
	}
	return lock, s, nil
}

// RemoveContainer removes a container's folders.
func (d Dirs) RemoveContainer(id string) error {
	if !isID(id) { // "" would name the folder of every container
		return fmt.Errorf("remove container %q: not a container's ID", id)
	}
	for _, dir := range []string{d.Runtime(id), d.Container(id)} {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
	}
	return nil
}

// RemoveCutShort removes container id's folder when a start was cut
// short between its two folders (NewContainer makes the one in LIB,
// then the one in RUN): with no run folder, no command can hold the
// container (lockRunFolder), and each took it for gone while its folder
// stayed, listed by IDs. Under the lock of the set of containers, which
// a start holds while it makes both, a folder without the other is such
// a start's; a container with both is left alone.
func (d Dirs) RemoveCutShort(id string) error {
	lock, err := d.Lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if _, err := os.Stat(d.Runtime(id)); !errors.Is(err, os.ErrNotExist) {
		return nil // there (not cut short), or not to be looked at
	}
	return d.RemoveContainer(id)
}

// Lock takes the lock that every change to the set of containers holds:
// a new name, a removal.
func (d Dirs) Lock() (*durable.Lock, error) {
	return durable.LockFile(filepath.Join(d.Run, "lock"), durable.Exclusive)
}
