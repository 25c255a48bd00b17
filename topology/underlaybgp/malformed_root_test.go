package underlaybgp

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// The test binary doubles as the router process: started in the router's
// namespace with this variable naming its bgp.json.
const (
	envRouterConfig = "SDNLAB_UNDERLAYBGP_TEST_CONFIG"
	envRouterStatus = "SDNLAB_UNDERLAYBGP_TEST_STATUS"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envRouterConfig); path != "" {
		cfg, err := ReadConfig(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		cfg.StatusPath = os.Getenv(envRouterStatus)
		log := slog.New(slog.NewTextHandler(os.Stderr, nil))
		if err := Run(context.Background(), cfg, os.Stdin, log); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func sh(t *testing.T, ns, cmds string) string {
	t.Helper()
	var out strings.Builder
	for _, c := range strings.Split(cmds, "\n") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		b, err := nsutil.Output(ctx, ns, "sh", "-c", c)
		cancel()
		if err != nil {
			t.Fatalf("%s: %s: %v\n%s", ns, c, err, b)
		}
		out.Write(b)
	}
	return out.String()
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	last := ""
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ok, info := cond()
		if ok {
			return
		}
		last = info
	}
	t.Fatalf("timed out waiting for %s; last: %s", what, last)
}

func readMsg(c net.Conn) (uint8, []byte, error) {
	hdr := make([]byte, 19)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[16:18]))
	if n < 19 {
		return 0, nil, fmt.Errorf("bad BGP length %d", n)
	}
	body := make([]byte, n-19)
	if _, err := io.ReadFull(c, body); err != nil {
		return 0, nil, err
	}
	return hdr[18], body, nil
}

func rawUpdate(attrs, nlri []byte) []byte {
	body := binary.BigEndian.AppendUint16([]byte{0, 0}, uint16(len(attrs)))
	body = append(append(body, attrs...), nlri...)
	msg := bytes.Repeat([]byte{0xff}, 16)
	msg = binary.BigEndian.AppendUint16(msg, uint16(19+len(body)))
	return append(append(msg, bgp.BGP_MSG_UPDATE), body...)
}

// eBGP attributes from AS 65002 with next hop 10.98.0.2; asPath replaces
// the AS_PATH when set.
func peerAttrs(asPath []byte) []byte {
	if asPath == nil {
		asPath = []byte{0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea}
	}
	a := []byte{0x40, 1, 1, 0}
	a = append(a, asPath...)
	return append(a, 0x40, 3, 4, 10, 98, 0, 2)
}

// TestMalformedUpdateRouterSurvives sends an underlay router, from a raw
// eBGP peer, an UPDATE with a malformed AS_PATH, one with the truncated EVPN
// MAC/IP route that makes GoBGP v3.37.0 panic, and a broken header. The
// router lives on: the routes of the first two are not installed and the
// session stays up; the broken header gets a NOTIFICATION and the session
// is reset (its routes go). Good routes around them are installed, and the
// router's own announcement carries its real address as next hop (the
// guard's next-hop rewrite).
func TestMalformedUpdateRouterSurvives(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	prefix := fmt.Sprintf("sdnlab-t%dub", os.Getpid())
	nr, np := prefix+"-r", prefix+"-p"
	for _, n := range []string{nr, np} {
		if err := nsutil.Create(n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nsutil.Delete(n) })
		sh(t, n, "ip link set lo up")
	}
	sh(t, nr, fmt.Sprintf(`ip link add u1 type veth peer name u2 netns %s
		ip addr add 10.98.0.1/24 dev u1
		ip link set u1 up`, np))
	sh(t, np, "ip addr add 10.98.0.2/24 dev u2\nip link set u2 up")

	dir := t.TempDir()
	cfg := Config{Router: "r", ASN: 65001, RouterID: netip.MustParseAddr("10.98.0.1"),
		Neighbors: []Neighbor{{Addr: netip.MustParseAddr("10.98.0.2"), ASN: 65002, Local: netip.MustParseAddr("10.98.0.1")}},
		Networks:  []netip.Prefix{netip.MustParsePrefix("192.168.50.0/24")}}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "bgp.json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "router.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	statusPath := filepath.Join(dir, "bgp-status.json")
	cmd.Env = append(os.Environ(), envRouterConfig+"="+cfgPath, envRouterStatus+"="+statusPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := nsutil.Start(nr, cmd); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("router log:\n%s", b)
		}
	})
	alive := func(when string) {
		t.Helper()
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("router died %s: %v", when, err)
		default:
		}
	}
	routes := func() string {
		out, _ := nsutil.Output(context.Background(), nr, "ip", "route", "show", "proto", "bgp")
		return string(out)
	}

	var c net.Conn
	for deadline := time.Now().Add(20 * time.Second); c == nil; {
		err := nsutil.Do(np, func() error {
			var err error
			c, err = net.DialTimeout("tcp", "10.98.0.1:179", time.Second)
			return err
		})
		if err != nil && time.Now().After(deadline) {
			t.Fatalf("dial router: %v", err)
		}
		if err != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	open, _ := bgp.NewBGPOpenMessage(65002, 9, "10.98.0.2", []bgp.OptionParameterInterface{
		bgp.NewOptionParameterCapability([]bgp.ParameterCapabilityInterface{
			bgp.NewCapMultiProtocol(bgp.RF_IPv4_UC), bgp.NewCapFourOctetASNumber(65002)})}).Serialize()
	keepalive, _ := bgp.NewBGPKeepAliveMessage().Serialize()
	send := func(m []byte) {
		t.Helper()
		if _, err := c.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	send(open)
	send(keepalive)
	// Read everything the router sends: its announcement's next hop, and
	// the NOTIFICATION at the end.
	type msg struct {
		typ  uint8
		body []byte
	}
	msgs := make(chan msg, 64)
	go func() {
		defer close(msgs)
		for {
			typ, body, err := readMsg(c)
			if err != nil {
				return
			}
			msgs <- msg{typ, body}
		}
	}()
	var nexthop net.IP
	for nexthop == nil {
		m, ok := <-msgs
		if !ok {
			t.Fatal("router closed the session before announcing its network")
		}
		if m.typ == bgp.BGP_MSG_NOTIFICATION {
			t.Fatalf("router refused the session: NOTIFICATION %x", m.body)
		}
		if m.typ != bgp.BGP_MSG_UPDATE {
			continue
		}
		p, err := bgp.ParseBGPMessage(append(append(bytes.Repeat([]byte{0xff}, 16), byte((19+len(m.body))>>8), byte(19+len(m.body)), m.typ), m.body...))
		if err != nil {
			t.Fatal(err)
		}
		u := p.Body.(*bgp.BGPUpdate)
		for _, a := range u.PathAttributes {
			if nh, ok := a.(*bgp.PathAttributeNextHop); ok && len(u.NLRI) > 0 {
				nexthop = nh.Value
			}
		}
	}
	if nexthop.String() != "10.98.0.1" {
		t.Errorf("the router announces next hop %s, want its own address 10.98.0.1", nexthop)
	}

	send(rawUpdate(peerAttrs(nil), []byte{24, 10, 50, 0}))
	eventually(t, "good route installed", 10*time.Second, func() (bool, string) {
		r := routes()
		return strings.Contains(r, "10.50.0.0/24 via 10.98.0.2"), r
	})
	// AS_PATH segment of type 9: treat-as-withdraw.
	send(rawUpdate(peerAttrs([]byte{0x40, 2, 6, 9, 1, 0, 0, 0xfd, 0xea}), []byte{24, 10, 51, 0}))
	// The truncated EVPN MAC/IP route (not a family of this session, but
	// GoBGP decodes MP_REACH_NLRI before it checks the family).
	mp := append([]byte{0, 25, 70, 4, 10, 98, 0, 2, 0, 2, 18, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1}, make([]byte, 10)...)
	send(rawUpdate(append(peerAttrs(nil), append([]byte{0x80, 14, byte(len(mp))}, mp...)...), []byte{24, 10, 52, 0}))
	send(rawUpdate(peerAttrs(nil), []byte{24, 10, 53, 0}))
	eventually(t, "route after the malformed UPDATEs installed", 10*time.Second, func() (bool, string) {
		r := routes()
		return strings.Contains(r, "10.53.0.0/24 via 10.98.0.2"), r
	})
	alive("after the malformed UPDATEs")
	if r := routes(); strings.Contains(r, "10.51.0.0") || strings.Contains(r, "10.52.0.0") {
		t.Errorf("a route of a malformed UPDATE was installed:\n%s", r)
	}
	b, _ = os.ReadFile(logPath)
	if log := string(b); strings.Count(log, "malformed BGP message") < 2 || !strings.Contains(log, "peer=10.98.0.2") ||
		!strings.Contains(log, "MAC/IP route of length 18") || !strings.Contains(log, "AS_PATH") {
		t.Errorf("the log does not name the peer and both reasons:\n%s", log)
	}

	bad := bytes.Clone(keepalive)
	bad[18] = 7 // no such message type
	send(bad)
	var notif []byte
	for m := range msgs {
		if m.typ == bgp.BGP_MSG_NOTIFICATION {
			notif = m.body
		}
	}
	if len(notif) < 2 || notif[0] != 1 || notif[1] != 3 {
		t.Errorf("want a NOTIFICATION 1/3 (bad message type), got %x", notif)
	}
	eventually(t, "the peer's routes withdrawn after the reset", 15*time.Second, func() (bool, string) {
		r := routes()
		return !strings.Contains(r, "10.50.0.0") && !strings.Contains(r, "10.53.0.0"), r
	})
	// The counts per peer, as `sdnlab status` shows them.
	eventually(t, "the errors counted in the status file", 10*time.Second, func() (bool, string) {
		st, err := ReadStatus(statusPath)
		if err != nil || len(st.Peers) != 1 {
			return false, fmt.Sprint(st, err)
		}
		m := st.Peers[0].Malformed
		return st.Peers[0].Addr == "10.98.0.2" && m.TreatAsWithdraw == 2 && m.SessionResets == 1 &&
			strings.Contains(m.LastReason, "message type 7"), fmt.Sprintf("%+v", st.Peers[0])
	})
	time.Sleep(time.Second)
	alive("after the broken header")
}
