package capture

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// MergedFile is the name of the time-ordered pcapng file of all points.
const MergedFile = "merged.pcapng"

// Result is what a capture saw, decoded.
type Result struct {
	Started, Stopped time.Time
	Points           []PointStats
	// Packets are the captured frames of all points in time order (ties keep
	// the point order). Inner VXLAN frames hang off Packet.VXLAN.
	Packets []*Packet
	// Files are the per-point pcap files by label, and Merged the pcapng of
	// all points, when files were written.
	Files  map[string]string
	Merged string
}

// PointStats counts frames per point.
type PointStats struct {
	Point       Point
	Label       string
	Seen        int // frames read from the socket
	Kept        int // frames kept (and decoded)
	OverLimit   int // frames dropped by MaxPackets/MaxBytes
	KernelDrops int // frames the kernel dropped (socket buffer full)
	Downs       int // times the interface went down or away while capturing
}

// Lost says which frames the capture missed: per point, those the kernel
// dropped (socket buffer full) and those over MaxPackets/MaxBytes. It is ""
// when every frame seen was kept. A capture that lost frames cannot show
// that something did not cross: the lost frames may have been it.
func (r *Result) Lost() string {
	var parts []string
	for _, p := range r.Points {
		var l []string
		if p.KernelDrops > 0 {
			l = append(l, fmt.Sprintf("%d dropped by the kernel", p.KernelDrops))
		}
		if p.OverLimit > 0 {
			l = append(l, fmt.Sprintf("%d over the capture limit", p.OverLimit))
		}
		if len(l) > 0 {
			parts = append(parts, p.Label+": "+strings.Join(l, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

// IncompleteError is the answer of an absence assertion (None and the
// assertions built on it) when nothing matched but the capture lost
// frames: the absence is not shown.
type IncompleteError struct {
	Assertion string
	Lost      string
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("%s: not shown, the capture lost frames (%s)", e.Assertion, e.Lost)
}

// mergeByTime merges per-point packet lists into one time-ordered list and
// numbers the packets.
func mergeByTime(per [][]*Packet) []*Packet {
	var all []*Packet
	for _, ps := range per {
		all = append(all, ps...)
	}
	// Each point's list is already in kernel order; a stable sort by time
	// keeps it and interleaves the points.
	slices.SortStableFunc(all, func(a, b *Packet) int { return a.Time.Compare(b.Time) })
	for i, p := range all {
		for _, f := range p.Frames() {
			f.Index = i
		}
	}
	return all
}

// fileName turns a label into a safe file name stem.
func fileName(label string) string {
	b := []byte(label)
	for i, c := range b {
		ok := c == '.' || c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !ok {
			b[i] = '_'
		}
	}
	s := strings.TrimLeft(string(b), ".")
	if s == "" {
		s = "point"
	}
	return s
}

// writeFiles writes <label>.pcap per point and merged.pcapng into dir.
func (r *Result) writeFiles(dir string, snaplen int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("capture files: %w", err)
	}
	r.Files = map[string]string{}
	used := map[string]bool{strings.TrimSuffix(MergedFile, ".pcapng"): true}
	ifIndex := map[string]int{}
	var errs []error
	for i, st := range r.Points {
		stem := fileName(st.Label)
		for n := 2; used[stem]; n++ {
			stem = fmt.Sprintf("%s-%d", fileName(st.Label), n)
		}
		used[stem] = true
		ifIndex[st.Label] = i
		path := filepath.Join(dir, stem+".pcap")
		err := writeFile(path, func(w io.Writer) error {
			pw := pcapgo.NewWriterNanos(w)
			if err := pw.WriteFileHeader(uint32(snaplen), layers.LinkTypeEthernet); err != nil {
				return err
			}
			for _, p := range r.Packets {
				if p.Point == st.Label {
					if err := pw.WritePacket(p.captureInfo(0), p.raw); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.Files[st.Label] = path
	}
	merged := filepath.Join(dir, MergedFile)
	err := writeFile(merged, func(w io.Writer) error {
		points := make([]Point, len(r.Points))
		labels := make([]string, len(r.Points))
		for i, st := range r.Points {
			points[i], labels[i] = st.Point, st.Label
		}
		// Section and interface blocks out, then our own packet blocks (with direction).
		if err := writeNgHeader(w, points, labels, snaplen); err != nil {
			return err
		}
		for _, p := range r.Packets {
			if err := writeEPB(w, ifIndex[p.Point], p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	} else {
		r.Merged = merged
	}
	return errors.Join(errs...)
}

func (p *Packet) captureInfo(ifIndex int) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(p.raw), Length: max(p.Len, len(p.raw)), InterfaceIndex: ifIndex}
}

func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("capture file: %w", err)
	}
	bw := bufio.NewWriter(f)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("capture file %s: %w", path, err)
	}
	return nil
}

// ReadFile reads a pcap or pcapng file of Ethernet frames and decodes it
// into a Result. Points are named after pcapng interface names, or after the
// file name for classic pcap. Direction comes back from pcapng files that
// carry epb_flags (as Stop writes them); classic pcap has none (DirUnknown).
func ReadFile(path string, opts DecodeOptions) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read capture: %w", err)
	}
	r := &Result{}
	if len(data) >= 4 && bytes.Equal(data[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, fmt.Errorf("read capture %s: %w", path, err)
		}
		labelOf := func(i int) string {
			if in, err := ng.Interface(i); err == nil && in.Name != "" {
				return in.Name
			}
			return fmt.Sprintf("if%d", i)
		}
		err = readAll(r, ng, func(ci gopacket.CaptureInfo) string { return labelOf(ci.InterfaceIndex) }, epbDirections(data), path, opts)
		// Interfaces may be declared after the first packets: list them at the end.
		for i := 0; i < ng.NInterfaces(); i++ {
			r.Points = append(r.Points, PointStats{Label: labelOf(i)})
		}
		r.countPoints()
		return r, err
	}
	pr, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read capture %s: %w", path, err)
	}
	if pr.LinkType() != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("read capture %s: link type %s, want Ethernet", path, pr.LinkType())
	}
	label := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	r.Points = []PointStats{{Label: label}}
	err = readAll(r, pr, func(gopacket.CaptureInfo) string { return label }, nil, path, opts)
	r.countPoints()
	return r, err
}

// countPoints fills Seen/Kept from the packets (for results read from files).
func (r *Result) countPoints() {
	for i := range r.Points {
		for _, p := range r.Packets {
			if p.Point == r.Points[i].Label {
				r.Points[i].Seen++
				r.Points[i].Kept++
			}
		}
	}
}

func readAll(r *Result, rd interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}, label func(gopacket.CaptureInfo) string, dirs []Direction, path string, opts DecodeOptions) error {
	dec := NewDecoder(opts)
	for {
		data, ci, err := rd.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read capture %s: packet %d: %w", path, len(r.Packets)+1, err)
		}
		dir := DirUnknown
		if i := len(r.Packets); i < len(dirs) {
			dir = dirs[i]
		}
		p := dec.Decode(label(ci), ci.Timestamp, dir, ci.Length, data)
		p.Index = len(r.Packets)
		for _, f := range p.Frames() {
			f.Index = p.Index
		}
		r.Packets = append(r.Packets, p)
	}
	if n := len(r.Packets); n > 0 {
		r.Started, r.Stopped = r.Packets[0].Time, r.Packets[n-1].Time
	}
	// Files are usually time-ordered already; make sure.
	if !slices.IsSortedFunc(r.Packets, func(a, b *Packet) int { return cmp.Compare(a.Time.UnixNano(), b.Time.UnixNano()) }) {
		r.Packets = mergeByTime([][]*Packet{r.Packets})
	}
	return nil
}
