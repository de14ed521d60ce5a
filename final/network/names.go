package network

// Containers on the bridge that were given --name find each other by it:
// each one's /etc/hosts lists the others' names and addresses, as
// Docker's user-defined networks answer by name. A start lists the named
// containers there already in its own file and adds its line to theirs;
// its teardown takes its line out of theirs. All under the allocator's
// lock, which Attach and Detach hold.

import (
	"slices"
	"sort"
	"strings"
)

// named are the /etc/hosts lines of the other named containers.
func (l *leases) named(self string) []string {
	var lines []string
	for id, other := range l.Leases {
		if id != self && other.Name != "" {
			lines = append(lines, hostsLine(other))
		}
	}
	sort.Strings(lines)
	return lines
}

func hostsLine(l Lease) string { return l.Addr + "\t" + l.Name + "\n" }

// announce adds id's line to the other containers' /etc/hosts, best
// effort: a root that has gone, or is read-only, keeps its file.
func (l *leases) announce(id string) {
	self := l.Leases[id]
	if self.Name == "" {
		return
	}
	for other, peer := range l.Leases {
		if other != id && peer.Root != "" {
			_ = changeInRoot(peer.Root, "etc/hosts", peer.Owner, func(old string) string { return withLine(old, hostsLine(self)) })
		}
	}
}

// withdraw takes id's line out of the other containers' /etc/hosts.
func (l *leases) withdraw(id string) {
	self := l.Leases[id]
	if self.Name == "" {
		return
	}
	line := hostsLine(self)
	for other, peer := range l.Leases {
		if other != id && peer.Root != "" {
			_ = changeInRoot(peer.Root, "etc/hosts", peer.Owner, func(old string) string {
				return withoutLast(old, line)
			})
		}
	}
}

// withLine is text with line after its last: on a line of its own, where
// the container's own process left its last line without a newline
// (printf '5.6.7.8 mine' >> /etc/hosts), which would otherwise hold the
// peer's name as one more alias of its own address, and keep withdraw
// from finding the peer's line whole.
func withLine(text, line string) string {
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return text + line
}

// withoutLast is text without its last line that is line, whole. The
// peers' lines come after a container's own --add-host lines (EtcFiles),
// and one of those may say the same: it stays.
func withoutLast(text, line string) string {
	lines := strings.SplitAfter(text, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i] == line {
			return strings.Join(slices.Delete(lines, i, i+1), "")
		}
	}
	return text
}
