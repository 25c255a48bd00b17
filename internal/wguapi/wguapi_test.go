package wguapi

import (
	"bufio"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/plan"
)

const (
	privB64 = "8eGVML3r4VizV/p91qjo9vlUYXr6wuzm/wt80726rtQ="
	pubB64  = "SdoKZl9+zsX4vyuikXYK8Cku6k706WqxmtC3wOPN6D0="
)

func TestRequest(t *testing.T) {
	c := plan.WireGuardConfig{Name: "wg0", PrivateKey: privB64, ListenPort: 51830, Peers: []plan.WireGuardPeer{
		{PublicKey: pubB64, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.255.0.1/32"), netip.MustParsePrefix("fd00::1/128")},
			Endpoint: "192.0.2.11:51820", PersistentKeepalive: 25},
		{PublicKey: pubB64, Endpoint: "office.example:51820"},
	}}
	msg, unresolved, err := Request(c)
	if err != nil {
		t.Fatal(err)
	}
	want := "set=1\nprivate_key=f1e19530bdebe158b357fa7dd6a8e8f6f954617afac2ece6ff0b7cd3bdbaaed4\nlisten_port=51830\nreplace_peers=true\n" +
		"public_key=49da0a665f7ecec5f8bf2ba291760af0292eea4ef4e96ab19ad0b7c0e3cde83d\nendpoint=192.0.2.11:51820\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=10.255.0.1/32\nallowed_ip=fd00::1/128\n" +
		"public_key=49da0a665f7ecec5f8bf2ba291760af0292eea4ef4e96ab19ad0b7c0e3cde83d\npersistent_keepalive_interval=0\nreplace_allowed_ips=true\n\n"
	if msg != want {
		t.Errorf("request:\n%s\nwant:\n%s", msg, want)
	}
	if len(unresolved) != 1 || unresolved[0] != "office.example:51820" {
		t.Errorf("unresolved %v", unresolved)
	}
	c.PrivateKey = "c2hvcnQ="
	if _, _, err := Request(c); err == nil || !strings.Contains(err.Error(), "not 32") {
		t.Errorf("short key: %v", err)
	}
}

// fakeDevice answers one request on a UAPI socket with answer.
func fakeDevice(t *testing.T, answer string) (string, <-chan string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "wg0.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var b strings.Builder
		for {
			line, err := r.ReadString('\n')
			b.WriteString(line)
			if err != nil || line == "\n" {
				break
			}
		}
		got <- b.String()
		c.Write([]byte(answer))
	}()
	return sock, got
}

// The keepalive update names each peer with update_only (a peer that is
// gone is not created again) and nothing of the interface or its sessions.
func TestKeepaliveRequest(t *testing.T) {
	msg, err := KeepaliveRequest(plan.WireGuardConfig{Name: "wg0", PrivateKey: privB64, Peers: []plan.WireGuardPeer{{PublicKey: pubB64, PersistentKeepalive: 25}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "set=1\npublic_key=49da0a665f7ecec5f8bf2ba291760af0292eea4ef4e96ab19ad0b7c0e3cde83d\nupdate_only=true\npersistent_keepalive_interval=25\n\n"; msg != want {
		t.Errorf("request %q, want %q", msg, want)
	}
}

func TestSetAndErrno(t *testing.T) {
	c := plan.WireGuardConfig{Name: "wg0", PrivateKey: privB64}
	sock, got := fakeDevice(t, "errno=0\n\n")
	if _, err := Set(sock, c); err != nil {
		t.Fatal(err)
	}
	if s := <-got; !strings.HasPrefix(s, "set=1\nprivate_key=") {
		t.Errorf("device got %q", s)
	}
	sock, _ = fakeDevice(t, "errno=22\n\n")
	if _, err := Set(sock, c); err == nil || !strings.Contains(err.Error(), "errno 22") {
		t.Errorf("refused: %v", err)
	}
}

func TestHandshakes(t *testing.T) {
	sock, _ := fakeDevice(t, "private_key=00\nlisten_port=1\npublic_key=49da0a665f7ecec5f8bf2ba291760af0292eea4ef4e96ab19ad0b7c0e3cde83d\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=0\n"+
		"public_key=f1e19530bdebe158b357fa7dd6a8e8f6f954617afac2ece6ff0b7cd3bdbaaed4\nlast_handshake_time_sec=0\nerrno=0\n\n")
	hs, err := Handshakes(sock)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[pubB64].Unix() != 1700000000 {
		t.Errorf("handshakes %v", hs)
	}
}
