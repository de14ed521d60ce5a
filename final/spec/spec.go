// Package spec is the one value a container is started with: what to run,
// on which root, in which namespaces, with which limits. The command line
// fills it in (and the OCI front end will, from a bundle's config.json);
// the lifecycle writes it once, as JSON, into the container's state
// folder; the monitor hands it, unchanged, to init over an inherited pipe,
// as runc hands its config to its init. Nothing else travels to init: no
// positional argv, no environment, no working folder.
//
// Each part names the step that taught it. The parts later issues fill in
// (Security, Network, Mounts of volumes and /proc views) are here as
// fields, so that adding them changes what a container is given, not how
// it is given.
package spec

// Container is everything a container is started with.
type Container struct {
	ID         string     `json:"id"`       // 64 hex digits
	Name       string     `json:"name"`     // unique among containers
	Image      string     `json:"image"`    // the image's ID (sha256:…), or "" for --rootfs
	ImageRef   string     `json:"imageRef"` // the image as it was named on the command line
	Hostname   string     `json:"hostname"` // step02: uts
	Process    Process    `json:"process"`
	Root       Root       `json:"root"`
	Namespaces Namespaces `json:"namespaces"`
	// CgroupParent is the cgroup below which the container's own goes
	// (step03): relative to each hierarchy's root, below "boxcraft".
	CgroupParent string `json:"cgroupParent"`
	// Cgroup is the container's own cgroup's name below CgroupParent,
	// when it is not ID: an OCI bundle's cgroupsPath names it (issue 23).
	Cgroup    string    `json:"cgroup,omitempty"`
	Resources Resources `json:"resources"`
	// Mounts are made, in order, below the new root before pivot_root:
	// volumes (issue 18) and the /proc files a cgroup-aware view
	// answers (issue 21). The root's own mounts (/proc, /sys, /dev) are
	// rootfs's and are not listed here.
	Mounts []Mount `json:"mounts,omitempty"`
	// CgroupMount, when not nil, is boxcraft run's cgroup filesystem on
	// /sys/fs/cgroup, as Docker gives every container: its own cgroups,
	// read-only when Options say "ro". init makes it after pivot_root,
	// once it is in its cgroup and has entered its own cgroup namespace,
	// whose root a new cgroup filesystem shows: so it needs no path of
	// the host's, and init waits for its cgroup no earlier than without
	// it. The command line sets it only with a cgroup namespace of the
	// container's own. An OCI bundle's cgroup mount is one of Mounts,
	// made in their order (issue 23).
	CgroupMount *Mount   `json:"cgroupMount,omitempty"`
	Security    Security `json:"security"`
	Network     Network  `json:"network"`
	// StartFifo is the OCI front end's create (issue 23, runc's exec
	// fifo): init sets the container up, reports that it waits, and
	// opens this fifo for writing, which blocks until start opens it to
	// read; only then does it execute the command.
	StartFifo string `json:"startFifo,omitempty"`

	// ProcView: /proc's meminfo, cpuinfo, stat, uptime, loadavg, swaps,
	// diskstats and /sys/devices/system/cpu/online answered from the
	// container's cgroup by its monitor, and sysinfo(2) with them when
	// there is a seccomp filter (issue 21). false (--proc=host): the
	// host's, as the kernel shows them.
	ProcView bool `json:"procView,omitempty"`

	// OCI holds what only an OCI bundle asks for (issue 23, oci.go).
	OCI *OCI `json:"oci,omitempty"`

	// Trace is --trace: each process of the start narrates its steps
	// (issue 25, final/trace).
	Trace Trace `json:"trace,omitzero"`

	// Sysctl are --sysctl's /proc/sys keys and values, written by init
	// inside the container's namespaces (as an OCI bundle's, OCI.Sysctl);
	// the command line takes only keys of a namespace of the container's
	// own.
	Sysctl map[string]string `json:"sysctl,omitempty"`
	// ShmSize is /dev/shm's size in bytes (--shm-size); 0 is Docker's
	// DefaultShmSize.
	ShmSize int64 `json:"shmSize,omitempty"`
}

// DefaultShmSize is Docker's size of /dev/shm, 64 MiB.
const DefaultShmSize = 64 << 20

// ShmBytes is /dev/shm's size: ShmSize, or DefaultShmSize.
func (c *Container) ShmBytes() int64 {
	if c.ShmSize <= 0 {
		return DefaultShmSize
	}
	return c.ShmSize
}

// Trace is how a start is traced; the zero value is not.
type Trace struct {
	Mode   string `json:"mode,omitempty"`   // "text" or "json"
	Origin int64  `json:"origin,omitempty"` // the command's start, Unix nanoseconds
	// FD is init's descriptor for its lines, which the monitor relays.
	FD int `json:"fd,omitempty"`
}

// CgroupName is the container's own cgroup's name below CgroupParent.
func (c *Container) CgroupName() string {
	if c.Cgroup != "" {
		return c.Cgroup
	}
	return c.ID
}

// Process is the command that init executes, and how (step01).
type Process struct {
	Args     []string `json:"args"`     // argv; Args[0] is looked up in the root's PATH
	Env      []string `json:"env"`      // KEY=VALUE, the image's, then -e and --env-file
	Cwd      string   `json:"cwd"`      // absolute, inside the root; made when missing
	Terminal bool     `json:"terminal"` // -t: a pty of the container's own devpts on stdio
	Stdin    bool     `json:"stdin"`    // -i: stdin stays open
	// User is -u (USER[:GROUP], names or numbers), or the image's
	// User: init resolves it in the container's own /etc/passwd and
	// /etc/group once it is in its root (final/user). Empty is root.
	User string `json:"user,omitempty"`
	// Groups, when not nil, are the supplementary groups, exactly: an
	// OCI bundle's user.additionalGids. nil: the groups that list the
	// user in the root's /etc/group, as Docker does.
	Groups *[]uint32 `json:"groups,omitempty"`
	// GroupAdd are --group-add's groups, names or numbers, resolved in
	// the root's /etc/group with User and added to its groups, as
	// Docker's.
	GroupAdd []string `json:"groupAdd,omitempty"`
	// ConsoleWidth and ConsoleHeight size the pty (an OCI bundle's
	// process.consoleSize); 0 leaves it as it is.
	ConsoleWidth  uint16 `json:"consoleWidth,omitempty"`
	ConsoleHeight uint16 `json:"consoleHeight,omitempty"`
	// ConsoleSocket, with Terminal, is init's descriptor of the unix
	// socket on which it sends its terminal's master (final/console):
	// to the monitor, or to boxcraft-runc's --console-socket. The
	// monitor sets it for init alone, as Trace.FD.
	ConsoleSocket int `json:"consoleSocket,omitempty"`
	// Rlimits are setrlimit(2)'s limits (an OCI bundle's
	// process.rlimits, or run's --ulimit), OOMScoreAdj the OOM killer's
	// bias: nil, inherited.
	Rlimits     []Rlimit `json:"rlimits,omitempty"`
	OOMScoreAdj *int     `json:"oomScoreAdj,omitempty"`
}

// Rlimit is one resource limit: Type as the spec names it (RLIMIT_NOFILE).
type Rlimit struct {
	Type string `json:"type"`
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

// User is a user resolved in a root's /etc/passwd and /etc/group
// (final/user.Lookup): what the command runs as.
type User struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additionalGids,omitempty"` // the groups that list it, setgroups(2)
	Home           string   `json:"home"`                     // HOME, when the environment has none
}

// Root is the container's root filesystem (steps 04 and 05).
type Root struct {
	// Path is the folder init pivots into: the merged overlay the
	// lifecycle mounted on the host (step05), or the folder given with
	// --rootfs (step04), used as it is.
	Path     string `json:"path"`
	ReadOnly bool   `json:"readOnly"` // --read-only
}

// Namespaces says which namespaces are new (step02). The mount
// namespace is always new: pivot_root needs it.
type Namespaces struct {
	UTS    bool `json:"uts"`
	PID    bool `json:"pid"`
	IPC    bool `json:"ipc"`
	Net    bool `json:"net"`
	Cgroup bool `json:"cgroup"`
	// User is new when UIDMap is given (podman's --uidmap and --gidmap).
	UIDMap []IDMap `json:"uidMap,omitempty"`
	GIDMap []IDMap `json:"gidMap,omitempty"`
	// Join names, by kind ("net", "pid", "mnt", …), a namespace to
	// join rather than make: an OCI bundle's namespace path (issue 23).
	// Its kind's field above is true too: the container has a
	// namespace other than the host's.
	Join map[string]string `json:"join,omitempty"`
}

// User reports whether the container gets a user namespace of its own.
func (n Namespaces) User() bool { return len(n.UIDMap) > 0 }

// IDMap maps Size ids from ContainerID inside to HostID outside.
type IDMap struct {
	ContainerID int `json:"containerID"`
	HostID      int `json:"hostID"`
	Size        int `json:"size"`
}

// Resources are the limits asked for (step03), in the units of docker
// run's flags, checked. Zero means not asked for; Unlimited (-1) where
// the flag takes it.
type Resources struct {
	CPUQuota    int64      `json:"cpuQuota,omitempty"`  // µs per period
	CPUPeriod   int64      `json:"cpuPeriod,omitempty"` // µs
	CPUShares   int64      `json:"cpuShares,omitempty"`
	CpusetCPUs  string     `json:"cpusetCpus,omitempty"`
	CpusetMems  string     `json:"cpusetMems,omitempty"`
	Memory      int64      `json:"memory,omitempty"`     // bytes
	MemorySwap  int64      `json:"memorySwap,omitempty"` // memory plus swap, bytes, or Unlimited
	SwapGiven   bool       `json:"swapGiven,omitempty"`  // --memory-swap was given, not defaulted
	PidsLimit   int64      `json:"pidsLimit,omitempty"`  // or Unlimited
	BlkioWeight int64      `json:"blkioWeight,omitempty"`
	Throttles   []Throttle `json:"throttles,omitempty"`
}

// Unlimited is --memory-swap -1 and --pids-limit 0 or below.
const Unlimited = int64(-1)

// Throttle is a rate limit on one block device, from a --device-… flag.
type Throttle struct {
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
	Op    string `json:"op"`   // read or write
	Unit  string `json:"unit"` // bps (bytes) or iops (operations)
	Rate  int64  `json:"rate"` // per second
}

// Mount is one mount made inside the container's root before pivot_root.
type Mount struct {
	Source  string   `json:"source"`
	Target  string   `json:"target"` // absolute, inside the root
	Type    string   `json:"type"`   // "bind", "tmpfs", …
	Options []string `json:"options,omitempty"`
}

// Security is what is taken away from root inside (issue 20), applied by
// init as the last steps before exec. The command line fills it with
// Docker's defaults; --privileged, --cap-add/--cap-drop and --security-opt
// change them; the OCI front end (issue 23) takes it from config.json.
type Security struct {
	Privileged bool `json:"privileged,omitempty"`
	// Capabilities are the capabilities CMD keeps (CAP_CHOWN, …): its
	// bounding set, and for root also its permitted and effective sets.
	// The inheritable and ambient sets stay empty.
	Capabilities []string `json:"capabilities"`
	// CapabilitySets, when not nil, are the other four sets exactly, and
	// Capabilities the bounding set alone: an OCI bundle's
	// process.capabilities (issue 23).
	CapabilitySets  *CapabilitySets `json:"capabilitySets,omitempty"`
	NoNewPrivileges bool            `json:"noNewPrivileges"`
	// Seccomp is the system-call filter, nil for none (unconfined).
	Seccomp *Seccomp `json:"seccomp,omitempty"`
	// MaskedPaths are hidden (an empty read-only file or tmpfs over
	// them), ReadonlyPaths remounted read-only: paths inside the root.
	MaskedPaths   []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`
	// Devices are devices made in /dev and allowed by the device cgroup
	// beyond the defaults (--device).
	Devices []Device `json:"devices,omitempty"`
}

// CapabilitySets are the capability sets besides the bounding set.
type CapabilitySets struct {
	Effective   []string `json:"effective"`
	Permitted   []string `json:"permitted"`
	Inheritable []string `json:"inheritable"`
	Ambient     []string `json:"ambient"`
}

// Seccomp is a system-call filter in the OCI runtime spec's shape
// (Docker's profiles translate to it): an action for every call no rule
// names, and rules by name, optionally on arguments.
type Seccomp struct {
	DefaultAction   string           `json:"defaultAction"` // SCMP_ACT_ERRNO, SCMP_ACT_ALLOW, …
	DefaultErrnoRet *uint            `json:"defaultErrnoRet,omitempty"`
	Architectures   []string         `json:"architectures,omitempty"` // SCMP_ARCH_X86_64, …
	Syscalls        []SeccompSyscall `json:"syscalls,omitempty"`
	// Compiled, in the settings the monitor hands init, is the profile
	// compiled to BPF, in the place of its rules: init installs it as it
	// is, and neither decodes nor compiles the rules on its way to the
	// command (issue 26). A record never holds it.
	Compiled *CompiledSeccomp `json:"compiled,omitempty"`
}

// CompiledSeccomp is a profile compiled (final/seccomp's Precompile).
type CompiledSeccomp struct {
	Program []byte `json:"program"` // struct sock_filter's, in the machine's byte order
	Rules   int    `json:"rules"`   // the profile's rules, for the trace to count
}

// SeccompSyscall is one rule: these calls get this action when every
// argument condition holds.
type SeccompSyscall struct {
	Names    []string     `json:"names"`
	Action   string       `json:"action"`
	ErrnoRet *uint        `json:"errnoRet,omitempty"`
	Args     []SeccompArg `json:"args,omitempty"`
}

// SeccompArg compares argument Index with Value (and ValueTwo, for
// SCMP_CMP_MASKED_EQ) by Op (SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ, …).
type SeccompArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

// Device is a device node the container gets, and may use.
type Device struct {
	Path     string `json:"path"` // inside the container
	Type     string `json:"type"` // "c" or "b"
	Major    int64  `json:"major"`
	Minor    int64  `json:"minor"`
	FileMode uint32 `json:"fileMode"`
	Access   string `json:"access"` // some of r, w, m
}

// Network is how the container is connected (issue 19, final/network):
// "bridge" (the default: a veth pair to the bridge boxcraft0, an address,
// NAT), "none" (a network namespace with a loopback alone), "host", or
// "container:ID" (another container's network namespace).
type Network struct {
	Mode   string `json:"mode"`
	Subnet string `json:"subnet,omitempty"` // --subnet, for the bridge
	Ports  []Port `json:"ports,omitempty"`  // -p
	// Hosts (--add-host) and DNS (--dns, --dns-search, --dns-option)
	// are what the container's /etc/hosts and /etc/resolv.conf say
	// beyond boxcraft's own lines (final/network's etc.go): here, so
	// that each start writes them again.
	Hosts []Host `json:"hosts,omitempty"`
	DNS   DNS    `json:"dns,omitzero"`
}

// Host is one --add-host: a line "IP\tName" in /etc/hosts. IP is an
// address, or HostGateway, the bridge's address, found at each start.
type Host struct {
	Name string `json:"name"`
	IP   string `json:"ip"`
}

// HostGateway is Docker's --add-host address for the host, as the
// container reaches it: for boxcraft, the bridge's gateway.
const HostGateway = "host-gateway"

// DNS is what /etc/resolv.conf says instead of the host's: each part
// given replaces the host's, each one left out keeps the host's.
type DNS struct {
	Servers []string `json:"servers,omitempty"` // --dns: nameserver lines
	Search  []string `json:"search,omitempty"`  // --dns-search: the search line
	Options []string `json:"options,omitempty"` // --dns-option: the options line
}

// Given reports whether any part of d was asked for.
func (d DNS) Given() bool { return len(d.Servers)+len(d.Search)+len(d.Options) > 0 }

// The modes of Network: here, where the monitor reads them, and not in
// final/network alone, so that a program that never connects a
// container to the bridge (boxcraft-runc) need not link that package to
// know one when it sees it.
const (
	NetworkBridge = "bridge"
	NetworkNone   = "none"
	NetworkHost   = "host"
	// NetworkContainer is "container:ID"'s prefix: the namespace of
	// another container, as a pod's containers share one.
	NetworkContainer = "container:"
)

// Port is one published port: -p [IP:]HOST:CTR[/tcp|/udp].
type Port struct {
	HostIP        string `json:"hostIP,omitempty"` // "" is every address of the host
	HostPort      uint16 `json:"hostPort"`
	ContainerPort uint16 `json:"containerPort"`
	Proto         string `json:"proto"` // tcp or udp
}
