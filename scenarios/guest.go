package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/internal/ping"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// What a scenario does inside a guest, for both kinds: a namespace guest
// runs our probes in its namespace, a VM guest (its own kernel, busybox)
// runs busybox commands through its agent (Lab.ExecGuest), and traffic to
// it is answered by its kernel (probe.StartEchoStream).

// guestPing pings dst from inside g.
func (v labView) guestPing(ctx context.Context, g Guest, dst netip.Addr, o probe.PingOpts) (probe.PingResult, error) {
	if !g.VM {
		return probe.Ping(ctx, g.NS, dst, o)
	}
	if o.Count <= 0 {
		o.Count = 3
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	argv := []string{"ping", "-c", strconv.Itoa(o.Count), "-W", strconv.Itoa(max(1, int(o.Timeout.Round(time.Second).Seconds())))}
	if o.Interval > 0 {
		argv = append(argv, "-i", fmt.Sprintf("%.3f", o.Interval.Seconds()))
	}
	if o.Size > 0 {
		argv = append(argv, "-s", strconv.Itoa(o.Size))
	}
	if dst.Is6() {
		argv = append(argv, "-6")
	}
	argv = append(argv, dst.String())
	out, err := v.ExecGuest(ctx, g.Name, argv...)
	res := ping.Parse(out)
	if res.Transmitted == 0 && err != nil {
		return res, fmt.Errorf("ping in %s could not run: %w", g.Name, err)
	}
	return res, nil // a failed ping (exit 1) is its result, not an error
}

// guestNeigh is g's neighbour table (read with busybox `ip neigh` in a VM
// guest).
func (v labView) guestNeigh(ctx context.Context, g Guest) ([]probe.NeighEntry, error) {
	if !g.VM {
		return probe.Neigh(g.NS)
	}
	out, err := v.ExecGuest(ctx, g.Name, "ip", "neigh", "show")
	if err != nil {
		return nil, fmt.Errorf("neighbours of %s: %w", g.Name, err)
	}
	return parseIPNeigh(out), nil
}

// parseIPNeigh reads `ip neigh show` lines: "IP dev DEV [lladdr MAC]
// [router] ... STATE".
func parseIPNeigh(out string) []probe.NeighEntry {
	var es []probe.NeighEntry
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		e := probe.NeighEntry{IP: ip, State: f[len(f)-1]}
		for i := 1; i+1 < len(f); i++ {
			switch f[i] {
			case "dev":
				e.Dev = f[i+1]
			case "lladdr":
				e.MAC = f[i+1]
			}
		}
		es = append(es, e)
	}
	return es
}

// guestNeighFor is g's neighbour entry for ip with a MAC, if any.
func (v labView) guestNeighFor(ctx context.Context, g Guest, ip netip.Addr) (probe.NeighEntry, bool, error) {
	if !g.VM {
		return probe.NeighFor(g.NS, ip)
	}
	es, err := v.guestNeigh(ctx, g)
	if err != nil {
		return probe.NeighEntry{}, false, err
	}
	for _, e := range es {
		if e.IP == ip && e.MAC != "" {
			return e, true, nil
		}
	}
	return probe.NeighEntry{}, false, nil
}
