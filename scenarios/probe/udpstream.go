// Package probe holds the traffic and table probes scenarios run inside lab
// namespaces: a sequence-numbered UDP stream, ping, FDB and neighbour dumps,
// raw frame injection. Sockets are opened on a thread inside the namespace
// (nsutil.Do) and then used from ordinary goroutines.
package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// streamMagic marks our datagrams so stray traffic is not counted.
const streamMagic = 0x53444e4c // "SDNL"

// datagram: magic(4) seq(8) sent-unix-nanos(8)
const datagramLen = 20

// Stream is a running UDP stream: a sender in one namespace sends a
// sequence-numbered datagram every Interval to a receiver in another.
type Stream struct {
	Interval time.Duration

	// The transport: read returns one arriving datagram's payload (our
	// magic first) and its kernel receive time; write sends one payload;
	// closers end both. UDP and the ICMP echo stream differ only here.
	read    func(buf, oob []byte) ([]byte, time.Time, error)
	write   func(payload []byte, deadline time.Time) error
	closers []func() error

	mu       sync.Mutex
	arrivals []arrival
	seen     map[uint64]bool
	dups     int
	sent     uint64
	sentAt   []time.Time // by sequence number
	sendErrs int
	lastErr  error
	started  time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type arrival struct {
	seq uint64
	at  time.Time
}

// StreamStats is what a stream measured.
type StreamStats struct {
	Sent       int
	Received   int // distinct sequence numbers
	Lost       int
	Duplicates int
	Reordered  int
	SendErrors int
	LastError  string
	// LongestGap is the longest time between two consecutive arrivals
	// (including stream start to first arrival, and the last arrival to
	// the last datagram sent).
	LongestGap time.Duration
	// GapFrom and GapTo are the sequence numbers bounding the longest gap.
	GapFrom, GapTo uint64
	// LongestLossGap is the longest time between two consecutive arrivals
	// across which datagrams were lost: the path's outage. A gap in which
	// every datagram sent arrived is the sender's pause (a starved
	// scheduler), not the network's. LossGapFrom and LossGapTo bound it.
	LongestLossGap         time.Duration
	LossGapFrom, LossGapTo uint64
	Duration               time.Duration
	// TailSent and TailReceived count the last (up to 100) datagrams sent
	// and how many of them arrived: whether the stream recovered.
	TailSent, TailReceived int
}

func (s StreamStats) String() string {
	return fmt.Sprintf("sent %d, received %d, lost %d, duplicates %d, reordered %d, longest gap %v (seq %d..%d), send errors %d",
		s.Sent, s.Received, s.Lost, s.Duplicates, s.Reordered, s.LongestGap.Round(time.Microsecond), s.GapFrom, s.GapTo, s.SendErrors)
}

// StartStream opens the receiver socket in toNS (listening on port, any
// address) and the sender socket in fromNS (connected to dst:port), then
// sends every interval until Stop.
func StartStream(fromNS, toNS string, dst netip.Addr, port int, interval time.Duration) (*Stream, error) {
	if interval <= 0 {
		return nil, errors.New("udp stream: interval must be positive")
	}
	s := &udpPair{}
	network := "udp4"
	if dst.Is6() {
		network = "udp6"
	}
	err := nsutil.Do(toNS, func() error {
		c, err := net.ListenUDP(network, &net.UDPAddr{Port: port})
		if err != nil {
			return fmt.Errorf("udp stream: listen in %s: %w", toNS, err)
		}
		if err := timestamping(c); err != nil {
			c.Close()
			return fmt.Errorf("udp stream: SO_TIMESTAMPNS in %s: %w", toNS, err)
		}
		s.recv = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = nsutil.Do(fromNS, func() error {
		c, err := net.DialUDP(network, nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, uint16(port))))
		if err != nil {
			return fmt.Errorf("udp stream: dial from %s: %w", fromNS, err)
		}
		s.send = c
		return nil
	})
	if err != nil {
		s.recv.Close()
		return nil, err
	}
	return newStream(interval, udpTransport(s.recv, s.send)), nil
}

// udpPair is a UDP stream's two sockets while they are being opened.
type udpPair struct{ recv, send *net.UDPConn }

// transport is how a stream moves its datagrams.
type transport struct {
	read    func(buf, oob []byte) ([]byte, time.Time, error)
	write   func(payload []byte, deadline time.Time) error
	closers []func() error
}

func udpTransport(recv, send *net.UDPConn) transport {
	return transport{
		read: func(buf, oob []byte) ([]byte, time.Time, error) {
			n, oobn, _, _, err := recv.ReadMsgUDP(buf, oob)
			if err != nil {
				return nil, time.Time{}, err
			}
			return buf[:n], kernelStamp(oob[:oobn]), nil
		},
		write: func(p []byte, deadline time.Time) error {
			_ = send.SetWriteDeadline(deadline)
			_, err := send.Write(p)
			return err
		},
		closers: []func() error{recv.Close, send.Close},
	}
}

// newStream starts sending and receiving over t.
func newStream(interval time.Duration, t transport) *Stream {
	s := &Stream{Interval: interval, seen: map[uint64]bool{}, read: t.read, write: t.write, closers: t.closers}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.started = time.Now()
	s.wg.Add(1)
	go s.receive()
	s.wg.Add(1)
	go s.transmit(ctx)
	return s
}

func (s *Stream) receive() {
	defer s.wg.Done()
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	for {
		// at is the kernel's receive time, not when this goroutine got to
		// run: on a loaded machine the two differ by milliseconds.
		p, at, err := s.read(buf, oob)
		if err != nil {
			return // closed by Stop
		}
		if p == nil || len(p) < datagramLen || binary.BigEndian.Uint32(p) != streamMagic {
			continue
		}
		seq := binary.BigEndian.Uint64(p[4:])
		s.mu.Lock()
		if s.seen[seq] {
			s.dups++
		} else {
			s.seen[seq] = true
			s.arrivals = append(s.arrivals, arrival{seq, at})
		}
		s.mu.Unlock()
	}
}

func (s *Stream) transmit(ctx context.Context) {
	defer s.wg.Done()
	buf := make([]byte, datagramLen)
	binary.BigEndian.PutUint32(buf, streamMagic)
	next := time.Now()
	for seq := uint64(0); ; seq++ {
		binary.BigEndian.PutUint64(buf[4:], seq)
		binary.BigEndian.PutUint64(buf[12:], uint64(time.Now().UnixNano()))
		// A datagram the socket cannot take within one interval (send
		// buffer full of packets stuck on the way) is lost: the sender keeps
		// its schedule instead of blocking, so loss and gap stay honest.
		at := time.Now()
		err := s.write(buf, at.Add(s.Interval))
		s.mu.Lock()
		s.sent++
		s.sentAt = append(s.sentAt, at)
		if err != nil {
			// e.g. ECONNREFUSED from an ICMP error, ENETUNREACH while
			// routes move: the datagram is lost, the stream goes on.
			s.sendErrs++
			s.lastErr = err
		}
		s.mu.Unlock()
		next = next.Add(s.Interval)
		d := time.Until(next)
		if d < -10*s.Interval {
			next = time.Now() // fell far behind (scheduler): do not burst
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(d, 0)):
		}
	}
}

// Halt stops sending; Stop then collects. Several streams halted together
// share one drain.
func (s *Stream) Halt() { s.cancel() }

// Stop stops sending, waits drain for late datagrams, closes the sockets
// and returns the statistics.
func (s *Stream) Stop(drain time.Duration) StreamStats {
	s.cancel()
	time.Sleep(drain)
	for _, c := range s.closers {
		c()
	}
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := StreamStats{
		Sent:       int(s.sent),
		Received:   len(s.arrivals),
		Duplicates: s.dups,
		SendErrors: s.sendErrs,
		Duration:   time.Since(s.started),
	}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	st.Lost = st.Sent - st.Received
	gaps(&st, s.started, s.arrivals, s.sentAt)
	st.TailSent = min(st.Sent, 100)
	for _, a := range s.arrivals {
		if a.seq >= uint64(st.Sent-st.TailSent) {
			st.TailReceived++
		}
	}
	return st
}

// Record is one datagram of a stream: when it was sent and, unless Lost,
// when it arrived.
type Record struct {
	Seq  uint64
	Sent time.Time
	Recv time.Time
	Lost bool
}

// Records returns every datagram sent so far in sequence order, with its
// arrival time (the first copy's) or Lost. It is what outage figures are
// computed from: sequence numbers and arrival times, not polling.
func (s *Stream) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, len(s.sentAt))
	for i, at := range s.sentAt {
		out[i] = Record{Seq: uint64(i), Sent: at, Lost: true}
	}
	for _, a := range s.arrivals {
		if a.seq < uint64(len(out)) {
			out[a.seq].Recv, out[a.seq].Lost = a.at, false
		}
	}
	return out
}

// Started is when the stream began sending.
func (s *Stream) Started() time.Time { return s.started }

// LastArrival returns when the latest datagram arrived (zero: none yet).
func (s *Stream) LastArrival() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.arrivals) == 0 {
		return time.Time{}
	}
	return s.arrivals[len(s.arrivals)-1].at
}

// Snapshot returns the sequence numbers received so far, sorted (for
// evidence and tests).
func (s *Stream) Snapshot() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint64, 0, len(s.arrivals))
	for _, a := range s.arrivals {
		out = append(out, a.seq)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// timestamping asks the kernel to stamp each datagram with its receive time.
func timestamping(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// kernelStamp reads SCM_TIMESTAMPNS from a datagram's control messages;
// without one it falls back to now.
func kernelStamp(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
				ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				return time.Unix(ts.Unix())
			}
		}
	}
	return time.Now()
}

// gaps fills the gap figures and the reorder count from the arrivals (in
// arrival order) and the send times (by sequence number).
func gaps(st *StreamStats, started time.Time, arrivals []arrival, sentAt []time.Time) {
	got := make(map[uint64]bool, len(arrivals))
	for _, a := range arrivals {
		got[a.seq] = true
	}
	// lostBetween: a datagram sent after from and before to never came
	// (from < 0: the stream's start).
	lostBetween := func(from int64, to uint64) bool {
		for q := uint64(from + 1); q < to; q++ {
			if !got[q] {
				return true
			}
		}
		return false
	}
	late := lateFunc(arrivals, sentAt)
	prevAt, prevSeq := started, uint64(0)
	prevQ := int64(-1)
	// An outage is a run of arrivals each of which came after lost
	// datagrams or came late (a paused receiver answers late what it had
	// queued: an echo stream to a paused VM); it lasts from the arrival
	// before the run to the run's last arrival.
	var runAt time.Time
	var runFrom uint64
	var maxSeq uint64
	for i, a := range arrivals {
		g := a.at.Sub(prevAt)
		if g > st.LongestGap {
			st.LongestGap, st.GapFrom, st.GapTo = g, prevSeq, a.seq
		}
		if (int64(a.seq) > prevQ+1 && lostBetween(prevQ, a.seq)) || late(a) {
			if runAt.IsZero() {
				runAt, runFrom = prevAt, prevSeq
			}
			if g := a.at.Sub(runAt); g > st.LongestLossGap {
				st.LongestLossGap, st.LossGapFrom, st.LossGapTo = g, runFrom, a.seq
			}
		} else {
			runAt = time.Time{}
		}
		prevQ = int64(a.seq)
		if i > 0 && a.seq < maxSeq {
			st.Reordered++
		}
		maxSeq = max(maxSeq, a.seq)
		prevAt, prevSeq = a.at, a.seq
	}
	// A stream that stops arriving has a gap up to its last datagram sent:
	// one that never recovered must not report a short gap.
	if n := len(sentAt); n > 0 {
		if g := sentAt[n-1].Sub(prevAt); g > st.LongestGap {
			st.LongestGap, st.GapFrom, st.GapTo = g, prevSeq, uint64(n-1)
		}
		from, fromSeq := prevAt, prevSeq
		if !runAt.IsZero() {
			from, fromSeq = runAt, runFrom
		}
		if g := sentAt[n-1].Sub(from); g > st.LongestLossGap && lostBetween(prevQ, uint64(n)) {
			st.LongestLossGap, st.LossGapFrom, st.LossGapTo = g, fromSeq, uint64(n-1)
		}
	}
}

// lateFunc tells whether a datagram took longer than the stream's usual
// transit (the median) by more than an interval, and at least 5 ms: it
// waited somewhere, in a paused receiver's queue for one. A sender that
// stalls sends late, so its datagrams are not late by this measure.
func lateFunc(arrivals []arrival, sentAt []time.Time) func(arrival) bool {
	var transit []time.Duration
	for _, a := range arrivals {
		if a.seq < uint64(len(sentAt)) {
			transit = append(transit, a.at.Sub(sentAt[a.seq]))
		}
	}
	if len(transit) < 3 || len(sentAt) < 2 {
		return func(arrival) bool { return false }
	}
	slices.Sort(transit)
	interval := sentAt[len(sentAt)-1].Sub(sentAt[0]) / time.Duration(len(sentAt)-1)
	limit := transit[len(transit)/2] + max(interval, 5*time.Millisecond)
	return func(a arrival) bool {
		return a.seq < uint64(len(sentAt)) && a.at.Sub(sentAt[a.seq]) > limit
	}
}
