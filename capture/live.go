package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// Point is one interface to capture on.
type Point struct {
	Netns  string // namespace name (as for nsutil); "" is the caller's own namespace
	Ifname string // interface inside Netns
	Label  string // name in results and file names; default "<netns>_<ifname>"
}

func (p Point) label() string {
	if p.Label != "" {
		return p.Label
	}
	if p.Netns == "" {
		return p.Ifname
	}
	return p.Netns + "_" + p.Ifname
}

// Options bound a capture and say where files go.
type Options struct {
	// Dir receives <label>.pcap per point and merged.pcapng on Stop. Empty: no files.
	Dir string
	// Snaplen is the most bytes kept of a frame. Zero means 65535.
	Snaplen int
	// MaxPackets is the most frames kept per point; later ones are counted
	// (PointStats.OverLimit) but not kept. Zero means 100000.
	MaxPackets int
	// MaxBytes is the most captured bytes kept per session. Zero means 256 MiB.
	MaxBytes int64
	// Promiscuous puts the interfaces in promiscuous mode while capturing.
	// Virtual devices (veth, vxlan, bridges) deliver everything to a packet
	// socket anyway, so this is rarely needed.
	Promiscuous bool
	// Linger is how long Stop keeps reading before it closes the sockets, so
	// frames still queued in the kernel (a softirq away) are not lost.
	// Zero means 20ms; negative means none.
	Linger time.Duration
	// Decode configures VXLAN ports and the BGP port.
	Decode DecodeOptions
	// Live, when set, gets every frame as it is read (from one goroutine
	// per point: it must be safe for concurrent use). point is the index
	// in the points given to Start. data is only valid during the call.
	Live func(point int, ts time.Time, dir Direction, length int, data []byte)
	// KeepNone keeps no frames for Stop's Result (a live capture that
	// runs for hours must not grow).
	KeepNone bool
	// Select, when set, keeps only the frames it accepts (given the frame
	// as read); the others are seen but neither kept nor counted against
	// the limits, so a long capture that needs a few kinds of frames (a
	// failover's BGP and BFD, see ControlPlane) does not lose them to the
	// bulk of the traffic.
	Select func(frame []byte) bool
}

func (o Options) withDefaults() Options {
	if o.Snaplen <= 0 {
		o.Snaplen = 65535
	}
	if o.MaxPackets <= 0 {
		o.MaxPackets = 100000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 20
	}
	if o.Linger == 0 {
		o.Linger = 20 * time.Millisecond
	}
	return o
}

// Session is a running capture on several points. Stop it exactly once.
type Session struct {
	opts    Options
	started time.Time
	points  []*pointCapture
	bytes   int64 // kept bytes, all points (guarded by mu)
	mu      sync.Mutex
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	stopped bool
}

type rawFrame struct {
	ts     time.Time
	dir    Direction
	length int
	data   []byte
}

type pointCapture struct {
	index   int
	pt      Point
	label   string
	file    *os.File // the AF_PACKET socket, registered with the runtime poller
	frames  []rawFrame
	seen    int
	over    int
	downs   int
	readErr error
}

// Start opens one AF_PACKET socket per point, each inside its namespace, and
// starts reading. It fails (closing what it opened) if any point cannot be
// opened. Cancelling ctx stops reading; Stop must still be called.
func Start(ctx context.Context, points []Point, opts Options) (*Session, error) {
	if len(points) == 0 {
		return nil, errors.New("capture: no points")
	}
	s := &Session{opts: opts.withDefaults(), started: time.Now()}
	labels := map[string]bool{}
	for _, pt := range points {
		l := pt.label()
		if labels[l] {
			s.closeAll()
			return nil, fmt.Errorf("capture: duplicate point label %q", l)
		}
		labels[l] = true
		f, err := openPoint(pt, s.opts)
		if err != nil {
			s.closeAll()
			return nil, err
		}
		s.points = append(s.points, &pointCapture{index: len(s.points), pt: pt, label: l, file: f})
	}
	ctx, s.cancel = context.WithCancel(ctx)
	for _, pc := range s.points {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.readLoop(pc)
		}()
	}
	go func() {
		<-ctx.Done()
		for _, pc := range s.points {
			// Wake the readers; they drain what is queued and return.
			_ = pc.file.SetReadDeadline(time.Now())
		}
	}()
	return s, nil
}

// openPoint opens and binds the packet socket on a thread inside the namespace.
func openPoint(pt Point, o Options) (*os.File, error) {
	var f *os.File
	open := func() error {
		ifi, err := net.InterfaceByName(pt.Ifname)
		if err != nil {
			return err
		}
		// Protocol 0 receives nothing until bind, so no frame of another
		// interface slips in between socket() and bind().
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		fail := func(what string, err error) error {
			unix.Close(fd)
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return fail("SO_TIMESTAMPNS", err)
		}
		// The outer VLAN tag of a frame is in the skb's metadata, not in
		// its bytes (VLAN offload, software tagging): auxdata carries it.
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			return fail("PACKET_AUXDATA", err)
		}
		// A bigger buffer (root may exceed rmem_max) absorbs bursts.
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		}
		if o.Promiscuous {
			mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
			if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
				return fail("promiscuous", err)
			}
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			return fail("bind", err)
		}
		// Non-blocking fd: os.NewFile registers it with the poller, so reads
		// honour deadlines and Close wakes a blocked reader.
		f = os.NewFile(uintptr(fd), "packet:"+pt.label())
		return nil
	}
	var err error
	if pt.Netns == "" {
		err = open()
	} else {
		err = nsutil.Do(pt.Netns, open)
	}
	if err != nil {
		return nil, fmt.Errorf("capture on %s (netns %q, interface %q): %w", pt.label(), pt.Netns, pt.Ifname, err)
	}
	return f, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

const ethHeaderLen = 14

// withEthernet is an IP packet behind an Ethernet header of zero MACs and
// the given EtherType (host byte order).
func withEthernet(pkt []byte, etherType uint16) []byte {
	out := make([]byte, ethHeaderLen+len(pkt))
	out[12], out[13] = byte(etherType>>8), byte(etherType)
	copy(out[ethHeaderLen:], pkt)
	return out
}

// readLoop reads frames until the read deadline passes (Stop or ctx), then
// drains what the kernel still holds.
func (s *Session) readLoop(pc *pointCapture) {
	rc, err := pc.file.SyscallConn()
	if err != nil {
		pc.readErr = err
		return
	}
	buf := make([]byte, s.opts.Snaplen)
	oob := make([]byte, unix.CmsgSpace(16)+unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))+64)
	var recvErr error
	// recv reads one frame; false means the socket is empty.
	recv := func(fd uintptr) bool {
		n, oobn, _, from, err := unix.Recvmsg(int(fd), buf, oob, unix.MSG_TRUNC|unix.MSG_DONTWAIT)
		switch err {
		case nil:
		case unix.EAGAIN:
			return false
		case unix.EINTR:
			return true
		case unix.ENETDOWN:
			// The interface went down or left the namespace (a migrated tap):
			// the kernel says so once; the socket works again if it comes back.
			pc.downs++
			return true
		default:
			recvErr = err
			return true
		}
		s.keep(pc, n, buf, oob[:oobn], from)
		return true
	}
	for recvErr == nil {
		err := rc.Read(func(fd uintptr) bool { return recv(fd) })
		if err != nil {
			break // deadline (stop) or closed
		}
	}
	if recvErr == nil {
		_ = rc.Control(func(fd uintptr) {
			for recv(fd) && recvErr == nil {
			}
		})
	}
	if recvErr != nil {
		pc.readErr = fmt.Errorf("read %s: %w", pc.label, recvErr)
	}
}

func (s *Session) keep(pc *pointCapture, n int, buf, oob []byte, from unix.Sockaddr) {
	pc.seen++
	capLen := min(n, len(buf))
	data := buf[:capLen]
	if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Hatype == unix.ARPHRD_NONE {
		// A TUN device (wireguard-go's) has no link layer: its IP packets
		// get an Ethernet header of zero MACs, so that they decode and
		// are written like every other point's frames.
		data = withEthernet(data, htons(ll.Protocol))
		n, capLen = n+ethHeaderLen, capLen+ethHeaderLen
	}
	if !s.opts.KeepNone {
		if s.opts.Select != nil && !s.opts.Select(data) {
			return
		}
		s.mu.Lock()
		full := len(pc.frames) >= s.opts.MaxPackets || s.bytes+int64(capLen) > s.opts.MaxBytes
		if !full {
			s.bytes += int64(capLen)
		}
		s.mu.Unlock()
		if full {
			pc.over++
			return
		}
		data = slices.Clone(data) // kept: buf is read into again
	}
	var f rawFrame
	f.ts, f.dir, f.data, f.length = frameMeta(oob, from, data, n)
	if s.opts.Live != nil {
		s.opts.Live(pc.index, f.ts, f.dir, f.length, f.data)
	}
	if !s.opts.KeepNone {
		pc.frames = append(pc.frames, f)
	}
}

// frameMeta reads a frame's kernel timestamp and direction, and puts back
// the VLAN tag the kernel took off (see withVlanTag).
func frameMeta(oob []byte, from unix.Sockaddr, data []byte, length int) (ts time.Time, dir Direction, _ []byte, _ int) {
	if ll, ok := from.(*unix.SockaddrLinklayer); ok {
		dir = DirIn
		if ll.Pkttype == unix.PACKET_OUTGOING {
			dir = DirOut
		}
	}
	if msgs, err := unix.ParseSocketControlMessage(oob); err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				t := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				ts = time.Unix(t.Unix())
			}
			if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
				aux := *(*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
				data, length = withVlanTag(data, length, aux)
			}
		}
	}
	if ts.IsZero() {
		ts = time.Now()
	}
	return ts, dir, data, length
}

func (s *Session) closeAll() {
	for _, pc := range s.points {
		pc.file.Close()
	}
}

// Stop stops reading (after Options.Linger), closes the sockets, decodes
// everything, writes the files if Options.Dir is set and returns the result.
// The Result is returned even when an error (a read or write failure) is.
func (s *Session) Stop() (*Result, error) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, errors.New("capture: session already stopped")
	}
	s.stopped = true
	s.mu.Unlock()
	if s.opts.Linger > 0 {
		time.Sleep(s.opts.Linger)
	}
	s.cancel()
	for _, pc := range s.points {
		_ = pc.file.SetReadDeadline(time.Now())
	}
	s.wg.Wait()
	var errs []error
	r := &Result{Started: s.started, Stopped: time.Now()}
	dec := NewDecoder(s.opts.Decode)
	var per [][]*Packet
	for _, pc := range s.points {
		st := PointStats{Point: pc.pt, Label: pc.label, Seen: pc.seen, Kept: len(pc.frames), OverLimit: pc.over, Downs: pc.downs}
		if ps, err := getStats(pc.file); err == nil {
			st.KernelDrops = int(ps.Drops)
		}
		pc.file.Close()
		if pc.readErr != nil {
			errs = append(errs, pc.readErr)
		}
		pk := make([]*Packet, len(pc.frames))
		for i, f := range pc.frames {
			pk[i] = dec.Decode(pc.label, f.ts, f.dir, f.length, f.data)
		}
		per = append(per, pk)
		r.Points = append(r.Points, st)
		pc.frames = nil
	}
	r.Packets = mergeByTime(per)
	if s.opts.Dir != "" {
		if err := r.writeFiles(s.opts.Dir, s.opts.Snaplen); err != nil {
			errs = append(errs, err)
		}
	}
	return r, errors.Join(errs...)
}

func getStats(f *os.File) (*unix.TpacketStats, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var st *unix.TpacketStats
	var serr error
	if err := rc.Control(func(fd uintptr) {
		st, serr = unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
	}); err != nil {
		return nil, err
	}
	return st, serr
}

// withVlanTag puts a frame's outer VLAN tag, which the kernel reports in
// auxdata, back between the MAC addresses, as libpcap does, so the frame
// reads as it was on the wire.
func withVlanTag(data []byte, length int, aux unix.TpacketAuxdata) ([]byte, int) {
	if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 || len(data) < 12 {
		return data, length
	}
	tpid := uint16(0x8100)
	if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && aux.Vlan_tpid != 0 {
		tpid = aux.Vlan_tpid
	}
	out := make([]byte, 0, len(data)+4)
	out = append(out, data[:12]...)
	out = append(out, byte(tpid>>8), byte(tpid), byte(aux.Vlan_tci>>8), byte(aux.Vlan_tci))
	out = append(out, data[12:]...)
	return out, length + 4
}
