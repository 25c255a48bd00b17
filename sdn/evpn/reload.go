package evpn

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrNeedsRestart: a reload asked for a change the running agent cannot
// make in place (its BGP identity, peers or timers); only a restart
// applies it.
var ErrNeedsRestart = errors.New("needs a restart")

// evReload applies a new configuration on the agent goroutine.
type evReload struct {
	cfg   Config
	reply chan error
}

// Reload applies cfg without a restart when it differs from the running
// configuration in its VNIs only (a VNet, subnet or zone added, changed or
// removed): the sessions stay up, routes of new VNIs are imported from
// what the peers already sent, and the routes of removed ones are
// withdrawn. Anything else is refused with ErrNeedsRestart. A `up` after
// a .cfg edit is applied this way, as frr-reload applies the difference
// on an FRR node.
func (a *Agent) Reload(ctx context.Context, cfg Config) error {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("evpn config: %w", err)
	}
	reply := make(chan error, 1)
	select {
	case a.ev <- evReload{cfg: cfg, reply: reply}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reload runs on the agent goroutine.
func (a *Agent) reload(cfg Config) error {
	if cfg.Node == "" {
		cfg.Node = a.cfg.Node
	}
	cfg.TestFault = a.cfg.TestFault // set from the environment at start
	if what := sessionChanges(a.cfg, cfg); what != "" {
		return fmt.Errorf("%w: %s changed", ErrNeedsRestart, what)
	}
	oldL3 := map[uint32]*l3vni{}
	for _, z := range a.l3 {
		oldL3[z.VNI] = z
	}
	oldL2 := map[uint32]*l2vni{}
	for _, v := range a.l2 {
		oldL2[v.VNI] = v
	}
	var l3 []*l3vni
	l3ByVNI := map[uint32]*l3vni{}
	for _, z := range cfg.L3VNIs {
		l := oldL3[z.VNI]
		if l == nil || l.Netns != z.Netns || l.Bridge != z.Bridge || l.VxlanDev != z.VxlanDev {
			if l != nil {
				a.forgetL3(l)
			}
			l = &l3vni{}
		}
		delete(oldL3, z.VNI)
		l.L3VNI = z
		l3 = append(l3, l)
		l3ByVNI[z.VNI] = l
	}
	var l2, fresh []*l2vni
	for _, v := range cfg.L2VNIs {
		x := oldL2[v.VNI]
		if x == nil || x.Netns != v.Netns || x.Bridge != v.Bridge || x.VxlanDev != v.VxlanDev {
			if x != nil {
				a.forgetDevices(x.Netns, x.Bridge, x.VxlanDev)
			}
			x = &l2vni{macs: map[string]*localMAC{}, ips: map[netip.Addr]string{}, mob: map[string]*mobility{}}
			fresh = append(fresh, x)
		}
		delete(oldL2, v.VNI)
		x.L2VNI, x.l3 = v, l3ByVNI[v.L3VNI]
		l2 = append(l2, x)
	}
	// What is gone: the realizer removes its devices (and the entries on
	// them); reconcile withdraws its routes, as nothing asks for them.
	for _, x := range oldL2 {
		a.forgetDevices(x.Netns, x.Bridge, x.VxlanDev)
	}
	for _, l := range oldL3 {
		a.forgetL3(l)
	}
	a.cfg, a.l2, a.l3 = cfg, l2, l3
	if err := a.openNewHandles(); err != nil {
		return err
	}
	if err := a.subscribeNew(); err != nil {
		return err
	}
	a.resolve()
	// The guests of a new VNet were plugged before this reload: their
	// MACs and neighbours came by while nothing followed the VNet.
	for _, x := range fresh {
		a.relist(x.Netns)
	}
	a.dirty = true
	a.log.Info("evpn agent reloaded", "l2vnis", len(a.l2), "l3vnis", len(a.l3))
	return nil
}

// relist feeds the bridge FDB and the neighbour tables of a namespace
// through onNeigh, as the subscription's initial listing does.
func (a *Agent) relist(ns string) {
	h := a.handles[ns]
	if h == nil {
		return
	}
	for _, fam := range []int{unix.AF_BRIDGE, unix.AF_INET, unix.AF_INET6} {
		ns2, err := h.NeighList(0, fam)
		if err != nil {
			a.log.Warn("reload: list neighbours", "netns", ns, "err", err)
			continue
		}
		for _, n := range ns2 {
			a.onNeigh(ns, netlink.NeighUpdate{Type: unix.RTM_NEWNEIGH, Neigh: n})
		}
	}
}

func (a *Agent) forgetL3(l *l3vni) {
	a.forgetDevices(l.Netns, l.Bridge, l.VxlanDev)
	if l.Netns != "" {
		a.forgetRoutes(l.Netns)
	}
}

// sessionChanges names what of the BGP speaker differs between two
// configurations ("" nothing): everything but the VNIs.
func sessionChanges(old, cfg Config) string {
	old.L2VNIs, old.L3VNIs, cfg.L2VNIs, cfg.L3VNIs = nil, nil, nil, nil
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(cfg)
	for i := range ov.NumField() {
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			return ov.Type().Field(i).Name
		}
	}
	return ""
}
