package topology

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology/impair"
)

func TestLabFileImpairments(t *testing.T) {
	p := writeLab(t, "sdn: .\nnodes:\n  node1: {impair: {loss: 2%}}\n  node2:\nunderlay:\n  segments:\n    lan: {subnet: 10.1.0.0/24, impair: {delay: 5ms, jitter: 1ms, rate: 10mbit}}\n")
	l, err := Load(p, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	want := []DeclaredImpairment{
		{Segment: "lan", Spec: impair.Spec{Delay: 5 * time.Millisecond, Jitter: time.Millisecond, Rate: 10_000_000}},
		{Segment: "lan", Thing: "node1", Spec: impair.Spec{Loss: 2}},
	}
	if len(l.Impairments) != 2 || l.Impairments[0] != want[0] || l.Impairments[1] != want[1] {
		t.Fatalf("impairments %+v, want %+v", l.Impairments, want)
	}
	if got := combine(want[0].Spec, want[1].Spec).String(); got != "loss 2%, delay 5ms ±1ms, rate 10Mbit/s" {
		t.Errorf("segment and link combined: %s", got)
	}
}

func TestLabFileBadImpairments(t *testing.T) {
	for _, tc := range []struct{ name, lab, want string }{
		{"loss over 100", "sdn: .\nnodes:\n  node1: {impair: {loss: 150%}}\n", "lab.yaml:3: nodes.node1.impair.loss: loss \"150%\""},
		{"bad delay", "sdn: .\nnodes: [node1]\nunderlay:\n  segments:\n    lan:\n      impair: {delay: soon}\n", "lab.yaml:6: underlay.segments.lan.impair.delay"},
		{"jitter over delay", "sdn: .\nnodes: [node1]\nunderlay:\n  segments:\n    lan:\n      impair: {delay: 1ms, jitter: 2ms}\n", "lab.yaml:6: underlay.segments.lan.impair: jitter 2ms"},
		{"unknown key", "sdn: .\nnodes:\n  node1: {impair: {drop: 2%}}\n", "lab.yaml:3: nodes.node1.impair.drop: unknown key"},
		{"bad rate", "sdn: .\nnodes: [node1]\nunderlay:\n  segments: {lan: {subnet: 10.1.0.0/24}}\n  routers:\n    r1:\n      interfaces:\n        lan: {impair: {rate: fast}}\n", "lab.yaml:8: underlay.routers.r1.interfaces.lan.impair.rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeLab(t, tc.lab)
			_, err := Load(p, sdn.Compile)
			if err == nil {
				t.Fatal("no error")
			}
			if be, ok := err.(interface{ BadInput() bool }); !ok || !be.BadInput() {
				t.Errorf("not bad input: %T", err)
			}
			if msg := strings.ReplaceAll(err.Error(), filepath.Dir(p)+"/", ""); !strings.Contains(msg, tc.want) {
				t.Errorf("error\n  %s\ndoes not contain\n  %s", msg, tc.want)
			}
		})
	}
}
