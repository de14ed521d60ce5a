package main

import (
	"fmt"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Figure 11: what boxcraft's bridge network (final/network) costs. The
// bench runs in the namespace boxcraft's bridge lives in: on a shared
// machine, one of its own (make bench BOXCRAFT_OWN_NETNS=1). The outside
// world is a second namespace, joined to it by a veth pair, as in the
// tests (internal/testkit/netlab.go); a third plain namespace joined to
// the outside by a veth of its own is the anchor of the throughput.
const (
	uplinkAddr    = "192.0.2.1"
	outsideAddr   = "192.0.2.2"
	plainAddr     = "198.51.100.1"
	plainPeerAddr = "198.51.100.2"
	sinkPort      = 5001
	sinkBytes     = 256 << 20 // each transfer
)

// network writes figure 15: start-up with --network bridge against none,
// and a container's TCP throughput to the outside against two plain
// namespaces joined by a veth.
func (s *b) network() error {
	x := s.bx
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{
		"bridge": x.cmd("run", "--rm", "busybox", "/bin/true"),
		"none":   x.cmd("run", "--rm", "--network", "none", "busybox", "/bin/true"),
	})
	if err != nil {
		return err
	}
	bridge, none := results["bridge"], results["none"]
	added := bridge.minus(none)
	s.section("15. boxcraft: networking",
		fmt.Sprintf("Start-up: `boxcraft run --rm busybox /bin/true` (the bridge network: an address from the allocator, a veth pair, eth0's address and route set through netlink in the container's namespace, /etc/hosts, /etc/hostname and /etc/resolv.conf, all given back at teardown) against the same with `--network none`, in turn. The goal: the bridge adds at most 5 ms to the median; added is the median of the paired differences. Throughput: %d MiB from `dd | nc` in a container on the bridge to a TCP sink in the outside world's namespace (through the veth, the bridge, the host's routing and masquerade, and the uplink veth), timed by the sending shell's `time` (busybox's, to 10 ms), to a `busybox nc -l` sink; against the same from a plain network namespace joined to the outside by a veth alone. The goal: at least 0.9× the plain namespaces' throughput. busybox's nc writes in small pieces (most of a transfer's time is its system calls), so the figure weighs what each system call costs in a container (seccomp's filter, figure 10) with the path itself.", sinkBytes>>20),
		ratioTable)
	s.row("run --rm, bridge", bridge, none, "run --rm, --network none", 0)
	goal := "met"
	if added.median() > 5*time.Millisecond {
		goal = "missed"
	}
	fmt.Fprintf(&s.report, "\nThe bridge adds %s to a start (median of the paired differences; goal ≤ 5 ms: %s).\n", round(added.median()), goal)
	return s.throughput()
}

// throughput measures the transfers and writes their figures.
func (s *b) throughput() error {
	outside, plain, done, err := outsideWorld()
	if err != nil {
		return err
	}
	defer done()
	container := func() *exec.Cmd {
		return s.bx.cmd("run", "--rm", "busybox", "sh", "-c", transfer(outsideAddr))()
	}
	plainRun := func() *exec.Cmd {
		return exec.Command("nsenter", "--net="+nsPath(plain), "busybox", "sh", "-c", transfer(plainPeerAddr))
	}
	var ours, theirs []float64
	for range max(3, s.runs/4) {
		for _, t := range []struct {
			send func() *exec.Cmd
			into *[]float64
		}{{container, &ours}, {plainRun, &theirs}} {
			rate, err := sink(outside, t.send())
			if err != nil {
				return err
			}
			*t.into = append(*t.into, rate)
		}
	}
	o, p := medianOf(ours), medianOf(theirs)
	goal := "met"
	if o < 0.9*p {
		goal = "missed"
	}
	fmt.Fprintf(&s.report, "\nThroughput, median of %d transfers each: a container on the bridge to the outside %.0f MiB/s; a plain namespace through a veth %.0f MiB/s: %.2f× (goal ≥ 0.9×: %s).\n", len(ours), o, p, o/p, goal)
	return nil
}

// transfer is the shell command that sends sinkBytes to addr's sink,
// timed by the shell's time (busybox's: "real\t0m 0.52s" on stderr).
func transfer(addr string) string {
	return fmt.Sprintf("time sh -c 'dd if=/dev/zero bs=64k count=%d 2>/dev/null | nc %s %d'", sinkBytes>>16, addr, sinkPort)
}

// sink starts busybox nc listening in the outside world, runs the
// sender, and returns its rate in MiB/s from the time it printed. The
// same tools on both sides of both transfers: what differs is the path.
func sink(outside *exec.Cmd, send *exec.Cmd) (float64, error) {
	listen := exec.Command("nsenter", "--net="+nsPath(outside), "busybox", "nc", "-l", "-p", fmt.Sprint(sinkPort))
	// Its stdin a pipe held open: at an end of its input, nc would end
	// the connection before a byte came in. Its stdout: /dev/null.
	hold, err := listen.StdinPipe()
	if err != nil {
		return 0, err
	}
	if err := listen.Start(); err != nil {
		return 0, err
	}
	defer func() { hold.Close(); _ = listen.Process.Kill(); _ = listen.Wait() }()
	time.Sleep(100 * time.Millisecond) // until it listens
	out, err := send.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("the transfer: %v: %s", err, out)
	}
	var min int
	var sec float64
	i := strings.Index(string(out), "real")
	if i < 0 {
		return 0, fmt.Errorf("the transfer printed no time: %s", out)
	}
	if _, err := fmt.Sscanf(string(out[i:]), "real %dm %fs", &min, &sec); err != nil {
		return 0, fmt.Errorf("the transfer's time %q: %v", out[i:], err)
	}
	return float64(sinkBytes) / (1 << 20) / (float64(min)*60 + sec), nil
}

// outsideWorld makes the outside world's namespace and the plain one,
// each held by a sleeping process, and joins them with ip(8): the
// outside to this namespace (the uplink) and to the plain one.
func outsideWorld() (outside, plain *exec.Cmd, done func(), err error) {
	hold := func() (*exec.Cmd, error) {
		cmd := exec.Command("sleep", "3600")
		cmd.SysProcAttr = &unix.SysProcAttr{Cloneflags: unix.CLONE_NEWNET}
		return cmd, cmd.Start()
	}
	if outside, err = hold(); err != nil {
		return nil, nil, nil, err
	}
	if plain, err = hold(); err != nil {
		_ = outside.Process.Kill()
		return nil, nil, nil, err
	}
	done = func() {
		_ = exec.Command("ip", "link", "del", "bench-up").Run()
		for _, c := range []*exec.Cmd{outside, plain} {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	o, p := fmt.Sprint(outside.Process.Pid), fmt.Sprint(plain.Process.Pid)
	in := func(ns string, args ...string) []string {
		return append([]string{"nsenter", "--net=/proc/" + ns + "/ns/net"}, args...)
	}
	for _, step := range [][]string{
		{"ip", "link", "add", "bench-up", "type", "veth", "peer", "name", "outside", "netns", o},
		{"ip", "addr", "add", uplinkAddr + "/24", "dev", "bench-up"},
		{"ip", "link", "set", "bench-up", "up"},
		in(o, "ip", "addr", "add", outsideAddr+"/24", "dev", "outside"),
		in(o, "ip", "link", "set", "outside", "up"),
		in(o, "ip", "link", "set", "lo", "up"),
		in(o, "ip", "link", "add", "plain", "type", "veth", "peer", "name", "plain", "netns", p),
		in(o, "ip", "addr", "add", plainPeerAddr+"/24", "dev", "plain"),
		in(o, "ip", "link", "set", "plain", "up"),
		in(p, "ip", "addr", "add", plainAddr+"/24", "dev", "plain"),
		in(p, "ip", "link", "set", "plain", "up"),
	} {
		if out, err := exec.Command(step[0], step[1:]...).CombinedOutput(); err != nil {
			done()
			return nil, nil, nil, fmt.Errorf("%s: %v: %s", strings.Join(step, " "), err, out)
		}
	}
	return outside, plain, done, nil
}

func nsPath(holder *exec.Cmd) string { return fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid) }

func medianOf(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := range s { // insertion sort: a handful of values
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}
