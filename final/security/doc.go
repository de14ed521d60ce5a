// Package security takes away from root inside a container what it does
// not need (issue 20): capabilities, the right to gain privileges through
// a setuid file, and the runtime's own binary as a way back out to the
// host.
//
// None of the steps teaches it: step01 to step05 make the container's
// world smaller (its root, its namespaces, its cgroup) but leave root
// inside every capability, so that each step's escape experiment still
// works. Here init drops what Docker drops, in runc's order
// (libcontainer/init_linux.go finalizeNamespace): the bounding set first,
// while init still holds CAP_SETPCAP; then the user (-u), with the
// capabilities kept across setuid(2) (PR_SET_KEEPCAPS); then the
// capability sets themselves; then no_new_privs; seccomp last.
package security
