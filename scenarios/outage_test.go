package scenarios

import (
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// mkRecords: one datagram per ms from t0; lost marks the lost sequence
// numbers; each arrives 1 ms after it was sent.
func mkRecords(t0 time.Time, n int, lost func(i int) bool) []probe.Record {
	var out []probe.Record
	for i := range n {
		r := probe.Record{Seq: uint64(i), Sent: t0.Add(time.Duration(i) * time.Millisecond), Lost: lost(i)}
		if !r.Lost {
			r.Recv = r.Sent.Add(time.Millisecond)
		}
		out = append(out, r)
	}
	return out
}

func TestOutageAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fail := t0.Add(100 * time.Millisecond)
	// Lost from 98 to 299, a stray single arrival at 150 that is not a recovery.
	recs := mkRecords(t0, 500, func(i int) bool { return i >= 98 && i < 300 && i != 150 })
	o := outageAt(recs, fail, 10)
	if !o.Affected || o.FirstLost != 98 || o.RecoveredSeq != 300 || o.Lost != 201 {
		t.Fatalf("outage %+v", o)
	}
	if got := o.Recovered.Sub(fail); got != 201*time.Millisecond {
		t.Errorf("recovered %v after the failure, want 201ms", got)
	}
	if o.LastBefore != t0.Add(98*time.Millisecond) {
		t.Errorf("last before %v", o.LastBefore.Sub(t0))
	}
	// Never recovers.
	if o := outageAt(mkRecords(t0, 500, func(i int) bool { return i >= 120 }), fail, 10); !o.Affected || !o.Recovered.IsZero() || o.Lost != 380 {
		t.Fatalf("never recovered: %+v", o)
	}
	// Nothing lost: not affected, recovered at once.
	if o := outageAt(mkRecords(t0, 500, func(int) bool { return false }), fail, 10); o.Affected || !o.Recovered.Equal(fail) {
		t.Fatalf("no loss: %+v", o)
	}
	// A loss long before the failure is not this outage.
	if o := outageAt(mkRecords(t0, 500, func(i int) bool { return i == 10 }), fail, 10); o.Affected {
		t.Fatalf("early loss counted: %+v", o)
	}
}

// A stream stopped while its last datagrams were in flight lost them to
// the stop, not to the failure: the flow recovered (or was never hit).
// Lost for good it stays when the loss began before its last moments.
func TestOutageAtIgnoresInFlightAtEnd(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fail := t0.Add(100 * time.Millisecond)
	o := outageAt(mkRecords(t0, 500, func(i int) bool { return i == 499 }), fail, 10)
	if o.Affected || o.Recovered.IsZero() {
		t.Errorf("only the final datagram lost: %+v, want unaffected", o)
	}
	o = outageAt(mkRecords(t0, 500, func(i int) bool { return i == 497 }), fail, 10)
	if o.Affected {
		t.Errorf("lost 497 of 0..499: %+v, want unaffected", o)
	}
	o = outageAt(mkRecords(t0, 500, func(i int) bool { return i >= 98 && i < 300 || i >= 495 }), fail, 10)
	if !o.Affected || o.RecoveredSeq != 300 || o.Lost != 202 {
		t.Errorf("lost 98..299 and the last 5: %+v, want recovered at 300 with 202 lost", o)
	}
	o = outageAt(mkRecords(t0, 500, func(i int) bool { return i >= 98 }), fail, 10)
	if !o.Affected || !o.Recovered.IsZero() {
		t.Errorf("lost from 98 to the end: %+v, want never recovered", o)
	}
}

// A stream whose last datagram left before the failure shows neither loss
// nor recovery: no evidence, never "recovered at t".
func TestOutageAtNeedsDatagramsAfterT(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := mkRecords(t0, 100, func(int) bool { return false })
	if o := outageAt(recs, t0.Add(time.Second), 10); o.Affected || !o.Recovered.IsZero() {
		t.Errorf("stream ended before the failure: %+v, want no recovery", o)
	}
	if o := outageAt(nil, t0, 10); o.Affected || !o.Recovered.IsZero() {
		t.Errorf("empty stream: %+v, want no recovery", o)
	}
	if o := outageAt(recs, t0.Add(50*time.Millisecond), 10); o.Affected || !o.Recovered.Equal(t0.Add(50*time.Millisecond)) {
		t.Errorf("carried past the failure, nothing lost: %+v, want recovered at t", o)
	}
}
