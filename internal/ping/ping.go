// Package ping is the lab's one ping: iputils ping run inside a network
// namespace, its output parsed into replies (by sequence number), ICMP
// errors and the path MTU they carry. Scenarios (through scenarios/probe)
// and topology use it.
package ping

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// Opts are the options of one ping run (iputils ping inside a namespace).
type Opts struct {
	Count    int           // default 3
	Interval time.Duration // default 200ms; below 200ms needs root (we are)
	Timeout  time.Duration // per reply, default 1s
	// Size is the ICMP payload size (-s); 0 keeps ping's default.
	Size int
	// DF forbids fragmentation (-M do): the probe of a path MTU.
	DF bool
}

// Result is what ping reported.
type Result struct {
	Transmitted int
	Received    int
	// Seqs are the icmp_seq numbers that got a reply.
	Seqs []int
	// Errors are ICMP errors or local errors ping printed, e.g.
	// "Frag needed and DF set (mtu = 1450)" or "message too long, mtu=1450".
	Errors []string
	// MTU is the path MTU ping learned from an error, 0 none.
	MTU int
	// TooBig is the MTU told by the one error that means "too big": ICMP
	// "fragmentation needed" (IPv4) or ICMPv6 "packet too big", or ping's
	// local "message too long" with the path MTU the kernel learned from
	// such an error earlier; 0 when no such error came.
	TooBig int
	Output string
}

// OK tells whether at least one reply came back.
func (r Result) OK() bool { return r.Received > 0 }

func (r Result) String() string {
	s := fmt.Sprintf("%d transmitted, %d received", r.Transmitted, r.Received)
	if len(r.Errors) > 0 {
		s += "; " + r.Errors[0]
	}
	return s
}

var (
	rePingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received`)
	// iputils prints icmp_seq=, busybox (inside a VM guest) seq=.
	rePingReply = regexp.MustCompile(`(?:icmp_)?seq=(\d+) ttl=`)
	rePingMTU   = regexp.MustCompile(`mtu ?= ?(\d+)`)
	// The "too big" errors as iputils prints them: "Frag needed and DF set
	// (mtu = 1450)", "Packet too big: mtu=1450", "local error: message too
	// long, mtu=1450".
	rePingTooBig = regexp.MustCompile(`(?i)(frag needed and df set \(mtu ?= ?|packet too big: ?mtu ?= ?|message too long, ?mtu ?= ?)(\d+)`)
)

// Run runs iputils ping from namespace ns to dst.
func Run(ctx context.Context, ns string, dst netip.Addr, o Opts) (Result, error) {
	if o.Count <= 0 {
		o.Count = 3
	}
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	argv := []string{"ping", "-n", "-c", strconv.Itoa(o.Count),
		"-i", fmt.Sprintf("%.3f", o.Interval.Seconds()),
		"-W", fmt.Sprintf("%.3f", o.Timeout.Seconds())}
	if dst.Is6() {
		argv = append(argv, "-6")
	} else {
		argv = append(argv, "-4")
	}
	if o.Size > 0 {
		argv = append(argv, "-s", strconv.Itoa(o.Size))
	}
	if o.DF {
		argv = append(argv, "-M", "do")
	}
	argv = append(argv, dst.String())
	// The whole run may not exceed count*interval + timeout by much.
	limit := time.Duration(o.Count)*o.Interval + o.Timeout + 3*time.Second
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	out, err := nsutil.Output(cctx, ns, argv...)
	res := Parse(string(out))
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	// A probe that could not run is no "0 received": the namespace is
	// gone, ping is missing, or it was killed at the limit.
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return res, fmt.Errorf("ping from %s could not run: %w", ns, err)
	}
	if cctx.Err() != nil {
		return res, fmt.Errorf("ping from %s to %s did not finish within %v", ns, dst, limit)
	}
	if res.Transmitted == 0 {
		text := strings.TrimSpace(string(out))
		low := strings.ToLower(text)
		// ping ran but could not send: no route, "message too long" on the
		// first packet. Its words are the observation. Anything else
		// (no socket, bad usage) means the probe itself did not work.
		if !strings.Contains(low, "unreachable") && !strings.Contains(low, "too long") && !strings.Contains(low, "sendmsg") &&
			!strings.Contains(low, "connect:") {
			return res, fmt.Errorf("ping from %s to %s could not run: %s", ns, dst, firstLine(text))
		}
		if len(res.Errors) == 0 {
			res.Errors = append(res.Errors, text)
		}
	}
	return res, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Parse reads ping's output: Run's (iputils), or that of a ping run
// elsewhere (busybox ping inside a VM guest prints the same summary and
// replies).
func Parse(out string) Result {
	r := Result{Output: out}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if m := rePingReply.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			r.Seqs = append(r.Seqs, n)
			continue
		}
		if m := rePingSummary.FindStringSubmatch(line); m != nil {
			r.Transmitted, _ = strconv.Atoi(m[1])
			r.Received, _ = strconv.Atoi(m[2])
			continue
		}
		low := strings.ToLower(line)
		if strings.Contains(low, "frag needed") || strings.Contains(low, "too long") ||
			strings.Contains(low, "unreachable") || strings.Contains(low, "packet too big") ||
			strings.Contains(low, "time to live exceeded") || strings.HasPrefix(low, "ping:") {
			if len(r.Errors) < 5 {
				r.Errors = append(r.Errors, line)
			}
			if m := rePingMTU.FindStringSubmatch(low); m != nil && r.MTU == 0 {
				r.MTU, _ = strconv.Atoi(m[1])
			}
			if m := rePingTooBig.FindStringSubmatch(line); m != nil && r.TooBig == 0 {
				r.TooBig, _ = strconv.Atoi(m[2])
			}
		}
	}
	return r
}

// LongestGap returns the longest run of missing icmp_seq numbers within
// 1..Transmitted, times interval.
func (r Result) LongestGap(interval time.Duration) time.Duration {
	got := map[int]bool{}
	for _, s := range r.Seqs {
		got[s] = true
	}
	longest, run := 0, 0
	for s := 1; s <= r.Transmitted; s++ {
		if got[s] {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	if longest == 0 {
		return 0
	}
	return time.Duration(longest+1) * interval
}
