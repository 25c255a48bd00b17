// Package wguapi configures a userspace WireGuard device (wireguard-go)
// through its UAPI socket, what `wg syncconf` does on a Proxmox node with
// the kernel's device: the interface's key and port, and its peers
// replaced by the configuration's (the cross-platform protocol of
// wireguard.com/xplatform: "set=1", key=value lines, an empty line; the
// answer is "errno=N").
package wguapi

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/sdn/plan"
)

// Request is the "set" message for c. A peer whose endpoint is not an
// address (a DNS name, which wg(8) would resolve) goes without one;
// unresolved lists those.
func Request(c plan.WireGuardConfig) (msg string, unresolved []string, err error) {
	var b strings.Builder
	key, err := hexKey(c.PrivateKey)
	if err != nil {
		return "", nil, fmt.Errorf("%s: private key: %w", c.Name, err)
	}
	b.WriteString("set=1\nprivate_key=" + key + "\n")
	if c.ListenPort != 0 {
		b.WriteString("listen_port=" + strconv.Itoa(c.ListenPort) + "\n")
	}
	b.WriteString("replace_peers=true\n")
	for _, p := range c.Peers {
		pub, err := hexKey(p.PublicKey)
		if err != nil {
			return "", nil, fmt.Errorf("%s: peer %s: public key: %w", c.Name, p.PublicKey, err)
		}
		b.WriteString("public_key=" + pub + "\n")
		if p.Endpoint != "" {
			if ap, err := netip.ParseAddrPort(p.Endpoint); err == nil {
				b.WriteString("endpoint=" + ap.String() + "\n")
			} else {
				unresolved = append(unresolved, p.Endpoint)
			}
		}
		b.WriteString("persistent_keepalive_interval=" + strconv.Itoa(p.PersistentKeepalive) + "\n")
		b.WriteString("replace_allowed_ips=true\n")
		for _, a := range p.AllowedIPs {
			b.WriteString("allowed_ip=" + a.String() + "\n")
		}
	}
	b.WriteString("\n")
	return b.String(), unresolved, nil
}

// hexKey turns a wg(8) key (base64 of 32 bytes) into UAPI's hex.
func hexKey(s string) (string, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", err
	}
	if len(k) != 32 {
		return "", fmt.Errorf("%d bytes, not 32", len(k))
	}
	return hex.EncodeToString(k), nil
}

// KeepaliveRequest is the "set" message that gives c's peers their
// persistent keepalive and changes nothing else (sessions stay).
func KeepaliveRequest(c plan.WireGuardConfig) (string, error) {
	var b strings.Builder
	b.WriteString("set=1\n")
	for _, p := range c.Peers {
		pub, err := hexKey(p.PublicKey)
		if err != nil {
			return "", fmt.Errorf("%s: peer %s: public key: %w", c.Name, p.PublicKey, err)
		}
		b.WriteString("public_key=" + pub + "\nupdate_only=true\npersistent_keepalive_interval=" + strconv.Itoa(p.PersistentKeepalive) + "\n")
	}
	b.WriteString("\n")
	return b.String(), nil
}

// Set sends c to the device whose UAPI socket is sock.
func Set(sock string, c plan.WireGuardConfig) (unresolved []string, err error) {
	msg, unresolved, err := Request(c)
	if err != nil {
		return nil, err
	}
	return unresolved, send(sock, c.Name, msg)
}

// SetKeepalives sends KeepaliveRequest(c) to the device at sock.
func SetKeepalives(sock string, c plan.WireGuardConfig) error {
	msg, err := KeepaliveRequest(c)
	if err != nil {
		return err
	}
	return send(sock, c.Name, msg)
}

func send(sock, name, msg string) error {
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return readErrno(name, bufio.NewReader(conn))
}

// readErrno reads the answer: "errno=0" is success.
func readErrno(name string, r *bufio.Reader) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: no answer from the device: %w", name, err)
		}
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "errno="); ok {
			if v != "0" {
				return fmt.Errorf("%s: the device refused the configuration (errno %s)", name, v)
			}
			return nil
		}
	}
}

// Handshakes are the peers' last handshake times, by public key (base64),
// from a "get" on sock; a peer that never completed one is absent.
func Handshakes(sock string) (map[string]time.Time, error) {
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("get=1\n\n")); err != nil {
		return nil, err
	}
	return parseGet(bufio.NewReader(conn))
}

func parseGet(r *bufio.Reader) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	var peer string
	var sec int64
	flush := func() {
		if peer != "" && sec > 0 {
			out[peer] = time.Unix(sec, 0)
		}
		sec = 0
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("get: %w", err)
		}
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "public_key":
			flush()
			b, err := hex.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("get: public_key %q: %w", v, err)
			}
			peer = base64.StdEncoding.EncodeToString(b)
		case "last_handshake_time_sec":
			sec, _ = strconv.ParseInt(v, 10, 64)
		case "errno":
			flush()
			if v != "0" {
				return nil, fmt.Errorf("get: errno %s", v)
			}
			return out, nil
		}
	}
}
