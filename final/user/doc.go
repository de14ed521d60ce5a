// Package user resolves docker run's -u USER[:GROUP] (names or numbers)
// to the ids a container's command runs as, from the image's own
// /etc/passwd and /etc/group, never the host's: a name means whatever the
// image says it means. It reads both files beneath the root it is given
// (openat2(2) with RESOLVE_IN_ROOT), so that a symlink in the image such
// as /etc/passwd -> /../../etc/shadow stays inside it.
//
// The steps ran everything as root; runc's libcontainer/user taught the
// rules, which Docker keeps: a number needs no entry, a name does; the
// groups that list the user by name are its supplementary groups, unless
// a group was given; HOME comes from the user's entry.
package user
