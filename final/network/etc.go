package network

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
)

// EtcFileNames are the files EtcFiles and OffBridgeEtcFiles write into a
// container's root, as the root names them. Docker bind-mounts its own,
// so that docker commit leaves them out; boxcraft writes them into the
// root, and its commit leaves them out by these names.
func EtcFileNames() []string { return []string{"etc/hostname", "etc/hosts", "etc/resolv.conf"} }

// localhost is /etc/hosts's first lines, in every container.
const localhost = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// EtcFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into its root (the host's path of it), as Docker
// gives them: the hostname, the name and address the container has on
// the bridge, and name servers it can reach. They belong to owner, the
// host's ids of the container's root (in a user namespace, its map's).
// --add-host's lines come after localhost's, as Docker's do, with
// host-gateway the bridge's gateway; --dns and its friends change
// resolv.conf (dnsflags.go).
func EtcFiles(root, hostname, name string, addr netip.Addr, owner Owner, peers []string, extra spec.Network, gateway netip.Addr) error {
	names := hostname
	if name != "" && name != hostname {
		names += " " + name
	}
	added, err := hostLines(extra.Hosts, gateway)
	if err != nil {
		return err
	}
	hosts := localhost + added
	if addr.IsValid() {
		hosts += addr.String() + "\t" + names + "\n"
	}
	hosts += strings.Join(peers, "")
	resolv, err := resolvConf()
	if err != nil {
		return err
	}
	return writeEtcFiles(root, hostname, hosts, withDNS(resolv, extra.DNS), owner)
}

// OffBridgeEtcFiles writes the /etc files of a container that is not on
// the bridge, as Docker gives them. With the host's network (hostNet),
// the host's /etc/hosts and /etc/resolv.conf as they are: its loopback
// name server is in the container's reach. Otherwise (--network none,
// or another container's network) localhost alone, so that the name
// localhost resolves, and the name servers a container can reach.
// --add-host's lines follow localhost's; with the host's network they
// replace the host's /etc/hosts, as Docker's do (it copies the host's
// file only when no --add-host is given). --dns and its friends change
// resolv.conf, the host's as it is or the reachable one.
func OffBridgeEtcFiles(root, hostname string, hostNet bool, owner Owner, extra spec.Network) error {
	hosts, resolv := localhost, ""
	var err error
	if hostNet {
		if len(extra.Hosts) == 0 {
			hosts, err = hostFile("/etc/hosts", localhost)
		}
		if err == nil {
			resolv, err = hostFile("/etc/resolv.conf", "")
		}
	} else {
		resolv, err = resolvConf()
	}
	if err != nil {
		return err
	}
	added, err := hostLines(extra.Hosts, netip.Addr{})
	if err != nil {
		return err
	}
	return writeEtcFiles(root, hostname, hosts+added, withDNS(resolv, extra.DNS), owner)
}

// hostFile is the host's file, or missing when it has none.
func hostFile(name, missing string) (string, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return missing, nil
	}
	if err != nil {
		return "", fmt.Errorf("read the host's %s: %w", name, err)
	}
	return string(data), nil
}

// writeEtcFiles writes the three files into root; a hostname of ""
// (none to give) leaves /etc/hostname as the image has it.
func writeEtcFiles(root, hostname, hosts, resolv string, owner Owner) error {
	files := map[string]string{"etc/hosts": hosts, "etc/resolv.conf": resolv}
	if hostname != "" {
		files["etc/hostname"] = hostname + "\n"
	}
	for file, content := range files {
		if err := writeInRoot(root, file, content, owner); err != nil {
			return err
		}
	}
	return nil
}

// Owner is who a file written into a container's root belongs to, on
// the host.
type Owner struct{ UID, GID int }

// resolvConf is the host's /etc/resolv.conf for a container: a
// nameserver on the host's loopback (systemd-resolved's 127.0.0.53) is
// out of a container's reach, so, as Docker does, it takes the upstream
// servers systemd-resolved lists, or else Google's public ones.
func resolvConf() (string, error) {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read the host's resolv.conf: %w", err)
	}
	kept, servers := reachableServers(data)
	if servers > 0 {
		return kept, nil
	}
	if upstream, err := os.ReadFile("/run/systemd/resolve/resolv.conf"); err == nil {
		if kept, servers := reachableServers(upstream); servers > 0 {
			return kept, nil
		}
	}
	return kept + "nameserver 8.8.8.8\nnameserver 8.8.4.4\n", nil
}

// reachableServers is resolv.conf without its loopback nameservers, and
// how many nameservers are left.
func reachableServers(data []byte) (string, int) {
	var out strings.Builder
	servers := 0
	scan := bufio.NewScanner(bytes.NewReader(data))
	for scan.Scan() {
		line := scan.Text()
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			if ip, err := netip.ParseAddr(f[1]); err == nil && ip.IsLoopback() {
				continue
			}
			servers++
		}
		out.WriteString(line + "\n")
	}
	return out.String(), servers
}
