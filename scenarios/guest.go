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

// guestNeighFor is g's neighbour entry for ip.
func (v labView) guestNeighFor(ctx context.Context, g Guest, ip netip.Addr) (probe.NeighEntry, bool, error) {
	es, err := v.guestNeigh(ctx, g)
	if err != nil {
		return probe.NeighEntry{}, false, err
	}
	for _, e := range es {
		if e.IP == ip {
			return e, true, nil
		}
	}
	return probe.NeighEntry{}, false, nil
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

// guestPinger is a ping running inside a guest while something happens
// (a migration): in a namespace guest iputils in its namespace, in a VM
// guest busybox started in the background through the agent and stopped
// with SIGINT (so it prints its summary), since the agent runs one command
// at a time and the VM moves meanwhile.
type guestPinger struct {
	v    labView
	g    Guest
	done chan struct{}
	res  probe.PingResult
	err  error
	pid  string // in the VM
	file string // its output in the VM
}

// startGuestPing starts pinging dst from g every interval; a namespace
// guest sends count requests, a VM guest until stop.
func (v labView) startGuestPing(ctx context.Context, g Guest, dst netip.Addr, count int, interval time.Duration) (*guestPinger, error) {
	p := &guestPinger{v: v, g: g, done: make(chan struct{})}
	if !g.VM {
		go func() {
			defer close(p.done)
			p.res, p.err = probe.Ping(ctx, g.NS, dst, probe.PingOpts{Count: count, Interval: interval, Timeout: 500 * time.Millisecond})
		}()
		return p, nil
	}
	p.file = "/tmp/sdnlab-ping-" + nonce()
	fam := ""
	if dst.Is6() {
		fam = "-6 "
	}
	out, err := v.ExecGuest(ctx, g.Name, "sh", "-c",
		fmt.Sprintf("ping %s-i %.3f %s > %s 2>&1 < /dev/null & echo $!", fam, interval.Seconds(), dst, p.file))
	if err != nil {
		return nil, fmt.Errorf("start ping in %s: %w", g.Name, err)
	}
	p.pid = strings.TrimSpace(out)
	if _, err := strconv.Atoi(p.pid); err != nil {
		return nil, fmt.Errorf("start ping in %s: no pid in %q", g.Name, out)
	}
	close(p.done)
	return p, nil
}

// stop waits for a namespace guest's ping, or interrupts a VM guest's and
// reads its summary.
func (p *guestPinger) stop(ctx context.Context) (probe.PingResult, error) {
	<-p.done
	if !p.g.VM {
		return p.res, p.err
	}
	out, err := p.v.ExecGuest(ctx, p.g.Name, "sh", "-c",
		fmt.Sprintf("kill -INT %s; while kill -0 %s 2>/dev/null; do sleep 0.05; done; cat %s; rm -f %s", p.pid, p.pid, p.file, p.file))
	if err != nil {
		return probe.PingResult{}, fmt.Errorf("stop ping in %s: %w", p.g.Name, err)
	}
	res := ping.Parse(out)
	if res.Transmitted == 0 {
		return res, fmt.Errorf("ping in %s sent nothing: %s", p.g.Name, strings.TrimSpace(out))
	}
	return res, nil
}
