package lifecycle

// Frozen says whether c's processes are frozen: its cgroup's freezer
// says so (cgroups.Cgroup.Frozen). A container paused by boxcraft pause
// or an OCI pause, and only such a one, is.
func (r *Runtime) Frozen(c Container) bool {
	cg, err := r.cgroupOf(c)
	return err == nil && cg.Frozen()
}

// Thawed says whether c's freezer lets its processes run: a freeze under
// way, or one that did not finish, is not thawed (nor Frozen).
func (r *Runtime) Thawed(c Container) bool {
	cg, err := r.cgroupOf(c)
	return err != nil || cg.Thawed()
}

// SetFrozen freezes c's processes, returning once every one has
// stopped, or thaws them: the freezer of its cgroup, whatever its status
// (its callers check that).
func (r *Runtime) SetFrozen(c Container, frozen bool) error {
	cg, err := r.cgroupOf(c)
	if err != nil {
		return err
	}
	if frozen {
		return cg.Freeze()
	}
	return cg.Thaw()
}
