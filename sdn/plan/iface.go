package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// IfaceKind says what kind of device a stanza describes.
type IfaceKind string

// Kinds of stanza.
const (
	KindBridge    IfaceKind = "bridge"    // Linux bridge (VNet, zone or L3VNI bridge)
	KindVxlan     IfaceKind = "vxlan"     // VXLAN device
	KindVRF       IfaceKind = "vrf"       // VRF device (vrf-table)
	KindVeth      IfaceKind = "veth"      // one end of a veth pair (link-type veth)
	KindVlan      IfaceKind = "vlan"      // 802.1Q/802.1ad sub-interface
	KindOVS       IfaceKind = "ovs"       // Open vSwitch port or bridge (ovs_type/ovs_ports)
	KindDummy     IfaceKind = "dummy"     // dummy device (fabric loopback)
	KindPhysical  IfaceKind = "physical"  // a host NIC the stanza configures (fabric links)
	KindWireGuard IfaceKind = "wireguard" // WireGuard device (wireguard fabric)
)

// Iface is one stanza of /etc/network/interfaces.d/sdn.
//
// It carries the same facts twice, on purpose: typed fields for the kernel
// realizer (which must not parse text), and Lines, the option lines in
// Proxmox's exact order and spelling, for the renderer. Both are written
// together by the setter methods below, so they cannot drift apart: zone
// compilers never touch Lines or the typed fields directly.
type Iface struct {
	Name string    `json:"name"`
	Kind IfaceKind `json:"kind"`
	// Family and Method complete the "iface NAME" line ("inet static" for
	// fabric stanzas); zone stanzas have neither.
	Family string `json:"family,omitempty"`
	Method string `json:"method,omitempty"`
	// Amends is true when the stanza only adds options to an interface the
	// host's own /etc/network/interfaces defines (vmbr0: ovs_ports,
	// bridge-vlan-protocol; fabric NICs): ifupdown2 merges them, the
	// realizer must not create the device.
	Amends bool `json:"amends,omitempty"`
	// NoAuto: no "auto NAME" line, as for the inet6 stanza Proxmox writes
	// after a WireGuard interface's inet one.
	NoAuto bool `json:"noAuto,omitempty"`

	Addresses []netip.Prefix `json:"addresses,omitempty"`
	HWAddress string         `json:"hwaddress,omitempty"` // as written
	MTU       int            `json:"mtu,omitempty"`
	Alias     string         `json:"alias,omitempty"`
	// VRF is the VRF this device is enslaved to ("" none).
	VRF string `json:"vrf,omitempty"`
	// VRFTable is the table of a VRF device ("auto").
	VRFTable string `json:"vrfTable,omitempty"`

	// Linux bridge.
	BridgePorts        []string `json:"bridgePorts,omitempty"`
	BridgeSTP          *bool    `json:"bridgeSTP,omitempty"` // nil: not set
	BridgeFD           *int     `json:"bridgeFD,omitempty"`
	VlanAware          bool     `json:"vlanAware,omitempty"`
	BridgeVids         string   `json:"bridgeVids,omitempty"` // "2-4094"
	BridgeVlanProtocol string   `json:"bridgeVlanProtocol,omitempty"`

	// VXLAN.
	VxlanID      int          `json:"vxlanID,omitempty"`
	VxlanLocal   netip.Addr   `json:"vxlanLocal,omitzero"`
	VxlanRemotes []netip.Addr `json:"vxlanRemotes,omitempty"`
	VxlanPort    int          `json:"vxlanPort,omitempty"` // 0: default
	// Learning is the bridge-port learning flag; nil: kernel default (on).
	Learning      *bool `json:"learning,omitempty"`
	ARPNDSuppress bool  `json:"arpNdSuppress,omitempty"`

	// VLAN sub-interface.
	VlanRawDevice string `json:"vlanRawDevice,omitempty"`
	VlanID        int    `json:"vlanID,omitempty"`
	VlanProtocol  string `json:"vlanProtocol,omitempty"` // "" default 802.1q

	// veth.
	VethPeer string `json:"vethPeer,omitempty"`

	// Open vSwitch.
	OVSType    string      `json:"ovsType,omitempty"` // OVSIntPort
	OVSBridge  string      `json:"ovsBridge,omitempty"`
	OVSPorts   []string    `json:"ovsPorts,omitempty"`
	OVSOptions *OVSOptions `json:"ovsOptions,omitempty"`

	// Per-interface sysctls.
	IPForward  bool `json:"ipForward,omitempty"`
	IP6Forward bool `json:"ip6Forward,omitempty"`
	ARPAccept  bool `json:"arpAccept,omitempty"`

	// Routes the stanza's up/post-up commands install or remove.
	Routes []Route `json:"routes,omitempty"`
	// SNAT is the source NAT the stanza's post-up iptables lines install.
	SNAT []SNATRule `json:"snat,omitempty"`

	// Up, PostUp and PostDown are the commands exactly as written, in order
	// (for the record; the realizer acts on Routes and SNAT instead).
	Up       []string `json:"up,omitempty"`
	PostUp   []string `json:"postUp,omitempty"`
	PostDown []string `json:"postDown,omitempty"`
	Down     []string `json:"down,omitempty"`

	// Lines are the option lines in Proxmox's order and spelling.
	Lines []Line `json:"lines"`
}

// Line is one "key value" option line of a stanza.
type Line struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// String is the line as written (without the leading tab).
func (l Line) String() string {
	if l.Value == "" {
		return l.Key
	}
	return l.Key + " " + l.Value
}

// OVSOptions is the typed content of an ovs_options line.
type OVSOptions struct {
	VlanMode    string `json:"vlanMode,omitempty"` // "dot1q-tunnel"; "" access
	Tag         int    `json:"tag,omitempty"`
	QinQEthType string `json:"qinqEthType,omitempty"` // other_config:qinq-ethtype
}

// Route is a route a stanza's commands install (or, Delete, remove).
type Route struct {
	Prefix      netip.Prefix `json:"prefix"`        // 0.0.0.0/0 for "default"
	Dev         string       `json:"dev,omitempty"` // connected route via this device
	VRF         string       `json:"vrf,omitempty"` // in this VRF's table
	Unreachable bool         `json:"unreachable,omitempty"`
	Metric      uint32       `json:"metric,omitempty"`
	Delete      bool         `json:"delete,omitempty"` // "ip route del": make sure it is absent
}

// SNATRule is source NAT of a subnet towards the uplink, as Proxmox's
// iptables lines do it: traffic from Source leaving via OutIface gets
// ToSource; packets entering from firewall bridges (InIfacePattern) go to
// conntrack zone ConntrackZone.
type SNATRule struct {
	Family         int          `json:"family"` // 4 or 6 (iptables or ip6tables)
	Source         netip.Prefix `json:"source"`
	OutIface       string       `json:"outIface"`
	ToSource       netip.Addr   `json:"toSource"`
	ConntrackZone  int          `json:"conntrackZone"`
	InIfacePattern string       `json:"inIfacePattern"` // "fwbr+"
	// Guessed is true when the host has no route of Family and the uplink
	// was taken as Proxmox's test harness takes it (see NodeFacts.RouteGet):
	// the text matches Proxmox, but ToSource may not even be of Family, so a
	// realizer should skip the rule (and say so).
	Guessed bool `json:"guessed,omitempty"`
}

// Spelling chooses between Proxmox's two spellings of the bridge options
// ("bridge_ports" in VNet bridges, "bridge-ports" in zone/L3VNI bridges).
type Spelling int

// Spellings.
const (
	Underscore Spelling = iota // bridge_ports, bridge_stp, bridge_fd
	Dash                       // bridge-ports, bridge-stp, bridge-fd
)

func (s Spelling) key(base string) string {
	if s == Dash {
		return "bridge-" + base
	}
	return "bridge_" + base
}

// NewIface starts a stanza of the given kind.
func NewIface(name string, kind IfaceKind) *Iface {
	return &Iface{Name: name, Kind: kind}
}

func (i *Iface) line(key, value string) { i.Lines = append(i.Lines, Line{Key: key, Value: value}) }

// setLine sets one of i's typed fields to v and writes its "key text" line,
// which is what most setters below do.
func setLine[T any](i *Iface, field *T, v T, key, text string) {
	*field = v
	i.line(key, text)
}

// AddAddress writes "address P".
func (i *Iface) AddAddress(p netip.Prefix) {
	i.Addresses = append(i.Addresses, p)
	i.line("address", p.String())
}

// SetHWAddress writes "hwaddress MAC" (kept as written).
func (i *Iface) SetHWAddress(mac string) {
	setLine(i, &i.HWAddress, mac, "hwaddress", mac)
}

// SetMTU writes "mtu N".
func (i *Iface) SetMTU(n int) {
	setLine(i, &i.MTU, n, "mtu", strconv.Itoa(n))
}

// SetAlias writes "alias TEXT".
func (i *Iface) SetAlias(a string) {
	setLine(i, &i.Alias, a, "alias", a)
}

// SetBridgePorts writes the bridge ports line with raw as its value, kept
// verbatim (Proxmox sometimes writes two spaces); the typed list is its
// fields, without "none".
func (i *Iface) SetBridgePorts(sp Spelling, raw string) {
	i.BridgePorts = nil
	for _, p := range strings.Fields(raw) {
		if p != "none" {
			i.BridgePorts = append(i.BridgePorts, p)
		}
	}
	i.line(sp.key("ports"), raw)
}

// SetBridgeSTPOff writes "bridge_stp off".
func (i *Iface) SetBridgeSTPOff(sp Spelling) {
	off := false
	i.BridgeSTP = &off
	i.line(sp.key("stp"), "off")
}

// SetBridgeFD writes "bridge_fd N".
func (i *Iface) SetBridgeFD(sp Spelling, n int) {
	i.BridgeFD = &n
	i.line(sp.key("fd"), strconv.Itoa(n))
}

// SetVlanAware writes "bridge-vlan-aware yes" and "bridge-vids VIDS".
func (i *Iface) SetVlanAware(vids string) {
	i.VlanAware = true
	i.BridgeVids = vids
	i.line("bridge-vlan-aware", "yes")
	i.line("bridge-vids", vids)
}

// SetBridgeVlanProtocol writes "bridge-vlan-protocol P".
func (i *Iface) SetBridgeVlanProtocol(p string) {
	setLine(i, &i.BridgeVlanProtocol, p, "bridge-vlan-protocol", p)
}

// SetVlanRawDevice writes "vlan-raw-device DEV".
func (i *Iface) SetVlanRawDevice(dev string) {
	setLine(i, &i.VlanRawDevice, dev, "vlan-raw-device", dev)
}

// SetVlanID writes "vlan-id N".
func (i *Iface) SetVlanID(id int) {
	setLine(i, &i.VlanID, id, "vlan-id", strconv.Itoa(id))
}

// SetVlanProtocol writes "vlan-protocol P".
func (i *Iface) SetVlanProtocol(p string) {
	setLine(i, &i.VlanProtocol, p, "vlan-protocol", p)
}

// SetLinkType writes "link-type T" (veth or dummy) and sets the kind; the
// veth peer is written by SetVethPeerName, as Proxmox puts addresses in
// between.
func (i *Iface) SetLinkType(t string) {
	switch t {
	case "veth":
		i.Kind = KindVeth
	case "dummy":
		i.Kind = KindDummy
	case "wireguard":
		i.Kind = KindWireGuard
	}
	i.line("link-type", t)
}

// SetVethPeerName writes "veth-peer-name PEER".
func (i *Iface) SetVethPeerName(peer string) {
	setLine(i, &i.VethPeer, peer, "veth-peer-name", peer)
}

// SetOVSType writes "ovs_type T".
func (i *Iface) SetOVSType(t string) {
	setLine(i, &i.OVSType, t, "ovs_type", t)
}

// SetOVSBridge writes "ovs_bridge BR".
func (i *Iface) SetOVSBridge(br string) {
	setLine(i, &i.OVSBridge, br, "ovs_bridge", br)
}

// SetOVSMTU writes "ovs_mtu N".
func (i *Iface) SetOVSMTU(n int) {
	setLine(i, &i.MTU, n, "ovs_mtu", strconv.Itoa(n))
}

// SetOVSOptions writes "ovs_options RAW"; o is its typed content.
func (i *Iface) SetOVSOptions(raw string, o OVSOptions) {
	i.OVSOptions = &o
	i.line("ovs_options", raw)
}

// AddOVSPortsLine writes one more "ovs_ports PORT" line (ifupdown2 merges
// the ports of repeated lines and of the host's own stanza).
func (i *Iface) AddOVSPortsLine(port string) {
	i.OVSPorts = append(i.OVSPorts, port)
	i.line("ovs_ports", port)
}

// AppendOVSPortToFirstLine adds port to the stanza's first line, which
// becomes "ovs_ports" when the stanza is empty, unless the line already
// names it. This is how Proxmox's QinQ zones accumulate their service
// ports on the OVS bridge's stanza.
func (i *Iface) AppendOVSPortToFirstLine(port string) {
	if len(i.Lines) == 0 {
		i.Lines = append(i.Lines, Line{Key: "ovs_ports"})
	}
	first := &i.Lines[0]
	if slices.Contains(strings.Split(first.String(), " "), port) {
		return
	}
	if first.Value == "" {
		first.Value = port
	} else {
		first.Value += " " + port
	}
	if !slices.Contains(i.OVSPorts, port) {
		i.OVSPorts = append(i.OVSPorts, port)
	}
}

// SetVxlanID writes "vxlan-id N".
func (i *Iface) SetVxlanID(id int) {
	setLine(i, &i.VxlanID, id, "vxlan-id", strconv.Itoa(id))
}

// SetVxlanLocal writes "vxlan-local-tunnelip A".
func (i *Iface) SetVxlanLocal(a netip.Addr) {
	setLine(i, &i.VxlanLocal, a, "vxlan-local-tunnelip", a.String())
}

// AddVxlanRemote writes "vxlan_remoteip A".
func (i *Iface) AddVxlanRemote(a netip.Addr) {
	i.VxlanRemotes = append(i.VxlanRemotes, a)
	i.line("vxlan_remoteip", a.String())
}

// SetVxlanPort writes "vxlan-port N".
func (i *Iface) SetVxlanPort(p int) {
	setLine(i, &i.VxlanPort, p, "vxlan-port", strconv.Itoa(p))
}

// SetLearningOff writes "bridge-learning off".
func (i *Iface) SetLearningOff() {
	off := false
	i.Learning = &off
	i.line("bridge-learning", "off")
}

// SetARPNDSuppress writes "bridge-arp-nd-suppress on".
func (i *Iface) SetARPNDSuppress() {
	setLine(i, &i.ARPNDSuppress, true, "bridge-arp-nd-suppress", "on")
}

// SetIPForward writes "ip-forward VALUE" (Proxmox spells it "on" in zones
// and "1" in fabrics).
func (i *Iface) SetIPForward(value string) {
	setLine(i, &i.IPForward, true, "ip-forward", value)
}

// SetIP6Forward writes "ip6-forward VALUE".
func (i *Iface) SetIP6Forward(value string) {
	setLine(i, &i.IP6Forward, true, "ip6-forward", value)
}

// SetARPAccept writes "arp-accept on".
func (i *Iface) SetARPAccept() {
	setLine(i, &i.ARPAccept, true, "arp-accept", "on")
}

// SetVRF writes "vrf NAME": the device is enslaved to VRF NAME.
func (i *Iface) SetVRF(vrf string) {
	setLine(i, &i.VRF, vrf, "vrf", vrf)
}

// SetVRFTable writes "vrf-table T" and makes the stanza a VRF device.
func (i *Iface) SetVRFTable(t string) {
	i.Kind = KindVRF
	i.VRFTable = t
	i.line("vrf-table", t)
}

// AddUpConnectedRoute writes "up ip route add P dev DEV".
func (i *Iface) AddUpConnectedRoute(p netip.Prefix, dev string) {
	i.Routes = append(i.Routes, Route{Prefix: p, Dev: dev})
	cmd := fmt.Sprintf("ip route add %s dev %s", p, dev)
	i.Up = append(i.Up, cmd)
	i.line("up", cmd)
}

// AddPostUp writes "post-up CMD" for a command the realizer does itself
// in its own way (wg syncconf: the lab configures the device directly).
func (i *Iface) AddPostUp(cmd string) {
	i.PostUp = append(i.PostUp, cmd)
	i.line("post-up", cmd)
}

// AddPostUpRoute writes "post-up ip route add P dev DEV" and its "down ip
// route del P dev DEV".
func (i *Iface) AddPostUpRoute(p netip.Prefix, dev string) {
	i.Routes = append(i.Routes, Route{Prefix: p, Dev: dev})
	add, del := fmt.Sprintf("ip route add %s dev %s", p, dev), fmt.Sprintf("ip route del %s dev %s", p, dev)
	i.PostUp = append(i.PostUp, add)
	i.Down = append(i.Down, del)
	i.line("post-up", add)
	i.line("down", del)
}

// AddVRFUnreachableDefault writes "post-up ip route add|del vrf VRF
// unreachable default metric M": a VRF without an exit has an
// unreachable default route (add); on an exit node it is removed (del).
func (i *Iface) AddVRFUnreachableDefault(vrf string, metric uint32, del bool) {
	verb := "add"
	if del {
		verb = "del"
	}
	i.Routes = append(i.Routes, Route{
		Prefix: netip.PrefixFrom(netip.IPv4Unspecified(), 0), VRF: vrf,
		Unreachable: true, Metric: metric, Delete: del,
	})
	cmd := fmt.Sprintf("ip route %s vrf %s unreachable default metric %d", verb, vrf, metric)
	i.PostUp = append(i.PostUp, cmd)
	i.line("post-up", cmd)
}

// AddSNAT writes the four post-up/post-down lines of a SNAT rule: the nat
// rule itself and the conntrack zone for traffic from firewall bridges.
func (i *Iface) AddSNAT(r SNATRule) {
	i.SNAT = append(i.SNAT, r)
	tool := "iptables"
	if r.Family == 6 {
		tool = "ip6tables"
	}
	nat := func(op string) string {
		return fmt.Sprintf("%s -t nat %s POSTROUTING -s '%s' -o %s -j SNAT --to-source %s",
			tool, op, r.Source, r.OutIface, r.ToSource)
	}
	ct := func(op string) string {
		return fmt.Sprintf("%s -t raw %s PREROUTING -i %s -j CT --zone %d",
			tool, op, r.InIfacePattern, r.ConntrackZone)
	}
	for _, c := range []struct{ key, cmd string }{
		{"post-up", nat("-A")}, {"post-down", nat("-D")},
		{"post-up", ct("-I")}, {"post-down", ct("-D")},
	} {
		if c.key == "post-up" {
			i.PostUp = append(i.PostUp, c.cmd)
		} else {
			i.PostDown = append(i.PostDown, c.cmd)
		}
		i.line(c.key, c.cmd)
	}
}

// ImplicitVlan reports whether a port name such as "eth0.100" or
// "z_zone.100" names a VLAN sub-interface that ifupdown2 creates on its own
// when a bridge lists it (no stanza of its own), and splits it.
func ImplicitVlan(name string) (raw string, id int, ok bool) {
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 || dot == len(name)-1 {
		return "", 0, false
	}
	n, err := strconv.Atoi(name[dot+1:])
	if err != nil || n < 1 || n > 4094 {
		return "", 0, false
	}
	return name[:dot], n, true
}

// NewVlanIface starts a stanza for a VLAN sub-interface whose name says
// what it is ("vmbr0.10"): its raw device and id are typed but not written.
func NewVlanIface(name, raw string, id int) *Iface {
	return &Iface{Name: name, Kind: KindVlan, VlanRawDevice: raw, VlanID: id}
}
