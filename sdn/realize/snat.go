package realize

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/sdn/plan"
)

// NATTable is the nftables table (in families ip and ip6) that holds the
// realizer's SNAT rules inside a node namespace.
const NATTable = "sdnlab"

// snat replaces the node's NAT tables with the plan's SNAT rules, in one
// atomic batch, the equivalent of Proxmox's post-up iptables lines:
//
//	nat/POSTROUTING: -s SOURCE -o OUT -j SNAT --to-source ADDR
//	raw/PREROUTING:  -i fwbr+ -j CT --zone N
func (a *applier) snat() error {
	// The rules belong in the node namespace whichever namespace the
	// stanza's device lives in: an EVPN VNet bridge sits in its VRF
	// namespace, but its subnet's SNAT happens where traffic leaves the
	// node (-o vmbr0).
	var rules []plan.SNATRule
	for _, d := range a.devs {
		for _, r := range d.ifc.SNAT {
			if !r.Guessed {
				rules = append(rules, r)
			}
		}
	}
	node, err := a.ns(a.t.NS, false)
	if err != nil {
		return err
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(node.Fd)))
	if err != nil {
		return fmt.Errorf("%s: nftables: %w", a.t.NS, err)
	}
	defer c.CloseLasting()
	have, err := c.ListTables()
	if err != nil {
		return fmt.Errorf("%s: nftables: list tables: %w", a.t.NS, err)
	}
	for _, t := range have {
		if t.Name == NATTable {
			c.DelTable(t)
		}
	}
	for _, fam := range []struct {
		f  nftables.TableFamily
		v  int
		nf uint32
	}{{nftables.TableFamilyIPv4, 4, unix.NFPROTO_IPV4}, {nftables.TableFamilyIPv6, 6, unix.NFPROTO_IPV6}} {
		var mine []plan.SNATRule
		for _, r := range rules {
			if r.Family == fam.v || (r.Family == 0 && r.Source.Addr().Is4() == (fam.v == 4)) {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 {
			continue
		}
		t := c.AddTable(&nftables.Table{Family: fam.f, Name: NATTable})
		post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
		raw := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw})
		zones := map[string]bool{}
		for _, r := range mine {
			c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: snatExprs(r, fam.nf)})
			key := fmt.Sprintf("%s/%d", r.InIfacePattern, r.ConntrackZone)
			if r.InIfacePattern != "" && !zones[key] {
				zones[key] = true
				c.AddRule(&nftables.Rule{Table: t, Chain: raw, Exprs: ctZoneExprs(r)})
			}
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("%s: nftables: %w", a.t.NS, err)
	}
	return nil
}

// snatExprs: saddr in SOURCE, oifname OUT, snat to ADDR.
func snatExprs(r plan.SNATRule, nfproto uint32) []expr.Any {
	src := r.Source.Masked()
	addr := src.Addr().AsSlice()
	off, l := uint32(12), uint32(4) // IPv4 source address
	if src.Addr().Is6() {
		off, l = 8, 16
	}
	mask := net.CIDRMask(src.Bits(), src.Addr().BitLen())
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: l},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: l, Mask: mask, Xor: make([]byte, l)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(r.OutIface)},
		&expr.Immediate{Register: 1, Data: r.ToSource.AsSlice()},
		// Addresses only: a "specified" protocol range with no ports would
		// map every flow's port (and ICMP id) to 0, so a second concurrent
		// flow from the subnet collides and is dropped.
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: nfproto, RegAddrMin: 1},
	}
}

// ctZoneExprs: iifname PATTERN (a trailing + is a prefix match), ct zone set N.
func ctZoneExprs(r plan.SNATRule) []expr.Any {
	pat := r.InIfacePattern
	var data []byte
	if n := len(pat); n > 0 && pat[n-1] == '+' {
		data = []byte(pat[:n-1])
	} else {
		data = ifname(pat)
	}
	zone := make([]byte, 2)
	binary.NativeEndian.PutUint16(zone, uint16(r.ConntrackZone))
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data},
		&expr.Immediate{Register: 1, Data: zone},
		&expr.Ct{Key: expr.CtKeyZONE, Register: 1, SourceRegister: true},
	}
}

// ifname is an interface name as nftables compares it (NUL-padded to 16).
func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}
