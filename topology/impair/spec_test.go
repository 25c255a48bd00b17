package impair

import (
	"strings"
	"testing"
	"time"
)

func TestParseList(t *testing.T) {
	s, err := ParseList("loss=2%, delay=5ms,jitter=1ms,rate=10mbit")
	if err != nil {
		t.Fatal(err)
	}
	if s != (Spec{Loss: 2, Delay: 5 * time.Millisecond, Jitter: time.Millisecond, Rate: 10_000_000}) {
		t.Fatalf("%+v", s)
	}
	if s.String() != "loss 2%, delay 5ms ±1ms, rate 10Mbit/s" {
		t.Errorf("String: %s", s)
	}
	for _, bad := range []string{"loss=101", "delay=-1ms", "jitter=2ms", "rate=fast", "drop=1%", "loss"} {
		if _, err := ParseList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLossThreshold(t *testing.T) {
	if lossThreshold(0) != 0 || lossThreshold(100) != 1<<32 || lossThreshold(50) != 1<<31 {
		t.Fatalf("thresholds %d %d %d", lossThreshold(0), lossThreshold(100), lossThreshold(50))
	}
}

// The program passes the pacer's own marked packets first, and only has a
// drop block when there is loss (the verifier refuses dead code).
func TestProgramShape(t *testing.T) {
	p := program(0, 0)
	if len(p) != 5 {
		t.Errorf("pass-only program: %d instructions:\n%v", len(p), p)
	}
	full := program(2, 7).String()
	for _, want := range []string{"LdXMemW dst: r0 src: r6 off: 8", "JEqImm dst: r0 off: -1 imm: 1561985025 <pass>", "FnGetPrandomU32", "JLTReg", "drop:", "FnRedirect"} {
		if !strings.Contains(full, want) {
			t.Errorf("program lacks %q:\n%s", want, full)
		}
	}
}
