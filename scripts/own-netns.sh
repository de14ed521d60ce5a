#!/usr/bin/env bash
# own-netns.sh COMMAND [ARG…]: runs COMMAND in a network namespace of its
# own, made here, with its loopback up and nothing else; the namespace goes
# when its last process ends (a detached container's monitor included).
#
# boxcraft's default network (--network bridge) makes a bridge, veth pairs
# and nftables rules, and turns on IP forwarding, in the network namespace
# it runs in. On a learner's VM that is the host's, as with Docker. On a
# machine that others share (the workshop's build machines, CI) it must
# not be: there, BOXCRAFT_OWN_NETNS=1 makes `make run`, `make final`,
# `make bench` and `make soak` run through this script. The mounts,
# cgroups and processes are the machine's as usual: only the network is
# the namespace's own, so a container there reaches nothing outside.
set -euo pipefail

if [ "${1:-}" = --inside ]; then
	shift
	ip link set lo up
	exec "$@"
fi
[ "$#" -gt 0 ] || {
	echo "usage: own-netns.sh COMMAND [ARG…]" >&2
	exit 2
}
exec unshare --net -- "$0" --inside "$@"
