package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// Run implements Scenario: it checks the lab requirement, then runs the
// steps in order. Expectations become checks; a step that cannot run ends
// the scenario as an error.
func (f *FileScenario) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(f.ScenName)
	v := labView{env.Lab}
	if why := f.unmet(v); why != "" {
		return r.Skipf("lab %s does not meet the scenario's requirement: %s", env.Lab.Name(), why)
	}
	st := &fileRun{env: env, v: v, steps: NewSteps(env, r)}
	defer st.steps.Close()
	for i, s := range f.Steps {
		env.progress("step %d/%d: %s (%s:%d)", i+1, len(f.Steps), s.Kind, f.File, s.Line)
		if err := st.step(ctx, s, r, f.scenarioFor); err != nil {
			return r.Errorf("%s:%d: step %d (%s): %v", f.File, s.Line, i+1, s.Kind, err)
		}
	}
	st.steps.Timeline(f.ScenName)
	return r.Finish()
}

func (f *FileScenario) unmet(v labView) string {
	q := f.Require
	if q.MinNodes > 0 && len(v.Nodes()) < q.MinNodes {
		return fmt.Sprintf("%d nodes, need %d", len(v.Nodes()), q.MinNodes)
	}
	if q.MinGuests > 0 && len(v.Guests()) < q.MinGuests {
		return fmt.Sprintf("%d guests, need %d", len(v.Guests()), q.MinGuests)
	}
	if q.External {
		if _, ok := v.External(); !ok {
			return "no external host"
		}
	}
	if q.ZoneType != "" {
		found := false
		for _, n := range v.Nodes() {
			p, err := v.Plan(n.Name)
			if err != nil {
				continue
			}
			for _, z := range p.Zones {
				found = found || z.Type == q.ZoneType
			}
		}
		if !found {
			return "no zone of type " + q.ZoneType
		}
	}
	return ""
}

// fileRun runs a file's steps on the step library (steps.go), the same
// one the Go scenarios are built from.
type fileRun struct {
	env     *Env
	v       labView
	steps   *Steps
	nstream int
}

func (st *fileRun) x(s string) string { return expand(s, st.env.Params) }

func (st *fileRun) dur(s string, def time.Duration) (time.Duration, error) {
	s = st.x(s)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

func (st *fileRun) step(ctx context.Context, s Step, r *Result, lookup func(string) (Scenario, error)) error {
	env, v := st.env, st.v
	switch a := s.Args.(type) {
	case *scenarioStep:
		sc, err := lookup(st.x(a.Name))
		if err != nil {
			return err
		}
		given := map[string]string{}
		for k, val := range a.Params {
			given[k] = st.x(val)
		}
		params, err := applyDefaults(sc, given)
		if err != nil {
			return err
		}
		pcaps := env.PcapDir
		if pcaps != "" {
			pcaps = filepath.Join(pcaps, r.Scenario) // below the file scenario's own
		}
		sub := sc.Run(ctx, &Env{Lab: env.Lab, Params: params, PcapDir: pcaps, Progress: env.Progress})
		mergeInto(r, sub)
		if sub.Verdict == reports.Error || sub.Verdict == reports.Skip {
			return fmt.Errorf("scenario %s: %s: %s", sub.Scenario, sub.Verdict, sub.Reason)
		}
		return nil

	case *pingStep:
		from, err := resolveNS(v, st.x(a.From))
		if err != nil {
			return err
		}
		dst, err := resolveAddr(v, st.x(a.From), st.x(a.To), a.Family)
		if err != nil {
			return err
		}
		iv, err := st.dur(a.Interval, 0)
		if err != nil {
			return fmt.Errorf("interval: %w", err)
		}
		res, err := probe.Ping(ctx, from, dst, probe.PingOpts{Count: a.Count, Interval: iv, Size: a.Size, DF: a.DF})
		if err != nil {
			return err
		}
		name := fmt.Sprintf("ping %s -> %s (%s)", st.x(a.From), st.x(a.To), dst)
		switch a.Expect {
		case "no-reply":
			r.Expect(name, !res.OK(), "no reply", res.String(), "traffic that should be blocked got through")
		default:
			r.Expect(name, res.OK(), "a reply", res.String(), "no path: check the VNet, the gateway and the routes on the way")
		}
		r.Text(name, res.Output)
		return nil

	case *streamStep:
		name := st.x(a.Name)
		from, err := resolveNS(v, st.x(a.From))
		if err != nil {
			return err
		}
		to, err := resolveNS(v, st.x(a.To))
		if err != nil {
			return err
		}
		dst, err := resolveAddr(v, st.x(a.From), st.x(a.To), a.Family)
		if err != nil {
			return err
		}
		iv, err := st.dur(a.Interval, time.Millisecond)
		if err != nil {
			return fmt.Errorf("interval: %w", err)
		}
		port := a.Port
		if port == 0 {
			port = 40000 + st.nstream
		}
		st.nstream++
		return st.steps.StartStream(name, StreamSpec{Label: fmt.Sprintf("%s: %s -> %s", name, st.x(a.From), st.x(a.To)), From: from, To: to, Dst: dst, Port: port, Interval: iv})

	case *stopStreamStep:
		name := st.x(a.Name)
		stats, _, err := st.steps.StopStream(name, 200*time.Millisecond)
		if err != nil {
			return err
		}
		r.Figure(name+" sent", float64(stats.Sent), "")
		r.Figure(name+" lost", float64(stats.Lost), "")
		r.Ms(name+" longest gap", stats.LongestGap)
		r.Text("stream "+name, stats.String())
		if a.MaxLost != nil {
			r.Expect(name+" loss", stats.Lost <= *a.MaxLost, fmt.Sprintf("at most %d lost", *a.MaxLost),
				fmt.Sprintf("%d lost of %d", stats.Lost, stats.Sent), "the path was interrupted longer than expected")
		}
		if a.MaxGap != "" {
			mg, err := st.dur(a.MaxGap, 0)
			if err != nil {
				return fmt.Errorf("max-gap: %w", err)
			}
			r.Expect(name+" longest gap", stats.LongestGap <= mg, "at most "+mg.String(),
				stats.LongestGap.Round(time.Microsecond).String(), "the path was interrupted longer than expected")
		}
		if stats.Received == 0 {
			r.Expect(name+" delivery", false, "some datagrams delivered", "none delivered", "no path between the endpoints")
		}
		return nil

	case *migrateStep:
		pause, err := st.dur(a.Pause, 50*time.Millisecond)
		if err != nil {
			return fmt.Errorf("pause: %w", err)
		}
		_, err = st.steps.Migrate(ctx, st.x(a.Guest), st.x(a.To), pause)
		return err

	case *killNodeStep:
		_, err := st.steps.Kill(ctx, st.x(a.Node), KillCrash)
		return err

	case *killAgentStep:
		_, err := st.steps.Kill(ctx, st.x(a.Node), KillAgent)
		return err

	case *captureStep:
		name := st.x(a.Name)
		var pts []capture.Point
		for _, on := range a.On {
			p, err := capturePoints(v, st.x(on))
			if err != nil {
				return err
			}
			pts = append(pts, p...)
		}
		return st.steps.StartCaptureOpts(ctx, name, pts, capture.Options{MaxPackets: a.MaxFrames})

	case *expectCaptureStep:
		return st.expectCapture(a, r)

	case *sleepStep:
		d, err := st.dur(a.For, 0)
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		return nil

	case *sysctlStep:
		ns, err := resolveNS(v, st.x(a.In))
		if err != nil {
			return err
		}
		return nsutil.Sysctl(ns, st.x(a.Key), st.x(a.Value))

	case *execStep:
		ns, err := resolveNS(v, st.x(a.In))
		if err != nil {
			return err
		}
		argv := make([]string, len(a.Cmd))
		for i, c := range a.Cmd {
			argv[i] = st.x(c)
		}
		out, err := env.Lab.Exec(ctx, ns, argv...)
		code := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			return err
		}
		name := "exec " + strings.Join(argv, " ")
		r.Text(name, out)
		if a.ExpectExit != nil {
			r.Expect(name+" exit code", code == *a.ExpectExit, fmt.Sprint(*a.ExpectExit), fmt.Sprint(code), "the command failed")
		} else if code != 0 {
			return fmt.Errorf("%s exited %d: %s", name, code, strings.TrimSpace(out))
		}
		if want := st.x(a.ExpectOutput); want != "" {
			r.Expect(name+" output", strings.Contains(out, want), "output containing "+want, firstLines(out, 5), "")
		}
		return nil

	case *fdbStep:
		return st.fdb(ctx, a, r)

	case *routeStep:
		return st.route(ctx, a, r)
	}
	return fmt.Errorf("step kind %s has no runner", s.Kind)
}

func (st *fileRun) expectCapture(a *expectCaptureStep, r *Result) error {
	name := st.x(a.Name)
	res, err := st.steps.StopCapture(name)
	if err != nil {
		return err
	}
	for _, q := range []struct {
		target string
		v6     bool
	}{{st.x(a.NoARPRequestFor), false}, {st.x(a.NoNDSolicitFor), true}} {
		if q.target == "" {
			continue
		}
		fam := 4
		if q.v6 {
			fam = 6
		}
		ip, err := resolveAddr(st.v, "", q.target, fam)
		if err != nil {
			return err
		}
		var e error
		what := "ARP request"
		if q.v6 {
			what = "neighbor solicitation"
			e = res.None(what+" for "+ip.String()+" inside VXLAN", capture.InVXLAN(), capture.NeighborSolicitFor(ip))
		} else {
			e = res.NoARPRequestFor(ip, capture.InVXLAN())
		}
		r.ExpectAbsent(fmt.Sprintf("%s: no %s for %s on the underlay", name, what, ip), e, "none inside VXLAN",
			"the request was flooded: ARP/ND suppression is off or the address was not known")
	}
	if a.NoFragments {
		r.ExpectAbsent(name+": no fragments", res.NoOuterFragments(), "no IP fragments", "packets above the path MTU were fragmented")
	}
	if len(a.OnlyVNIs) > 0 {
		seen := res.VNIsSeen()
		var extra []string
		for _, vni := range seen {
			if !slices.Contains(a.OnlyVNIs, vni) {
				extra = append(extra, fmt.Sprint(vni))
			}
		}
		r.ExpectNone(res, name+": only VNIs "+fmt.Sprint(a.OnlyVNIs), len(extra), fmt.Sprint(a.OnlyVNIs), fmt.Sprintf("seen %v", seen),
			"traffic in a VNI the scenario did not expect")
	}
	if a.MinVXLAN > 0 {
		n := res.CountMatching(capture.Outer(), capture.HasVXLAN())
		r.Expect(fmt.Sprintf("%s: at least %d VXLAN frames", name, a.MinVXLAN), n >= a.MinVXLAN, fmt.Sprint(a.MinVXLAN), fmt.Sprint(n),
			"nothing crossed the underlay")
	}
	return nil
}

// capturePoints maps a capture target: "underlay" (every node's uplinks),
// a node (its uplinks), a guest (its NIC), a router or the external host
// (its interfaces).
func capturePoints(v labView, on string) ([]capture.Point, error) {
	if on == "underlay" {
		return uplinkPoints(v.Nodes()), nil
	}
	for _, n := range v.Nodes() {
		if n.Name == on {
			return uplinkPoints([]Node{n}), nil
		}
	}
	for _, g := range v.Guests() {
		if g.Name == on {
			return []capture.Point{guestPoint(g)}, nil
		}
	}
	if h, ok := v.host(on); ok {
		var pts []capture.Point
		for _, i := range h.Ifaces {
			pts = append(pts, capture.Point{Netns: h.NS, Ifname: i, Label: h.Name + "_" + i})
		}
		return pts, nil
	}
	return nil, fmt.Errorf("capture: lab %s has nothing called %q (underlay, a node, a guest, a router, external)", v.Name(), on)
}

func (st *fileRun) fdb(ctx context.Context, a *fdbStep, r *Result) error {
	v := st.v
	node, err := v.node(st.x(a.Node))
	if err != nil {
		return err
	}
	g, err := v.guest(st.x(a.MACOf))
	if err != nil {
		return err
	}
	kind, want, err := parseFDBExpect(st.x(a.Expect))
	if err != nil {
		return err
	}
	var wantVTEP netip.Addr
	if kind == "remote" {
		wn, err := v.node(want)
		if err != nil {
			return err
		}
		wantVTEP = wn.VTEP
	}
	within, err := st.dur(a.Within, 0)
	if err != nil {
		return err
	}
	// The VNet's bridge: in the node namespace, or its VRF namespace (EVPN).
	ns, err := v.VNetNS(node.Name, g.VNet)
	if err != nil {
		return err
	}
	var entries []probe.FDBEntry
	if _, _, err := st.steps.WaitFor(ctx, within, 5*time.Millisecond, func() (bool, error) {
		entries, err = probe.FDBFor(ns, g.MAC)
		return err == nil && fdbMatches(entries, kind, wantVTEP, g.Tap), err
	}); err != nil {
		return err
	}
	obs := fdbString(entries)
	name := fmt.Sprintf("FDB on %s for %s (%s)", node.Name, g.Name, g.MAC)
	r.Expect(name, fdbMatches(entries, kind, wantVTEP, g.Tap), st.x(a.Expect), obs,
		"the control plane did not (yet) update this node's forwarding table")
	return nil
}

// fdbMatches: local means an entry on a non-vxlan port (the guest's tap);
// remote means a vxlan entry whose dst is the wanted VTEP and none pointing
// elsewhere; absent means no entry.
func fdbMatches(es []probe.FDBEntry, kind string, vtep netip.Addr, tap string) bool {
	switch kind {
	case "absent":
		return len(es) == 0
	case "local":
		for _, e := range es {
			if !e.Dst.IsValid() && (tap == "" || e.Dev == tap) {
				return true
			}
		}
		return false
	case "remote":
		ok := false
		for _, e := range es {
			if e.Dst.IsValid() {
				if e.Dst != vtep {
					return false
				}
				ok = true
			}
		}
		return ok
	}
	return false
}

func fdbString(es []probe.FDBEntry) string {
	if len(es) == 0 {
		return "no entry"
	}
	var s []string
	for _, e := range es {
		s = append(s, e.String())
	}
	return strings.Join(s, "; ")
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}

// mergeInto adds a sub-scenario's checks, figures and evidence, prefixed
// with its name.
func mergeInto(r, sub *Result) {
	for _, c := range sub.Checks {
		c.Name = sub.Scenario + ": " + c.Name
		r.Checks = append(r.Checks, c)
	}
	for _, f := range sub.Figures {
		f.Name = sub.Scenario + ": " + f.Name
		r.Figures = append(r.Figures, f)
	}
	r.Evidence = append(r.Evidence, sub.Evidence...)
}

// resolveNS maps a name in a step (node, guest, router, "external") to its
// namespace.
func resolveNS(v labView, name string) (string, error) {
	for _, n := range v.Nodes() {
		if n.Name == name {
			return n.NS, nil
		}
	}
	for _, g := range v.Guests() {
		if g.Name == name {
			return g.NS, nil
		}
	}
	for _, h := range v.Routers() {
		if h.Name == name {
			return h.NS, nil
		}
	}
	if h, ok := v.External(); ok && (name == "external" || name == h.Name) {
		return h.NS, nil
	}
	return "", fmt.Errorf("lab %s has no node, guest, router or external host named %q", v.Name(), name)
}

// resolveAddr maps a target (guest, "external", "gateway", router, an IP
// literal) to an address of the wanted family (0: IPv4 unless the target
// only has IPv6).
func resolveAddr(v labView, from, to string, family int) (netip.Addr, error) {
	if a, err := netip.ParseAddr(to); err == nil {
		return a, nil
	}
	pick := func(a4, a6 netip.Addr, what string) (netip.Addr, error) {
		switch {
		case family == 6 && a6.IsValid():
			return a6, nil
		case family != 6 && a4.IsValid():
			return a4, nil
		case family == 0 && a6.IsValid():
			return a6, nil
		}
		return netip.Addr{}, fmt.Errorf("%s has no IPv%d address", what, max(family, 4))
	}
	if to == "gateway" {
		g, err := v.guest(from)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("to: gateway needs from to be a guest: %w", err)
		}
		return pick(g.GW4, g.GW6, "the gateway of "+g.Name)
	}
	for _, g := range v.Guests() {
		if g.Name == to {
			return pick(g.IPv4.Addr(), g.IPv6.Addr(), "guest "+to)
		}
	}
	if h, ok := v.host(to); ok {
		a4, _ := h.Addr4()
		a6, _ := h.Addr6()
		return pick(a4, a6, h.Name)
	}
	for _, n := range v.Nodes() {
		if n.Name == to && n.VTEP.IsValid() {
			return n.VTEP, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("lab %s has no target %q (a guest, external, gateway, a router, a node or an IP)", v.Name(), to)
}

// route waits (up to within) until a route to a prefix via a next hop is
// present or absent in a namespace, and records the check.
func (st *fileRun) route(ctx context.Context, a *routeStep, r *Result) error {
	v := st.v
	in := st.x(a.In)
	ns, err := resolveNS(v, in)
	if err != nil {
		return err
	}
	if vn := st.x(a.VNet); vn != "" {
		if ns, err = v.VNetNS(in, vn); err != nil {
			return err
		}
	}
	to := st.x(a.To)
	family := 4
	var dst netip.Prefix
	if to == "default" {
		dst = netip.MustParsePrefix("0.0.0.0/0")
	} else if dst, err = netip.ParsePrefix(to); err != nil {
		return fmt.Errorf("to: %q is not a prefix", to)
	}
	var via []netip.Addr
	if n, err := v.node(st.x(a.Via)); err == nil {
		via = append(append(via, n.VTEP), n.Addrs...)
	} else if ip, err := netip.ParseAddr(st.x(a.Via)); err == nil {
		via = []netip.Addr{ip}
	} else {
		return fmt.Errorf("via: %q is neither a node nor an address", st.x(a.Via))
	}
	if via[0].Is6() {
		family = 6
		if to == "default" {
			dst = netip.MustParsePrefix("::/0")
		}
	}
	within, err := st.dur(a.Within, 0)
	if err != nil {
		return err
	}
	want := st.x(a.Expect) == "present"
	var routes []probe.Route
	present := func() bool {
		for _, rt := range routes {
			if rt.Dst == dst && slices.ContainsFunc(rt.Via, func(x netip.Addr) bool { return slices.Contains(via, x) }) {
				return true
			}
		}
		return false
	}
	if _, _, err := st.steps.WaitFor(ctx, within, 10*time.Millisecond, func() (bool, error) {
		routes, err = probe.Routes(ns, family)
		return err == nil && present() == want, err
	}); err != nil {
		return err
	}
	var seen []string
	for _, rt := range routes {
		if rt.Dst == dst {
			seen = append(seen, rt.String())
		}
	}
	name := fmt.Sprintf("route to %s via %s in %s", to, st.x(a.Via), in)
	r.Expect(name, present() == want, st.x(a.Expect)+" within "+within.String(), orNone(seen),
		"the routing table did not follow (the control plane kept or never learned the route)")
	return nil
}
