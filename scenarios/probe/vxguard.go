package probe

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// guardTable is the nftables table GuardVXLAN installs.
const guardTable = "sdnlab_vxlan_guard"

// GuardVXLAN installs, in namespace ns, the remedy for VXLAN injection: an
// input filter that drops UDP to the VXLAN port unless the source is one of
// the allowed VTEPs. It returns a function that removes it again.
func GuardVXLAN(ns string, port uint16, allowed []netip.Addr) (remove func() error, err error) {
	var t *nftables.Table
	err = nsutil.NFT(ns, func(c *nftables.Conn) error {
		t, err = guardVXLAN(c, ns, port, allowed)
		return err
	})
	if err != nil {
		return nil, err
	}
	return func() error {
		return nsutil.NFT(ns, func(c *nftables.Conn) error {
			c.DelTable(t)
			return c.Flush()
		})
	}, nil
}

func guardVXLAN(c *nftables.Conn, ns string, port uint16, allowed []netip.Addr) (*nftables.Table, error) {
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: guardTable})
	ch := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
	type fam struct {
		proto  byte
		key    nftables.SetDatatype
		off    uint32
		length uint32
		name   string
	}
	for _, f := range []fam{
		{unix.NFPROTO_IPV4, nftables.TypeIPAddr, 12, 4, "vteps4"},
		{unix.NFPROTO_IPV6, nftables.TypeIP6Addr, 8, 16, "vteps6"},
	} {
		set := &nftables.Set{Table: t, Name: f.name, KeyType: f.key}
		var elems []nftables.SetElement
		for _, a := range allowed {
			if (f.length == 4) == a.Is4() {
				elems = append(elems, nftables.SetElement{Key: a.AsSlice()})
			}
		}
		if err := c.AddSet(set, elems); err != nil {
			return nil, fmt.Errorf("nftables set in %s: %w", ns, err)
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{f.proto}},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: f.off, Len: f.length},
			&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID, Invert: true},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("nftables in %s: %w", ns, err)
	}
	return t, nil
}
