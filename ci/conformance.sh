#!/usr/bin/env bash
# Conformance run for a project that keeps its Proxmox SDN configuration
# (a copy of /etc/pve/sdn) and a lab file in git: run the scenarios and leave
# JUnit, JSON and pcaps in OUT (the CI templates run `sdnlab validate` first).
#
# usage: ci/conformance.sh LAB.yaml [OUT] [-- extra sdnlab test arguments]
# needs: root (labs are network namespaces), Go 1.26 or an sdnlab binary in
# $SDNLAB, and the packages iproute2, iputils-ping (frr only for FRR peers).
set -euo pipefail
lab=${1:?usage: conformance.sh LAB.yaml [OUT] [-- args]}
out=${2:-sdnlab-out}
shift $(( $# >= 2 ? 2 : 1 ))
[ "${1:-}" = "--" ] && shift
sdnlab=${SDNLAB:-sdnlab}
if ! command -v "$sdnlab" >/dev/null 2>&1; then
  go install github.com/sdnlab/sdnlab/cmd/sdnlab@latest
  sdnlab="$(go env GOPATH)/bin/sdnlab"
fi
mkdir -p "$out"
status=0
"$sdnlab" test "$lab" --junit "$out/junit.xml" --json "$out/report.json" \
  --pcap-dir "$out/pcap" "$@" || status=$?
# Exit 1 is a failed scenario, 2 bad input: both fail the pipeline.
exit $status
