package monitor

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/spec"
)

// raiseHardLimits raises, from outside, each hard limit of init (pid)
// that its settings ask above the one it has. init sets its limits
// itself, once the container's capabilities are in place, and Docker's
// default set leaves out CAP_SYS_RESOURCE, which a raise of a hard limit
// takes; runc sets them from outside for that reason. So the monitor,
// root on the host, raises the hard limit with prlimit(2) before init
// goes on (it waits for containerinit.InCgroup), and init then sets each
// limit within it. The soft limit is left as it is: init's Go runtime
// runs under it until the exec (RLIMIT_AS, RLIMIT_DATA).
func raiseHardLimits(pid int, limits []spec.Rlimit) error {
	for _, l := range limits {
		n, ok := containerinit.RlimitNumber(l.Type)
		if !ok {
			continue // init refuses it, naming it
		}
		var has unix.Rlimit
		if err := unix.Prlimit(pid, n, nil, &has); err != nil {
			return fmt.Errorf("prlimit %s of init: %w", l.Type, err)
		}
		if l.Hard <= has.Max {
			continue
		}
		if err := unix.Prlimit(pid, n, &unix.Rlimit{Cur: has.Cur, Max: l.Hard}, nil); err != nil {
			return fmt.Errorf("raise %s's hard limit to %d: %w (it takes CAP_SYS_RESOURCE, which boxcraft does not have here)", l.Type, l.Hard, err)
		}
	}
	return nil
}
