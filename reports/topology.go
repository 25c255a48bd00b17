package reports

// Topology is the picture of a lab: the underlay segments, the routers and
// the upstream between them, the external hosts, the Proxmox nodes (their
// VTEP, engine and exit-node role) and the guests on each node grouped by
// VNet and zone. The topology package fills it from a lab; the writers
// draw it as SVG (TopologySVG), Graphviz dot or Mermaid.
type Topology struct {
	Lab      string         `json:"lab"`
	Segments []TopoSegment  `json:"segments"`
	Routers  []TopoRouter   `json:"routers,omitempty"`
	Hosts    []TopoHost     `json:"hosts,omitempty"`
	Nodes    []TopoNode     `json:"nodes"`
	Zones    []TopoZone     `json:"zones,omitempty"`
	Guests   []TopoGuest    `json:"guests,omitempty"`
	Impaired []TopoImpaired `json:"impaired,omitempty"`
	// Notes are faults the picture cannot draw on a line (a failed path
	// between two nodes on one segment).
	Notes []string `json:"notes,omitempty"`
}

// TopoSegment is an L2 underlay segment.
type TopoSegment struct {
	Name     string   `json:"name"`
	Subnets  []string `json:"subnets,omitempty"`
	MTU      int      `json:"mtu,omitempty"`
	External bool     `json:"external,omitempty"` // behind the upstream router
	Impaired string   `json:"impaired,omitempty"` // an impairment of the whole segment
}

// TopoLink is one interface on a segment.
type TopoLink struct {
	Segment string   `json:"segment"`
	Ifname  string   `json:"ifname,omitempty"`
	Addrs   []string `json:"addrs,omitempty"`
	Note    string   `json:"note,omitempty"` // "uRPF strict", "down", ...
}

// TopoRouter is an underlay router or the upstream.
type TopoRouter struct {
	Name     string     `json:"name"`
	Upstream bool       `json:"upstream,omitempty"`
	Routing  string     `json:"routing,omitempty"` // static, bgp
	Links    []TopoLink `json:"links"`
}

// TopoHost is an external host.
type TopoHost struct {
	Name string   `json:"name"`
	Link TopoLink `json:"link"`
}

// TopoNode is a Proxmox node.
type TopoNode struct {
	Name   string     `json:"name"`
	Engine string     `json:"engine,omitempty"` // agent, frr, "" (no controller)
	VTEP   string     `json:"vtep,omitempty"`
	Exit   []string   `json:"exit,omitempty"` // the zones it is an exit node of
	Links  []TopoLink `json:"links"`
	Down   bool       `json:"down,omitempty"` // its control plane is not running
}

// TopoZone is an SDN zone.
type TopoZone struct {
	Name string `json:"name"`
	Type string `json:"type"`
	VNI  int    `json:"vni,omitempty"` // evpn: the L3 VNI
}

// TopoGuest is a VM or container.
type TopoGuest struct {
	Name  string   `json:"name"`
	Node  string   `json:"node"`
	VNet  string   `json:"vnet"`
	Zone  string   `json:"zone"`
	Tag   int      `json:"tag,omitempty"` // the VNet's VNI or VLAN
	Addrs []string `json:"addrs,omitempty"`
}

// TopoImpaired is an impairment in force on an interface.
type TopoImpaired struct {
	Thing  string `json:"thing"`
	Ifname string `json:"ifname"`
	Text   string `json:"text"` // "loss 2%, delay 5ms"
}
