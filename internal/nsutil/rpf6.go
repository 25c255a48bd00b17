package nsutil

import (
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// RPF6Table is the nftables table (family ip6) holding the IPv6 reverse
// path check of a namespace. Linux has rp_filter for IPv4 only; a strict
// uRPF router enforces IPv6 with a fib lookup instead, as
// `fib saddr . iif oif missing drop` does: a packet whose source is not
// routed back out of the interface it came in on is dropped (and counted).
const RPF6Table = "sdnlab_rpf"

// SetRPF6 replaces the namespace's IPv6 reverse path check with one that
// drops, per interface in strict, what strict uRPF drops; an empty list
// removes it. Packets from the unspecified address (duplicate address
// detection) are left alone, as IPv4 rp_filter leaves 0.0.0.0 alone.
func SetRPF6(ns string, strict []string) error {
	return NFT(ns, func(c *nftables.Conn) error { return setRPF6(c, ns, strict) })
}

func setRPF6(c *nftables.Conn, ns string, strict []string) error {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv6)
	if err != nil {
		return fmt.Errorf("%s: nftables: list tables: %w", ns, err)
	}
	for _, t := range tables {
		if t.Name == RPF6Table {
			c.DelTable(t)
		}
	}
	if len(strict) > 0 {
		t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv6, Name: RPF6Table})
		ch := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw})
		for _, ifc := range strict {
			name := make([]byte, 16)
			copy(name, ifc)
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, UserData: []byte(ifc), Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
				// ip6 saddr != ::
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 16)},
				// fib saddr . iif oif missing
				&expr.Fib{Register: 1, FlagSADDR: true, FlagIIF: true, ResultOIF: true, FlagPRESENT: true},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0}},
				&expr.Counter{},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("%s: nftables: IPv6 reverse path check: %w", ns, err)
	}
	return nil
}

// RPF6 reads the namespace's IPv6 reverse path check: the interfaces it
// covers and the packets it dropped so far. present is false when the
// namespace has none.
func RPF6(ns string) (strict []string, drops int64, present bool, err error) {
	err = NFT(ns, func(c *nftables.Conn) error {
		var err error
		strict, drops, present, err = readRPF6(c, ns)
		return err
	})
	return strict, drops, present, err
}

func readRPF6(c *nftables.Conn, ns string) (strict []string, drops int64, present bool, err error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv6)
	if err != nil {
		return nil, 0, false, fmt.Errorf("%s: nftables: list tables: %w", ns, err)
	}
	i := slices.IndexFunc(tables, func(t *nftables.Table) bool { return t.Name == RPF6Table })
	if i < 0 {
		return nil, 0, false, nil
	}
	rules, err := c.GetRules(tables[i], &nftables.Chain{Name: "prerouting", Table: tables[i]})
	if err != nil {
		return nil, 0, true, fmt.Errorf("%s: nftables: IPv6 reverse path check: %w", ns, err)
	}
	for _, r := range rules {
		strict = append(strict, string(r.UserData))
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				drops += int64(ctr.Packets)
			}
		}
	}
	return strict, drops, true, nil
}
