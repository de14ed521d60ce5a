// Package lifecycle is what every container's lifecycle shares, over the
// state folder alone: a container's record (written under the lock that
// keeps two containers from one name), its cgroup with its limits and
// device rules, the listing ps and inspect read, and its removal; what a
// killed monitor left undone, which the next command to look at the
// container does (finishOrphan: its teardown, and with --rm its
// removal); and the OCI runtime spec's lifecycle over a bundle (issue
// 23): create, start, state, kill, delete, exec, pause, update.
//
// It links no image store and none of boxcraft's extras (the bridge
// network, the /proc views: monitor.Extras, handed in by the caller):
// boxcraft-runc is this package and its command line, and an OCI runtime
// that containerd runs several times per container pays no start-up for
// packages it never calls. boxcraft's own lifecycle (final/runtime)
// builds on it: images, a monitor per container, stop, wait, prune.
//
// Imports run one way: the command lines call lifecycle (boxcraft's
// through runtime), lifecycle calls the leaves (state, cgroups,
// monitor), and no leaf calls lifecycle.
package lifecycle
