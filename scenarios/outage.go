package scenarios

import (
	"slices"
	"time"

	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// outage is what one probe stream saw around a failure at a moment t,
// read from its sequence numbers and arrival times.
type outage struct {
	// Lost counts the datagrams lost from the first one lost around t to
	// recovery (or to the end of the stream).
	Lost int
	// LastBefore is the last arrival before the loss began (of a datagram
	// sent before the first lost one); Recovered - LastBefore is the gap
	// the receiver saw.
	LastBefore time.Time
	// Recovered is the arrival of the first datagram of a run of
	// consecutive arrivals after the loss (zero: it never recovered, or
	// nothing sent after t arrived or was lost: no evidence). A stream that
	// lost nothing and carried datagrams sent from t on is recovered at t.
	Recovered time.Time
	// FirstLost and RecoveredSeq bound the loss by sequence number.
	FirstLost, RecoveredSeq uint64
	// Affected tells whether anything was lost around t.
	Affected bool
}

// lossSlack is how long before the failure a datagram may have been sent
// and still be lost because of it (in flight when the path died).
const lossSlack = 50 * time.Millisecond

// Gap is the time the receiver waited, from the last arrival before the
// loss to recovery (0: not affected or not recovered).
func (o outage) Gap() time.Duration {
	if !o.Affected || o.Recovered.IsZero() || o.LastBefore.IsZero() {
		return 0
	}
	return o.Recovered.Sub(o.LastBefore)
}

// outageAt analyses a stream's record around t: the first datagram sent
// from t - lossSlack on that was lost starts the outage; the stream has
// recovered at the first arrival followed by run-1 more in a row.
func outageAt(recs []probe.Record, t time.Time, run int) outage {
	var o outage
	start := -1
	for i, rc := range recs {
		if rc.Lost && !rc.Sent.Before(t.Add(-lossSlack)) {
			start = i
			break
		}
	}
	// A loss that begins in the stream's last moments is datagrams in
	// flight when the stream stopped, not the failure's doing (a flow that
	// lost only its final probe read as "stayed lost").
	if start >= 0 && recs[start].Sent.After(recs[len(recs)-1].Sent.Add(-lossSlack)) && recs[start].Sent.After(t.Add(lossSlack)) {
		start = -1
	}
	if start < 0 {
		// Unharmed only if the stream shows it: a datagram sent from t on
		// arrived. A stream that sent nothing after t says nothing (neither
		// affected nor recovered).
		if slices.ContainsFunc(recs, func(rc probe.Record) bool { return !rc.Lost && !rc.Sent.Before(t) }) {
			o.Recovered = t
		}
		return o
	}
	o.Affected, o.FirstLost = true, recs[start].Seq
	for _, rc := range recs[:start] {
		if !rc.Lost && rc.Recv.After(o.LastBefore) {
			o.LastBefore = rc.Recv
		}
	}
	for i := start; i < len(recs); i++ {
		if recs[i].Lost {
			o.Lost++
			continue
		}
		n := 0
		for j := i; j < len(recs) && j < i+run && !recs[j].Lost; j++ {
			n++
		}
		if n == run {
			o.Recovered, o.RecoveredSeq = recs[i].Recv, recs[i].Seq
			return o
		}
	}
	return o
}
