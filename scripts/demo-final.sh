#!/usr/bin/env bash
# make final: a narrated demonstration of boxcraft, the complete runtime
# (final/). It uses the machine's own store, where make imported the
# busybox image as busybox:latest: a demo shows the real thing. Its
# containers have names of their own (demo-…); it removes them at the
# end, and leaves every other container as it was.
# The containers' scripts are expanded by the shell inside them:
# shellcheck disable=SC2016
set -euo pipefail
cd "$(dirname "$0")/.."

# The commands read as one types them: boxcraft, not _build/bin/boxcraft.
export PATH=$PWD/_build/bin:$PATH
image=busybox
names=(demo-ticker demo-hog)

# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh

# show_pipe prints a pipeline as typed, then runs it.
show_pipe() {
	printf '$ %s\n' "$1"
	bash -c "$1"
}

# A container of one of the demo's names that was there before is
# someone's: stop rather than remove it at the end.
for name in "${names[@]}"; do
	if boxcraft inspect "$name" >/dev/null 2>&1; then
		echo "final: a container named $name is there already: remove it (boxcraft rm -f $name) and run the demo again" >&2
		exit 1
	fi
done
made=()
cleanup() {
	local name
	for name in "${made[@]}"; do boxcraft rm -f "$name" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

say "boxcraft keeps images in a store, /var/lib/boxcraft/store. make imported the workshop's busybox tarball into it as busybox:latest:"
show boxcraft images

say "A container in the foreground: its output comes straight back, and its exit status is boxcraft's. It has its own hostname (the first 12 hex digits of its ID) and its own processes. --rm removes it when it ends."
show boxcraft run --rm "$image" sh -c 'echo "hello from $(hostname)"; ps -o pid,args; exit 3' || notice "exit status $?"

say "With -d, boxcraft prints the container's ID once its command has started, and returns. A small monitor process (boxcraft itself, re-executed) stays to wait for it and to write its output to a log."
made+=(demo-ticker)
show boxcraft run -d --name demo-ticker "$image" sh -c 'trap "echo got SIGTERM; exit 0" TERM; i=0; while :; do echo "tick $i"; i=$((i + 1)); sleep 1; done'
show boxcraft ps
id=$(boxcraft inspect demo-ticker | sed -n 's/.*"Id": "\(.\{12\}\).*/\1/p')
show_pipe "grep -E '\"(status|pid|monitorPid)\"' /run/boxcraft/containers/$id*/state.json"
monitor=$(sed -n 's/.*"monitorPid": *\([0-9]*\).*/\1/p' /run/boxcraft/containers/"$id"*/state.json)
show ps -o pid,ppid,rss,args -p "$monitor"
notice "the monitor's parent is 1: the boxcraft that started it has exited. No daemon."

sleep 2.5
say "Its log holds what it wrote, as docker logs shows it:"
show boxcraft logs demo-ticker
show boxcraft logs --tail 1 -t demo-ticker

say "stop sends SIGTERM, then SIGKILL after -t seconds (10 by default). This command traps SIGTERM, and exits 0:"
show boxcraft stop demo-ticker
show boxcraft logs --tail 2 demo-ticker
show boxcraft ps -a

say "A memory limit, with docker's flag: -m 16m. The shell doubles a string until the kernel's OOM killer ends it. boxcraft returns 137 (128 + SIGKILL) and says why, in one line on stderr."
made+=(demo-hog)
show boxcraft run --name demo-hog -m 16m "$image" sh -c 'x=a; while :; do x=$x$x; done' || notice "exit status $?"
hog=$(boxcraft inspect demo-hog | sed -n 's/.*"Id": "\(.\{12\}\).*/\1/p')

say "inspect shows a container as docker inspect does, in JSON. A few of its fields:"
show_pipe "boxcraft inspect demo-hog | grep -E '\"(Status|ExitCode|OOMKilled|Memory)\"'"
show_pipe "boxcraft inspect demo-hog | sed -n 's/.*\"UpperDir\": \"\\([^\"]*\\)\".*/\\1/p'"

say "rm removes a stopped container: its record, its log, its upper layer. The image stays."
show boxcraft rm demo-ticker
made=(demo-hog)

say "prune removes every stopped container at once."
# prune would remove the stopped containers of whoever uses this machine
# too: prune only when the demo's are the only ones.
others=$(comm -23 <(boxcraft ps -a -q | sort) <( (boxcraft ps -q && echo "$hog") | sort))
if [ -n "$others" ]; then
	notice "there are other stopped containers here ($(echo "$others" | tr '\n' ' ')): prune would remove them too, so the demo removes its own with rm."
	show boxcraft rm demo-hog
else
	show boxcraft prune
fi
made=()
show boxcraft ps -a
say "Nothing of the demo's containers is left: no mount (mountinfo), no cgroup, no state (their folders are named by their IDs):"
show_pipe "grep -cE '$id|$hog' /proc/self/mountinfo; find /sys/fs/cgroup /run/boxcraft /var/lib/boxcraft -name '$id*' -o -name '$hog*' | wc -l"
