package probe

import (
	"context"
	"net/netip"

	"github.com/sdnlab/sdnlab/internal/ping"
)

// The probes ping with the lab's one ping (internal/ping).
type (
	// PingOpts are the options of one ping run.
	PingOpts = ping.Opts
	// PingResult is what ping reported.
	PingResult = ping.Result
)

// Ping runs ping from namespace ns to dst.
func Ping(ctx context.Context, ns string, dst netip.Addr, o PingOpts) (PingResult, error) {
	return ping.Run(ctx, ns, dst, o)
}
