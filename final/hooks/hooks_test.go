package hooks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sh is a hook running script with sh, its own argv and environment.
func sh(script string, env ...string) spec.Hook {
	return spec.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: env}
}

// TestRunGivesStateArgsAndEnv: a hook reads the state on its stdin, and
// has exactly its argv and environment.
func TestRunGivesStateArgsAndEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", "/home/of/the/runtime")
	st := State(spec.HookState{ID: "c1", Bundle: "/b", Annotations: map[string]string{"a": "b"}}, specs.StateCreating, 42)
	script := `cat >"$D/state"; echo "$0 $X ${HOME:-none}" >"$D/argv"`
	require.NoError(t, Run("createRuntime", []spec.Hook{sh(script, "D="+dir, "X=y")}, st))
	data, err := os.ReadFile(filepath.Join(dir, "state"))
	require.NoError(t, err)
	var got specs.State
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Equal(t, st, got)
	data, err = os.ReadFile(filepath.Join(dir, "argv"))
	require.NoError(t, err)
	assert.Equal(t, "sh y none\n", string(data), "its argv[0] and environment, none of the runtime's")
}

// TestRunStopsAtFailureAndTimeout: a failing hook's error names its
// kind, index and output, and stops the list; one past its timeout is
// killed then.
func TestRunStopsAtFailureAndTimeout(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	err := Run("prestart", []spec.Hook{sh("true"), sh("echo broken; exit 3"), sh("touch " + marker)}, specs.State{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "prestart hook #1")
	assert.Contains(t, err.Error(), "broken")
	assert.NoFileExists(t, marker, "the hooks after a failure do not run")

	one := 1
	slow := sh("exec sleep 30")
	slow.Timeout = &one
	begin := time.Now()
	err = Run("poststop", []spec.Hook{slow}, specs.State{})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "timeout"), err.Error())
	assert.Less(t, time.Since(begin), 10*time.Second)
}

// TestRunAllGoesOn: RunAll runs every hook and returns each failure.
func TestRunAllGoesOn(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	errs := RunAll("poststart", []spec.Hook{sh("exit 1"), sh("touch " + marker)}, specs.State{})
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "poststart hook #0")
	assert.FileExists(t, marker)
}
