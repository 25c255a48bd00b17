package scenarios_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/scenarios"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/topology"
	"github.com/sdnlab/sdnlab/topology/vm"
)

// The conformance suite: every scenario against real labs, healthy ones
// where it must pass and deliberately broken ones where it must fail with
// the right explanation. It needs root (labs are network namespaces); it
// skips otherwise, and with -short.

func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "sdnlab conformance")
}

var (
	agentBin string // the sdnlab-engine binary for the lab's daemons
	stateDir string // topology state root, private to this run
	labSeq   int
)

var _ = BeforeSuite(func() {
	if testing.Short() {
		Skip("conformance suite skipped with -short")
	}
	if os.Geteuid() != 0 {
		Skip("conformance suite needs root: labs are network namespaces (run sudo make test)")
	}
	if _, err := exec.LookPath("ping"); err != nil {
		Skip("conformance suite needs iputils-ping")
	}
	dir, err := os.MkdirTemp("", "sdnlab-suite-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	stateDir = filepath.Join(dir, "state")
	// The agents, reflectors and impairments run from the lean engine, as
	// `make build` lays them out beside the CLI (topology's own tests run
	// them from the CLI binary): build it once.
	agentBin = filepath.Join(dir, "sdnlab-engine")
	build := exec.Command("go", "build", "-o", agentBin, "github.com/sdnlab/sdnlab/cmd/sdnlab-engine")
	build.Dir = ".."
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build sdnlab-engine: %s", out)
})

// uniqueLab copies a lab file with a unique lab name (t<pid><n>) and
// absolute paths, so suite labs never collide with a user's labs.
func uniqueLab(src string) string {
	labSeq++
	p := filepath.Join(GinkgoT().TempDir(), "lab.yaml")
	Expect(scenarios.CopyLabFile(src, p, fmt.Sprintf("t%d%d", os.Getpid()%100000, labSeq))).To(Succeed())
	return p
}

// suiteEngine is the engine the suite runs a lab on: SDNLAB_ENGINE (agent
// or frr; .ci/run runs the suite once per engine), else what the lab file
// says. The mixed-engine labs (mix*) always keep their own engines, and so
// does evpn-ipv6: Debian's FRR has no IPv6 VTEP.
func suiteEngine(labFile string) string {
	if strings.Contains(labFile, "/mix") || strings.Contains(labFile, "/evpn-ipv6/") {
		return ""
	}
	return os.Getenv("SDNLAB_ENGINE")
}

// expectation is one scenario run on a lab and what it must give.
type expectation struct {
	scenario string // a built-in name or a scenario file (testdata/scenarios/...)
	verdict  reports.Verdict
	because  string   // a piece of the explanation a failure must contain
	also     []string // more pieces it must contain (each family's check)
}

// labSpecs brings a lab up once and checks each expectation in order.
func labSpecs(labFile string, exps ...expectation) { labSpecsReady(labFile, true, "", exps...) }

// brokenOverlaySpecs is labSpecs for a lab whose overlay cannot work: the
// overlay wait is short and not required to succeed.
func brokenOverlaySpecs(labFile string, exps ...expectation) {
	labSpecsReady(labFile, false, "", exps...)
}

// vmSpecs is labSpecs for a lab with VM guests: where this machine cannot
// run them (no /dev/kvm), its specs skip and say why.
func vmSpecs(labFile string, exps ...expectation) {
	if _, _, err := vm.Accelerator(); err != nil {
		Describe(labFile, func() {
			It("runs VM guests", func() { Skip(err.Error()) })
		})
		return
	}
	labSpecs(labFile, exps...)
}

// wireGuardSpecs is labSpecs for a lab with a WireGuard fabric: without
// userspace WireGuard (wireguard-go) it skips and says why, except in CI
// (SDNLAB_CI), which installs it and must not pass without it.
func wireGuardSpecs(labFile string, exps ...expectation) {
	if why := topology.WireGuardMissing(); why != "" && os.Getenv("SDNLAB_CI") == "" {
		Describe(labFile, func() {
			It("runs a WireGuard fabric", func() { Skip(why) })
		})
		return
	}
	labSpecs(labFile, exps...)
}

// brokenAgentSpecs is labSpecs for a lab whose agents are broken on purpose
// (evpn.TestFaultEnv, a comma-separated list of evpn.Fault* names): the
// lab runs on agents whatever SDNLAB_ENGINE says.
func brokenAgentSpecs(labFile, faults string, exps ...expectation) {
	labSpecsReady(labFile, true, faults, exps...)
}

// brokenAgentOverlaySpecs is brokenAgentSpecs for faults that keep the
// overlay from carrying traffic.
func brokenAgentOverlaySpecs(labFile, faults string, exps ...expectation) {
	labSpecsReady(labFile, false, faults, exps...)
}

func labSpecsReady(labFile string, mustBeReady bool, faults string, exps ...expectation) {
	name := labFile
	if faults != "" {
		name += " (agents with test faults " + faults + ")"
	}
	Describe(name, Ordered, ContinueOnFailure, func() {
		var sess *scenarios.Session
		BeforeAll(func(ctx SpecContext) {
			lr := &scenarios.LabRun{
				Compile: sdn.Compile,
				LabFile: uniqueLab(labFile),
				Topo:    topology.Options{StateDir: stateDir, AgentPath: agentBin},
				PcapDir: filepath.Join(GinkgoT().TempDir(), "pcap"),
				Out:     GinkgoWriter,
				Engine:  suiteEngine(labFile),
			}
			if !mustBeReady {
				lr.ReadyTimeout = 3 * time.Second
			}
			if faults != "" {
				// The agents read it when they start, during Start only.
				lr.Engine = topology.EngineAgent
				Expect(os.Setenv(evpn.TestFaultEnv, faults)).To(Succeed())
				defer os.Unsetenv(evpn.TestFaultEnv)
			}
			var err error
			sess, err = lr.Start(ctx)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(sess.Close)
			if mustBeReady {
				Expect(sess.Outcome.ReadyErr).NotTo(HaveOccurred(), "the lab's overlay never carried traffic")
			}
		}, NodeTimeout(3*time.Minute))
		for _, e := range exps {
			It(fmt.Sprintf("%s gives %s", e.scenario, e.verdict), func(ctx SpecContext) {
				sel, err := scenarios.Select([]string{e.scenario})
				Expect(err).NotTo(HaveOccurred())
				res := sess.Run(ctx, sel)
				Expect(res).To(HaveLen(1))
				r := res[0]
				AddReportEntry(r.Scenario, scenarios.Summary(res))
				Expect(r.Verdict).To(Equal(e.verdict), "explanation:\n%s", r.Explain())
				if e.verdict == reports.Pass || e.verdict == reports.Warn {
					Expect(r.Checks).NotTo(BeEmpty())
				}
				if e.because != "" {
					Expect(r.Explain()).To(ContainSubstring(e.because))
				}
				for _, b := range e.also {
					Expect(r.Explain()).To(ContainSubstring(b))
				}
			}, NodeTimeout(3*time.Minute))
		}
	})
}

var _ = Describe("conformance", func() {
	pass := func(s string) expectation { return expectation{scenario: s, verdict: reports.Pass} }
	fail := func(s, because string) expectation {
		return expectation{scenario: s, verdict: reports.Fail, because: because}
	}
	// warn: a finding Proxmox deploys by default; errored: the scenario
	// could not observe what it claims (missing evidence is never a pass).
	warn := func(s, because string) expectation {
		return expectation{scenario: s, verdict: reports.Warn, because: because}
	}
	errored := func(s, because string) expectation {
		return expectation{scenario: s, verdict: reports.Error, because: because}
	}
	// failBoth: a failure whose explanation names the checks of both
	// families that must fail.
	failBoth := func(s, because string, checks ...string) expectation {
		e := fail(s, because)
		for _, c := range checks {
			e.also = append(e.also, fmt.Sprintf("check %q failed", c))
		}
		return e
	}
	const labs = "testdata/labs/"
	const files = "testdata/scenarios/"

	// A simple zone: SNAT on the node itself.
	labSpecs("../examples/simple/lab.yaml", pass("snat"))

	// Static flood lists (vxlan zone), no control plane.
	labSpecs("../examples/vxlan/lab.yaml", pass("bum-replication"), pass("mtu"),
		errored(files+"capture-lost-frames.yaml", "the capture lost frames"),
		fail(files+"mtu-guest-above-vnet.yaml", "above the VNet MTU"))
	labSpecs("../examples/vxlan/lab.yaml", fail(files+"mtu-underlay-too-small.yaml", "below VNet MTU + 50"))
	labSpecs(labs+"vxpeer/lab.yaml", fail("bum-replication", "node3 was left out of the flood list"))
	labSpecs(labs+"vxok/lab.yaml", warn("vxlan-injection", "from any source (as Proxmox deploys them)"),
		fail("vxlan-injection:strict=true", "from any source (as Proxmox deploys them)"))
	labSpecs(labs+"vxintruder/lab.yaml", fail("vxlan-injection", "is in the zone's VTEP list"))
	// The same zone type over an IPv6 underlay (both overlay families):
	// its VXLAN device needs an IPv6 source, or the kernel refuses IPv6
	// flood entries and up fails.
	labSpecs(labs+"vx6/lab.yaml", pass("bum-replication"), pass("mtu"))

	// EVPN: the healthy lab passes everything; exit-node-failover kills a
	// node, so it runs last.
	labSpecs("../examples/demo/lab.yaml",
		pass("bum-replication"), pass("arp-nd-suppression"), pass("tenant-isolation"), pass("mtu"),
		pass("anycast-gateway"), pass("snat"), warn("vxlan-injection", "from any source"), pass("urpf"),
		pass("vm-live-migration"), fail(files+"urpf-strict-exit-nodes.yaml", "disable rp_filter on exit nodes"),
		// Broken moves: the guest runs on during the pause; it sends
		// fewer RARP rounds than QEMU, or none (announce-self off).
		fail("vm-live-migration:freeze=false", "the guest ran (and sent) while it was supposed to be paused"),
		fail("vm-live-migration:announce-rounds=2", "the guest did not announce itself"),
		fail("vm-live-migration:announce-rounds=0", "the guest did not announce itself"),
		fail(files+"mtu-error-not-too-big.yaml", "an error that is not \"too big\""),
		// The demo's upstream has static reverse routes (as Proxmox
		// documents): inbound flows hashed to the crashed node stay lost.
		warn("exit-node-failover", "keeps its static ECMP route"))
	// The walkthrough kills an agent: a lab of its own; the urpf spec
	// takes the guests' default routes (mtu then runs without them) and
	// the probe spec removes a guest's namespace, so they run last.
	labSpecs("../examples/demo/lab.yaml", pass(files+"evpn-walkthrough.yaml"),
		fail(files+"urpf-guests-unrouted.yaml", "Network is unreachable"),
		// The guests stay without default routes: no path MTU to the
		// external host can be measured.
		errored("mtu", "at all, even at the minimum MTU"),
		errored(files+"probe-namespace-gone.yaml", "could not run"))
	// The exit node's agent dies (sockets close) instead of the node.
	labSpecs("../examples/demo/lab.yaml", pass("exit-node-failover:mode=kill"))
	// A node that hears no BGP keeps the moved guest's old location: the
	// gap breaks the budget.
	labSpecs("../examples/demo/lab.yaml", fail(files+"migration-peer-deaf.yaml", "followed the guest too slowly"))
	// Broken agents: a moved MAC keeps its MAC mobility sequence (other
	// nodes keep the old route until it is withdrawn); BFD does not run
	// although every session asks for it, so a crashed exit node is
	// noticed by the hold timer.
	brokenAgentSpecs("../examples/demo/lab.yaml", evpn.FaultStuckSequence+","+evpn.FaultNoBFD,
		fail("evpn-control-plane:within=3s", "BFD does not run"),
		fail("vm-live-migration", "did not advertise the moved MAC with a bumped sequence"),
		fail("exit-node-failover", "detected by the hold timer"))
	// Agents that lose the router MAC of one VTEP (as FRR 8.4 does at
	// times): routes still lead to it, so what they carry is black-holed.
	// The old node's withdrawal never leaves it (its BGP output dropped);
	// a guest elsewhere keeps a wrong neighbour entry for the moved guest.
	labSpecs("../examples/demo/lab.yaml", fail(files+"migration-old-node-mute.yaml", "the old node keeps advertising the MAC"))
	labSpecs("../examples/demo/lab.yaml", fail(files+"migration-stale-neighbour.yaml", "was not flushed or replaced"))
	brokenAgentOverlaySpecs("../examples/demo/lab.yaml", evpn.FaultLostRouterMAC,
		fail("evpn-control-plane:within=3s", "has no FDB entry to it"))
	labSpecs(labs+"evnomac/lab.yaml",
		fail("anycast-gateway", "sets no anycast MAC"),
		fail("vm-live-migration", "gateway MAC differs between nodes"))
	labSpecs(labs+"evnosup/lab.yaml", fail("arp-nd-suppression", "disable-arp-nd-suppression"))
	labSpecs(labs+"evleak/lab.yaml", fail("tenant-isolation", "share exit nodes"))
	labSpecs(labs+"evnoexit/lab.yaml", failBoth("snat", "has no exit nodes",
		"v4: source address seen by the external host is the translating node's",
		"v6: source address seen by the external host is the translating node's"))
	labSpecs(labs+"evoneexit/lab.yaml", failBoth("exit-node-failover", "single exit node",
		"v4 guest -> external recovers via another exit node", "v6 guest -> external recovers via another exit node"))
	// The upstream peers the exit nodes over BGP: inbound recovers too
	// (IPv4; IPv6 only, ::/0).
	labSpecs(labs+"evbgpup/lab.yaml", pass("exit-node-failover"))
	labSpecs(labs+"evbgpup6/lab.yaml", pass("exit-node-failover"))
	// Dual stack: IPv4 VTEPs, an IPv6 internet, snat in both families (the
	// broken file drops the exit nodes' IPv6 SNAT), IPv6 overlay over the
	// IPv4 underlay; both families fail over in one agent kill.
	labSpecs(labs+"evdual/lab.yaml", pass("snat"), pass("evpn-control-plane"), pass("urpf"), pass("mtu"),
		failBoth(files+"snat6-not-translated.yaml", "not translated on the way out",
			"snat: v6: source address seen by the external host is the translating node's"),
		pass("exit-node-failover:mode=kill"))
	// IPv4 overlay over an IPv6 underlay; the broken file leaves the
	// underlay room for 50 bytes of VXLAN overhead, not the 70 IPv6 needs.
	labSpecs(labs+"ov4u6/lab.yaml", pass("evpn-control-plane"), pass("vm-live-migration"),
		fail(files+"mtu6-underlay-too-small.yaml", "below VNet MTU + 70"))

	// Engines side by side: one FRR node and two agent nodes of a cluster
	// with a 4-byte ASN install each other's type 2, 3 and 5 routes (this
	// fails without FRR's route-target derivation in the agent).
	labSpecs(labs+"mix4/lab.yaml", pass("evpn-control-plane"))

	// Route reflectors: the nodes peer with two reflectors only, and the
	// overlay works as in a full mesh. Broken: one reflector of the
	// controller's peers is not declared, so no node's sessions are all up.
	labSpecs("../examples/evpn-rr/lab.yaml", pass("evpn-control-plane"), pass("bum-replication"), pass("vm-live-migration"),
		// The reflectors are BGP speakers, not VTEPs: the remedy keeps them out.
		warn("vxlan-injection", "from any source"))
	brokenOverlaySpecs(labs+"rrhalf/lab.yaml", fail("evpn-control-plane", "session with a route reflector does not come up"))
	// The same reflectors on FRR (bgpd, route-reflector-client) with agent
	// nodes: FRR reflects what the agents announce and the agents take it.
	labSpecs(labs+"rrfrr/lab.yaml", pass("evpn-control-plane"), pass("bum-replication"), pass("vm-live-migration"))
	// A QEMU VM guest moved by QEMU's own live migration (its pause, its
	// RARP rounds), measured from a namespace guest and the external host
	// with echo streams the guest's kernel answers.
	vmSpecs(labs+"vmmix/lab.yaml", pass("vm-live-migration"), pass("cross-rack-migration"), pass("anycast-gateway"), pass("evpn-control-plane"))
	// Broken: the same cluster on an IPv6 underlay with Debian 12's FRR
	// 8.4, which has no IPv6 VTEP (its local VTEP is 0.0.0.0) and refuses
	// the agent's IPv6 PMSI tunnel attribute. IPv6 VTEPs came with FRR
	// 10.6; Debian 13's 10.3 (frr: 10) lacks them too.
	brokenOverlaySpecs(labs+"mix6/lab.yaml", fail("evpn-control-plane", "node1 runs FRR 8.4.4, which has no IPv6 VTEP (FRR has them from 10.6)"))

	// VLAN and QinQ zones: kernel VLAN devices, or software tagging (tc
	// eBPF) where the kernel has no 8021q.
	labSpecs("../examples/vlan/lab.yaml", pass("vlan-isolation"))
	labSpecs("../examples/vlan/lab.yaml", fail(files+"vlan-untagged-nic.yaml", "plugged into a VLAN bridge untagged"))
	labSpecs("../examples/qinq/lab.yaml", pass("vlan-isolation"))
	labSpecs(labs+"qinqmtu/lab.yaml", fail("vlan-isolation", "QinQ needs 4 bytes for the second tag"))
	labSpecs(labs+"vlansametag/lab.yaml", fail("vlan-isolation", "put the same tags on the wire"))

	// DHCP (dnsmasq per zone in the node) and isolate-ports on a simple zone.
	labSpecs("../examples/dhcp/lab.yaml", pass("dhcp"), pass("port-isolation"),
		fail(files+"port-isolation-off.yaml", "not isolated"))
	labSpecs(labs+"dhcpnogw/lab.yaml", fail("dhcp", "does not answer on vnet vnet1"))

	// Fabrics: three nodes cabled as a full mesh running OpenFabric, EVPN
	// between their loopbacks. A cut mesh link is rerouted over the third
	// node; with node1's two links cut there is no path left.
	labSpecs(labs+"fabmesh/lab.yaml", pass("fabric-link-failure"),
		fail(files+"fabric-link-failure-no-redundancy.yaml", "no redundant path"))
	// The same mesh as an OSPF fabric (area 0, unnumbered links; ospfd
	// beside the agent): rerouted likewise, and the EVPN overlay between
	// the loopbacks carries every route type.
	labSpecs(labs+"ospfmesh/lab.yaml", pass("fabric-link-failure"), pass("evpn-control-plane"),
		fail(files+"fabric-link-failure-no-redundancy.yaml", "no redundant path"))
	// And as a BGP fabric (unnumbered eBGP, an AS per node) on FRR nodes,
	// then on a mixed cluster where two agent nodes run the fabric in
	// bgpd and bfdd beside the agent (both on port 179, each on its own
	// addresses).
	labSpecs(labs+"bgpmesh/lab.yaml", pass("fabric-link-failure"), pass("evpn-control-plane"),
		fail(files+"fabric-link-failure-no-redundancy.yaml", "no redundant path"))
	labSpecs(labs+"bgpmeshmix/lab.yaml", pass("fabric-link-failure"), pass("evpn-control-plane"),
		fail(files+"fabric-link-failure-no-redundancy.yaml", "no redundant path"))
	// A WireGuard fabric (wireguard-go): every peer address answers through
	// the tunnels and the LAN carries only WireGuard; Proxmox leaves the
	// router IPv6 addresses out of AllowedIPs (a warning). Its broken
	// copy: node3's key rotated without its public key.
	wireGuardSpecs(labs+"wgmesh/lab.yaml", warn("wireguard-fabric", "IPv6 router IP"))
	wireGuardSpecs(labs+"wgbadkey/lab.yaml", fail("wireguard-fabric", "no WireGuard handshake between node1 and node3"))
	// EVPN over that WireGuard fabric: the checks that read VXLAN see it
	// on the WireGuard interfaces. Its broken copy keeps the zone MTU of a
	// 1500-byte underlay, 30 bytes too many for the tunnel.
	wireGuardSpecs("../examples/evpn-wireguard/lab.yaml", pass("evpn-control-plane"), pass("bum-replication"), pass("arp-nd-suppression"),
		pass("mtu"), warn("wireguard-fabric", "IPv6 router IP"))
	wireGuardSpecs(labs+"wgevpnmtu/lab.yaml", fail("mtu", "underlay path MTU 1420 below VNet MTU + 50 = 1500"))

	// The IPv6-only cluster (IPv6 underlay, 4-byte ASN, IPv6-only VNets,
	// every node an exit node of one zone, a second tenant zone): every
	// check on its IPv6 path. The deaf peer breaks node2: it runs last.
	labSpecs("../examples/evpn-ipv6/lab.yaml", pass("evpn-control-plane"), pass("tenant-isolation"),
		pass("bum-replication"), pass("arp-nd-suppression"), pass("anycast-gateway"),
		warn("vxlan-injection", "from any source"), fail("vxlan-injection:strict=true", "from any source"),
		pass("vm-live-migration"), fail(files+"migration-peer-deaf.yaml", "followed the guest too slowly"))
	// Its broken copy: one mistake per IPv6 check (testdata/labs/ev6broken/zones.cfg),
	// and agents that do not bump a moved MAC's sequence, so the IPv6
	// MAC+IP route does not move (vm21's VNet has no other breakage the
	// check could blame). Agents die last.
	brokenAgentSpecs(labs+"ev6broken/lab.yaml", evpn.FaultStuckSequence,
		fail("tenant-isolation", "share exit nodes"),
		fail("arp-nd-suppression", "zone v6b sets disable-arp-nd-suppression"),
		fail("vxlan-injection", "is in the zone's VTEP list"),
		fail("anycast-gateway", "zone v6a sets no anycast MAC"),
		fail("vm-live-migration:guest=vm11", "gateway MAC differs between nodes"),
		fail("vm-live-migration:guest=vm21", "did not advertise vm21's IPv6 address with the moved MAC's sequence"),
		fail(files+"bum-agent-killed.yaml", "node3 was left out of the flood list"))
	// Its path to the IPv6 internet (1500) is told by ICMPv6 Packet Too
	// Big; the broken file makes a told MTU a lie. Every node is an exit
	// node and the upstream's reverse routes are static: flows the upstream
	// hashes to the crashed node stay lost (a warning, as on the demo).
	labSpecs("../examples/evpn-ipv6/lab.yaml", pass("mtu"), pass("urpf"),
		failBoth(files+"mtu6-error-not-too-big.yaml", "yet only 1440-byte packets pass", "mtu: IPv6 path MTU vm11 -> external is full or signalled"),
		warn("exit-node-failover", "keeps its static ECMP route"))
	// Both families IPv6: two racks behind a router with strict uRPF, which
	// the lab enforces for IPv6 with a fib reverse path check.
	labSpecs(labs+"racks6/lab.yaml", pass("evpn-control-plane"), pass("urpf"), pass("cross-rack-migration"),
		fail(files+"urpf6-router-drops.yaml", "rp_filter drops: r1 v6"))
	labSpecs(labs+"racks6nomac/lab.yaml", fail("cross-rack-migration", "does not exist in the other rack"))
	// Two racks behind a router with strict uRPF.
	labSpecs("../examples/evpn-racks/lab.yaml", pass("cross-rack-migration"), pass("urpf"), pass("bgp-only-workaround"))
	labSpecs(labs+"racksloose/lab.yaml", fail("bgp-only-workaround", "does not run strict uRPF"),
		errored("cross-rack-migration", "not strict: r1"),
		fail(files+"urpf-router-drops.yaml", "rp_filter drops: r1"))
	labSpecs(labs+"racksnomac/lab.yaml", fail("cross-rack-migration", "does not exist in the other rack"))
})

// scenarioNames is used to check every registered scenario has a spec.
func TestEveryScenarioHasASpec(t *testing.T) {
	src, err := os.ReadFile("suite_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scenarios.All() {
		healthy := strings.Contains(string(src), `pass("`+s.Name()+`")`) || strings.Contains(string(src), `warn("`+s.Name()+`"`)
		broken := strings.Contains(string(src), `fail("`+s.Name()+`"`) || strings.Contains(string(src), `failBoth("`+s.Name()+`"`)
		if !healthy || !broken &&
			!strings.Contains(string(src), s.Name()+"-") {
			t.Errorf("scenario %s lacks a healthy (pass) or broken (fail) spec in the conformance suite", s.Name())
		}
	}
}
