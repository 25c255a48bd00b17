package render

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/plan"
)

// Where Proxmox's dnsmasq DHCP plugin puts its files on a node.
const (
	DnsmasqConfigRoot  = "/etc/dnsmasq.d"
	DnsmasqDefaultRoot = "/etc/default"
	DnsmasqLeaseRoot   = "/var/lib/misc"
)

// DnsmasqFiles renders the files Proxmox writes for the DHCP servers of a
// node's plan, keyed by absolute path: per zone /etc/default/dnsmasq.<zone>
// (what dnsmasq@<zone> starts with), the D-Bus policy, and under
// /etc/dnsmasq.d/<zone>/ 00-default.conf and one 10-<vnet>.conf per VNet
// with a subnet to serve. The ethers file (IPAM's MAC to address
// mappings) is not among them: it follows the guests (see DnsmasqEthers).
func DnsmasqFiles(p *plan.NodePlan) map[string]string {
	out := map[string]string{}
	for _, srv := range p.DHCP {
		if srv.Type != "dnsmasq" {
			continue
		}
		dir := DnsmasqConfigRoot + "/" + srv.Zone
		out["/etc/dbus-1/system.d/dnsmasq."+srv.Zone+".conf"] = dnsmasqDBus(srv.Zone)
		out[DnsmasqDefaultRoot+"/dnsmasq."+srv.Zone] = fmt.Sprintf("CONFIG_DIR='%s,*.conf'\nDNSMASQ_OPTS=\"--conf-file=/dev/null --enable-dbus=uk.org.thekelleys.dnsmasq.%s\"\n", dir, srv.Zone)
		out[dir+"/00-default.conf"] = DnsmasqDefault(srv.Zone, srv.MTU, DnsmasqLeaseRoot+"/dnsmasq."+srv.Zone+".leases", dir+"/ethers")
		for _, v := range srv.VNets {
			if lines := dnsmasqVNet(v); len(lines) > 0 {
				out[dir+"/10-"+v.VNet+".conf"] = strings.Join(lines, "\n") + "\n"
			}
		}
	}
	return out
}

// DnsmasqDefault is a zone's 00-default.conf with the given lease and
// hosts files (Proxmox: /var/lib/misc/dnsmasq.<zone>.leases and
// /etc/dnsmasq.d/<zone>/ethers; a lab puts both in its state directory).
func DnsmasqDefault(zone string, mtu int, leaseFile, hostsFile string) string {
	var b strings.Builder
	for _, l := range []string{
		"except-interface=lo",
		"enable-ra",
		"quiet-ra",
		"bind-dynamic",
		"no-hosts",
		"dhcp-leasefile=" + leaseFile,
		"dhcp-hostsfile=" + hostsFile,
		"dhcp-ignore=tag:!known",
		"",
		fmt.Sprintf("dhcp-option=26,%d", mtu),
		fmt.Sprintf("ra-param=*,mtu:%d,0", mtu),
		"",
		"# Send an empty WPAD option. This may be REQUIRED to get windows 7 to behave.",
		`dhcp-option=252,"\n"`,
		"",
		"# Send microsoft-specific option to tell windows to release the DHCP lease",
		"# when it shuts down. Note the \"i\" flag, to tell dnsmasq to send the",
		"# value as a four-byte integer - that's what microsoft wants.",
		"dhcp-option=vendor:MSFT,2,1i",
		"",
		"# If a DHCP client claims that its name is \"wpad\", ignore that.",
		"# This fixes a security hole. see CERT Vulnerability VU#598349",
		"dhcp-name-match=set:wpad-ignore,wpad",
		"dhcp-ignore-names=tag:wpad-ignore",
	} {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// dnsmasqVNet is the content of 10-<vnet>.conf, line by line: for each
// subnet a static range tagged with the subnet ID (network and mask taken
// from the ID, the mask dotted for IPv4), the router option (IPv4 with a
// gateway) and the DNS server option; an IPv6 subnet without gateway is
// skipped (Proxmox's plugin dies on it and the caller warns). Then the
// VNet's interface, when any line was written.
func dnsmasqVNet(v plan.DHCPVNet) []string {
	var lines []string
	for _, s := range v.Subnets {
		parts := strings.Split(s.ID, "-")
		if len(parts) != 3 {
			continue
		}
		network, mask := parts[1], parts[2]
		ip := net.ParseIP(network)
		is4 := ip != nil && ip.To4() != nil
		if !s.Gateway.IsValid() && !is4 {
			continue
		}
		if is4 {
			var bits int
			if _, err := fmt.Sscanf(mask, "%d", &bits); err == nil && bits >= 0 && bits <= 32 {
				m := net.CIDRMask(bits, 32)
				mask = fmt.Sprintf("%d.%d.%d.%d", m[0], m[1], m[2], m[3])
			}
		}
		lines = append(lines, fmt.Sprintf("dhcp-range=set:%s,%s,static,%s,infinite", s.ID, network, mask))
		// Proxmox leaves the option prefix empty for an IPv4 subnet without
		// gateway; its DNS line is then written as ",:dns-server,".
		opt := ""
		if !is4 {
			opt = "option6"
		} else if s.Gateway.IsValid() {
			opt = "option"
			lines = append(lines, fmt.Sprintf("dhcp-option=tag:%s,%s:router,%s", s.ID, opt, s.Gateway))
		}
		if s.DNSServer.IsValid() {
			lines = append(lines, fmt.Sprintf("dhcp-option=tag:%s,%s:dns-server,%s", s.ID, opt, s.DNSServer))
		}
	}
	if len(lines) > 0 {
		lines = append(lines, "interface="+v.VNet)
	}
	return lines
}

func dnsmasqDBus(zone string) string {
	name := "uk.org.thekelleys.dnsmasq." + zone
	return `<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
        <policy user="root">
                <allow own="` + name + `"/>
                <allow send_destination="` + name + `"/>
        </policy>
        <policy user="dnsmasq">
                <allow own="` + name + `"/>
                <allow send_destination="` + name + `"/>
        </policy>
        <policy context="default">
                <deny own="` + name + `"/>
                <deny send_destination="` + name + `"/>
        </policy>
</busconfig>
`
}

// EthersEntry is one IPAM mapping of a DHCP zone: a guest MAC and its
// IPv4 address.
type EthersEntry struct {
	MAC string
	IP4 string
}

// DnsmasqEthers is the content of a zone's ethers file for mappings in
// the order they were added ("mac,ip" lines, as the plugin appends them).
func DnsmasqEthers(entries []EthersEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s,%s\n", e.MAC, e.IP4)
	}
	return b.String()
}

// DnsmasqPaths returns the keys of files sorted, for writing in order.
func DnsmasqPaths(files map[string]string) []string {
	out := make([]string, 0, len(files))
	for k := range files {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
