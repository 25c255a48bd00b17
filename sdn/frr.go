package sdn

// FRRConfig is the routing configuration of a node, from which frr.conf is
// rendered and the EVPN agent is configured. (Owned by the controller compiler.)
type FRRConfig struct{}
