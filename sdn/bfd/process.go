package bfd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A Manager can run in a process of its own, as FRR runs bfdd beside bgpd.
// Measured with 300 nodes and two route reflectors: a reflector's BFD
// scheduler, one goroutine among GoBGP's 1,400, sent 62,278 packets in its
// first 100 s where its 300 sessions needed about 100,000; its clients
// declared it down 917 times and reset their sessions. Go has no goroutine
// priorities, but the kernel serves a process that mostly sleeps as soon
// as it wakes. The two processes speak JSON lines over the child's stdin
// and stdout; the child ends when its stdin closes (the parent is gone).

// wire is one line between the parent and a BFD process.
type wire struct {
	// parent to child
	Config *wireConfig  `json:"config,omitempty"`
	Add    *wireSession `json:"add,omitempty"`
	Query  uint64       `json:"query,omitempty"`
	// child to parent
	Change  *wireChange       `json:"change,omitempty"`
	Answer  uint64            `json:"answer,omitempty"`
	States  map[string]string `json:"states,omitempty"`
	Stats   *Stats            `json:"stats,omitempty"`
	Dropped map[string]uint64 `json:"dropped,omitempty"`
	Err     string            `json:"err,omitempty"`
	Ready   bool              `json:"ready,omitempty"`
}

type wireConfig struct {
	Interval   time.Duration `json:"interval"`
	DetectMult int           `json:"detect_mult"`
	Port       int           `json:"port,omitempty"`
	Poll       time.Duration `json:"poll,omitempty"`
	Addrs      []netip.Addr  `json:"addrs,omitempty"`
}

type wireSession struct {
	Peer     netip.Addr `json:"peer"`
	Local    netip.Addr `json:"local,omitzero"`
	Multihop bool       `json:"multihop,omitempty"`
}

type wireChange struct {
	Peer netip.Addr `json:"peer"`
	Up   bool       `json:"up"`
}

// Serve is the BFD process: it reads its configuration and sessions from
// in, runs them, and writes state changes and answers to out until in
// closes or ctx ends.
func Serve(ctx context.Context, in io.Reader, out io.Writer, log *slog.Logger) error {
	var wmu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(w wire) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = enc.Encode(w)
	}
	dec := json.NewDecoder(bufio.NewReader(in))
	var first wire
	if err := dec.Decode(&first); err != nil || first.Config == nil {
		return fmt.Errorf("bfd process: the first line must be the configuration: %v", err)
	}
	c := first.Config
	m, err := Start(ctx, Config{Interval: c.Interval, DetectMult: c.DetectMult, Port: c.Port, Poll: c.Poll, Addrs: c.Addrs}, log,
		func(peer netip.Addr, up bool) { send(wire{Change: &wireChange{Peer: peer, Up: up}}) })
	if err != nil {
		send(wire{Err: err.Error()})
		return err
	}
	defer m.Close()
	send(wire{Ready: true})
	var peers []netip.Addr
	for {
		var w wire
		if err := dec.Decode(&w); err != nil {
			return nil // the parent closed our stdin: it is gone
		}
		switch {
		case w.Add != nil:
			m.Add(w.Add.Peer, w.Add.Local, w.Add.Multihop)
			peers = append(peers, w.Add.Peer)
		case w.Query != 0:
			states := make(map[string]string, len(peers))
			for _, p := range peers {
				states[p.String()] = m.State(p)
			}
			st := m.Stats()
			send(wire{Answer: w.Query, States: states, Stats: &st, Dropped: m.Dropped()})
		}
	}
}

// Process is a Manager running in a BFD process; it offers the Manager's
// methods.
type Process struct {
	cmd *exec.Cmd
	log *slog.Logger
	// Priority is the process's scheduling (raisePriority).
	Priority string

	wmu sync.Mutex
	in  io.WriteCloser
	enc *json.Encoder

	mu      sync.Mutex
	next    uint64
	waiting map[uint64]chan wire
	last    wire // the latest answer
	lastAt  time.Time
	done    chan struct{} // the reader has ended
	exited  chan struct{} // the process has ended
	closed  sync.Once
}

// start forks the process from a thread of its own in the caller's
// network namespace. The kernel sends Pdeathsig when the parent *thread*
// ends, and Go ends a thread whose goroutine exits locked (as one that
// entered another namespace does): so the thread is locked here, and
// stays for the process's life.
func (p *Process) start() error {
	ns, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		err := unix.Setns(ns, unix.CLONE_NEWNET)
		unix.Close(ns)
		if err == nil {
			p.Priority = raisePriority()
			err = p.cmd.Start()
		}
		started <- err
		if err != nil {
			close(p.exited)
			return
		}
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	return <-started
}

// Realtime is the priority of a BFD process (SCHED_RR). A lab's nodes
// share the machine's cores, and a busy one (300 agents learning routes)
// left the reflectors' BFD process unscheduled for long enough that every
// client declared the reflector down at once (575 BFD downs in 5 s); the
// resets fed the load. Under SCHED_RR it runs when it wakes, as each
// node's BFD would on hardware of its own, and uses 2-3 % of a core.
const Realtime = 10

// raisePriority puts the calling thread, and so the process forked from
// it, under SCHED_RR, or at nice -20 where real time is not allowed (no
// CAP_SYS_NICE, or a cgroup without real-time budget); it says which.
func raisePriority() string {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: Realtime}
	if err := unix.SchedSetAttr(0, &attr, 0); err == nil {
		return "SCHED_RR " + strconv.Itoa(Realtime)
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, 0, -20); err == nil { // 0: this thread
		return "nice -20"
	}
	return "normal"
}

// StartProcess runs argv (the engine binary and its BFD command) in the
// caller's namespace and hands it cfg; onChange hears every session going
// up or down, as with Start.
func StartProcess(ctx context.Context, argv []string, cfg Config, log *slog.Logger, onChange func(peer netip.Addr, up bool)) (*Process, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	// The process must not outlive us: killing a node's control plane
	// kills its BFD too, as a crash of the node would.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// Its log goes straight to ours (the agent's stderr is its log file):
	// relayed through this process, a busy parent would block it.
	cmd.Stderr = os.Stderr
	p := &Process{cmd: cmd, log: log, in: in, enc: json.NewEncoder(in), waiting: map[uint64]chan wire{},
		done: make(chan struct{}), exited: make(chan struct{})}
	if err := p.start(); err != nil {
		return nil, fmt.Errorf("bfd process %s: %w", argv[0], err)
	}
	started := make(chan error, 1)
	go p.read(out, onChange, started)
	go func() {
		select {
		case <-ctx.Done():
			p.Close()
		case <-p.done:
		}
	}()
	p.write(wire{Config: &wireConfig{Interval: cfg.Interval, DetectMult: cfg.DetectMult, Port: cfg.Port, Poll: cfg.Poll, Addrs: cfg.Addrs}})
	select {
	case err := <-started:
		if err != nil {
			p.Close()
			return nil, err
		}
	case <-time.After(10 * time.Second):
		p.Close()
		return nil, fmt.Errorf("bfd process %s: no answer within 10 s", argv[0])
	}
	return p, nil
}

func (p *Process) read(out io.Reader, onChange func(netip.Addr, bool), started chan<- error) {
	defer close(p.done)
	dec := json.NewDecoder(bufio.NewReader(out))
	first := true
	for {
		var w wire
		if err := dec.Decode(&w); err != nil {
			if first {
				started <- fmt.Errorf("bfd process ended before it started: %v", err)
			} else {
				p.log.Error("bfd process ended: BFD no longer runs on this node", "err", err)
			}
			return
		}
		switch {
		case first:
			first = false
			if !w.Ready {
				started <- fmt.Errorf("bfd process: %s", w.Err)
				return
			}
			started <- nil
		case w.Change != nil:
			onChange(w.Change.Peer, w.Change.Up)
		case w.Answer != 0:
			p.mu.Lock()
			ch := p.waiting[w.Answer]
			delete(p.waiting, w.Answer)
			p.last, p.lastAt = w, time.Now()
			p.mu.Unlock()
			if ch != nil {
				ch <- w
			}
		}
	}
}

func (p *Process) write(w wire) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if err := p.enc.Encode(w); err != nil {
		p.log.Debug("bfd process: write", "err", err)
	}
}

// Pid is the process's ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Add starts a session towards peer, as Manager.Add.
func (p *Process) Add(peer, local netip.Addr, multihop bool) {
	p.write(wire{Add: &wireSession{Peer: peer, Local: local, Multihop: multihop}})
}

// query asks the process for its sessions' states and counters; answers
// younger than 100 ms are reused (show asks once per peer).
func (p *Process) query() wire {
	p.mu.Lock()
	if time.Since(p.lastAt) < 100*time.Millisecond {
		w := p.last
		p.mu.Unlock()
		return w
	}
	p.next++
	id := p.next
	ch := make(chan wire, 1)
	p.waiting[id] = ch
	p.mu.Unlock()
	p.write(wire{Query: id})
	select {
	case w := <-ch:
		return w
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	p.mu.Lock()
	delete(p.waiting, id)
	w := p.last
	p.mu.Unlock()
	return w
}

// State names the session state towards peer ("" when unknown).
func (p *Process) State(peer netip.Addr) string { return p.query().States[peer.String()] }

// Stats returns the process's counters.
func (p *Process) Stats() Stats {
	if s := p.query().Stats; s != nil {
		return *s
	}
	return Stats{}
}

// Dropped counts the packets the process dropped, by reason.
func (p *Process) Dropped() map[string]uint64 { return p.query().Dropped }

// Close ends the process and waits for it.
func (p *Process) Close() {
	p.closed.Do(func() {
		p.wmu.Lock()
		p.in.Close()
		p.wmu.Unlock()
		select {
		case <-p.exited:
		case <-time.After(2 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}
