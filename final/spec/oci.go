package spec

// OCI is what an OCI bundle's config.json asks for beyond boxcraft
// run's flags (issue 23): the runtime spec's domainname, sysctl,
// timeOffsets, and the hooks that init runs itself.
type OCI struct {
	Domainname string `json:"domainname,omitempty"`
	// Sysctl are /proc/sys's keys (net.ipv4.ip_forward) and values,
	// written by init inside the container's namespaces.
	Sysctl map[string]string `json:"sysctl,omitempty"`
	// RootfsPropagation is the root mount's propagation once pivoted
	// into (shared, rslave, …): every mount is made private first, so
	// nothing of it reaches the host's.
	RootfsPropagation string `json:"rootfsPropagation,omitempty"`
	// Umask is the process's file mode creation mask (process.user.umask).
	Umask *uint32 `json:"umask,omitempty"`
	// TimeNamespace: a new time namespace, whose clocks TimeOffsets
	// ("monotonic", "boottime") move.
	TimeNamespace bool                  `json:"timeNamespace,omitempty"`
	TimeOffsets   map[string]TimeOffset `json:"timeOffsets,omitempty"`
	// CreateContainer hooks run in the container's namespaces before
	// pivot_root, StartContainer hooks after start, before the command.
	CreateContainer []Hook    `json:"createContainer,omitempty"`
	StartContainer  []Hook    `json:"startContainer,omitempty"`
	HookState       HookState `json:"hookState"`
}

// TimeOffset moves a clock of a time namespace.
type TimeOffset struct {
	Secs     int64  `json:"secs"`
	Nanosecs uint32 `json:"nanosecs"`
}

// Hook is one program an OCI bundle runs at a point of the lifecycle.
type Hook struct {
	Path    string   `json:"path"`
	Args    []string `json:"args,omitempty"` // argv, Args[0] included
	Env     []string `json:"env,omitempty"`
	Timeout *int     `json:"timeout,omitempty"` // seconds
}

// HookState is what of the OCI state a hook reads that init cannot
// know by itself: the engine's id, the bundle and the annotations.
type HookState struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations,omitempty"`
}
