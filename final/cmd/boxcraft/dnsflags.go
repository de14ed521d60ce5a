package main

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/spf13/pflag"
)

// addNameFlags adds Docker's name-resolution flags: --add-host for the
// container's /etc/hosts, --dns, --dns-search and --dns-option for its
// /etc/resolv.conf.
func addNameFlags(flags *pflag.FlagSet) {
	addList(flags, "add-host", "", "NAME:IP (or NAME=IP; IP may be host-gateway, the bridge's address): a line in the container's /etc/hosts (repeatable)")
	addList(flags, "dns", "", "a name server for the container's /etc/resolv.conf, instead of the host's (repeatable)")
	addList(flags, "dns-search", "", "a search domain for the container's /etc/resolv.conf, instead of the host's (repeatable)")
	addList(flags, "dns-option", "", "a resolv.conf option (ndots:2, …) for the container, instead of the host's (repeatable)")
	// --dns-opt: Docker's older name for it, which it still takes, unlisted.
	flags.Var(flags.Lookup("dns-option").Value, "dns-opt", "")
	_ = flags.MarkHidden("dns-opt")
}

// parseNames reads the name-resolution flags into n, once n.Mode is
// known, checking each before anything is made. As Docker, it refuses
// them with another container's network, whose namespace, and so whose
// names, are that container's; and host-gateway where there is no
// bridge to give its address. A folder given with --rootfs is used as
// it is, with no /etc files written: the flags would do nothing there.
func parseNames(flags *pflag.FlagSet, n *spec.Network) error {
	for _, s := range getList(flags, "add-host") {
		h, err := network.ParseHost(s)
		if err != nil {
			return err
		}
		n.Hosts = append(n.Hosts, h)
	}
	n.DNS = spec.DNS{Servers: getList(flags, "dns"), Search: getList(flags, "dns-search"), Options: getList(flags, "dns-option")}
	if err := network.CheckDNS(n.DNS); err != nil {
		return err
	}
	if len(n.Hosts) == 0 && !n.DNS.Given() {
		return nil
	}
	if strings.HasPrefix(n.Mode, network.ModeContainer) {
		if len(n.Hosts) > 0 {
			return fmt.Errorf("conflicting options: custom host-to-IP mapping (--add-host) and the network mode (--network container:…): the names are the other container's")
		}
		return fmt.Errorf("conflicting options: dns and the network mode (--network container:…): the names are the other container's")
	}
	if flags.Changed("rootfs") {
		return fmt.Errorf("--add-host and --dns…: a folder given with --rootfs is used as it is, and boxcraft writes no /etc files into it")
	}
	for _, h := range n.Hosts {
		if h.IP == spec.HostGateway && n.Mode != network.ModeBridge {
			return fmt.Errorf("--add-host %s:%s: --network %s has no bridge, and so no gateway to give", h.Name, h.IP, n.Mode)
		}
	}
	return nil
}

// extraHosts is inspect's HostConfig.ExtraHosts: NAME:IP, as Docker's.
func extraHosts(hosts []spec.Host) []string {
	list := []string{}
	for _, h := range hosts {
		list = append(list, h.Name+":"+h.IP)
	}
	return list
}
