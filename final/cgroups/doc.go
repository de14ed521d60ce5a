// Package cgroups puts a container in a cgroup of its own and limits what
// it may use there: step03-cgroups taught the idea (step05-layers holds
// the code this package grew from).
//
// A cgroup is a folder in a special filesystem; its files hold the
// limits. To limit a container: make a folder for it, write the limits
// into its files, and put the container's first process in it. Its
// children are born in it too.
//
// There are two versions of that filesystem. On cgroup v1, each
// controller (cpu, memory, pids, …) has a tree of folders of its own,
// mounted at /sys/fs/cgroup/CONTROLLER, so a container gets one folder in
// each. On cgroup v2, one tree holds every controller, mounted at
// /sys/fs/cgroup itself, and a container gets one folder. The limits are
// the same ideas under other file names: limits.go is the table of one
// to the other.
//
// As runc's cgroup managers do (fs and fs2), one type, Cgroup, serves
// both: New chooses the v1 or the v2 implementation (v1.go, v2.go) once,
// by the type of the filesystem on /sys/fs/cgroup, and no caller needs to
// know which it got, except to start a process straight in the cgroup
// (IntoFD, v2 only) or to move it in afterwards (Add).
//
// The package makes, writes and removes cgroups only below the
// workshop's own, "boxcraft".
package cgroups
