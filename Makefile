# sdnlab: build, test, benchmark and demo. Tests that build labs need root
# (sudo make test); without root they skip with a reason.
GO      ?= go
BIN     := bin/sdnlab
# The lab's daemons (node agents, BGP routers, impairments) run from this
# lean binary beside the CLI: one process per node, each without the CLI's
# capture and report code (cmd/internal/daemon says what that saves).
ENGINE  := bin/sdnlab-engine
PKGS    := ./...
export PATH := $(PATH):/usr/local/go/bin

.PHONY: build test unit vet bench demo fuzz soak clean frr10 conformance-frr

build:
	$(GO) build -o $(BIN) ./cmd/sdnlab
	$(GO) build -o $(ENGINE) ./cmd/sdnlab-engine

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)

# Everything: unit tests, namespace tests and the ginkgo conformance suite.
# One package at a time: the namespace tests measure failover and migration
# on a 2-core machine, and two labs' agents competing for CPU blur that.
test: build vet
	$(GO) test -count=1 -p 1 -timeout 45m $(PKGS)
	$(MAKE) --no-print-directory conformance-frr

# The conformance suite's healthy demo lab again with every node on FRR
# (Debian 12's 8.4): the example `sdnlab test --engine both` compares.
# Left out: exit-node-failover, evpn-control-plane, vm-live-migration and
# evpn-racks' urpf and cross-rack-migration. FRR 8.4 at times drops the
# router MAC of a VTEP that routes still use (README, "Known
# divergences"); after a migration it does so every time, and these
# scenarios observe it.
FRR_SCENARIOS := bum-replication arp-nd-suppression tenant-isolation mtu anycast-gateway snat vxlan-injection urpf
empty :=
space := $(empty) $(empty)
# Healthy verdicts only: the suite also holds broken cases of these
# scenarios on the demo lab (mtu gives error once the guests lose routes).
FRR_SPECS := examples/demo/lab\.yaml ($(subst $(space),|,$(FRR_SCENARIOS))) gives (pass|warn)$$
# A focus that matches nothing passes silently, and one spec renamed drops
# out unnoticed: a dry run (no lab, no root) must count one spec per
# scenario above, and the real run fails if it ran none.
conformance-frr:
	@n=$$($(GO) test -count=1 -v -run TestConformance ./scenarios/ -args -ginkgo.dry-run -ginkgo.no-color -ginkgo.focus='$(FRR_SPECS)' | sed -n 's/^Ran \([0-9]*\) of .*/\1/p'); \
	test "$$n" = "$(words $(FRR_SCENARIOS))" || { echo "conformance-frr: the focus matches $${n:-no} specs, want $(words $(FRR_SCENARIOS)) (one per FRR_SCENARIOS entry)"; exit 1; }
	SDNLAB_ENGINE=frr $(GO) test -count=1 -timeout 10m -run TestConformance ./scenarios/ -args -ginkgo.fail-on-empty -ginkgo.focus='$(FRR_SPECS)'

# Unit tests only (no root needed).
unit:
	$(GO) test -count=1 -short $(PKGS)

# Figures, each against a peer measured in the same run where one exists.
# pipefail: a benchmark piped through grep must still fail the target.
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -c
bench: build
	@echo "== lab bring-up and tear-down, 3 and 50 nodes (our own time, no BGP)"
	$(GO) test -run '^$$' -bench 'Lab' -benchtime 3x -timeout 20m ./topology
	@echo "== EVPN: session up, MAC to remote FDB, sdnlab agents vs FRR in one lab"
	$(GO) test -run '^$$' -bench 'EVPNConvergence' -benchtime 1x -timeout 20m ./sdn/evpn
	@echo "== engines: examples/demo with agent nodes, then FRR nodes (session up, MAC to FDB, migration gap, failover, memory)"
	$(GO) test -run '^$$' -bench 'Engines' -benchtime 1x -timeout 20m ./scenarios
	@echo "== scale curve: EVPN full mesh of 10, 30, 100 agent nodes, 300 nodes with 2 route reflectors, FRR at 10 and 30: up, converged, the CPU time it took, memory (SDNLAB_SCALE=10,30 for a short run)"
	$(GO) test -run '^$$' -bench 'ScaleCurve' -benchtime 1x -timeout 60m -v ./topology | grep -v '^=== \|^goos\|^goarch\|^pkg\|^cpu'
	@echo "== reconcile: one node's plan at 300 nodes (1,800 remote paths; the O(RIB) part of docs/SCALE.md 27)"
	$(GO) test -run '^$$' -bench 'PlanL2At300Nodes' -benchmem ./sdn/evpn
	@echo "== compile: 500 EVPN VNets into a NodePlan"
	$(GO) test -run '^$$' -bench 'CompileLarge' -benchmem ./sdn
	@echo "== capture: decoding"
	$(GO) test -run '^$$' -bench . -benchmem ./capture

# The demo runs FRR nodes too: Debian's frr is installed first when missing.
demo: build
	ci/install-frr.sh
	./$(BIN) demo

# The private Debian 13 root `frr: 10` labs run FRR 10.3 from (once).
frr10:
	ci/frr10-root.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseSectionConfig -fuzztime 30s ./sdn/config/
	$(GO) test -run '^$$' -fuzz FuzzParseInterfaces -fuzztime 30s ./sdn/config/
	@echo "== BGP receive path (the guard in front of GoBGP): 5 minutes"
	$(GO) test -run '^$$' -fuzz FuzzCheck -fuzztime 5m ./internal/bgpguard/
	$(GO) test -run '^$$' -fuzz FuzzReceive -fuzztime 30s ./sdn/bfd/

# Long runs (needs root): 1,000 migrations under probes, 200 session flaps,
# 200 up/down cycles and 50 kill -9-interrupted ups of the demo lab; fails on
# any leak and prints its figures. `make test` runs the short form.
soak: build
	SDNLAB_SOAK=long $(GO) test -count=1 -v -run TestSoak -timeout 90m ./soak/

clean:
	rm -rf bin
