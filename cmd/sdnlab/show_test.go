package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/internal/bgpguard"
	"github.com/sdnlab/sdnlab/sdn/evpn"
)

func TestPrintShow(t *testing.T) {
	s := &evpn.Snapshot{Node: "node1", RouterID: "192.0.2.1", ASN: 65000, VTEP: "192.0.2.1",
		Peers: []evpn.PeerStatus{{Addr: "192.0.2.2", RemoteAS: 65000, State: "Established", BFD: "Up", Received: 3,
			Malformed: bgpguard.Counters{TreatAsWithdraw: 2, LastReason: "treat-as-withdraw: MP_REACH_NLRI: MAC/IP route of length 18"}}},
		Routes: []evpn.Route{{Type: 2, RD: "192.0.2.2:2", MAC: "02:00:00:00:00:01", IP: netip.MustParseAddr("10.0.0.5"),
			VNI: 100, L3VNI: 5000, RTs: []string{"65000:100", "65000:5000"}, NextHop: netip.MustParseAddr("192.0.2.2"),
			Seq: 2, Peer: "192.0.2.2", Best: true, RouterMAC: "02:aa:00:00:00:02"}},
		Kernel: []evpn.KernelEntry{
			{Kind: "fdb", Dev: "vxlan_v1", MAC: "02:00:00:00:00:01", VTEP: "192.0.2.2"},
			{Kind: "neigh", Dev: "v1", IP: "10.0.0.5", MAC: "02:00:00:00:00:01"},
			{Kind: "route", Dev: "vrfbr_z", Prefix: "10.0.0.5/32", NextHop: []string{"192.0.2.2"}},
		},
		BFDDropped: map[string]uint64{"version": 2},
		Duplicates: []evpn.DupEntry{{VNI: 100, MAC: "02:00:00:00:00:07", Owner: "local", Seq: 9, Moves: 5}}}
	for what, want := range map[string][]string{
		"evpn":   {"*>", "192.0.2.2:2", "02:00:00:00:00:01", "10.0.0.5", "5000", "65000:100,65000:5000", "2"},
		"bgp":    {"192.0.2.2", "Established", "Up", "MALFORMED", "2 treated as withdraw", "MAC/IP route of length 18", "BFD packets dropped: version 2"},
		"fdb":    {"vxlan_v1", "02:00:00:00:00:01", "192.0.2.2"},
		"neigh":  {"10.0.0.5", "02:00:00:00:00:01"},
		"routes": {"10.0.0.5/32", "vrfbr_z", "192.0.2.2"},
		"dup":    {"Duplicate MACs on node1: 1", "02:00:00:00:00:07", "warning only"},
	} {
		var b bytes.Buffer
		if err := printShow(&b, s, what, false); err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("show %s: no %q in\n%s", what, w, b.String())
			}
		}
		b.Reset()
		if err := printShow(&b, s, what, true); err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b.Bytes(), &v); err != nil {
			t.Errorf("show %s --json: %v\n%s", what, err, b.String())
		}
	}
}

func TestShowBadInput(t *testing.T) {
	for _, args := range [][]string{{}, {"lab", "node"}, {"lab", "node", "nonsense"},
		{"lab", "node", "evpn", "--clear"}, {"lab", "node", "dup", "--clear", "--mac", "zz"}, {"lab", "node", "dup", "--vni", "99999999"}} {
		err := runShow(context.Background(), args, &bytes.Buffer{})
		if _, ok := err.(*usageError); !ok {
			t.Errorf("show %v: %v, want a usage error", args, err)
		}
	}
}

func TestMalformedText(t *testing.T) {
	if got := malformedText(bgpguard.Counters{}); got != "malformed 0" {
		t.Errorf("clean peer: %q", got)
	}
	got := malformedText(bgpguard.Counters{SessionResets: 1, TreatAsWithdraw: 2, LastReason: "session-reset: unknown message type 7"})
	if !strings.Contains(got, "malformed 3") || !strings.Contains(got, "1 session resets") || !strings.Contains(got, "unknown message type 7") {
		t.Errorf("got %q", got)
	}
}
