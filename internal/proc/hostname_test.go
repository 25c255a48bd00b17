package proc

import (
	"os"
	"testing"
)

// Without a UTS namespace of its own (the one Spec.Hostname makes), a
// process asked to set its hostname leaves the host's alone.
func TestSetOwnHostnameLeavesHostAlone(t *testing.T) {
	before, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(HostnameEnv, "sdnlab-must-not-be-set")
	did, err := SetOwnHostname()
	after, _ := os.Hostname()
	if did || err != nil || after != before {
		t.Fatalf("set %v (err %v): hostname %q, was %q", did, err, after, before)
	}
}
