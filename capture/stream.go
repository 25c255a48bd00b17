package capture

import (
	"bufio"
	"errors"
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
}

// NewStream writes the section and interface blocks for points.
func NewStream(w io.Writer, points []Point, snaplen int) (*Stream, error) {
	if snaplen <= 0 {
		snaplen = 65535
	}
	labels := make([]string, len(points))
	for i, pt := range points {
		labels[i] = pt.label()
	}
	bw := bufio.NewWriter(w)
	if err := writeNgHeader(bw, points, labels, snaplen); err != nil {
		return nil, fmt.Errorf("pcapng stream: %w", err)
	}
	return &Stream{bw: bw}, bw.Flush()
}

// writeNgHeader writes a pcapng section block and one interface block per
// point (named labels[i]): the packet blocks that follow (writeEPB) name
// their point by its index. A stream and the merged file share it.
func writeNgHeader(w io.Writer, points []Point, labels []string, snaplen int) error {
	if len(points) == 0 {
		return errors.New("no points")
	}
	var nw *pcapgo.NgWriter
	for i, pt := range points {
		intf := pcapgo.NgInterface{
			Name:        labels[i],
			Description: fmt.Sprintf("netns %s interface %s", pt.Netns, pt.Ifname),
			LinkType:    layers.LinkTypeEthernet,
			SnapLength:  uint32(snaplen),
		}
		var err error
		if i == 0 {
			opts := pcapgo.DefaultNgWriterOptions
			opts.SectionInfo.Application = "sdnlab"
			nw, err = pcapgo.NewNgWriterInterface(w, intf, opts)
		} else {
			_, err = nw.AddInterface(intf)
		}
		if err != nil {
			return err
		}
	}
	return nw.Flush()
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
