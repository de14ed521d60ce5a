package containerinit

import (
	"fmt"
	"os"
	"strings"
)

// namespacedSysctls are the keys outside net.* that a new ipc namespace
// holds: the System V IPC limits (runc's validator's list, and Docker's
// for --sysctl), with fs.mqueue.*.
var namespacedSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// SysctlNamespace is the kind of namespace ("ipc", "net") that holds the
// sysctl key, or "" for a key that is the host's whatever the container
// has (or one this does not know: never written). final/oci and boxcraft
// run's --sysctl both check a key with it before init writes it.
func SysctlNamespace(key string) string {
	switch {
	case strings.ContainsAny(key, "/") || strings.Contains(key, ".."):
		return ""
	case namespacedSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
		return "ipc"
	case strings.HasPrefix(key, "net."):
		return "net"
	}
	return ""
}

// writeSysctls writes each key's file below /proc/sys: the container's
// /proc, so that a namespaced key (net.*, kernel.shm*, …) changes the
// container's namespace alone. final/oci and boxcraft run refuse the
// keys that would reach the host's, as runc's validator and Docker do.
func writeSysctls(sysctl map[string]string) error {
	for key, value := range sysctl {
		path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
		}
	}
	return nil
}
