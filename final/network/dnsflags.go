package network

// docker run's name-resolution flags: --add-host adds lines to the
// container's /etc/hosts, --dns, --dns-search and --dns-option make its
// /etc/resolv.conf. They are checked here, when the container is made,
// and applied by EtcFiles and OffBridgeEtcFiles at each start.

import (
	"bufio"
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"github.com/boxcraft/boxcraft/final/spec"
)

// ParseHost reads --add-host NAME:IP, or NAME=IP, as Docker does: the
// name ends at the first = or else the first colon, so that an IPv6
// address (bare or in brackets) needs no quoting; the IP may be
// host-gateway.
func ParseHost(s string) (spec.Host, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok || name == "" || strings.ContainsRune(name, ':') || !oneWord(name) {
		return spec.Host{}, fmt.Errorf("--add-host %q: give NAME:IP (or NAME=IP), e.g. db:10.0.0.5", s)
	}
	if ip == spec.HostGateway {
		return spec.Host{Name: name, IP: ip}, nil
	}
	if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
		ip = ip[1 : len(ip)-1]
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Zone() != "" { // a zone (fe80::1%eth0) is any text, a newline too
		return spec.Host{}, fmt.Errorf("--add-host %q: %q is not an IP address (nor %s)", s, ip, spec.HostGateway)
	}
	return spec.Host{Name: name, IP: addr.String()}, nil
}

// CheckDNS refuses a --dns that is not an IP address, and a
// --dns-search or --dns-option that would not be one word of its line.
func CheckDNS(d spec.DNS) error {
	for _, s := range d.Servers {
		if addr, err := netip.ParseAddr(s); err != nil || addr.Zone() != "" {
			return fmt.Errorf("--dns %q: give a name server's IP address", s)
		}
	}
	for _, s := range d.Search {
		if !isDomain(s) {
			return fmt.Errorf("--dns-search %q: give a domain, e.g. example.com (or . for none)", s)
		}
	}
	for _, s := range d.Options {
		if s == "" || !oneWord(s) {
			return fmt.Errorf("--dns-option %q: give one resolv.conf option, e.g. ndots:2", s)
		}
	}
	return nil
}

// oneWord says whether s is one word of a line of /etc/hosts or
// /etc/resolv.conf: no space of any kind (the resolver splits on \v and
// \f too), no control character (a newline would start a line of its
// own) and no #, which starts a comment.
func oneWord(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '#' })
}

// isDomain: letters, digits and hyphens in dot-separated labels (a last
// dot allowed), or "." alone, Docker's "no search domain".
func isDomain(s string) bool {
	if s == "." {
		return true
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// hostLines are the --add-host lines of /etc/hosts, in the order given;
// host-gateway is gateway, which is invalid off the bridge (the command
// line refuses it there).
func hostLines(hosts []spec.Host, gateway netip.Addr) (string, error) {
	var b strings.Builder
	for _, h := range hosts {
		ip := h.IP
		if ip == spec.HostGateway {
			if !gateway.IsValid() {
				return "", fmt.Errorf("--add-host %s:%s: there is no bridge, and so no gateway", h.Name, ip)
			}
			ip = gateway.String()
		}
		b.WriteString(ip + "\t" + h.Name + "\n")
	}
	return b.String(), nil
}

// withDNS is base, a resolv.conf, with what d gives instead, as Docker
// builds it: d's name servers, or else base's; one search line, d's or
// else base's; one options line, d's or else base's. base alone when d
// gives nothing. A search of "." alone is no search line.
func withDNS(base string, d spec.DNS) string {
	if !d.Given() {
		return base
	}
	servers, search, options := d.Servers, d.Search, d.Options
	var baseServers, baseSearch, baseOptions []string
	scan := bufio.NewScanner(strings.NewReader(base))
	for scan.Scan() {
		f := strings.Fields(scan.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			baseServers = append(baseServers, f[1])
		case "search", "domain": // the last one counts, as for the resolver
			baseSearch = f[1:]
		case "options":
			baseOptions = append(baseOptions, f[1:]...)
		}
	}
	if len(servers) == 0 {
		servers = baseServers
	}
	if len(search) == 0 {
		search = baseSearch
	}
	if len(options) == 0 {
		options = baseOptions
	}
	var b strings.Builder
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(search) > 0 && strings.Join(search, " ") != "." {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.String()
}
