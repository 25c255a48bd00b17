package capture

import (
	"bufio"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Stream writes a pcapng file as frames arrive, one interface block per
// capture point, so a reader (Wireshark on a pipe) sees each frame at once.
// It is safe for concurrent use.
type Stream struct {
	mu sync.Mutex
	bw *bufio.Writer
	nw *pcapgo.NgWriter
}

// NewStream writes the section and interface blocks for points.
func NewStream(w io.Writer, points []Point, snaplen int) (*Stream, error) {
	if len(points) == 0 {
		return nil, fmt.Errorf("pcapng stream: no points")
	}
	if snaplen <= 0 {
		snaplen = 65535
	}
	bw := bufio.NewWriter(w)
	s := &Stream{bw: bw}
	for i, pt := range points {
		intf := pcapgo.NgInterface{
			Name:        pt.label(),
			Description: fmt.Sprintf("netns %s interface %s", pt.Netns, pt.Ifname),
			LinkType:    layers.LinkTypeEthernet,
			SnapLength:  uint32(snaplen),
		}
		var err error
		if i == 0 {
			opts := pcapgo.DefaultNgWriterOptions
			opts.SectionInfo.Application = "sdnlab"
			s.nw, err = pcapgo.NewNgWriterInterface(bw, intf, opts)
		} else {
			_, err = s.nw.AddInterface(intf)
		}
		if err != nil {
			return nil, fmt.Errorf("pcapng stream: %w", err)
		}
	}
	if err := s.nw.Flush(); err != nil {
		return nil, err
	}
	return s, bw.Flush()
}

// Write writes one frame of point (its index in NewStream's points) and
// flushes it.
func (s *Stream) Write(point int, ts time.Time, dir Direction, length int, data []byte) error {
	p := &Packet{Time: ts, Dir: dir, Len: length, raw: data}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := writeEPB(s.bw, point, p); err != nil {
		return err
	}
	return s.bw.Flush()
}
