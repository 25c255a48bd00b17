// Package soak runs long runs of the demo lab and fails on any leak: many
// live migrations under probes, session flaps, `up`/`down` cycles and `up`s
// interrupted by kill -9 (see soak_root_test.go and `make soak`).
//
// `go test ./soak/` (and so `make test`) runs the short form; SDNLAB_SOAK=long
// runs the full counts. The figures are printed with -v.
package soak
