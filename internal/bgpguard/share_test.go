package bgpguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// TestShareTakesItsAddressesOnly: beside a listener on every address of a
// port, owned by another user (bgpd, as frr), the guard's shared listener
// gets the connections to its own address and the other keeps the rest.
// Without the owner's identity the kernel refuses to share the port.
func TestShareTakesItsAddressesOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	const owner = 65534 // nobody: any user but root
	ns := fmt.Sprintf("sdnlab-t%d-share", os.Getpid())
	if err := nsutil.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nsutil.Delete(ns) })
	err := nsutil.Do(ns, func() error {
		if err := loUp(); err != nil {
			return err
		}
		const port = 1179
		own := netip.MustParseAddr("127.0.0.2")
		// The other speaker: every address, SO_REUSEPORT, another owner.
		other, err := (&Share{UID: owner}).Listen(netip.AddrPortFrom(netip.IPv4Unspecified(), port))
		if err != nil {
			return fmt.Errorf("other speaker: %w", err)
		}
		defer other.Close()

		if l, err := (&Share{UID: -1}).Listen(netip.AddrPortFrom(own, port)); err == nil {
			l.Close()
			return errors.New("a listener of another owner shared the port")
		} else if !errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("as root: want EADDRINUSE, got %w", err)
		}

		mine, err := (&Share{UID: owner}).Listen(netip.AddrPortFrom(own, port))
		if err != nil {
			return fmt.Errorf("shared listener: %w", err)
		}
		defer mine.Close()
		for _, c := range []struct {
			dst  string
			want net.Listener
			name string
		}{{"127.0.0.2", mine, "guard"}, {"127.0.0.1", other, "other speaker"}} {
			conn, err := net.Dial("tcp4", net.JoinHostPort(c.dst, fmt.Sprint(port)))
			if err != nil {
				return fmt.Errorf("connect to %s: %w", c.dst, err)
			}
			conn.Close()
			c.want.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
			a, err := c.want.Accept()
			if err != nil {
				return fmt.Errorf("connection to %s did not reach the %s: %w", c.dst, c.name, err)
			}
			a.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
