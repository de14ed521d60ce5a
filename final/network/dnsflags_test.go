package network

import (
	"net/netip"
	"testing"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHost(t *testing.T) {
	for in, want := range map[string]spec.Host{
		"db:10.0.0.5":       {Name: "db", IP: "10.0.0.5"},
		"db=10.0.0.5":       {Name: "db", IP: "10.0.0.5"},
		"v6:::1":            {Name: "v6", IP: "::1"},
		"v6=[2001:db8::1]":  {Name: "v6", IP: "2001:db8::1"},
		"gw:host-gateway":   {Name: "gw", IP: spec.HostGateway},
		"a.b-c:192.168.0.1": {Name: "a.b-c", IP: "192.168.0.1"},
	} {
		got, err := ParseHost(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"nocolon", ":10.0.0.5", "db:", "db:10.0.0", "db:host", "a b:10.0.0.5", "=1.2.3.4",
		"x:fe80::1%eth0\n6.6.6.6 google.com", "x:fe80::1%eth0", "foo\n6.6.6.6\vgoogle.com=1.2.3.4", "a\vb:1.2.3.4", "a\rb:1.2.3.4", "a#b:1.2.3.4"} {
		_, err := ParseHost(bad)
		assert.Error(t, err, bad)
	}
}

func TestCheckDNS(t *testing.T) {
	assert.NoError(t, CheckDNS(spec.DNS{Servers: []string{"1.1.1.1", "2001:db8::53"}, Search: []string{"example.com", "corp.example.", "."}, Options: []string{"ndots:2", "rotate"}}))
	for _, bad := range []spec.DNS{
		{Servers: []string{"dns.example"}},
		{Search: []string{"a b"}}, {Search: []string{""}}, {Search: []string{"-a.example"}}, {Search: []string{"a..b"}},
		{Options: []string{""}}, {Options: []string{"ndots:2 rotate"}}, {Options: []string{"ndots:2\vrotate"}}, {Options: []string{"a#b"}},
		{Servers: []string{"fe80::1%eth0\nsearch evil.com"}}, {Servers: []string{"fe80::1%eth0"}},
	} {
		assert.Error(t, CheckDNS(bad), "%+v", bad)
	}
}

func TestWithDNS(t *testing.T) {
	base := "# the host's\nnameserver 10.0.0.53\nsearch lan\noptions edns0\noptions rotate\n"
	assert.Equal(t, base, withDNS(base, spec.DNS{}), "nothing given: the host's as it is")
	assert.Equal(t, "nameserver 1.1.1.1\nsearch lan\noptions edns0 rotate\n", withDNS(base, spec.DNS{Servers: []string{"1.1.1.1"}}))
	assert.Equal(t, "nameserver 10.0.0.53\nsearch a.example b.example\noptions edns0 rotate\n", withDNS(base, spec.DNS{Search: []string{"a.example", "b.example"}}))
	assert.Equal(t, "nameserver 10.0.0.53\noptions ndots:1\n", withDNS(base, spec.DNS{Search: []string{"."}, Options: []string{"ndots:1"}}), ". is no search line")
}

func TestHostLines(t *testing.T) {
	hosts := []spec.Host{{Name: "db", IP: "10.0.0.5"}, {Name: "gw", IP: spec.HostGateway}}
	got, err := hostLines(hosts, netip.MustParseAddr("10.88.0.1"))
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.5\tdb\n10.88.0.1\tgw\n", got)
	_, err = hostLines(hosts, netip.Addr{})
	assert.Error(t, err, "host-gateway off the bridge")
}
