package testkit

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// psNames runs `boxcraft ps args… --format {{.Names}}` and returns the
// names it printed, newest first, between spaces.
func psNames(t *testing.T, args ...string) string {
	t.Helper()
	r := Run(t, append(append([]string{"ps"}, args...), "--format", "{{.Names}}")...)
	require.Equal(t, 0, r.Code, "ps %q:\n%s", args, r)
	assert.Empty(t, r.Stderr, "ps %q prints nothing on stderr", args)
	return strings.Join(strings.Fields(r.Stdout), " ")
}

// psFilters checks ps -f as Docker's: each key, one key's values taken
// together as any of them (but label's, all of them), different keys as
// all of them; which keys show the ended containers without -a; -n and
// -l; and the refusals, one line each.
func (s *commandsSuite) psFilters(t *testing.T) {
	s.enter(t)
	// Made in this order, so listed in the other: ps-db ps-web-1 ps-cfg ps-web-2.
	removeWhenDone(t, "ps-web-2")
	r := Run(t, "run", "--name", "ps-web-2", "--network", "none", "-l", "app=web", "busybox", "sh", "-c", "exit 3")
	require.Equal(t, 3, r.Code, "%s", r)
	web2 := inspectOne(t, "ps-web-2").ID
	removeWhenDone(t, "ps-cfg")
	r = Run(t, "run", "--name", "ps-cfg", "--network", "none", "-l", "app=cfg", "boxcraft/config:v1")
	require.Equal(t, 0, r.Code, "%s", r)
	s.detach(t, "--name", "ps-web-1", "-l", "app=web", "--label", "tier=front", "busybox", "sleep", "1000")
	dir := t.TempDir()
	s.detach(t, "--name", "ps-db", "--network", "none", "-v", dir+":/data", "busybox", "sleep", "1000")

	for _, c := range []struct {
		args      []string
		want, why string
	}{
		{nil, "ps-db ps-web-1", "without -a, the running ones"},
		{[]string{"-f", "status=exited"}, "ps-cfg ps-web-2", "a status filter shows the ended ones without -a, as Docker's"},
		{[]string{"-f", "status=exited", "-f", "status=running"}, "ps-db ps-web-1 ps-cfg ps-web-2", "one key given twice: either value"},
		{[]string{"-f", "status=created"}, "", "Docker's other words are taken, and match no container here"},
		{[]string{"-f", "status=paused"}, "", "Docker's other words are taken, and match no container here"},
		{[]string{"-f", "name=web"}, "ps-web-1", "name: a part of it; the running ones without -a"},
		{[]string{"-a", "-f", "name=web"}, "ps-web-1 ps-web-2", "name: a part of it"},
		{[]string{"-a", "-f", "name=^/ps-web-2$"}, "ps-web-2", "name: a regular expression, Docker's leading slash and all"},
		{[]string{"-a", "-f", "name=^ps-db$", "-f", "name=2$"}, "ps-db ps-web-2", "name given twice: either"},
		{[]string{"-a", "-f", "id=" + web2[:12]}, "ps-web-2", "id: the start of the ID"},
		{[]string{"-a", "-f", "id=" + web2}, "ps-web-2", "id: the whole ID"},
		{[]string{"-f", "id=" + web2[:12]}, "", "id does not show an ended container without -a"},
		{[]string{"-a", "-f", "label=app"}, "ps-web-1 ps-cfg ps-web-2", "label=KEY: the containers that have it, from run -l or the image"},
		{[]string{"-a", "-f", "label=app=web"}, "ps-web-1 ps-web-2", "label=KEY=VALUE"},
		{[]string{"-a", "-f", "label=app=web", "-f", "label=tier=front"}, "ps-web-1", "labels: all of them, as Docker's"},
		{[]string{"-a", "-f", "label=org.example.from=image"}, "ps-cfg", "the image's labels are the container's, as Docker's"},
		{[]string{"-a", "-f", "label=app=image"}, "", "run -l's value wins over the image's"},
		{[]string{"-a", "-f", "exited=3"}, "ps-web-2", "exited: the exit status"},
		{[]string{"-a", "-f", "exited=0", "-f", "exited=3"}, "ps-cfg ps-web-2", "exited given twice: either"},
		{[]string{"-f", "exited=3"}, "", "exited does not show an ended container without -a, as Docker's"},
		{[]string{"-a", "-f", "ancestor=busybox"}, "ps-db ps-web-1 ps-cfg ps-web-2", "ancestor: the image, and those made on it (boxcraft/config:v1's first layer is busybox's)"},
		{[]string{"-a", "-f", "ancestor=boxcraft/config:v1"}, "ps-cfg", "ancestor: by name"},
		{[]string{"-a", "-f", "ancestor=" + ShortID(s.busybox.ID)}, "ps-db ps-web-1 ps-cfg ps-web-2", "ancestor: by ID"},
		{[]string{"-a", "-f", "ancestor=nosuch"}, "", "an image there is not: no container, as Docker's"},
		{[]string{"-a", "-f", "label=app=web", "-f", "status=running"}, "ps-web-1", "different keys: all of them"},
		{[]string{"-a", "-f", "before=ps-web-1"}, "ps-cfg ps-web-2", "before: made before it"},
		{[]string{"-a", "-f", "since=ps-cfg"}, "ps-db ps-web-1", "since: made after it"},
		{[]string{"-a", "-f", "network=none"}, "ps-db ps-cfg ps-web-2", "network"},
		{[]string{"-a", "-f", "network=bridge"}, "ps-web-1", "network"},
		{[]string{"-a", "-f", "volume=/data"}, "ps-db", "volume: where a mount is in the container"},
		{[]string{"-a", "-f", "volume=" + dir}, "ps-db", "volume: what a mount binds"},
		{[]string{"-n", "3"}, "ps-db ps-web-1 ps-cfg", "-n N: the N made last, whatever their state"},
		{[]string{"-l"}, "ps-db", "-l: the one made last"},
		{[]string{"-l", "-f", "status=exited"}, "ps-cfg", "-l: of those that match"},
		{[]string{"-n", "1", "-f", "exited=3"}, "ps-web-2", "-n: of those that match"},
		{[]string{"-a", "-f", " NAME = ps-db "}, "ps-db", "the key in any case, spaces dropped, as docker's command line reads it"},
	} {
		assert.Equal(t, c.want, psNames(t, c.args...), "ps %q: %s", c.args, c.why)
	}
	r = Run(t, "inspect", "-f", "{{json .Config.Labels}}", "ps-cfg")
	assert.Equal(t, `{"app":"cfg","org.example.from":"image"}`+"\n", r.Stdout, "inspect's Config.Labels: the image's, and run -l's over them\n%s", r)

	for _, c := range []struct {
		args  []string
		names []string
	}{
		{[]string{"-f", "foo=bar"}, []string{"invalid filter 'foo'"}},
		{[]string{"-f", "status=stopped"}, []string{"status=stopped"}},
		{[]string{"-f", "status"}, []string{"name=value"}},
		{[]string{"-f", "exited=x"}, []string{"exited"}},
		{[]string{"-f", "before=nosuch"}, []string{"nosuch"}},
		{[]string{"-f", "health=healthy"}, []string{"health"}},
		{[]string{"ps-db"}, []string{"arguments"}},
	} {
		assertFailedOneLine(t, Run(t, append([]string{"ps"}, c.args...)...), 125, c.names...)
	}
	assertFailedOneLine(t, Run(t, "run", "--rm", "-l", "=x", "busybox", "true"), 125, "label")
}

// psFormat checks ps --format as Docker's: its fields, cut short unless
// --no-trunc; a table of a template's columns; JSON; -s and .Size; and
// a template ps cannot run, refused before anything is printed.
func (s *commandsSuite) psFormat(t *testing.T) {
	s.enter(t)
	dir := t.TempDir()
	before := time.Now().Truncate(time.Second)
	removeWhenDone(t, "psf-out")
	r := Run(t, "run", "--name", "psf-out", "--network", "none", "-l", "app=fmt", "-l", "com.example.tier=back", "-v", dir+":/data",
		"busybox", "sh", "-c", "head -c 5000 /dev/zero > /big")
	require.Equal(t, 0, r.Code, "%s", r)
	out := inspectOne(t, "psf-out").ID
	running := s.detach(t, "--name", "psf-run", "--network", "none", "busybox", "sleep", "1000")

	fields := `{{.ID}}|{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}|{{.Label "app"}}|{{.Labels}}|{{.Networks}}|{{.Mounts}}|{{.LocalVolumes}}`
	r = Run(t, "ps", "-a", "-f", "name=^psf-out$", "--format", fields)
	cut := string([]rune(dir)[:14]) + "…"
	assert.Equal(t, ShortID(out)+`|psf-out|busybox|"sh -c head -c 5000 …"|exited|fmt|app=fmt,com.example.tier=back|none|`+cut+"|0\n", r.Stdout,
		"Docker's fields; the command and a mount cut at 20 and 15 characters\n%s", r)
	r = Run(t, "ps", "-a", "-f", "name=^psf-out$", "--no-trunc", "--format", "{{.ID}}|{{.Command}}|{{.Mounts}}")
	assert.Equal(t, out+`|"sh -c head -c 5000 /dev/zero > /big"|`+dir+"\n", r.Stdout, "--no-trunc: the whole ID and command\n%s", r)
	r = Run(t, "ps", "-a", "-f", "name=^psf-out$", "--format", "{{.CreatedAt}}|{{.RunningFor}}|{{.Status}}|{{truncate .Names 3}}|{{pad .State 1 1}}|")
	parts := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "|")
	if assert.Len(t, parts, 6, "%s", r) {
		created, err := time.Parse("2006-01-02 15:04:05 -0700 MST", parts[0])
		if assert.NoError(t, err, ".CreatedAt is Go's time, to the second") {
			assert.WithinRange(t, created, before, time.Now(), ".CreatedAt is when it was made")
		}
		assert.Regexp(t, ` ago$`, parts[1], ".RunningFor")
		assert.Regexp(t, `^Exited \(0\) .+ ago$`, parts[2], ".Status")
		assert.Equal(t, []string{"psf", " exited "}, parts[3:5], "Docker's truncate and pad")
	}

	r = Run(t, "ps", "-a", "-f", "name=^psf-", "--format", `table {{.Names}}\t{{.State}}\t{{.Label "app"}}`)
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, []psRow{{"NAMES": "psf-run", "STATE": "running", "APP": ""}, {"NAMES": "psf-out", "STATE": "exited", "APP": "fmt"}},
		table(t, r.Stdout, []string{"NAMES", "STATE", "APP"}), "table TEMPLATE: Docker's headers, the columns aligned, \\t a tab\n%s", r)
	r = Run(t, "ps", "-f", "name=nosuch", "--format", `table {{.ID}}\t{{upper .Names}}`)
	assert.Equal(t, "CONTAINER ID   NAMES\n", r.Stdout, "no container: the header alone, its names as they are\n%s", r)

	r = Run(t, "ps", "-a", "-f", "name=^psf-", "--format", "json")
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	require.Len(t, lines, 2, "--format json: a line each\n%s", r)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &got), "a JSON object\n%s", r)
	for _, key := range []string{"Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status"} {
		assert.Contains(t, got, key, "--format json has Docker's fields")
	}
	assert.Equal(t, ShortID(out), got["ID"])
	assert.Equal(t, "app=fmt,com.example.tier=back", got["Labels"])
	r = Run(t, "ps", "-f", "name=^psf-", "--format", "{{json .}}")
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &got), "{{json .}} is the same object\n%s", r)
	assert.Equal(t, "psf-run", got["Names"])

	size := regexp.MustCompile(`^5kB \(virtual [0-9.]+[kMG]?B\)$`)
	r = Run(t, "ps", "-a", "-s", "-f", "name=^psf-out$")
	rows := table(t, r.Stdout, append(append([]string{}, psColumns...), "SIZE"))
	if assert.Len(t, rows, 1, "%s", r) {
		assert.Regexp(t, size, rows[0]["SIZE"], "-s: the 5000 bytes the container wrote, and with its image's")
	}
	r = Run(t, "ps", "-a", "-f", "name=^psf-", "--format", "{{.Names}} {{.Size}}")
	lines = strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if assert.Len(t, lines, 2, "%s", r) {
		assert.Regexp(t, `^psf-run 0B \(virtual `, lines[0], ".Size without -s: a container that wrote nothing, the /etc files boxcraft wrote for it left out, as Docker's")
		assert.Regexp(t, size, strings.TrimPrefix(lines[1], "psf-out "), ".Size without -s")
	}

	assertFailedOneLine(t, Run(t, "ps", "-f", "name=nosuch", "--format", "{{.Nmes}}"), 125, "Nmes")
	assertFailedOneLine(t, Run(t, "ps", "--format", "{{.Names"), 125, "format")
	r = Run(t, "ps", "-q", "-f", "name=^psf-", "--format", "{{.Names}}")
	assert.Equal(t, ShortID(running)+"\n", r.Stdout, "-q wins over --format, as Docker's\n%s", r)
	assert.Equal(t, "WARNING: Ignoring custom format, because both --format and --quiet are set.\n", r.Stderr, "and says so, as Docker's")
}
