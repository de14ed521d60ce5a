// Package network connects a container's network namespace to the host,
// as Docker's default bridge network does, with no daemon (issue 19).
//
// Step02 gave a container a network namespace holding nothing but a
// loopback. Here a veth pair joins it to the bridge boxcraft0 in the
// namespace boxcraft runs in (the host's; the tests' own, netns.go of
// internal/testkit); an address comes from a small allocator, a file under
// flock in the state folder (ipam.go); nftables rules in a table of
// boxcraft's own (nft.go) masquerade what leaves the subnet and forward
// published ports (-p) to the container, from outside, from the host
// itself (127.0.0.1 and its own addresses) and from other containers
// (hairpin). Teardown gives the address back and deletes the container's
// veth and rules; Prune deletes the bridge and the table.
//
// It is a leaf: the monitor calls it on the host's side, and the
// container's side (eth0, its address and default route) is set from the
// host too, through a netlink socket opened in the container's namespace.
package network
