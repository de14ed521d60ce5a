package testkit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookLine is what each hook of the Hooks test writes: its kind, the
// hostname it sees, and the state it read on its stdin.
type hookLine struct {
	Kind, Hostname string
	State          ociState
}

// hook is a config.json hook that appends a hookLine to log (a path as
// the hook sees it), run by sh at shPath.
func hook(shPath, kind, log string) map[string]any {
	script := `{ echo "` + kind + ` $(hostname)"; cat; echo; } >>` + log
	return map[string]any{"path": shPath, "args": []string{"sh", "-c", script}, "env": []string{"PATH=/bin:/usr/bin"}, "timeout": 10}
}

// readHookLines reads the hooks' log.
func readHookLines(t *testing.T, log string) []hookLine {
	t.Helper()
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	var lines []hookLine
	text := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i := 0; i+1 < len(text); i += 2 {
		kind, host, _ := strings.Cut(text[i], " ")
		var st ociState
		require.NoError(t, json.Unmarshal([]byte(text[i+1]), &st), "the state on the %s hook's stdin", kind)
		lines = append(lines, hookLine{kind, host, st})
	}
	return lines
}

// hooks: every hook of the runtime spec runs once, in the lifecycle's
// order, each in its place: prestart, createRuntime and poststart in the
// runtime's namespaces (the host's hostname, init's host pid),
// createContainer in the container's before pivot_root and
// startContainer in its root after start (its hostname, pid 1), poststop
// once delete has removed the container. Each read the state, with the
// status of its moment, on its stdin.
func (s *ociSuite) hooks(t *testing.T) {
	bundle, _ := s.bundle(t, "h1", func(c map[string]any) {
		hostSh, hostLog := "BUNDLE/rootfs/bin/sh", "BUNDLE/rootfs/hooks.log"
		c["hooks"] = map[string]any{
			"prestart":        []any{hook(hostSh, "prestart", hostLog)},
			"createRuntime":   []any{hook(hostSh, "createRuntime", hostLog)},
			"createContainer": []any{hook(hostSh, "createContainer", hostLog)},
			"startContainer":  []any{hook("/bin/sh", "startContainer", "/hooks.log")},
			"poststart":       []any{hook(hostSh, "poststart", hostLog)},
			"poststop":        []any{hook(hostSh, "poststop", hostLog)},
		}
	}, "sleep", "1000")
	bundle = s.rewriteBundle(t, bundle)
	log := filepath.Join(bundle, "rootfs/hooks.log")
	host, err := os.Hostname()
	require.NoError(t, err)

	r := s.runc(t, "create", "--bundle", bundle, "h1")
	require.Equal(t, 0, r.Code, "create: %s", r)
	t.Cleanup(func() { s.runc(t, "delete", "--force", "h1") })
	pid := s.state(t, "h1").Pid
	require.Equal(t, 0, s.runc(t, "start", "h1").Code)
	require.Equal(t, 0, s.runc(t, "kill", "h1", "KILL").Code)
	require.True(t, eventually(10*time.Second, func() bool { return s.state(t, "h1").Status == "stopped" }))
	r = s.runc(t, "delete", "h1")
	require.Equal(t, 0, r.Code, "delete: %s", r)

	st := func(status string, pid int) ociState {
		return ociState{ID: "h1", Status: status, Bundle: bundle, Pid: pid}
	}
	assert.Equal(t, []hookLine{
		{"prestart", host, st("creating", pid)},
		{"createRuntime", host, st("creating", pid)},
		{"createContainer", "boxcraft", st("creating", 1)},
		{"startContainer", "boxcraft", st("created", 1)},
		{"poststart", host, st("running", pid)},
		{"poststop", host, st("stopped", 0)},
	}, readHookLines(t, log))
}

// rewriteBundle writes the bundle's config again once its folder is
// known: the hooks name paths inside it.
func (s *ociSuite) rewriteBundle(t *testing.T, bundle string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bundle, "config.json"), []byte(strings.ReplaceAll(string(data), "BUNDLE", bundle)), 0o644))
	return bundle
}

// hookFailure: a createRuntime hook that runs past its timeout is
// killed, create fails in one line naming it (exit 1), nothing is left,
// and the poststop hooks still run, as the spec's lifecycle says.
func (s *ociSuite) hookFailure(t *testing.T) {
	bundle, cgroups := s.bundle(t, "h2", func(c map[string]any) {
		sh := "BUNDLE/rootfs/bin/sh"
		slow := hook(sh, "createRuntime", "/dev/null")
		slow["args"], slow["timeout"] = []string{"sh", "-c", "exec sleep 30"}, 1
		c["hooks"] = map[string]any{"createRuntime": []any{slow}, "poststop": []any{hook(sh, "poststop", "BUNDLE/poststop.log")}}
	}, "true")
	bundle = s.rewriteBundle(t, bundle)
	begin := time.Now()
	r := s.runc(t, "create", "--bundle", bundle, "h2")
	assert.Equal(t, 1, r.Code)
	assert.Less(t, time.Since(begin), 20*time.Second, "the hook was killed at its timeout")
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
	assert.Contains(t, r.Stderr, "createRuntime hook #0")
	assert.Contains(t, r.Stderr, "timeout")
	assert.Equal(t, "", s.runc(t, "list", "-q").Stdout, "no container is left")
	for _, dir := range cgroups {
		assert.NoDirExists(t, dir, "no cgroup is left")
	}
	lines := readHookLines(t, filepath.Join(bundle, "poststop.log"))
	require.Len(t, lines, 1)
	assert.Equal(t, "stopped", lines[0].State.Status)
}
