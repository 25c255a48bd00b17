package reports

import "time"

// Timeline is what happened during one scenario, over time: each probe
// stream's arrivals and losses, and the events that explain them. Scenarios
// fill it from their own observations (probe sequence numbers and arrival
// times, captured packets, kernel state); the HTML writer draws it.
// All times are offsets from Start.
type Timeline struct {
	Title  string        `json:"title"`
	Start  time.Time     `json:"start"`
	Series []Series      `json:"series"`
	Events []Event       `json:"events"`
	End    time.Duration `json:"end"` // the span drawn (0: up to the last probe or event)
}

// Series is one probe stream in one direction, e.g. "vm12 -> vm11 (v4)".
type Series struct {
	Name   string  `json:"name"`
	Probes []Probe `json:"probes"`
}

// Probe is one probe of a stream: when it was sent and, unless Lost, when
// its reply (or the probe itself, for one-way streams) arrived.
type Probe struct {
	Seq    int           `json:"seq"`
	SentAt time.Duration `json:"sent_at"`
	RecvAt time.Duration `json:"recv_at,omitempty"`
	Lost   bool          `json:"lost,omitempty"`
}

// Event is a marked moment: "pause start", "RARP 1", "BGP UPDATE seq 2",
// "BFD down", "default route withdrawn", "traffic recovered", ...
// Kind groups events of one sort (pause, carrier, announce, bgp, fdb, bfd,
// route, recovery) so a writer can give each sort its own mark.
type Event struct {
	At    time.Duration `json:"at"`
	Kind  string        `json:"kind"`
	Label string        `json:"label"`
}
