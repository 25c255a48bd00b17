// Package impair degrades a lab interface's egress: packet loss, delay,
// jitter and a rate limit. Where the kernel has netem it uses netem; this
// machine's kernel has none, so loss is an eBPF program on the interface's
// egress hook (a random drop), and delay, jitter and rate take a paced
// path: the same program hands every packet to a tap device, a daemon holds
// it for its delay (and its share of the rate) and sends it out again,
// marked so the program lets it pass.
package impair

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Spec is one interface's impairment.
type Spec struct {
	Loss   float64       `json:"loss,omitempty"`   // percent of packets dropped, 0-100
	Delay  time.Duration `json:"delay,omitempty"`  // added to every packet
	Jitter time.Duration `json:"jitter,omitempty"` // uniform +- around Delay (order kept)
	Rate   uint64        `json:"rate,omitempty"`   // bits per second; 0 unlimited
}

// Zero tells whether the spec impairs nothing.
func (s Spec) Zero() bool { return s == Spec{} }

// Paced tells whether packets must be held (delay, jitter or rate).
func (s Spec) Paced() bool { return s.Delay > 0 || s.Jitter > 0 || s.Rate > 0 }

// String is "loss 2%, delay 5ms ±1ms, rate 10Mbit/s".
func (s Spec) String() string {
	var parts []string
	if s.Loss > 0 {
		parts = append(parts, "loss "+strconv.FormatFloat(s.Loss, 'f', -1, 64)+"%")
	}
	if s.Delay > 0 || s.Jitter > 0 {
		d := "delay " + s.Delay.String()
		if s.Jitter > 0 {
			d += " ±" + s.Jitter.String()
		}
		parts = append(parts, d)
	}
	if s.Rate > 0 {
		parts = append(parts, "rate "+FormatRate(s.Rate))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Check validates the spec's ranges.
func (s Spec) Check() error {
	switch {
	case s.Loss < 0 || s.Loss > 100:
		return fmt.Errorf("loss %v%%: want 0 to 100", s.Loss)
	case s.Delay < 0 || s.Delay > 10*time.Second:
		return fmt.Errorf("delay %v: want 0 to 10s", s.Delay)
	case s.Jitter < 0 || s.Jitter > s.Delay:
		return fmt.Errorf("jitter %v: want 0 up to the delay (%v)", s.Jitter, s.Delay)
	case s.Rate != 0 && s.Rate < 8000:
		return fmt.Errorf("rate %s: want at least 8kbit", FormatRate(s.Rate))
	}
	return nil
}

// ParseLoss reads "2%", "2" or "0.5%".
func ParseLoss(v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
	if err != nil || f < 0 || f > 100 {
		return 0, fmt.Errorf("loss %q: want a percentage from 0 to 100, like 2%%", v)
	}
	return f, nil
}

// ParseDuration reads "5ms", "1.5s"; a bare number is milliseconds.
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(f * float64(time.Millisecond)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a duration like 5ms", v)
	}
	return d, nil
}

// ParseRate reads "10mbit", "512kbit", "1gbit", "100000" (bits per second),
// also with "bps" units as tc writes them ("10mbps" is 10 megabytes/s).
func ParseRate(v string) (uint64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := 1.0
	for _, u := range []struct {
		suf string
		m   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}, {"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("rate %q: want a rate like 10mbit", v)
	}
	return uint64(f * mult), nil
}

// FormatRate prints bits per second as tc does: 10Mbit/s.
func FormatRate(r uint64) string {
	switch {
	case r >= 1e9 && r%1e9 == 0:
		return fmt.Sprintf("%dGbit/s", r/1e9)
	case r >= 1e6 && r%1e6 == 0:
		return fmt.Sprintf("%dMbit/s", r/1e6)
	case r >= 1e3 && r%1e3 == 0:
		return fmt.Sprintf("%dkbit/s", r/1e3)
	}
	return fmt.Sprintf("%dbit/s", r)
}

// Set sets the impairment key (loss, delay, jitter or rate) from its
// text, as ParseList and the lab file's impair: mapping write it.
func (s *Spec) Set(key, val string) error {
	var err error
	switch key {
	case "loss":
		s.Loss, err = ParseLoss(val)
	case "delay":
		s.Delay, err = ParseDuration(val)
	case "jitter":
		s.Jitter, err = ParseDuration(val)
	case "rate":
		s.Rate, err = ParseRate(val)
	default:
		return fmt.Errorf("unknown impairment %q (want loss, delay, jitter, rate)", key)
	}
	return err
}

// ParseList reads "loss=2%,delay=5ms,jitter=1ms,rate=10mbit" (the form
// scenario options and lab files use).
func ParseList(v string) (Spec, error) {
	var s Spec
	for _, kv := range strings.Split(v, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return s, fmt.Errorf("%q: want key=value (loss, delay, jitter, rate)", kv)
		}
		if err := s.Set(strings.TrimSpace(k), val); err != nil {
			return s, fmt.Errorf("%q: %w", kv, err)
		}
	}
	if err := s.Check(); err != nil {
		return s, err
	}
	return s, nil
}
