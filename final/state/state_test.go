package state

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testDirs(t *testing.T) Dirs {
	dir := t.TempDir()
	d := Dirs{Run: filepath.Join(dir, "run"), Lib: filepath.Join(dir, "lib")}
	require.NoError(t, d.Make())
	return d
}

func newContainer(t *testing.T, d Dirs, id, name string) {
	t.Helper()
	require.NoError(t, d.NewContainer(Record{Spec: spec.Container{ID: id, Name: name}}))
}

func hexID(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func TestFindByNameIDAndPrefix(t *testing.T) {
	d := testDirs(t)
	a, b := "ab"+hexID('1')[2:], "ac"+hexID('2')[2:]
	newContainer(t, d, a, "web")
	newContainer(t, d, b, "db")
	for ref, want := range map[string]string{"web": a, "db": b, a: a, "ab": a, "ac2": b, "/web": a} {
		got, err := d.Find(ref)
		require.NoError(t, err, ref)
		assert.Equal(t, want, got, ref)
	}
	_, err := d.Find("a")
	assert.ErrorContains(t, err, "multiple containers")
	_, err = d.Find("nosuch")
	assert.ErrorIs(t, err, ErrNoSuchContainer)
	id, taken := d.NameTaken("db")
	assert.True(t, taken)
	assert.Equal(t, b, id)
}

func TestStatusWithoutItsMonitorIsExited(t *testing.T) {
	d := testDirs(t)
	id := hexID('3')
	newContainer(t, d, id, "x")
	s, err := d.ReadStatus(id)
	require.NoError(t, err)
	assert.Equal(t, Created, s.Status)

	require.NoError(t, d.WriteStatus(id, Status{Status: Running, Pid: 1}))
	lock, err := d.HoldMonitorLock(id)
	require.NoError(t, err)
	assert.True(t, d.MonitorAlive(id))
	s, _ = d.ReadStatus(id)
	assert.Equal(t, Running, s.Status)

	lock.Unlock() // the monitor is gone, killed with its container
	assert.False(t, d.MonitorAlive(id))
	s, _ = d.ReadStatus(id)
	assert.Equal(t, Exited, s.Status)
	assert.Equal(t, 137, s.ExitCode)
}

// ClaimOrphan: of two commands that find a container's monitor killed,
// one finishes it while the other waits, and then finds it finished;
// once the container is removed, it is no such container. Neither
// MonitorAlive nor ClaimOrphan makes the lock's file.
func TestClaimOrphanOnce(t *testing.T) {
	d := testDirs(t)
	id := hexID('5')
	newContainer(t, d, id, "x")
	assert.False(t, d.MonitorAlive(id))
	_, err := os.Stat(d.monitorLock(id))
	assert.True(t, os.IsNotExist(err), "MonitorAlive makes no lock file")

	monitor, err := d.HoldMonitorLock(id)
	require.NoError(t, err)
	require.NoError(t, d.WriteStatus(id, Status{Status: Running, Pid: 1}))
	monitor.Unlock() // killed

	first, s, err := d.ClaimOrphan(id)
	require.NoError(t, err)
	require.NotNil(t, first, "the first to claim it finishes it")
	assert.Equal(t, Running, s.Status)
	assert.False(t, d.MonitorAlive(id), "a claim does not make the monitor look alive")

	claimed := make(chan Status)
	go func() {
		lock, s, err := d.ClaimOrphan(id)
		assert.NoError(t, err)
		assert.Nil(t, lock, "the second finds it finished")
		claimed <- s
	}()
	select {
	case <-claimed:
		t.Fatal("the second claim did not wait for the first")
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, d.WriteStatus(id, Status{Status: Exited, ExitCode: 137, Error: MonitorGone}))
	first.Unlock()
	assert.Equal(t, Exited, (<-claimed).Status)

	require.NoError(t, d.RemoveContainer(id))
	lock, _, err := d.ClaimOrphan(id)
	assert.Nil(t, lock)
	assert.ErrorIs(t, err, ErrNoSuchContainer)
	_, err = os.Stat(d.Runtime(id))
	assert.True(t, os.IsNotExist(err), "a claim of a removed container makes nothing")
}

// A --rm container's removal waits until each wait that watched its end
// has let go; once the folders are gone, there is nothing to hold.
func TestRemovalWaitsForTheWatchers(t *testing.T) {
	d := testDirs(t)
	id := hexID('6')
	newContainer(t, d, id, "x")
	watch, err := d.WatchEnd(id)
	require.NoError(t, err)
	held := make(chan struct{})
	go func() {
		hold, err := d.HoldForRemoval(id)
		assert.NoError(t, err)
		assert.NoError(t, d.RemoveContainer(id))
		hold.Unlock()
		close(held)
	}()
	select {
	case <-held:
		t.Fatal("the removal did not wait for the watcher")
	case <-time.After(100 * time.Millisecond):
	}
	s, err := d.ReadStatus(id)
	require.NoError(t, err)
	assert.Equal(t, Created, s.Status, "the watcher reads the status")
	watch.Unlock()
	<-held
	watch, err = d.WatchEnd(id)
	assert.NoError(t, err)
	assert.Nil(t, watch, "a removed container's end: nothing to watch")
}

func TestWriteJSONIsAtomicUnderConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			assert.NoError(t, WriteJSON(path, Status{Status: Running, Pid: i}))
		}(i)
	}
	wg.Wait()
	var s Status
	require.NoError(t, ReadJSON(path, &s))
	assert.Equal(t, Running, s.Status)
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".state.json.*"))
	assert.Empty(t, left, "temporary files left")
}

func TestRemoveContainer(t *testing.T) {
	d := testDirs(t)
	id := hexID('4')
	newContainer(t, d, id, "x")
	require.NoError(t, d.RemoveContainer(id))
	for _, dir := range []string{d.Container(id), d.Runtime(id)} {
		_, err := os.Stat(dir)
		assert.True(t, os.IsNotExist(err), dir)
	}
	ids, err := d.IDs()
	require.NoError(t, err)
	assert.Empty(t, ids)
}

// TestRemoveCutShort: a start killed between its two folders left the
// one in LIB alone, which IDs lists and no hold can take (there is no
// run folder to lock): RemoveCutShort removes it, and leaves a container
// with both folders alone.
func TestRemoveCutShort(t *testing.T) {
	d := testDirs(t)
	cut, whole := hexID('a'), hexID('b')
	require.NoError(t, os.Mkdir(d.Container(cut), 0o711))
	newContainer(t, d, whole, "whole")
	hold, err := d.HoldEnded(cut)
	require.NoError(t, err)
	require.Nil(t, hold, "no run folder, nothing to hold")
	require.NoError(t, d.RemoveCutShort(cut))
	require.NoError(t, d.RemoveCutShort(whole))
	ids, err := d.IDs()
	require.NoError(t, err)
	assert.Equal(t, []string{whole}, ids)
	assert.DirExists(t, d.Runtime(whole))
}
