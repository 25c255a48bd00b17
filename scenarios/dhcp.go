package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// dhcpScenario: a guest with "ip: dhcp" on a zone with "dhcp dnsmasq" has
// the address its zone's IPAM mapped to its MAC; restarted, it asks again
// and the DHCP ACK on its NIC carries an address inside the subnet's
// dhcp-range, the subnet's gateway as router, the configured DNS server
// and the zone's MTU; it gets the same address back (the lease survives)
// and reaches its gateway with it.
type dhcpScenario struct{}

func newDHCP() Scenario { return dhcpScenario{} }

func (dhcpScenario) Name() string { return "dhcp" }
func (dhcpScenario) Description() string {
	return "guests with ip: dhcp get an address in the dhcp-range, the gateway, DNS server and MTU as configured, and keep their lease across a restart"
}
func (dhcpScenario) Params() []Param { return nil }

// dhcpSubnetOf finds the DHCP server and subnet a guest's mapped address
// belongs to in its node's plan.
func dhcpSubnetOf(p *plan.NodePlan, g Guest) (*plan.DHCPServer, *plan.DHCPSubnet) {
	for i := range p.DHCP {
		srv := &p.DHCP[i]
		if srv.Zone != g.Zone {
			continue
		}
		for _, v := range srv.VNets {
			if v.VNet != g.VNet {
				continue
			}
			for j := range v.Subnets {
				if v.Subnets[j].Prefix.Contains(g.IPv4.Addr()) {
					return srv, &v.Subnets[j]
				}
			}
		}
	}
	return nil, nil
}

func inRanges(a netip.Addr, rs []plan.DHCPRange) bool {
	for _, r := range rs {
		if a.Compare(r.Start) >= 0 && a.Compare(r.End) <= 0 {
			return true
		}
	}
	return false
}

func rangesString(rs []plan.DHCPRange) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Start.String()+"-"+r.End.String())
	}
	return orNone(s)
}

// guestIPv4 reads the IPv4 address of a guest's NIC and its default
// gateway, as the guest has them now.
func guestIPv4(ctx context.Context, v labView, g Guest) (netip.Prefix, netip.Addr, error) {
	out, err := v.Exec(ctx, g.NS, "ip", "-4", "-o", "addr", "show", "dev", g.Iface)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, err
	}
	var pf netip.Prefix
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "inet" {
			pf, _ = netip.ParsePrefix(f[i+1])
			break
		}
	}
	out, err = v.Exec(ctx, g.NS, "ip", "-4", "route", "show", "default")
	if err != nil {
		return pf, netip.Addr{}, err
	}
	var gw netip.Addr
	f = strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "via" {
			gw, _ = netip.ParseAddr(f[i+1])
			break
		}
	}
	return pf, gw, nil
}

func (s dhcpScenario) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	var guests []Guest
	for _, g := range v.Guests() {
		if g.DHCP {
			guests = append(guests, g)
		}
	}
	if len(guests) == 0 {
		return r.Skipf("needs a guest with ip: dhcp on a zone with dhcp dnsmasq")
	}
	for _, g := range guests {
		p, err := v.Plan(g.Node)
		if err != nil {
			return r.Errorf("%v", err)
		}
		srv, sn := dhcpSubnetOf(p, g)
		if srv == nil {
			return r.Errorf("guest %s: no DHCP server of zone %s serves %s on node %s", g.Name, g.Zone, g.IPv4, g.Node)
		}
		before, _, err := guestIPv4(ctx, v, g)
		if err != nil {
			return r.Errorf("guest %s: %v", g.Name, err)
		}
		r.Expect(fmt.Sprintf("%s: leased at start", g.Name), before == g.IPv4,
			fmt.Sprintf("%s (the zone's IPAM mapping for %s)", g.IPv4, g.MAC), prefixOrNone(before),
			"the guest got no lease when the lab came up: dnsmasq for the zone does not answer on the VNet")

		res, err := captureDuring(ctx, env, r, "restart-"+g.Name, []capture.Point{guestPoint(g)}, func() error {
			return v.RestartGuest(ctx, g.Name)
		})
		var restartErr string
		if err != nil {
			if res == nil {
				return r.Errorf("guest %s: %v", g.Name, err)
			}
			restartErr = err.Error()
		}
		var ack *capture.DHCP
		for _, pk := range res.Packets {
			if d := pk.DHCP; d != nil && d.Op == 2 && d.MsgType == "Ack" && strings.EqualFold(d.ClientMAC.String(), g.MAC.String()) {
				ack = d
			}
		}
		noAnswer := fmt.Sprintf("dnsmasq of zone %s does not answer on vnet %s: it serves a static range only on an interface holding an address of the subnet (the subnet's gateway: %s), only to MACs in its ethers file, and only while it runs",
			g.Zone, g.VNet, addrOrNone(sn.Gateway))
		if restartErr != "" {
			noAnswer += " (" + restartErr + ")"
		}
		r.Expect(fmt.Sprintf("%s: DHCP ACK after restart", g.Name), ack != nil, "a DHCP ACK to the guest's MAC on its NIC", "none", noAnswer)
		if ack == nil {
			continue
		}
		r.Expect(fmt.Sprintf("%s: address in the dhcp-range", g.Name), inRanges(ack.YourIP, sn.Ranges) && ack.PrefixLen == sn.Prefix.Bits(),
			fmt.Sprintf("in %s, /%d", rangesString(sn.Ranges), sn.Prefix.Bits()), fmt.Sprintf("%s/%d", ack.YourIP, ack.PrefixLen),
			"the DHCP server hands out an address the subnet's dhcp-range does not hold")
		wantGW := []netip.Addr{}
		if sn.Gateway.IsValid() {
			wantGW = []netip.Addr{sn.Gateway}
		}
		r.Expect(fmt.Sprintf("%s: gateway as configured", g.Name), slices.Equal(ack.Routers, wantGW),
			"router "+addrOrNone(sn.Gateway), "router "+addrsString(ack.Routers),
			"the router option differs from the subnet's gateway")
		if sn.DNSServer.IsValid() {
			r.Expect(fmt.Sprintf("%s: DNS server as configured", g.Name), slices.Equal(ack.DNS, []netip.Addr{sn.DNSServer}),
				"DNS "+sn.DNSServer.String(), "DNS "+addrsString(ack.DNS), "the DNS option differs from the subnet's dhcp-dns-server")
		}
		r.Expect(fmt.Sprintf("%s: MTU as configured", g.Name), ack.MTU == srv.MTU,
			fmt.Sprintf("MTU option %d (the zone's)", srv.MTU), fmt.Sprintf("%d", ack.MTU), "the MTU option differs from the zone's MTU")
		after, gw, err := guestIPv4(ctx, v, g)
		if err != nil {
			return r.Errorf("guest %s: %v", g.Name, err)
		}
		r.Expect(fmt.Sprintf("%s: same lease after restart", g.Name), before.IsValid() && after == before && after.Addr() == ack.YourIP,
			fmt.Sprintf("%s again", prefixOrNone(before)), fmt.Sprintf("%s (ACK %s)", prefixOrNone(after), ack.YourIP),
			"the guest got another address after a restart: its lease did not survive")
		if sn.Gateway.IsValid() {
			r.Expect(fmt.Sprintf("%s: default route via the gateway", g.Name), gw == sn.Gateway, sn.Gateway.String(), addrOrNone(gw),
				"the guest did not apply the router option")
			pr, err := probe.Ping(ctx, g.NS, sn.Gateway, probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second})
			if err != nil {
				return r.Errorf("ping %s -> %s: %v", g.Name, sn.Gateway, err)
			}
			r.Expect(fmt.Sprintf("%s: reaches its gateway with the lease", g.Name), pr.OK(), "a reply", pr.String(),
				"the leased address does not work on the VNet")
		}
	}
	r.Figure("guests with ip: dhcp", float64(len(guests)), "")
	return r.Finish()
}

func addrOrNone(a netip.Addr) string {
	if !a.IsValid() {
		return "none"
	}
	return a.String()
}

func prefixOrNone(p netip.Prefix) string {
	if !p.IsValid() {
		return "none"
	}
	return p.String()
}
