package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// runByName runs the probe in busybox named every way Docker takes an
// image: short name, name:tag, full name, ID prefixes and the full ID.
// The probe is pid 1 in namespaces of its own, named by the container's
// ID.
func (s *commandsSuite) runByName(t *testing.T) {
	s.enter(t)
	hex := strings.TrimPrefix(s.busybox.ID, "sha256:")
	host := HostNamespaces(t)
	for _, ref := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest", hex[:12], hex[:8], s.busybox.ID} {
		t.Run(strings.ReplaceAll(ref, "/", "_"), func(t *testing.T) {
			ShareSandbox(t, s.top)
			f := Probe(t, Run(t, "run", "--rm", ref, "/probe"))
			assert.Equal(t, 1, f.Pid, "CMD is pid 1")
			assert.Regexp(t, `^[0-9a-f]{12}$`, f.Hostname, "the hostname is the first 12 hex digits of the container's ID")
			for _, kind := range []string{"uts", "pid", "mnt", "ipc", "net", "cgroup"} {
				assert.NotEqual(t, host[kind], f.Namespaces[kind], "a %s namespace of its own, as Docker's", kind)
			}
			assert.Equal(t, host["user"], f.Namespaces["user"], "no user namespace by default, as Docker")
			assert.Equal(t, "/", f.Cwd, "busybox has no WorkingDir: /")
		})
	}
}

// envOf reads `env`'s output into a map.
func envOf(out string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if key, value, ok := strings.Cut(line, "="); ok {
			env[key] = value
		}
	}
	return env
}

// imageConfig checks that run honours the image's config: Entrypoint
// with Cmd as its arguments (replaced by run's), Env (with HOSTNAME and
// HOME added), WorkingDir; --entrypoint drops the image's Cmd, as
// Docker's does; inspect shows the config.
func (s *commandsSuite) imageConfig(t *testing.T) {
	s.enter(t)
	const image = "boxcraft/config:v1"
	r := Run(t, "run", "--rm", image)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "entry default cmd\n", r.Stdout, "the image's Entrypoint runs with its Cmd as arguments")
	assert.Empty(t, r.Stderr)

	r = Run(t, "run", "--rm", image, "one", "two")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "entry one two\n", r.Stdout, "run's arguments replace the image's Cmd, after its Entrypoint")

	f := Probe(t, Run(t, "run", "--rm", "--entrypoint", "/probe", image))
	assert.Equal(t, "/srv/work", f.Cwd, "CMD starts in the image's WorkingDir")
	assert.Empty(t, f.Experiments, "--entrypoint drops the image's Cmd: the probe got no argument")

	r = Run(t, "run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "env; echo hostname=$(hostname)")
	require.Equal(t, 0, r.Code, r)
	env := envOf(r.Stdout)
	assert.Equal(t, "from-image", env["IMAGE_VAR"], "the image's Env:\n%s", r.Stdout)
	assert.Equal(t, "/bin:/usr/bin:/opt/bin", env["PATH"], "the image's PATH, not Docker's default:\n%s", r.Stdout)
	assert.Equal(t, "/root", env["HOME"], "HOME=/root, as Docker sets it:\n%s", r.Stdout)
	assert.Regexp(t, `^[0-9a-f]{12}$`, env["HOSTNAME"], "HOSTNAME, as Docker sets it:\n%s", r.Stdout)
	assert.Equal(t, env["HOSTNAME"], envOf(r.Stdout)["hostname"], "HOSTNAME is the container's hostname")

	const name = "config-kept"
	r = Run(t, "run", "--name", name, image)
	require.Equal(t, 0, r.Code, r)
	t.Cleanup(func() { Run(t, "rm", "-f", name) })
	c := inspectOne(t, name)
	assert.Equal(t, configImage.Entrypoint, c.Config.Entrypoint, "inspect's Config.Entrypoint")
	assert.Equal(t, configImage.Cmd, c.Config.Cmd, "inspect's Config.Cmd")
	assert.Equal(t, configImage.WorkingDir, c.Config.WorkingDir, "inspect's Config.WorkingDir")
	assert.Contains(t, c.Config.Env, "IMAGE_VAR=from-image", "inspect's Config.Env")
	assert.Equal(t, image, c.Config.Image, "inspect's Config.Image is the image as run was given it")
	assert.Equal(t, s.config.ID, c.Image, "inspect's Image is the image's ID")
	assert.Equal(t, "/"+name, c.Name)
	assert.Equal(t, ShortID(c.ID), c.Config.Hostname)
}

// runFlags checks -e (and -e KEY, taken from boxcraft's environment),
// --env-file, -w, --hostname, --read-only, --rm and --name.
func (s *commandsSuite) runFlags(t *testing.T) {
	s.enter(t)
	t.Run("Env", func(t *testing.T) {
		ShareSandbox(t, s.top)
		envFile := filepath.Join(t.TempDir(), "env")
		require.NoError(t, os.WriteFile(envFile, []byte("# a comment\nFROM_FILE=yes\n\nOVERRIDE_FILE=file\n"), 0o644))
		cmd := Command(t, "run", "--rm", "-e", "OVERRIDE=flag", "-e", "NEW=1", "-e", "FROM_HOST", "--env-file", envFile,
			"--entrypoint", "env", "boxcraft/config:v1")
		cmd.Env = append(cmd.Env, "FROM_HOST=host-value")
		r := RunCmd(t, cmd)
		require.Equal(t, 0, r.Code, r)
		env := envOf(r.Stdout)
		assert.Equal(t, "flag", env["OVERRIDE"], "-e overrides the image's Env:\n%s", r.Stdout)
		assert.Equal(t, "1", env["NEW"], "-e adds:\n%s", r.Stdout)
		assert.Equal(t, "host-value", env["FROM_HOST"], "-e KEY takes boxcraft's own value:\n%s", r.Stdout)
		assert.Equal(t, "yes", env["FROM_FILE"], "--env-file adds its lines:\n%s", r.Stdout)
		assert.Equal(t, "file", env["OVERRIDE_FILE"], "--env-file:\n%s", r.Stdout)
		assert.Equal(t, "from-image", env["IMAGE_VAR"], "the image's Env stays:\n%s", r.Stdout)
		assert.NotContains(t, env, "# a comment")
	})
	t.Run("MemoryZeroIsNoLimit", func(t *testing.T) {
		ShareSandbox(t, s.top)
		id := s.detach(t, "-m", "0", "busybox", "sleep", "1000")
		limit := ""
		for _, dir := range containerCgroupDirs(t, id) {
			for _, file := range []string{"memory.max", "memory.limit_in_bytes"} {
				if data, err := os.ReadFile(filepath.Join(dir, file)); err == nil {
					limit = strings.TrimSpace(string(data))
				}
			}
		}
		assert.True(t, limit == "max" || len(limit) >= 16, "-m 0 is no limit, as docker run -m 0: the cgroup's limit is %q", limit)
		assertFailedOneLine(t, Run(t, "run", "--rm", "-m", "1m", "busybox", "true"), 125, "1m")
	})
	t.Run("WorkdirAndHostname", func(t *testing.T) {
		ShareSandbox(t, s.top)
		f := Probe(t, Run(t, "run", "--rm", "-w", "/tmp", "--hostname", "box-host", "busybox", "/probe"))
		assert.Equal(t, "/tmp", f.Cwd, "-w")
		assert.Equal(t, "box-host", f.Hostname, "--hostname")
		assert.NotEqual(t, "box-host", hostname(t), "the host's hostname is its own")
	})
	t.Run("ReadOnly", func(t *testing.T) {
		ShareSandbox(t, s.top)
		f := Probe(t, Run(t, "run", "--rm", "--read-only", "busybox", "/probe", "create=/made"))
		if made := f.Experiments.Creates["/made"]; assert.NotNil(t, made) {
			assert.False(t, made.OK, "--read-only: the root is read-only")
			assert.Contains(t, made.Error, "read-only file system", "EROFS")
		}
		f = Probe(t, Run(t, "run", "--rm", "busybox", "/probe", "create=/made"))
		if made := f.Experiments.Creates["/made"]; assert.NotNil(t, made) {
			assert.True(t, made.OK, "control: without --read-only, the root is writable: %s", made.Error)
		}
	})
	t.Run("RmAndName", func(t *testing.T) {
		ShareSandbox(t, s.top)
		added := newContainerFiles(t, func() {
			r := Run(t, "run", "--rm", "--name", "gone", "busybox", "sh", "-c", "echo bye")
			require.Equal(t, 0, r.Code, r)
			assert.Equal(t, "bye\n", r.Stdout)
		})
		assert.Empty(t, added, "--rm: nothing is left of the container below the state folder")
		assertFailedOneLine(t, Run(t, "inspect", "gone"), 125, "gone")
		assert.Nil(t, psRowByName(ps(t, "-a"), "gone"), "--rm: ps -a does not list it")

		id := s.detach(t, "--name", "taken", "busybox", "sleep", "1000")
		row := psRowOf(ps(t), id)
		require.NotNil(t, row, "ps lists the running container")
		assert.Equal(t, "taken", row["NAMES"], "ps shows its name")
		assert.Equal(t, id, inspectOne(t, "taken").ID, "inspect finds it by name")
		assertLeavesNothing(t, "a second container of the same name", func() {
			assertFailedOneLine(t, Run(t, "run", "-d", "--name", "taken", "busybox", "true"), 125, "taken")
		})
	})
}

// psRowByName finds ps's row of the container named name, or nil.
func psRowByName(rows []psRow, name string) psRow {
	for _, row := range rows {
		if row["NAMES"] == name {
			return row
		}
	}
	return nil
}

// hostname is the host's.
func hostname(t *testing.T) string {
	t.Helper()
	name, err := os.Hostname()
	require.NoError(t, err)
	return name
}

// exitStatuses checks Docker's exit statuses: 125 for boxcraft's own
// failures (a bad flag or limit, an unknown image or container), 126 for
// a CMD that cannot run, 127 for one not found, each in one line that
// leaves nothing behind; otherwise CMD's own, with its stdout and stderr
// as they were; 137 for CMD killed from the host.
func (s *commandsSuite) exitStatuses(t *testing.T) {
	s.enter(t)
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		names []string
	}{
		{"bad flag", []string{"run", "--no-such-flag", "busybox", "true"}, 125, []string{"no-such-flag"}},
		{"bad limit", []string{"run", "-m", "12x", "busybox", "true"}, 125, []string{"12x", "memory"}},
		{"unknown image", []string{"run", "no-such-image:1", "true"}, 125, []string{"no-such-image"}},
		{"unknown command", []string{"frobnicate"}, 125, []string{"frobnicate"}},
		{"CMD is a folder", []string{"run", "--name", "cmd-folder", "busybox", "/etc"}, 126, nil},
		{"CMD is not executable", []string{"run", "--name", "cmd-noexec", "busybox", "/etc/passwd"}, 126, []string{"/etc/passwd", "permission"}},
		{"CMD not found by path", []string{"run", "--name", "cmd-missing", "busybox", "/no/such/cmd"}, 127, []string{"/no/such/cmd"}},
		{"CMD not found in PATH", []string{"run", "--name", "cmd-nopath", "busybox", "no-such-cmd"}, 127, []string{"no-such-cmd"}},
		{"detached CMD not found", []string{"run", "-d", "--name", "cmd-d-missing", "busybox", "/no/such/cmd"}, 127, []string{"/no/such/cmd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ShareSandbox(t, s.top)
			assertLeavesNothing(t, tc.name, func() {
				assertFailedOneLine(t, Run(t, tc.args...), tc.code, tc.names...)
			})
			for _, arg := range tc.args {
				if strings.HasPrefix(arg, "cmd-") {
					assertFailedOneLine(t, Run(t, "inspect", arg), 125, arg) // a container whose CMD could not start is removed
				}
			}
		})
	}
	t.Run("unknown container", func(t *testing.T) {
		ShareSandbox(t, s.top)
		for _, cmd := range []string{"stop", "kill", "rm", "inspect", "wait", "logs"} {
			assertFailedOneLine(t, Run(t, cmd, "no-such-container"), 125, "no-such-container")
		}
	})
	t.Run("CMD's own", func(t *testing.T) {
		ShareSandbox(t, s.top)
		r := Run(t, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 7")
		assert.Equal(t, 7, r.Code, r)
		assert.Equal(t, "out\n", r.Stdout, "CMD's stdout, and nothing of boxcraft's")
		assert.Equal(t, "err\n", r.Stderr, "CMD's stderr, and nothing of boxcraft's")
	})
	t.Run("killed from the host", func(t *testing.T) {
		ShareSandbox(t, s.top)
		const name = "fg-killed"
		running := Start(t, Command(t, "run", "--name", name, "busybox", "sleep", "1000"))
		t.Cleanup(func() { Run(t, "rm", "-f", name) })
		pid := runningPid(t, name, "sleep")
		require.NoError(t, unix.Kill(pid, unix.SIGKILL))
		r := waitBounded(t, running, 30*time.Second)
		assert.Equal(t, 137, r.Code, "killed by SIGKILL: 128+9\n%s", r)
		assert.NotContains(t, r.Stderr, "out of memory")
		c := inspectOne(t, name)
		assert.Equal(t, 137, c.State.ExitCode)
		assert.False(t, c.State.OOMKilled)
		assert.False(t, c.State.Running)
		assertEnded(t, c.ID)
	})
}

// runningPid waits until the container ref runs its CMD (named comm,
// as exec named it) and returns its pid, from inspect's State.Pid.
func runningPid(t *testing.T, ref, comm string) int {
	t.Helper()
	var pid int
	ok := eventually(Timeout, func() bool {
		c, ok := tryInspect(t, ref)
		pid = c.State.Pid
		return ok && c.State.Running && pid > 0 && processName(pid) == comm
	})
	require.True(t, ok, "the container %s runs %s, as inspect's State.Pid shows", ref, comm)
	return pid
}

// waitBounded waits for a command, failing the test after within.
func waitBounded(t *testing.T, running *Running, within time.Duration) Result {
	t.Helper()
	select {
	case <-running.done:
	case <-time.After(within):
		t.Fatalf("the command did not end within %s", within)
	}
	return running.Wait(t)
}

// oomKill runs the probe under -m 8m, allocating 64 MiB: the OOM killer
// ends it, the run exits 137 with one line saying "out of memory", and
// inspect says OOMKilled.
func (s *commandsSuite) oomKill(t *testing.T) {
	s.enter(t)
	const name = "oom"
	r := Run(t, "run", "--name", name, "-m", "8m", "busybox", "/probe", "alloc=64")
	t.Cleanup(func() { Run(t, "rm", "-f", name) })
	assert.Equal(t, 137, r.Code, "killed by the OOM killer's SIGKILL: 128+9\n%s", r)
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line on stderr:\n%s", r)
	assert.Contains(t, r.Stderr, "out of memory", "the line says the OOM killer ended it")
	assert.Empty(t, r.Stdout, "the probe never got to report")
	c := inspectOne(t, name)
	assert.True(t, c.State.OOMKilled, "inspect's State.OOMKilled")
	assert.Equal(t, 137, c.State.ExitCode)
	row := psRowByName(ps(t, "-a"), name)
	if assert.NotNil(t, row, "ps -a lists it") {
		assert.True(t, strings.HasPrefix(row["STATUS"], "Exited (137) "), "ps -a: %q", row["STATUS"])
	}
	require.Equal(t, 0, Run(t, "rm", name).Code)
	assertNoTraces(t, c.ID, "after rm")
}
