package probe

import (
	"testing"
	"time"
)

// A sender that stalls loses nothing: its gap is not the path's outage;
// datagrams lost across a gap make it one.
func TestLossGapIgnoresSenderPauses(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	var sent []time.Time
	var arr []arrival
	seq := uint64(0)
	send := func(at int, arrives bool) {
		sent = append(sent, ms(at))
		if arrives {
			arr = append(arr, arrival{seq: seq, at: ms(at).Add(100 * time.Microsecond)})
		}
		seq++
	}
	for i := 0; i < 10; i++ {
		send(i, true)
	}
	send(100, true) // the sender slept 91 ms: nothing lost
	for i := 101; i < 110; i++ {
		send(i, true)
	}
	for i := 110; i < 140; i++ {
		send(i, false) // a 30 ms outage
	}
	for i := 140; i < 150; i++ {
		send(i, true)
	}
	var st StreamStats
	gaps(&st, t0, arr, sent)
	if st.LongestGap != 91*time.Millisecond {
		t.Errorf("longest gap %v, want 91ms (the sender's pause)", st.LongestGap)
	}
	if st.LongestLossGap != 31*time.Millisecond || st.LossGapFrom != 19 || st.LossGapTo != 50 {
		t.Errorf("loss gap %v (seq %d..%d), want 31ms (seq 19..50)", st.LongestLossGap, st.LossGapFrom, st.LossGapTo)
	}
	// A stream that never recovers: the loss gap runs to the last send.
	arr = arr[:20]
	st = StreamStats{}
	gaps(&st, t0, arr, sent)
	if st.LongestLossGap != 149*time.Millisecond-109*time.Millisecond-100*time.Microsecond {
		t.Errorf("unrecovered loss gap %v", st.LongestLossGap)
	}
}

// A paused receiver answers late what it had queued, then loses what
// came while it moved: the outage spans the late reply and the loss.
func TestLossGapCountsLateReplies(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	var sent []time.Time
	var arr []arrival
	for i := 0; i < 20; i++ {
		sent = append(sent, ms(10*i))
		switch {
		case i == 10: // queued in the paused guest: answered 24 ms late
			arr = append(arr, arrival{seq: uint64(i), at: ms(10*i + 25)})
		case i == 11 || i == 12: // lost
		default:
			arr = append(arr, arrival{seq: uint64(i), at: ms(10*i + 1)})
		}
	}
	var st StreamStats
	gaps(&st, t0, arr, sent)
	// From seq 9's reply (91 ms) to seq 13's (131 ms).
	if st.LongestLossGap != 40*time.Millisecond || st.LossGapFrom != 9 || st.LossGapTo != 13 {
		t.Errorf("outage %v (seq %d..%d), want 40ms (seq 9..13)", st.LongestLossGap, st.LossGapFrom, st.LossGapTo)
	}
}
