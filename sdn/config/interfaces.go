package config

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSourceDepth bounds nested "source" includes (a cycle guard as well).
const maxSourceDepth = 16

// ParseInterfaces reads a host's /etc/network/interfaces (the ifupdown2
// subset Proxmox writes), following "source" and "source-directory"
// lines. Relative include paths are resolved against the including
// file's directory; globs are expanded. Every problem is reported at once.
func ParseInterfaces(path string) (*HostInterfaces, error) {
	p := newIfaceParser(path)
	p.parseFile(path, 0, Pos{File: path})
	return p.hi, p.errs.Err()
}

// ParseInterfacesReader parses one interfaces file from r; "source" lines
// are resolved relative to file's directory.
func ParseInterfacesReader(file string, r io.Reader) (*HostInterfaces, error) {
	p := newIfaceParser(file)
	data, err := readCapped(r)
	if err != nil {
		return nil, ErrorList{{Pos: Pos{File: file}, Msg: "cannot read: " + errText(err)}}
	}
	p.visited[filepath.Clean(file)] = true
	p.parse(file, data, 0)
	return p.hi, p.errs.Err()
}

// Bridge reports whether name is a Linux bridge (has bridge-ports) or an
// OVS bridge on this host.
func (hi *HostInterfaces) Bridge(name string) (ovs, ok bool) {
	i := hi.Ifaces[name]
	if i == nil {
		return false, false
	}
	if i.OVSType == "OVSBridge" {
		return true, true
	}
	_, linux := i.Other["bridge-ports"]
	if !linux {
		_, linux = i.Other["bridge_ports"]
	}
	return false, linux
}

// SortedIfaces returns the interfaces in file order.
func (hi *HostInterfaces) SortedIfaces() []*HostIface {
	out := make([]*HostIface, 0, len(hi.Order))
	for _, n := range hi.Order {
		out = append(out, hi.Ifaces[n])
	}
	return out
}

type ifaceParser struct {
	hi      *HostInterfaces
	errs    ErrorList
	visited map[string]bool
	auto    map[string]bool
}

func newIfaceParser(file string) *ifaceParser {
	return &ifaceParser{
		hi:      &HostInterfaces{File: file, Ifaces: map[string]*HostIface{}},
		visited: map[string]bool{},
		auto:    map[string]bool{},
	}
}

func (p *ifaceParser) parseFile(path string, depth int, from Pos) {
	clean := filepath.Clean(path)
	if p.visited[clean] {
		p.errs.add(from, "source", "%s is included twice (include cycle?)", path)
		return
	}
	p.visited[clean] = true
	data, err := ReadInput(path)
	switch {
	case err != nil && from.Line == 0: // the top file itself
		p.errs.add(from, "", "cannot read: %s", errText(err))
		return
	case err != nil:
		p.errs.add(from, "", "cannot read %s: %s", path, errText(err))
		return
	}
	p.parse(path, data, depth)
}

// stanza is the iface block being read.
type stanza struct {
	iface   *HostIface
	family  string // inet, inet6, "" (bare "iface X")
	pending []Prop // "address" lines without a prefix length
	netmask *Prop
}

func (p *ifaceParser) parse(file string, data []byte, depth int) {
	var cur *stanza
	skip := false // options of a bad iface line are not reported again
	endStanza := func() {
		if cur != nil {
			p.finishStanza(cur)
		}
		cur, skip = nil, false
	}
	lines := joinContinuations(data)
	for _, ln := range lines {
		pos := Pos{File: file, Line: ln.no}
		text := strings.TrimSpace(ln.text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if !cleanText(text) {
			// Quoted, never echoed raw: it could be a terminal escape.
			p.errs.add(pos, "", "binary or control characters in line: %s", quoteShort(text))
			skip = true
			continue
		}
		f := strings.Fields(text)
		switch f[0] {
		case "auto", "allow-auto", "allow-hotplug", "allow-ovs":
			endStanza()
			for _, n := range f[1:] {
				p.auto[n] = true
				if i := p.hi.Ifaces[n]; i != nil {
					i.Auto = true
				}
			}
			continue
		case "source", "source-directory":
			endStanza()
			p.source(file, f, depth, pos)
			continue
		case "iface":
			endStanza()
			cur = p.startStanza(f, pos)
			skip = cur == nil
			continue
		case "mapping", "template":
			endStanza()
			p.errs.add(pos, f[0], "%q stanzas are not supported", f[0])
			skip = true
			continue
		}
		if cur == nil {
			if !skip {
				p.errs.add(pos, f[0], "option line outside an iface stanza")
			}
			continue
		}
		value := strings.TrimSpace(strings.TrimPrefix(text, f[0]))
		p.option(cur, Prop{Key: f[0], Value: value, Pos: pos})
	}
	endStanza()
}

type ifLine struct {
	no   int
	text string
}

// joinContinuations splits data into lines (CRLF tolerated), joining
// lines that end with a backslash.
func joinContinuations(data []byte) []ifLine {
	var out []ifLine
	var acc strings.Builder
	start := 0
	for i, raw := range bytes.Split(data, []byte("\n")) {
		l := strings.TrimSuffix(string(raw), "\r")
		if acc.Len() == 0 {
			start = i + 1
		} else {
			l = strings.TrimLeft(l, " \t") // a continued line joins with one space
		}
		if strings.HasSuffix(l, "\\") {
			acc.WriteString(strings.TrimRight(strings.TrimSuffix(l, "\\"), " \t"))
			acc.WriteByte(' ')
			continue
		}
		acc.WriteString(l)
		out = append(out, ifLine{no: start, text: acc.String()})
		acc.Reset()
	}
	if acc.Len() > 0 {
		out = append(out, ifLine{no: start, text: acc.String()})
	}
	return out
}

func (p *ifaceParser) source(file string, f []string, depth int, pos Pos) {
	if len(f) != 2 {
		p.errs.add(pos, f[0], "want one path")
		return
	}
	if depth >= maxSourceDepth {
		p.errs.add(pos, f[0], "includes nested deeper than %d", maxSourceDepth)
		return
	}
	target := f[1]
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(file), target)
	}
	var paths []string
	if f[0] == "source-directory" {
		ents, err := os.ReadDir(target)
		if err != nil {
			p.errs.add(pos, f[0], "cannot read %s: %s", target, errText(err))
			return
		}
		for _, e := range ents {
			// run-parts naming rules, as ifupdown applies them
			if !e.IsDir() && validRunPartsName(e.Name()) {
				paths = append(paths, filepath.Join(target, e.Name()))
			}
		}
	} else {
		m, err := filepath.Glob(target)
		if err != nil {
			p.errs.add(pos, f[0], "bad pattern %q: %v", f[1], err)
			return
		}
		if len(m) == 0 && !strings.ContainsAny(target, "*?[") {
			p.errs.add(pos, f[0], "%s does not exist", target)
			return
		}
		for _, path := range m {
			if st, err := os.Stat(path); err == nil && !st.IsDir() {
				paths = append(paths, path)
			}
		}
	}
	sort.Strings(paths)
	for _, path := range paths {
		p.parseFile(path, depth+1, pos)
	}
}

func validRunPartsName(n string) bool {
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return n != ""
}

func (p *ifaceParser) startStanza(f []string, pos Pos) *stanza {
	if len(f) < 2 || len(f) > 4 {
		p.errs.add(pos, "iface", "want \"iface NAME [inet|inet6 METHOD]\"")
		return nil
	}
	name := f[1]
	if len(name) > 15 || strings.ContainsAny(name, "/:") {
		p.errs.add(pos, "iface", "%q is not a valid interface name", name)
	}
	st := &stanza{}
	method := ""
	if len(f) >= 3 {
		st.family = f[2]
		if st.family != "inet" && st.family != "inet6" {
			p.errs.add(pos, "iface", "unknown address family %q (want inet or inet6)", st.family)
			return nil
		}
		method = "manual"
		if len(f) == 4 {
			method = f[3]
		}
		switch method {
		case "static", "manual", "dhcp", "loopback", "auto", "ppp", "tunnel", "v4tunnel", "6to4":
		default:
			p.errs.add(pos, "iface", "unknown method %q", method)
		}
	}
	i := p.hi.Ifaces[name]
	if i == nil {
		i = &HostIface{Name: name, Pos: pos, Auto: p.auto[name], Other: map[string][]string{}}
		p.hi.Ifaces[name] = i
		p.hi.Order = append(p.hi.Order, name)
	}
	switch st.family {
	case "inet":
		if i.Method4 != "" {
			p.errs.add(pos, "iface", "second inet stanza for %s (first at %s)", name, i.Pos)
		}
		i.Method4 = method
	case "inet6":
		if i.Method6 != "" {
			p.errs.add(pos, "iface", "second inet6 stanza for %s", name)
		}
		i.Method6 = method
	}
	st.iface = i
	return st
}

func (p *ifaceParser) option(st *stanza, o Prop) {
	i := st.iface
	i.Other[o.Key] = append(i.Other[o.Key], o.Value)
	switch o.Key {
	case "address":
		if strings.Contains(o.Value, "/") {
			pf, err := netip.ParsePrefix(o.Value)
			if err != nil {
				p.errs.add(o.Pos, o.Key, "%q is not an address/prefixlen", o.Value)
				return
			}
			p.addAddress(st, o, pf)
			return
		}
		st.pending = append(st.pending, o)
	case "netmask":
		st.netmask = &o
	case "gateway":
		a, err := netip.ParseAddr(o.Value)
		if err != nil {
			p.errs.add(o.Pos, o.Key, "%q is not an IP address", o.Value)
			return
		}
		if (st.family == "inet" && !a.Is4()) || (st.family == "inet6" && !a.Is6()) {
			p.hi.Warnings.add(o.Pos, o.Key, "%s does not match address family %s", a, st.family)
		}
		if a.Is4() {
			i.Gateway = a
		} else {
			i.Gateway6 = a
		}
	case "mtu":
		n, err := strconv.Atoi(o.Value)
		if err != nil || n < minMTU || n > maxMTU {
			p.errs.add(o.Pos, o.Key, "%q is not an MTU in %d-%d", o.Value, minMTU, maxMTU)
			return
		}
		i.MTU = n
	case "bridge-ports", "bridge_ports":
		i.BridgePorts = nil
		for _, port := range strings.Fields(o.Value) {
			if port != "none" {
				i.BridgePorts = append(i.BridgePorts, port)
			}
		}
	case "bridge-vlan-aware", "bridge_vlan_aware":
		switch strings.ToLower(o.Value) {
		case "yes", "on", "1", "true":
			i.BridgeVlanAware = true
		case "no", "off", "0", "false":
			i.BridgeVlanAware = false
		default:
			p.errs.add(o.Pos, o.Key, "%q is not yes or no", o.Value)
		}
	case "up", "post-up":
		p.upRoute(i, o)
	case "ovs_type":
		i.OVSType = o.Value
	case "ovs_bridge":
		i.OVSBridge = o.Value
	case "ovs_ports":
		i.OVSPorts = strings.Fields(o.Value)
	}
}

// upRoute reads an "ip route add|replace PREFIX via ADDR [...]" command
// of an up line into a route. Other commands are left to Other: the lab
// runs none of them.
func (p *ifaceParser) upRoute(i *HostIface, o Prop) {
	f := strings.Fields(o.Value)
	if len(f) < 3 || f[0] != "ip" {
		return
	}
	f = f[1:]
	family := 0
	switch f[0] {
	case "-4":
		family, f = 4, f[1:]
	case "-6":
		family, f = 6, f[1:]
	}
	if len(f) < 2 || (f[0] != "route" && f[0] != "r" && f[0] != "ro") || (f[1] != "add" && f[1] != "replace") {
		return
	}
	f = f[2:]
	bad := func(format string, args ...any) {
		p.errs.add(o.Pos, o.Key, "%q: "+format, append([]any{o.Value}, args...)...)
	}
	if len(f) < 3 || f[1] != "via" {
		bad("want \"ip route add PREFIX via ADDRESS\"")
		return
	}
	var dst netip.Prefix
	via, err := netip.ParseAddr(f[2])
	if err != nil || via.Zone() != "" {
		bad("%q is not an IP address", f[2])
		return
	}
	switch {
	case f[0] == "default":
		dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if via.Is6() {
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
	case strings.Contains(f[0], "/"):
		if dst, err = netip.ParsePrefix(f[0]); err != nil {
			bad("%q is not a prefix", f[0])
			return
		}
	default:
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			bad("%q is not a prefix", f[0])
			return
		}
		dst = netip.PrefixFrom(a, a.BitLen())
	}
	if dst.Addr().Is4() != via.Is4() || (family == 4 && !via.Is4()) || (family == 6 && via.Is4()) {
		bad("%s and %s are of different address families", dst, via)
		return
	}
	if dst != dst.Masked() {
		bad("%s has host bits set (the kernel refuses it; %s is meant)", dst, dst.Masked())
		return
	}
	i.Routes = append(i.Routes, HostRoute{Pos: o.Pos, Dst: dst, Via: via})
}

func (p *ifaceParser) addAddress(st *stanza, o Prop, pf netip.Prefix) {
	if (st.family == "inet" && !pf.Addr().Is4()) || (st.family == "inet6" && !pf.Addr().Is6()) {
		// ifupdown2 configures it anyway.
		p.hi.Warnings.add(o.Pos, o.Key, "%s does not match address family %s", pf, st.family)
	}
	st.iface.Addresses = append(st.iface.Addresses, pf)
}

// finishStanza applies "netmask" to addresses written without a length.
func (p *ifaceParser) finishStanza(st *stanza) {
	for _, o := range st.pending {
		a, err := netip.ParseAddr(o.Value)
		if err != nil || a.Zone() != "" {
			p.errs.add(o.Pos, o.Key, "%q is not an IP address", o.Value)
			continue
		}
		bits := a.BitLen()
		if st.netmask != nil {
			b, ok := maskBits(st.netmask.Value, a.BitLen())
			if !ok {
				p.errs.add(st.netmask.Pos, "netmask", "%q is not a netmask", st.netmask.Value)
				continue
			}
			bits = b
		}
		p.addAddress(st, o, netip.PrefixFrom(a, bits))
	}
}

// maskBits reads a netmask given as a length or (IPv4) dotted quad.
func maskBits(s string, maxBits int) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n >= 0 && n <= maxBits
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() || maxBits != 32 {
		return 0, false
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for v&0x80000000 != 0 {
		ones++
		v <<= 1
	}
	return ones, v == 0
}

// cleanText tells whether s is valid UTF-8 without control characters
// (tabs aside): what a text file written by hand or by Proxmox holds.
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r != '\t' && unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 60
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
