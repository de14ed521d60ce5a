package testkit

// Network is the end-to-end suite of boxcraft's networking (issue 19,
// final/network). The test's own network namespace is the host (netns.go):
// boxcraft makes its bridge, veths and nftables table there, never in the
// machine's. A second namespace is the outside world (netlab.go), joined
// to the host by a veth pair: a server there tells each client the address
// it came from. Every subtest shares the top test's sandbox, its image
// and its namespaces, and removes the containers it made; the last one
// checks that nothing is left.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// networkSuite is what the subtests share.
type networkSuite struct {
	top     *testing.T
	outside Outside
	NetworkHooks
}

// NetworkHooks are what the suite needs of nftables and netlink, which
// the kit does not import: the test package passes them. Each runs in
// the namespace of the calling thread, which the suite sets.
type NetworkHooks struct {
	// Leftovers lists the veths and published ports' rules left in the
	// namespace (final/network.Leftovers).
	Leftovers func() ([]string, error)
	// DockerDropsForward does what Docker does to a host: a base chain
	// on the forward hook whose policy is drop (iptables -P FORWARD
	// DROP, through iptables-nft: chain FORWARD of table ip filter).
	DockerDropsForward func() error
}

// Network checks boxcraft's bridge network end to end.
func Network(t *testing.T, hooks NetworkHooks) {
	RequireRoot(t)
	s := &networkSuite{top: t, outside: NewOutside(t), NetworkHooks: hooks}
	r := Run(t, "import", imageTar(t), "busybox")
	require.Equal(t, 0, r.Code, "%s", r)
	s.serveOutside(t)

	t.Run("BadInputIsRefusedBeforeAnythingIsMade", s.badInput)
	t.Run("EtcFilesAndAddress", s.etcFiles)
	t.Run("NATReachesTheOutsideAsTheHost", s.nat)
	t.Run("NATStillWorksOnceDockerDropsForwarding", s.dockerDrop)
	t.Run("PublishedPortIsReachedFromEverywhere", s.published)
	t.Run("NamedContainersFindEachOther", s.names)
	t.Run("NoneReachesNothing", s.none)
	t.Run("EtcFilesOffTheBridge", s.etcFilesOffBridge)
	t.Run("AddHostAndDNSFlags", s.dnsFlags)
	t.Run("AddHostAndDNSFlagsOffTheBridge", s.dnsFlagsOffBridge)
	t.Run("AddHostAndDNSFlagsAtARestartNotInACommit", s.dnsFlagsRestartAndCommit)
	t.Run("AddHostAndDNSFlagsRefused", s.dnsFlagsRefused)
	t.Run("TwentyAtOnceGetTwentyAddresses", s.twenty)
	t.Run("ACrashedContainersPortIsFreedByTheNextCommand", s.crash)
	t.Run("NothingIsLeft", s.nothingLeft)
}

// sub gives a subtest the top test's sandbox and namespaces.
func (s *networkSuite) sub(t *testing.T) {
	ShareSandbox(t, s.top)
}

// serveOutside runs an HTTP server in the outside world on port 80 that
// answers with the client's address as it saw it.
func (s *networkSuite) serveOutside(t *testing.T) {
	var l net.Listener
	require.NoError(t, s.outside.Do(func() (err error) {
		l, err = net.Listen("tcp4", net.JoinHostPort(OutsideAddr.String(), "80"))
		return err
	}))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprint(w, host)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
}

// get fetches http://addr/ with a connection made in the namespace at
// ns (the test's, or the outside's): the socket is made on the thread
// that joined it (an http.Client would dial from another goroutine, on
// whichever thread).
func get(ns string, addr string) (string, error) {
	var body string
	err := RunInNetns(ns, func() error {
		conn, err := net.DialTimeout("tcp4", addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", addr); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return err
	})
	return body, err
}

func (s *networkSuite) badInput(t *testing.T) {
	s.sub(t)
	for _, tc := range []struct{ args []string }{
		{[]string{"-p", "8080"}},
		{[]string{"-p", "70000:80"}},
		{[]string{"-p", "8080:80/sctp"}},
		{[]string{"-p", "1.2.3:8080:80"}},
		{[]string{"--network", "nowhere"}},
		{[]string{"--subnet", "10.88.0.0/33"}},
		{[]string{"--subnet", UplinkNet.String()}}, // the host has a route there
		{[]string{"--network", "none", "-p", "8080:80"}},
	} {
		before := stateEntries(t)
		r := Run(t, append(append([]string{"run", "--rm"}, tc.args...), "busybox", "true")...)
		assert.Equal(t, 125, r.Code, "%q: %s", tc.args, r)
		assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "%q: one line on stderr: %s", tc.args, r)
		assert.Empty(t, added(before, stateEntries(t)), "%q: a refused run leaves nothing in the state folder", tc.args)
	}
	links := RunCmd(t, HostCommand(t, "cat", "/proc/net/dev"))
	assert.NotContains(t, links.Stdout, "boxcraft0", "a refused run made the bridge")
}

func (s *networkSuite) etcFiles(t *testing.T) {
	s.sub(t)
	r := Run(t, "run", "--rm", "--name", "named", "--hostname", "box", "busybox", "sh", "-c",
		"ip -4 -o addr show eth0; ip route; cat /etc/hostname /etc/hosts /etc/resolv.conf")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Regexp(t, `eth0\s+inet 10\.88\.\d+\.\d+/16`, r.Stdout, "eth0 has an address of the default subnet")
	assert.Contains(t, r.Stdout, "default via 10.88.0.1 dev eth0", "the default route goes through the bridge")
	assert.Regexp(t, `(?m)^box$`, r.Stdout, "/etc/hostname")
	assert.Regexp(t, `(?m)^10\.88\.\d+\.\d+\tbox named$`, r.Stdout, "/etc/hosts names the container's address")
	assert.NotRegexp(t, `(?m)^nameserver 127\.`, r.Stdout, "a loopback nameserver is out of the container's reach")
	assert.Contains(t, r.Stdout, "nameserver ", "resolv.conf names a nameserver")
}

func (s *networkSuite) nat(t *testing.T) {
	s.sub(t)
	r := Run(t, "run", "--rm", "busybox", "wget", "-qO-", "http://"+OutsideAddr.String()+"/")
	require.Equal(t, 0, r.Code, "the container could not reach the outside world: %s", r)
	assert.Equal(t, UplinkAddr.String(), r.Stdout,
		"the outside saw the host's address: masquerade rewrote the container's (the outside has no route back to 10.88.0.0/16)")
}

// dockerDrop: Docker, started on the host since the bridge was made,
// drops every forwarded packet that its own rules do not accept; the
// next start accepts boxcraft0's in Docker's chain, and the container
// reaches the outside again.
func (s *networkSuite) dockerDrop(t *testing.T) {
	s.sub(t)
	host, _ := TestNetns(t)
	require.NoError(t, RunInNetns(host, s.DockerDropsForward))
	s.nat(t)
}

func (s *networkSuite) published(t *testing.T) {
	s.sub(t)
	id := s.webServer(t, "web", "8080:80")
	r := Run(t, "port", "web")
	assert.Equal(t, "80/tcp -> 0.0.0.0:8080\n", r.Stdout, "%s", r)
	r = Run(t, "port", "web", "80")
	assert.Equal(t, "0.0.0.0:8080\n", r.Stdout, "port CONTAINER PORT: the host's side alone, as Docker: %s", r)
	assert.Equal(t, 125, Run(t, "port", "web", "81/udp").Code, "a port not published")
	assert.Regexp(t, `(?m)\s0\.0\.0\.0:8080->80/tcp\s+web$`, Run(t, "ps").Stdout, "ps's PORTS column, as Docker's")
	r = Run(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}} {{range .NetworkSettings.Networks}}{{.IPAddress}}/{{.IPPrefixLen}} via {{.Gateway}}{{end}} {{json .NetworkSettings.Ports}}", "web")
	assert.Regexp(t, `^(10\.88\.\d+\.\d+) (10\.88\.\d+\.\d+)/16 via 10\.88\.0\.1 \{"80/tcp":\[\{"HostIp":"0\.0\.0\.0","HostPort":"8080"\}\]\}\n$`, r.Stdout,
		"inspect's NetworkSettings: the container's address on the bridge, and its published port, as Docker's: %s", r)
	if addr := strings.Fields(r.Stdout); len(addr) > 0 {
		assert.Contains(t, Run(t, "exec", "web", "ip", "-4", "-o", "addr", "show", "eth0").Stdout, " "+addr[0]+"/16", "the address inspect shows is eth0's")
	}
	want := "hello from " + id[:12] + "\n"
	host, _ := TestNetns(t)
	for _, tc := range []struct{ from, ns, url string }{
		{"the outside world", s.outside.path, UplinkAddr.String() + ":8080"},
		{"the host, on 127.0.0.1", host, "127.0.0.1:8080"},
		{"the host, on its own address", host, UplinkAddr.String() + ":8080"},
	} {
		body, err := get(tc.ns, tc.url)
		if assert.NoError(t, err, "from %s", tc.from) {
			assert.Equal(t, want, body, "from %s", tc.from)
		}
	}
	r = Run(t, "run", "--rm", "busybox", "wget", "-qO-", "http://"+UplinkAddr.String()+":8080/")
	assert.Equal(t, 0, r.Code, "from another container, through the host's address (hairpin): %s", r)
	assert.Equal(t, want, r.Stdout)

	r = Run(t, "run", "--rm", "--network", "container:web", "busybox", "wget", "-qO-", "http://127.0.0.1/")
	assert.Equal(t, 0, r.Code, "--network container:web shares web's namespace, its loopback too: %s", r)
	assert.Equal(t, want, r.Stdout)
	r = Run(t, "run", "--rm", "--network", "container:web", "busybox", "hostname")
	assert.Equal(t, inspectOne(t, "web").Config.Hostname+"\n", r.Stdout, "with web's network, web's hostname, as Docker gives it: %s", r)

	r = Run(t, "run", "--rm", "-p", "8080:81", "busybox", "true")
	assert.Equal(t, 125, r.Code, "%s", r)
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %s", r)
	assert.Contains(t, r.Stderr, "port is already allocated")
	held := s.leftoversNow(t)
	assert.Contains(t, held, "veth bx"+id[:12], "the check of what is left sees a running container's veth")
	assert.Contains(t, held, "a rule in prerouting for container "+id[:12], "the check of what is left sees its port's rule")
	require.Equal(t, 0, Run(t, "rm", "-f", "web").Code)
	assert.Empty(t, s.leftoversNow(t), "rm -f left the container's veth or rules")
	_, err := get(host, "127.0.0.1:8080")
	assert.Error(t, err, "the port is still forwarded after its container went")
}

// webServer runs a detached httpd on the bridge that answers "hello from
// HOSTNAME", and waits until it listens.
func (s *networkSuite) webServer(t *testing.T, name string, publish ...string) string {
	args := []string{"run", "-d", "--name", name}
	for _, p := range publish {
		args = append(args, "-p", p)
	}
	args = append(args, "busybox", "sh", "-c", `mkdir /www; echo "hello from $(hostname)" > /www/index.html; exec httpd -f -p 80 -h /www`)
	r := Run(t, args...)
	require.Equal(t, 0, r.Code, "%s", r)
	id := strings.TrimSpace(r.Stdout)
	t.Cleanup(func() { Run(t, "rm", "-f", id) })
	deadline := time.Now().Add(30 * time.Second)
	for Run(t, "exec", id, "sh", "-c", "netstat -ltn | grep -q ':80 '").Code != 0 {
		require.True(t, time.Now().Before(deadline), "httpd did not listen in 30 s")
		time.Sleep(50 * time.Millisecond)
	}
	return id
}

// names: a container reaches another by its name, which each one's
// /etc/hosts lists while the other runs.
func (s *networkSuite) names(t *testing.T) {
	s.sub(t)
	id := s.webServer(t, "alpha")
	r := Run(t, "run", "--rm", "--name", "beta", "busybox", "wget", "-qO-", "http://alpha/")
	assert.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "hello from "+id[:12]+"\n", r.Stdout)
	// alpha's own process adds a line, and leaves it without a newline.
	require.Equal(t, 0, Run(t, "exec", "alpha", "sh", "-c", "printf '5.6.7.8 mine' >> /etc/hosts").Code)
	require.Equal(t, 0, Run(t, "run", "-d", "--name", "gamma", "busybox", "sleep", "1000").Code)
	hosts := Run(t, "exec", "alpha", "cat", "/etc/hosts").Stdout
	assert.Regexp(t, `(?m)^10\.88\.\d+\.\d+\tgamma$`, hosts, "alpha's /etc/hosts names gamma, started after it, on a line of its own")
	assert.Regexp(t, `(?m)^5\.6\.7\.8 mine$`, hosts, "alpha's own line stays as it wrote it")
	assert.NotContains(t, hosts, "beta", "beta has gone: its name goes from the others' /etc/hosts")
	require.Equal(t, 0, Run(t, "rm", "-f", "gamma").Code)
	hosts = Run(t, "exec", "alpha", "cat", "/etc/hosts").Stdout
	assert.NotContains(t, hosts, "gamma")
	assert.Regexp(t, `(?m)^5\.6\.7\.8 mine$`, hosts, "alpha's own line stays")
	require.Equal(t, 0, Run(t, "rm", "-f", "alpha").Code)
}

func (s *networkSuite) none(t *testing.T) {
	s.sub(t)
	r := Run(t, "run", "--rm", "--network", "none", "busybox", "sh", "-c",
		"cat /proc/net/dev; wget -qO- http://"+OutsideAddr.String()+"/ && echo REACHED")
	assert.NotContains(t, r.Stdout, "REACHED", "--network none reached the outside: %s", r)
	assert.NotContains(t, r.Stdout, "eth0", "--network none has an interface beyond lo: %s", r)
	assert.Contains(t, r.Stderr, "unreachable", "%s", r)
}

// etcFilesOffBridge: a container off the bridge has its /etc files too,
// as Docker gives them: with --network none, localhost alone (and the
// name resolves: lo is up); with the host's network, the host's
// /etc/hosts and /etc/resolv.conf as they are. A commit of such a
// container leaves them out, so that a container of the image gets its
// own, and no other container's address; and /etc with them, unless the
// container changed /etc itself.
func (s *networkSuite) etcFilesOffBridge(t *testing.T) {
	s.sub(t)
	r := Run(t, "run", "--rm", "--network", "none", "--hostname", "lonely", "busybox", "sh", "-c",
		"cat /etc/hostname /etc/hosts; ping -c 1 -W 5 localhost >/dev/null && echo LOCALHOST")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "lonely\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nLOCALHOST\n", r.Stdout,
		"--network none: /etc/hostname, /etc/hosts with localhost alone, and localhost answers")

	hosts, err := os.ReadFile("/etc/hosts")
	require.NoError(t, err)
	resolv, err := os.ReadFile("/etc/resolv.conf")
	require.NoError(t, err)
	host, err := os.Hostname()
	require.NoError(t, err)
	r = Run(t, "run", "--rm", "--network", "host", "busybox", "sh", "-c", "cat /etc/hosts; echo =====; cat /etc/resolv.conf; echo =====; hostname; cat /etc/hostname")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, string(hosts)+"=====\n"+string(resolv)+"=====\n"+host+"\n"+host+"\n", r.Stdout,
		"--network host: the host's /etc/hosts and /etc/resolv.conf, and its name, as Docker gives them")

	r = Run(t, "run", "--name", "etc-maker", "busybox", "sh", "-c", "echo kept > /etc/motd")
	require.Equal(t, 0, r.Code, "%s", r)
	t.Cleanup(func() { Run(t, "rm", "-f", "etc-maker") })
	r = Run(t, "commit", "etc-maker", "boxcraft/etc-made:1")
	require.Equal(t, 0, r.Code, "%s", r)
	t.Cleanup(func() { Run(t, "rmi", "boxcraft/etc-made:1") })
	r = Run(t, "run", "--rm", "--network", "none", "--hostname", "fresh", "boxcraft/etc-made:1", "cat", "/etc/motd", "/etc/hostname", "/etc/hosts")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "kept\nfresh\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", r.Stdout,
		"the image keeps the container's /etc/motd, not its /etc/hostname or /etc/hosts")

	// A change of /etc's own mode is the container's: the image keeps it.
	r = Run(t, "run", "--name", "etc-chmod", "--network", "none", "busybox", "chmod", "750", "/etc")
	require.Equal(t, 0, r.Code, "%s", r)
	t.Cleanup(func() { Run(t, "rm", "-f", "etc-chmod") })
	require.Equal(t, 0, Run(t, "commit", "etc-chmod", "boxcraft/etc-chmod:1").Code)
	t.Cleanup(func() { Run(t, "rmi", "boxcraft/etc-chmod:1") })
	r = Run(t, "run", "--rm", "--network", "none", "boxcraft/etc-chmod:1", "stat", "-c", "%a", "/etc")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "750\n", r.Stdout, "the image keeps the container's chmod of /etc")
}

func (s *networkSuite) twenty(t *testing.T) {
	s.sub(t)
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := Run(t, "run", "-d", "busybox", "sh", "-c", "ip -4 -o addr show eth0; exec sleep 1000")
			if assert.Equal(t, 0, r.Code, "%s", r) {
				ids[i] = strings.TrimSpace(r.Stdout)
			}
		})
	}
	wg.Wait()
	addrs := map[string]string{}
	for _, id := range ids {
		if id == "" {
			continue
		}
		var out string
		for range 100 { // its first line may not be in the log yet
			if out = Run(t, "logs", id).Stdout; out != "" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		f := strings.Fields(out)
		require.GreaterOrEqual(t, len(f), 4, "%s printed %q", id, out)
		addr := f[3]
		assert.NotContains(t, addrs, addr, "two containers got %s", addr)
		addrs[addr] = id
	}
	assert.Len(t, addrs, n)
	args := append([]string{"rm", "-f"}, ids...)
	r := Run(t, args...)
	assert.Equal(t, 0, r.Code, "%s", r)
}

// crash kills a published container's monitor: the container dies with
// it, and nothing tears it down; the next boxcraft command that finds it
// frees its address and port, which a new container then takes.
func (s *networkSuite) crash(t *testing.T) {
	s.sub(t)
	id := s.webServer(t, "crashed", "8081:80")
	st := readJSON(t, filepath.Join(StateDir(t), "run", "containers", id, "state.json"))
	pid, ok := st["monitorPid"].(float64)
	require.True(t, ok, "state.json names the monitor: %v", st)
	p, err := os.FindProcess(int(pid))
	require.NoError(t, err)
	require.NoError(t, p.Kill())
	r := Run(t, "run", "--rm", "-p", "8081:80", "busybox", "true")
	assert.Equal(t, 0, r.Code, "the crashed container's port is still held: %s", r)
	assert.Equal(t, 0, Run(t, "rm", "-f", id).Code)
}

func (s *networkSuite) nothingLeft(t *testing.T) {
	s.sub(t)
	r := Run(t, "ps", "-aq")
	require.Empty(t, r.Stdout, "a subtest left a container")
	assert.Empty(t, s.leftoversNow(t), "left behind once every container is gone")
	leases := readJSON(t, filepath.Join(StateDir(t), "run", "network", "leases.json"))
	assert.Empty(t, leases["leases"], "an address is still leased")
	r = Run(t, "network", "prune")
	assert.Equal(t, 0, r.Code, "%s", r)
	links := RunCmd(t, HostCommand(t, "cat", "/proc/net/dev"))
	assert.NotContains(t, links.Stdout, "boxcraft0", "network prune left the bridge")
}

// leftoversNow lists the veths and port rules in the test's namespace.
func (s *networkSuite) leftoversNow(t *testing.T) []string {
	t.Helper()
	var left []string
	host, _ := TestNetns(t)
	require.NoError(t, RunInNetns(host, func() (err error) { left, err = s.Leftovers(); return err }))
	return left
}

// readJSON reads a JSON object from a file of the state folder.
func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(data, &v), "%s", data)
	return v
}
