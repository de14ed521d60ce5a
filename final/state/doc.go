// Package state keeps what boxcraft knows of its containers, with no
// daemon to hold it in memory: a folder per container, in two places.
//
//   - LIB/containers/ID (LIB is /var/lib/boxcraft) survives a reboot: the
//     container's settings (config.json, the spec.Container it was started
//     with), its log, and its upper layer and overlay mount point.
//   - RUN/containers/ID (RUN is /run/boxcraft, a tmpfs) is what ps needs
//     and a reboot ends: state.json (created, running, exited; pids; exit
//     status) and monitor.lock, which the container's monitor holds for as
//     long as it lives, so that "is it running" is a question flock(2)
//     answers, immune to pid reuse.
//
// Every change is made under a file lock and written atomically (write a
// temporary file, rename it over the old; fsync first for what must
// outlive a crash of the machine, package durable), so that 20 boxcraft commands at once,
// or one killed halfway, never leave a half-written file. step04 and
// step05 kept a folder per run, named by pid; this is that idea grown into
// a record that outlives the run.
package state
