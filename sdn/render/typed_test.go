package render_test

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/plan"
)

// checkTyped verifies that every option line of every stanza is reflected
// in the stanza's typed fields, so the realizer (which reads only the
// typed fields) sees what Proxmox's text says.
func checkTyped(t *testing.T, plan *plan.NodePlan) {
	t.Helper()
	for _, i := range plan.Ifaces {
		for _, l := range i.Lines {
			if why := typedMismatch(&i, l); why != "" {
				t.Errorf("%s: line %q: %s", i.Name, l.String(), why)
			}
		}
	}
}

func typedMismatch(i *plan.Iface, l plan.Line) string {
	num := func() int { n, _ := strconv.Atoi(l.Value); return n }
	switch l.Key {
	case "address":
		p, err := netip.ParsePrefix(l.Value)
		if err != nil || !slices.Contains(i.Addresses, p) {
			return "not in Addresses"
		}
	case "hwaddress":
		if i.HWAddress != l.Value {
			return "HWAddress differs"
		}
	case "mtu", "ovs_mtu":
		if i.MTU != num() {
			return "MTU differs"
		}
	case "alias":
		if i.Alias != l.Value {
			return "Alias differs"
		}
	case "bridge_ports", "bridge-ports":
		var want []string
		for _, p := range strings.Fields(l.Value) {
			if p != "none" {
				want = append(want, p)
			}
		}
		if !slices.Equal(i.BridgePorts, want) {
			return "BridgePorts differ"
		}
	case "bridge_stp", "bridge-stp":
		if i.BridgeSTP == nil || *i.BridgeSTP {
			return "BridgeSTP not off"
		}
	case "bridge_fd", "bridge-fd":
		if i.BridgeFD == nil || *i.BridgeFD != num() {
			return "BridgeFD differs"
		}
	case "bridge-vlan-aware":
		if !i.VlanAware {
			return "VlanAware not set"
		}
	case "bridge-vids":
		if i.BridgeVids != l.Value {
			return "BridgeVids differs"
		}
	case "bridge-vlan-protocol":
		if i.BridgeVlanProtocol != l.Value {
			return "BridgeVlanProtocol differs"
		}
	case "vlan-raw-device":
		if i.VlanRawDevice != l.Value || i.Kind != plan.KindVlan {
			return "VlanRawDevice/Kind differ"
		}
	case "vlan-id":
		if i.VlanID != num() {
			return "VlanID differs"
		}
	case "vlan-protocol":
		if i.VlanProtocol != l.Value || i.Kind != plan.KindVlan || i.VlanRawDevice == "" || i.VlanID == 0 {
			return "VlanProtocol/raw device/id missing"
		}
	case "link-type":
		if want := map[string]plan.IfaceKind{"veth": plan.KindVeth, "dummy": plan.KindDummy, "wireguard": plan.KindWireGuard}[l.Value]; want != "" && i.Kind != want {
			return "Kind differs"
		}
	case "veth-peer-name":
		if i.VethPeer != l.Value || i.Kind != plan.KindVeth {
			return "VethPeer/Kind differ"
		}
	case "ovs_type":
		if i.OVSType != l.Value || i.Kind != plan.KindOVS {
			return "OVSType/Kind differ"
		}
	case "ovs_bridge":
		if i.OVSBridge != l.Value {
			return "OVSBridge differs"
		}
	case "ovs_options":
		o := i.OVSOptions
		if o == nil || !strings.Contains(l.Value, "tag="+strconv.Itoa(o.Tag)) ||
			(o.VlanMode != "") != strings.Contains(l.Value, "vlan_mode=") {
			return "OVSOptions differ"
		}
	case "ovs_ports":
		for _, p := range strings.Fields(l.Value) {
			if !slices.Contains(i.OVSPorts, p) {
				return "port not in OVSPorts"
			}
		}
	case "vxlan-id":
		if i.VxlanID != num() || i.Kind != plan.KindVxlan {
			return "VxlanID/Kind differ"
		}
	case "vxlan-local-tunnelip":
		if i.VxlanLocal.String() != l.Value {
			return "VxlanLocal differs"
		}
	case "vxlan_remoteip":
		a, err := netip.ParseAddr(l.Value)
		if err != nil || !slices.Contains(i.VxlanRemotes, a) {
			return "not in VxlanRemotes"
		}
	case "vxlan-port":
		if i.VxlanPort != num() {
			return "VxlanPort differs"
		}
	case "bridge-learning":
		if i.Learning == nil || *i.Learning {
			return "Learning not off"
		}
	case "bridge-arp-nd-suppress":
		if !i.ARPNDSuppress {
			return "ARPNDSuppress not set"
		}
	case "ip-forward":
		if !i.IPForward {
			return "IPForward not set"
		}
	case "ip6-forward":
		if !i.IP6Forward {
			return "IP6Forward not set"
		}
	case "arp-accept":
		if !i.ARPAccept {
			return "ARPAccept not set"
		}
	case "vrf":
		if i.VRF != l.Value {
			return "VRF differs"
		}
	case "vrf-table":
		if i.VRFTable != l.Value || i.Kind != plan.KindVRF {
			return "VRFTable/Kind differ"
		}
	case "up":
		if !slices.Contains(i.Up, l.Value) || len(i.Routes) == 0 {
			return "not in Up/Routes"
		}
	case "post-up", "post-down", "down":
		cmds := map[string][]string{"post-up": i.PostUp, "post-down": i.PostDown, "down": i.Down}[l.Key]
		if !slices.Contains(cmds, l.Value) {
			return "not in PostUp/PostDown/Down"
		}
		switch {
		case strings.Contains(l.Value, "iptables"):
			if len(i.SNAT) == 0 {
				return "iptables line without a typed SNAT rule"
			}
		case strings.Contains(l.Value, "ip route"):
			if len(i.Routes) == 0 {
				return "route line without a typed Route"
			}
		}
	default:
		return "key unknown to the typed-field check"
	}
	return ""
}

// The typed-vs-text check must itself catch a drift.
func TestCheckTypedCatchesDrift(t *testing.T) {
	i := plan.Iface{Name: "x", Kind: plan.KindBridge, MTU: 1400,
		Lines: []plan.Line{{Key: "mtu", Value: "1450"}}}
	if typedMismatch(&i, i.Lines[0]) == "" {
		t.Error("an MTU drift went unnoticed")
	}
}
