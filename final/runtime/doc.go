// Package runtime is a container's lifecycle, without a daemon: create
// (its record, cgroup and root), start (in the foreground, where this
// process is its monitor, or detached, where a monitor process of its
// own is), stop, kill, wait, remove, prune, and the listing ps and
// inspect read. Each operation is a function of the state folder
// (package state): any boxcraft command can pick up where another left
// off, even one that was killed.
//
// It is where the steps' ideas meet: step03's cgroup, step05's layers
// under an upper layer of the container's own, step02's namespaces
// (through the monitor). It builds on final/lifecycle, what every
// container's lifecycle shares (the record, the cgroup, the listing, the
// removal), and adds what boxcraft's own containers have and an OCI
// bundle's do not: the image store, a monitor per container, and the
// extras (the bridge, the /proc views: final/extras) that runtime.Open
// hands the monitor. Imports run one way: the command line calls
// runtime, runtime calls lifecycle and the leaves (state, store,
// cgroups, monitor, mount), and no leaf calls runtime.
package runtime
