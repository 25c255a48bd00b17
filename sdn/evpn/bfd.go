package evpn

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/sdnlab/sdnlab/sdn/bfd"
)

// startBFD runs BFD towards the neighbours that ask for it (Proxmox emits
// `neighbor VTEP bfd`); a session going down resets that BGP peer.
func (a *Agent) startBFD(ctx context.Context, send func(any)) (bfdControl, error) {
	if a.cfg.BFDDisabledAll || a.cfg.Fault(FaultNoBFD) {
		return nil, nil
	}
	var peers []Neighbor
	for _, n := range a.cfg.Neighbors {
		if n.BFD {
			peers = append(peers, n)
		}
	}
	if len(peers) == 0 {
		return nil, nil
	}
	bc := bfd.Config{
		Interval:   time.Duration(a.cfg.BFDIntervalMs) * time.Millisecond,
		DetectMult: a.cfg.BFDDetectMult,
	}
	if sp := a.cfg.SharedPorts; sp != nil {
		bc.Addrs = sp.Addrs
	}
	onChange := func(peer netip.Addr, up bool) { send(evBFD{peer: peer, up: up}) }
	var m interface {
		bfdControl
		Add(peer, local netip.Addr, multihop bool)
	}
	var err error
	if len(a.cfg.BFDProcess) > 0 {
		var p *bfd.Process
		if p, err = bfd.StartProcess(ctx, a.cfg.BFDProcess, bc, a.log.With("proto", "bfd"), onChange); err == nil {
			a.log.Info("bfd process", "pid", p.Pid(), "priority", p.Priority)
			m = p
		}
	} else {
		m, err = bfd.Start(ctx, bc, a.log.With("proto", "bfd"), onChange)
	}
	if err != nil {
		return nil, err
	}
	for _, n := range peers {
		m.Add(n.Addr, n.UpdateSource, n.Multihop > 0 || a.viaGateway(n.Addr))
	}
	return m, nil
}

// viaGateway tells a peer that is not on a connected subnet: like bgpd,
// BFD then runs multihop (RFC 5883, port 4784).
func (a *Agent) viaGateway(peer netip.Addr) bool {
	h := a.handles[""]
	if h == nil {
		return false
	}
	rs, err := h.RouteGet(net.IP(peer.AsSlice()))
	return err == nil && len(rs) > 0 && rs[0].Gw != nil
}
