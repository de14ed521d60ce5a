package testkit

// Docker's name-resolution flags (final/cmd/boxcraft/dnsflags.go,
// final/network/dnsflags.go): --add-host adds lines to the container's
// /etc/hosts, --dns, --dns-search and --dns-option make its
// /etc/resolv.conf. Seen from inside the container, on the bridge and
// off it, again at a restart, never in a committed image; and bad ones
// refused before anything is made.

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const localhostLines = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// dnsFlags: on the bridge, --add-host's lines come after localhost's
// and before the container's own, host-gateway is the bridge's address,
// and a name among them resolves (ping looks it up, and 127.0.0.2
// answers on the container's own loopback); --dns and its friends are
// the whole resolv.conf.
func (s *networkSuite) dnsFlags(t *testing.T) {
	s.sub(t)
	r := Run(t, "run", "--rm", "--hostname", "box",
		"--add-host", "db:10.0.0.5", "--add-host", "gw:host-gateway", "--add-host", "v6=::2", "--add-host", "lo2:[127.0.0.2]",
		"--dns", "192.0.2.53", "--dns", "2001:db8::53", "--dns-search", "example.com", "--dns-search", "corp.example",
		"--dns-option", "ndots:2", "--dns-opt", "timeout:1", // --dns-opt: Docker's older name
		"busybox", "sh", "-c", "cat /etc/hosts; echo =====; cat /etc/resolv.conf; echo =====; ping -c1 -W5 lo2 && echo ANSWERED")
	require.Equal(t, 0, r.Code, "%s", r)
	parts := strings.Split(r.Stdout, "=====\n")
	require.Len(t, parts, 3, "%s", r)
	assert.Regexp(t, "^"+regexp.QuoteMeta(localhostLines+"10.0.0.5\tdb\n10.88.0.1\tgw\n::2\tv6\n127.0.0.2\tlo2\n")+
		`10\.88\.\d+\.\d+\tbox \w+\n$`, parts[0], "/etc/hosts: localhost, the --add-host lines in order (host-gateway the bridge's gateway), then the container's own (hostname and its name)")
	assert.Equal(t, "nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch example.com corp.example\noptions ndots:2 timeout:1\n", parts[1],
		"/etc/resolv.conf is made of --dns, --dns-search and --dns-option (or --dns-opt) alone")
	assert.Contains(t, parts[2], "PING lo2 (127.0.0.2)", "the --add-host name resolves inside")
	assert.Contains(t, parts[2], "ANSWERED", "%s", r)
}

// dnsFlagsOffBridge: with --network none, --add-host follows localhost,
// and --dns-search or --dns-option alone replace their line and keep the
// name servers a container gets without them; with the host's network,
// --add-host replaces the host's /etc/hosts, as Docker's does, and
// --dns the host's name servers.
func (s *networkSuite) dnsFlagsOffBridge(t *testing.T) {
	s.sub(t)
	plain := Run(t, "run", "--rm", "--network", "none", "busybox", "cat", "/etc/resolv.conf")
	require.Equal(t, 0, plain.Code, "%s", plain)
	servers := strings.Join(regexp.MustCompile(`(?m)^nameserver .*\n`).FindAllString(plain.Stdout, -1), "")
	require.NotEmpty(t, servers, "a container gets some name server: %s", plain)

	r := Run(t, "run", "--rm", "--network", "none", "--add-host", "db=10.0.0.5", "--add-host", "lo2:127.0.0.2",
		"--dns-search", "example.com", "--dns-option", "ndots:3",
		"busybox", "sh", "-c", "cat /etc/hosts; echo =====; cat /etc/resolv.conf; echo =====; ping -c1 -W5 lo2 && echo ANSWERED")
	require.Equal(t, 0, r.Code, "%s", r)
	parts := strings.Split(r.Stdout, "=====\n")
	require.Len(t, parts, 3, "%s", r)
	assert.Equal(t, localhostLines+"10.0.0.5\tdb\n127.0.0.2\tlo2\n", parts[0], "--network none: localhost, then --add-host")
	assert.Equal(t, servers+"search example.com\noptions ndots:3\n", parts[1],
		"--dns-search and --dns-option alone keep the name servers and replace their lines")
	assert.Contains(t, parts[2], "ANSWERED", "the --add-host name resolves without a network: %s", r)

	resolv, err := os.ReadFile("/etc/resolv.conf")
	require.NoError(t, err)
	r = Run(t, "run", "--rm", "--network", "host", "--add-host", "db:10.0.0.5", "--dns", "192.0.2.53",
		"busybox", "sh", "-c", "cat /etc/hosts; echo =====; cat /etc/resolv.conf")
	require.Equal(t, 0, r.Code, "%s", r)
	parts = strings.Split(r.Stdout, "=====\n")
	require.Len(t, parts, 2, "%s", r)
	assert.Equal(t, localhostLines+"10.0.0.5\tdb\n", parts[0], "--network host with --add-host: localhost and the line, as Docker")
	assert.Contains(t, parts[1], "nameserver 192.0.2.53\n")
	assert.NotRegexp(t, `(?m)^nameserver [^1]`, parts[1], "--dns replaced the host's name servers (%q)", resolv)
}

// dnsFlagsRestartAndCommit: a stopped container started again writes
// its files anew from its record, whatever it did to them; an image
// committed from it carries neither. (Lines are found by address, not
// by the name db, which a hostname of hex digits may hold.)
func (s *networkSuite) dnsFlagsRestartAndCommit(t *testing.T) {
	s.sub(t)
	r := Run(t, "create", "--name", "dns-again", "--add-host", "db:10.0.0.5", "--dns", "192.0.2.53", "--dns-search", "example.com",
		"busybox", "sh", "-c", "grep -h -e 10.0.0.5 -e 192.0.2.53 -e example.com /etc/hosts /etc/resolv.conf; echo gone > /etc/hosts; echo gone > /etc/resolv.conf")
	require.Equal(t, 0, r.Code, "%s", r)
	t.Cleanup(func() { Run(t, "rm", "-f", "dns-again") })
	r = Run(t, "inspect", "-f", "{{json .HostConfig.ExtraHosts}} {{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}}", "dns-again")
	assert.Equal(t, `["db:10.0.0.5"] ["192.0.2.53"] ["example.com"]`+"\n", r.Stdout, "inspect shows them as Docker's: %s", r)
	want := "10.0.0.5\tdb\nnameserver 192.0.2.53\nsearch example.com\n"
	for _, start := range []string{"first", "second"} {
		r = Run(t, "start", "-a", "dns-again")
		require.Equal(t, 0, r.Code, "%s start: %s", start, r)
		assert.Equal(t, want, r.Stdout, "the %s start writes --add-host and --dns's lines", start)
	}
	r = Run(t, "commit", "dns-again", "boxcraft/dns-again:1")
	require.Equal(t, 0, r.Code, "%s", r)
	t.Cleanup(func() { Run(t, "rmi", "boxcraft/dns-again:1") })
	r = Run(t, "run", "--rm", "--network", "none", "boxcraft/dns-again:1", "cat", "/etc/hosts", "/etc/resolv.conf")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.True(t, strings.HasPrefix(r.Stdout, localhostLines), "%s", r)
	assert.NotContains(t, r.Stdout, "10.0.0.5", "the image carries no --add-host line")
	assert.NotContains(t, r.Stdout, "192.0.2.53", "the image carries no --dns line")
	assert.NotContains(t, r.Stdout, "gone", "the image carries neither file")
}

// dnsFlagsRefused: a bad --add-host or --dns…, or one that cannot
// apply, is refused with one line naming it, status 125, and nothing
// made: no container, nothing in the state folder.
func (s *networkSuite) dnsFlagsRefused(t *testing.T) {
	s.sub(t)
	require.Equal(t, 0, Run(t, "run", "-d", "--name", "dns-pod", "--network", "none", "busybox", "sleep", "1000").Code)
	t.Cleanup(func() { Run(t, "rm", "-f", "dns-pod") })
	rootfs := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string // in the one line
	}{
		{[]string{"--add-host", "nocolon"}, `"nocolon"`},
		{[]string{"--add-host", "db:10.0.0"}, `"10.0.0"`},
		{[]string{"--add-host", ":10.0.0.5"}, `":10.0.0.5"`},
		{[]string{"--add-host", "db:"}, `"db:"`},
		{[]string{"--dns", "resolver.example"}, `"resolver.example"`},
		{[]string{"--dns-search", "bad domain"}, `"bad domain"`},
		{[]string{"--dns-option", ""}, `--dns-option ""`},
		{[]string{"--network", "none", "--add-host", "gw:host-gateway"}, "host-gateway"},
		{[]string{"--network", "host", "--add-host", "gw:host-gateway"}, "host-gateway"},
		{[]string{"--network", "container:dns-pod", "--dns", "192.0.2.53"}, "conflicting options: dns and the network mode"},
		{[]string{"--network", "container:dns-pod", "--add-host", "db:10.0.0.5"}, "conflicting options: custom host-to-IP mapping"},
		{[]string{"--rootfs", rootfs, "--add-host", "db:10.0.0.5"}, "--rootfs"},
	} {
		for _, cmd := range []string{"run", "create"} {
			before, ps := stateEntries(t), Run(t, "ps", "-aq").Stdout
			args := append([]string{cmd}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--rootfs") {
				args = append(args, "busybox")
			}
			r := Run(t, append(args, "true")...)
			assert.Equal(t, 125, r.Code, "%q: %s", args, r)
			assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "%q: one line on stderr: %s", args, r)
			assert.Contains(t, r.Stderr, tc.want, "%q: the line says what is wrong", args)
			assert.Empty(t, added(before, stateEntries(t)), "%q: a refused %s leaves nothing in the state folder", args, cmd)
			assert.Equal(t, ps, Run(t, "ps", "-aq").Stdout, "%q: a refused %s makes no container", args, cmd)
		}
	}
}
