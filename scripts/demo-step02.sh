#!/usr/bin/env bash
# make step02: a narrated demonstration of step02-namespaces. The same
# commands run in a container with every namespace, then with one of them
# left out, so that the difference is that namespace's work.
set -euo pipefail
cd "$(dirname "$0")/.."

step02=_build/bin/step02
rootfs=_build/rootfs

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh

# The demo makes a file in the rootfs's /tmp; whatever happens, it goes again.
cleanup() { rm -f "$rootfs/tmp/made-inside"; }
trap cleanup EXIT

look='hostname; id; ps; ip -o link'

say "Every namespace (the default): the container's own hostname, users, processes and network."
show "$step02" run "$rootfs" sh -c "$look"
notice "hostname is the container's, id says root, ps shows only the container's processes, and the network is lo alone."

say "The host, for comparison."
show hostname
show sh -c 'ls -d /proc/[0-9]* | wc -l'
notice "the host's name, and how many processes the host runs."

say "Now the same with the PID namespace left out (--ns names all the others)."
# shellcheck disable=SC2016 # the script is expanded by the shell inside the container
show "$step02" run --ns uts,mnt,ipc,net,user,cgroup,time "$rootfs" sh -c 'hostname; ps -o pid,comm | head -n 4; echo "... $(ps -o pid | tail -n +2 | wc -l) processes in all"; ip -o link'
notice "ps lists the host's processes again, as in step01: the hostname and the network are still the container's."

say "And with the network namespace left out."
show "$step02" run --ns uts,pid,mnt,ipc,user,cgroup,time "$rootfs" ip -o link
notice "every interface of the host: without its own network namespace the container shares the host's."

say "Root inside is an ordinary user outside: the user namespace maps container uid 0 to an unprivileged host uid."
show "$step02" run "$rootfs" sh -c 'touch /tmp/made-inside; ls -ln /tmp/made-inside'
show ls -ln "$rootfs/tmp/made-inside"
notice "uid 0 inside, uid 100000 on the host (or the first id of your own /etc/subuid range, when sudo ran this)."

say "Time: the boot clock moves a day forward; the wall clock does not move at all."
show "$step02" run --boottime-offset 86400 "$rootfs" sh -c 'cat /proc/uptime; date'
show sh -c 'cat /proc/uptime; date'
notice "uptime is a day (86400 s) more inside, but date is the same: CLOCK_REALTIME has no namespace."
say "The root is still a chroot, so root can still climb out of it. step04 replaces it with pivot_root."
