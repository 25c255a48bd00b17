package nsutil

import (
	"fmt"
	"os"
	"testing"
)

func TestDetectCaps(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	ns := fmt.Sprintf("sdnlab-t%d-caps", os.Getpid())
	c, err := DetectCaps(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("caps: %s", c)
	if !c.Bridge || !c.Veth || !c.Vxlan {
		t.Fatalf("bridge/veth/vxlan missing: %s", c)
	}
	if Exists(ns) {
		t.Fatal("scratch namespace left behind")
	}
}
