package topology

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/sdnlab/sdnlab/internal/ping"
)

// Ping pings dst from a node, guest, router or host of the lab.
func (l *Lab) Ping(ctx context.Context, from string, dst netip.Addr, o ping.Opts) (ping.Result, error) {
	ns := l.NS(from)
	if ns == "" {
		return ping.Result{}, fmt.Errorf("lab %s has no %q", l.Name, from)
	}
	return ping.Run(ctx, ns, dst, o)
}
