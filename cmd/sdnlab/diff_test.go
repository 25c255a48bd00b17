package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	td := filepath.Join("..", "..", "sdn", "render", "testdata")
	same := filepath.Join(td, "pve9-bgp-fabric-evpn-same-asn")
	localAS := filepath.Join(td, "pve9-bgp-fabric-evpn-localas")
	ifaces := filepath.Join(localAS, "interfaces")
	run := func(args ...string) string {
		t.Helper()
		var out strings.Builder
		if err := runDiff(context.Background(), args, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	// A per-node ASN that differs from the EVPN ASN adds exactly the local-as line.
	got := run("--from", filepath.Join(same, "cfg"), "--config", filepath.Join(localAS, "cfg"), "--node", "node1", "--host-interfaces", ifaces)
	want := `--- a/etc/frr/frr.conf
+++ b/etc/frr/frr.conf
@@ -21,6 +21,7 @@
  neighbor 10.89.0.2 peer-group VTEP
  neighbor under peer-group
  neighbor under remote-as external
+ neighbor under local-as 65101 no-prepend replace-as
  neighbor eno1 interface peer-group under
  neighbor eno2 interface peer-group under
  !
`
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if got := run("--from", filepath.Join(same, "cfg"), "--config", filepath.Join(same, "cfg"), "--node", "node1", "--host-interfaces", ifaces); got != "node node1: no changes\n" {
		t.Errorf("same config: %q", got)
	}
	// Without --from every line of both files is new.
	got = run("--config", filepath.Join(localAS, "cfg"), "--node", "node1", "--host-interfaces", ifaces)
	for _, w := range []string{"--- a/etc/network/interfaces.d/sdn\n", "+auto dummy_under\n", "--- a/etc/frr/frr.conf\n", "@@ -0,0 +1,", "+ neighbor under local-as 65101 no-prepend replace-as\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("diff against nothing lacks %q:\n%s", w, got)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "--- ") {
			t.Errorf("diff against nothing removes line %q", l)
		}
	}
}

func TestDiffBadInput(t *testing.T) {
	td := filepath.Join("..", "..", "sdn", "render", "testdata", "pve9-bgp-fabric")
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "route-maps.cfg"), []byte("route-map-entry: MAP_VTEP_IN_1\n\taction permit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ifaces := filepath.Join(td, "interfaces")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no --config", []string{"--node", "node1", "--host-interfaces", ifaces}, "--config NEW"},
		{"bad --from", []string{"--config", filepath.Join(td, "cfg"), "--from", bad, "--node", "node1", "--host-interfaces", ifaces}, "route-maps.cfg:1: id: route map name \"MAP_VTEP_IN\" is reserved"},
		{"bad node", []string{"--config", filepath.Join(td, "cfg"), "--node", "no_de", "--host-interfaces", ifaces}, "--node"},
		{"bad frr version", []string{"--config", filepath.Join(td, "cfg"), "--node", "node1", "--host-interfaces", ifaces, "--frr-version", "x"}, "--frr-version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runDiff(context.Background(), tc.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
			if code := exitCode(diffCommand(), err); code != exitBadInput {
				t.Errorf("exit code %d, want %d", code, exitBadInput)
			}
		})
	}
}
