package scenarios_test

import (
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/scenarios"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology"
)

// A scenario run under an impairment (sdnlab test --impair): it must
// really run under it. A delay on the segment leaves bum-replication
// passing, with the impairment among its figures; total loss on the
// segment makes the same scenario fail.
var _ = Describe("scenarios under an impairment", func() {
	underImpairment := func(spec string, want reports.Verdict) {
		It(spec+" gives bum-replication "+string(want), func(ctx SpecContext) {
			im, err := scenarios.ParseImpairment(spec)
			Expect(err).NotTo(HaveOccurred())
			lr := &scenarios.LabRun{
				Compile: sdn.Compile,
				LabFile: uniqueLab("../examples/vxlan/lab.yaml"),
				Topo:    topology.Options{StateDir: stateDir, AgentPath: agentBin},
				PcapDir: filepath.Join(GinkgoT().TempDir(), "pcap"),
				Out:     GinkgoWriter,
				Impair:  []scenarios.Impairment{im},
			}
			sel, err := scenarios.Select([]string{"bum-replication"})
			Expect(err).NotTo(HaveOccurred())
			o, err := lr.Run(ctx, sel)
			Expect(err).NotTo(HaveOccurred())
			Expect(o.ReadyErr).NotTo(HaveOccurred())
			Expect(o.Results).To(HaveLen(1))
			r := o.Results[0]
			Expect(r.Verdict).To(Equal(want), "explanation:\n%s", r.Explain())
			var figure string
			for _, f := range r.Figures {
				if f.Name == "impairment" {
					figure = f.Text
				}
			}
			Expect(figure).To(Equal(im.String()))
			// The picture taken during the run shows it on the segment.
			Expect(o.Topology).NotTo(BeNil())
			Expect(o.Topology.Segments[0].Impaired).To(Equal(im.Spec.String()))
			// And it is gone afterwards.
			imps, err := topology.ReadImpairments(stateDir, o.Lab.Name)
			Expect(err).NotTo(HaveOccurred())
			Expect(imps).To(BeEmpty())
		}, NodeTimeout(3*time.Minute))
	}
	underImpairment("lan:delay=5ms", reports.Pass)
	underImpairment("lan:loss=100%", reports.Fail)
})
