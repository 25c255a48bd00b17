package scenarios

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// WaitReady waits until the overlay carries traffic: every guest (of
// either kind) of an overlay VNet reaches one guest of the same VNet on
// another node, and its gateway when it has one. EVPN needs this after up (BGP sessions take a
// second or two, then the IMET and MAC/IP routes). It returns how long it
// took, or what still does not work at the timeout (the run goes on: the
// scenarios will say what fails).
func WaitReady(ctx context.Context, lab Lab, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	v := labView{lab}
	byVNet, _, err := v.overlayGuestsAll()
	if err != nil {
		return 0, err
	}
	var checks []func(context.Context) (string, bool)
	ext, hasExt := lab.External()
	// Each family on its own: a dual-stack guest must reach its peer, its
	// gateway and the internet over IPv4 and IPv6 (IPv6 host routes exist
	// only once the guest has spoken from its address).
	for _, fam := range ipFams {
		for _, gs := range byVNet {
			for _, a := range gs {
				if !fam.Guest(a).IsValid() {
					continue
				}
				for _, b := range gs {
					if b.Node != a.Node && fam.Guest(b).IsValid() {
						a, b := a, b
						checks = append(checks, func(ctx context.Context) (string, bool) {
							pr, _ := v.guestPing(ctx, a, fam.Guest(b).Addr(), probe.PingOpts{Count: 1, Timeout: 300 * time.Millisecond})
							return fmt.Sprintf("%s -> %s (%s)", a.Name, b.Name, fam.Tag()), pr.OK()
						})
						break
					}
				}
				// Guests of a zone with exit nodes reach the external host
				// once the default route (type 5) is in.
				if gw := fam.GW(a); hasExt && gw.IsValid() {
					ea, ok := fam.HostAddr(ext)
					if exits, _, err := v.exitNodes(a.Zone); err == nil && len(exits) > 0 && ok {
						a := a
						checks = append(checks, func(ctx context.Context) (string, bool) {
							pr, _ := v.guestPing(ctx, a, ea, probe.PingOpts{Count: 1, Timeout: 300 * time.Millisecond})
							return fmt.Sprintf("%s -> external %s", a.Name, ea), pr.OK()
						})
					}
				}
				if gw := fam.GW(a); gw.IsValid() {
					a := a
					checks = append(checks, func(ctx context.Context) (string, bool) {
						pr, _ := v.guestPing(ctx, a, gw, probe.PingOpts{Count: 1, Timeout: 300 * time.Millisecond})
						return fmt.Sprintf("%s -> gateway %s", a.Name, gw), pr.OK()
					})
				}
			}
		}
	}
	pending := checks
	for {
		var mu sync.Mutex
		var still []func(context.Context) (string, bool)
		var names []string
		var wg sync.WaitGroup
		for _, c := range pending {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name, ok := c(ctx)
				if !ok {
					mu.Lock()
					still = append(still, c)
					names = append(names, name)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(still) == 0 {
			return time.Since(start), nil
		}
		if ctx.Err() != nil {
			return time.Since(start), interruptedWait(start)
		}
		if time.Since(start) > timeout {
			return time.Since(start), fmt.Errorf("overlay not ready after %v: %s", timeout, strings.Join(names, ", "))
		}
		pending = still
		select {
		case <-ctx.Done():
			return time.Since(start), interruptedWait(start)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ErrInterrupted is the cause of a wait cut short by cancellation.
var ErrInterrupted = errors.New(ReasonInterrupted)

// interruptedWait says the wait was cancelled, not that the overlay failed:
// the failed pings of a cancelled context prove nothing.
func interruptedWait(start time.Time) error {
	return fmt.Errorf("%w after %v, before the overlay was ready", ErrInterrupted, time.Since(start).Round(time.Millisecond))
}
