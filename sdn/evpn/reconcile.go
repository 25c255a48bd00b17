package evpn

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// desiredState is what the routes say the kernel and our advertisements
// should be.
type desiredState struct {
	kernel  map[string]kobj
	adverts map[string]*Route
}

func (d *desiredState) put(o kobj) { d.kernel[o.key()] = o }

func (d *desiredState) advertise(r *Route) {
	n, err := r.nlri()
	if err != nil {
		return
	}
	r.Key = n.String()
	d.adverts[r.Key] = r
}

// reconcile recomputes the desired state from the RIB and the locally
// learned tables, then programs the difference.
func (a *Agent) reconcile() {
	a.dirty, a.urgent, a.retry = false, false, false
	if a.ucDirty {
		a.refreshUnicast()
	}
	d := a.plan()
	a.applyKernel(d.kernel)
	a.applyAdverts(d.adverts)
}

// plan computes the desired state. Its maps start at the size of what is
// installed and advertised now: at 300 nodes growing them was a third of
// the planning's memory (BenchmarkPlanL2At300Nodes).
func (a *Agent) plan() *desiredState {
	d := &desiredState{kernel: make(map[string]kobj, len(a.installed)), adverts: make(map[string]*Route, len(a.adverts))}
	localIPs := map[netip.Addr]bool{}
	localMACs := map[string]bool{}
	for _, v := range a.l2 {
		a.planL2(v, d, localIPs, localMACs)
	}
	for _, z := range a.l3 {
		a.planL3(z, d, localIPs, localMACs)
	}
	a.planUnicast(d)
	return d
}

// macRoutes are the remote type 2 routes of one MAC in one VNI.
type macRoutes struct {
	routes []*Route
}

// winner is the remote route that owns the MAC: highest sequence number,
// then lowest VTEP address (RFC 7432 section 15.1).
func (m *macRoutes) winner() (seq uint32, vtep netip.Addr, sticky bool) {
	for _, r := range m.routes {
		if !vtep.IsValid() || r.Seq > seq || (r.Seq == seq && r.NextHop.Less(vtep)) {
			seq, vtep = r.Seq, r.NextHop
		}
		if r.Sticky {
			sticky = true
		}
	}
	return
}

func (a *Agent) planL2(v *l2vni, d *desiredState, localIPs map[netip.Addr]bool, localMACs map[string]bool) {
	if v.bridgeIdx == 0 {
		return
	}
	vtep := a.cfg.LocalVTEP
	// Our inclusive multicast route: the flood list of other nodes.
	d.advertise(&Route{Type: TypeIMET, RD: v.RD, IP: vtep, VNI: v.VNI, RTs: v.ExportRTs, NextHop: vtep})

	byMAC := make(map[string]*macRoutes, len(v.mob))
	for _, r := range a.rib {
		if !rtMatch(r.RTs, v.ImportRTs) {
			continue
		}
		switch r.Type {
		case TypeIMET:
			if r.IP != vtep && r.IP.IsValid() {
				d.put(&floodObj{netns: v.Netns, dev: v.VxlanDev, link: v.vxlanIdx, vtep: r.IP})
			}
		case TypeMACIP:
			if r.NextHop == vtep {
				continue
			}
			mr := byMAC[r.MAC]
			if mr == nil {
				mr = &macRoutes{}
				byMAC[r.MAC] = mr
			}
			mr.routes = append(mr.routes, r)
		}
	}
	macs := make(map[string]bool, len(byMAC)+len(v.macs))
	for mac := range byMAC {
		macs[mac] = true
	}
	for mac := range v.macs {
		macs[mac] = true
	}
	now := time.Now()
	for mac := range macs {
		if mac == v.bridgeMAC {
			continue // our own gateway MAC is never taken from elsewhere
		}
		m := v.mobFor(mac)
		mr := byMAC[mac]
		var rseq uint32
		var rvtep netip.Addr
		var rsticky bool
		if mr != nil {
			rseq, rvtep, rsticky = mr.winner()
			if rseq >= m.remoteSeq || now.Sub(m.remoteAt) > a.cfg.DupWindow {
				m.remoteSeq = rseq
			}
			m.remoteAt = now
		}
		loc := v.macs[mac]
		localWins := loc != nil
		if loc != nil && mr != nil {
			switch {
			case rsticky && !loc.static:
				localWins = false
			case rseq > m.seq:
				localWins = false
			case rseq == m.seq && rvtep.Less(vtep):
				localWins = false
			}
			if !localWins && !loc.goneAt.IsZero() {
				delete(v.macs, mac) // it left here and lives elsewhere now
				loc = nil
			}
		}
		owner := ""
		switch {
		case localWins:
			owner = "local"
		case mr != nil:
			owner = "remote"
		}
		if owner != m.owner {
			if m.owner != "" && owner != "" {
				a.move(v, mac, m)
			}
			m.owner = owner
		}
		switch owner {
		case "local":
			localMACs[v.Netns+"|"+mac] = true
			if m.dup && a.cfg.DupFreeze > 0 {
				continue // frozen duplicate: no longer advertised (FRR with freeze)
			}
			hasSeq := m.seq > 0
			d.advertise(&Route{Type: TypeMACIP, RD: v.RD, MAC: mac, VNI: v.VNI, RTs: v.ExportRTs, NextHop: vtep,
				Seq: m.seq, HasSeq: hasSeq, Sticky: loc.static})
			for ip, ipmac := range v.ips {
				if ipmac != mac {
					continue
				}
				localIPs[ip] = true
				r := &Route{Type: TypeMACIP, RD: v.RD, MAC: mac, IP: ip, VNI: v.VNI, RTs: v.ExportRTs, NextHop: vtep,
					Seq: m.seq, HasSeq: hasSeq, Sticky: loc.static}
				if v.l3 != nil && v.l3.rmac != "" {
					r.L3VNI = v.l3.VNI
					r.RTs = append(append([]string{}, v.ExportRTs...), v.l3.ExportRTs...)
					r.RouterMAC = v.l3.rmac
				}
				d.advertise(r)
			}
		case "remote":
			d.put(&fdbObj{netns: v.Netns, dev: v.VxlanDev, link: v.vxlanIdx, mac: parseMAC(mac), vtep: rvtep, sticky: rsticky})
			for _, r := range mr.routes {
				if r.NextHop != rvtep || !r.IP.IsValid() || localIPs[r.IP] {
					continue
				}
				if _, mine := v.ips[r.IP]; mine && v.macs[v.ips[r.IP]] != nil {
					continue // the IP is bound to a local MAC here
				}
				d.put(&neighObj{netns: v.Netns, dev: v.Bridge, link: v.bridgeIdx, ip: r.IP, mac: parseMAC(mac)})
			}
		}
	}
}

func (a *Agent) planL3(z *l3vni, d *desiredState, localIPs map[netip.Addr]bool, localMACs map[string]bool) {
	if z.bridgeIdx == 0 || z.rmac == "" {
		return
	}
	vtep := a.cfg.LocalVTEP
	// Our type 5 routes.
	if z.ExitNode {
		for _, p := range []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")} {
			d.advertise(&Route{Type: TypePrefix, RD: z.RD, Prefix: p, VNI: z.VNI, RTs: z.ExportRTs, NextHop: vtep,
				RouterMAC: z.rmac, MED: z.DefaultMED})
		}
	} else if z.AdvertiseSubnets {
		for _, p := range z.Subnets {
			d.advertise(&Route{Type: TypePrefix, RD: z.RD, Prefix: p.Masked(), VNI: z.VNI, RTs: z.ExportRTs,
				NextHop: vtep, RouterMAC: z.rmac})
		}
	}

	if z.LeakSubnets {
		for _, p := range z.Subnets {
			d.advertise(&Route{Type: TypeUnicast, Prefix: p.Masked()})
		}
	}

	// Remote host routes (type 2 with an IP) and prefixes (type 5).
	type hostBest struct {
		seq  uint32
		vtep netip.Addr
		rmac string
	}
	hosts := map[netip.Addr]*hostBest{}
	type prefixBest struct {
		med   uint32
		vteps map[netip.Addr]bool
	}
	prefixes := map[netip.Prefix]*prefixBest{}
	rmacs := map[netip.Addr]string{}
	for _, r := range a.rib {
		if r.NextHop == vtep || !r.NextHop.IsValid() || r.RouterMAC == "" || !rtMatch(r.RTs, z.ImportRTs) {
			continue
		}
		switch r.Type {
		case TypeMACIP:
			if !r.IP.IsValid() || localIPs[r.IP] || localMACs[z.Netns+"|"+r.MAC] {
				continue
			}
			h := hosts[r.IP]
			if h == nil || r.Seq > h.seq || (r.Seq == h.seq && r.NextHop.Less(h.vtep)) {
				hosts[r.IP] = &hostBest{seq: r.Seq, vtep: r.NextHop, rmac: r.RouterMAC}
			}
		case TypePrefix:
			if z.RejectDefault && r.Prefix.Bits() == 0 {
				continue // an exit node keeps its own way out (MAP_VTEP_IN)
			}
			p := prefixes[r.Prefix]
			if p == nil || r.MED < p.med {
				p = &prefixBest{med: r.MED, vteps: map[netip.Addr]bool{}}
				prefixes[r.Prefix] = p
			}
			if r.MED == p.med {
				p.vteps[r.NextHop] = true
				rmacs[r.NextHop] = r.RouterMAC
			}
		}
	}
	for ip, h := range hosts {
		rmacs[h.vtep] = h.rmac
		d.put(&routeObj{netns: z.Netns, dev: z.Bridge, link: z.bridgeIdx, prefix: netip.PrefixFrom(ip, ip.BitLen()),
			vteps: []netip.Addr{h.vtep}})
	}
	for p, b := range prefixes {
		if _, isHost := hosts[p.Addr()]; isHost && p.IsSingleIP() {
			continue
		}
		d.put(&routeObj{netns: z.Netns, dev: z.Bridge, link: z.bridgeIdx, prefix: p, vteps: sortedAddrs(b.vteps)})
	}
	v6 := false // IPv6 routes use the IPv4-mapped VTEP address
	for _, o := range d.kernel {
		if r, ok := o.(*routeObj); ok && r.netns == z.Netns && r.prefix.Addr().Is6() {
			v6 = true
		}
	}
	var lost netip.Addr
	if a.cfg.Fault(FaultLostRouterMAC) {
		for v := range rmacs {
			if !lost.IsValid() || lost.Less(v) {
				lost = v
			}
		}
	}
	for v, rmac := range rmacs {
		mac := parseMAC(rmac)
		if mac == nil {
			continue
		}
		if v == lost {
			d.put(&neighObj{netns: z.Netns, dev: z.Bridge, link: z.bridgeIdx, ip: v, mac: mac})
			continue
		}
		d.put(&neighObj{netns: z.Netns, dev: z.Bridge, link: z.bridgeIdx, ip: v, mac: mac})
		if v.Is4() && v6 {
			d.put(&neighObj{netns: z.Netns, dev: z.Bridge, link: z.bridgeIdx, ip: mapped(v), mac: mac})
		}
		d.put(&fdbObj{netns: z.Netns, dev: z.VxlanDev, link: z.vxlanIdx, mac: mac, vtep: v})
	}
}

// applyKernel programs the difference between desired and installed.
// Neighbour and FDB entries go before routes that use them; routes go
// before the entries they used.
func (a *Agent) applyKernel(desired map[string]kobj) {
	order := map[string]int{"flood": 0, "fdb": 1, "neigh": 2, "route": 3, "uroute": 3}
	var adds []kobj
	for k, o := range desired {
		in := a.installed[k]
		if in != nil && in.obj.spec() == o.spec() {
			in.stale = false
			continue
		}
		adds = append(adds, o)
	}
	sort.Slice(adds, func(i, j int) bool { return order[adds[i].kind()] < order[adds[j].kind()] })
	for _, o := range adds {
		if err := o.add(a.handles[o.ns()]); err != nil {
			a.log.Warn("program kernel", "what", o.key(), "err", err)
			a.retry = true
			continue
		}
		a.installed[o.key()] = &installed{obj: o}
		if f, ok := o.(*fdbObj); ok && a.OnFDB != nil {
			a.OnFDB(f.mac.String(), f.vtep)
		}
	}
	var dels []kobj
	for k, in := range a.installed {
		if _, ok := desired[k]; ok {
			continue
		}
		if in.stale && !a.syncDone {
			continue
		}
		dels = append(dels, in.obj)
	}
	sort.Slice(dels, func(i, j int) bool { return order[dels[i].kind()] > order[dels[j].kind()] })
	for _, o := range dels {
		if a.probe[o.key()] != nil {
			continue // replaced by the probe below
		}
		if err := o.del(a.handles[o.ns()]); err != nil {
			a.log.Warn("remove kernel entry", "what", o.key(), "err", err)
		}
		delete(a.installed, o.key())
	}
	// Adopted IPs: our remote entry (if any) becomes the kernel's own, in
	// NUD_PROBE, to be confirmed by the guest.
	for k, n := range a.probe {
		if _, ok := desired[k]; ok {
			continue
		}
		if err := n.probe(a.handles[n.ns()]); err != nil {
			a.log.Warn("neighbour probe", "what", k, "err", err)
		}
		delete(a.installed, k)
	}
	clear(a.probe)
}

// applyAdverts adds, replaces and withdraws our own routes in GoBGP.
func (a *Agent) applyAdverts(desired map[string]*Route) {
	if a.bgp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for k, r := range desired {
		if old := a.adverts[k]; old != nil && sameRoute(old, r) {
			continue
		}
		p, err := r.toPath(false)
		if err != nil {
			a.log.Warn("build route", "route", k, "err", err)
			continue
		}
		if _, err := a.bgp.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: p}); err != nil {
			a.log.Warn("advertise", "route", k, "err", err)
			a.retry = true
			continue
		}
		a.adverts[k] = r
	}
	for k, r := range a.adverts {
		if _, ok := desired[k]; ok {
			continue
		}
		p, err := r.toPath(true)
		if err == nil {
			err = a.bgp.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: p.Family, Path: p})
		}
		if err != nil {
			a.log.Warn("withdraw", "route", k, "err", err)
		}
		delete(a.adverts, k)
	}
}

func sameRoute(a, b *Route) bool {
	return fmt.Sprintf("%+v", *a) == fmt.Sprintf("%+v", *b)
}
