package impair

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
)

// TapName is the pacer's tap for an interface: unique per interface name
// and at most 15 characters.
func TapName(ifname string) string {
	h := sha256.Sum256([]byte(ifname))
	return fmt.Sprintf("sdnimp%x", h[:4])
}

// Serve impairs ifname (in the caller's namespace) with the eBPF program
// and, for delay, jitter or rate, the paced path, until ctx ends; then
// everything it attached is gone (the TCX link and the tap close with it).
// ready is called once the impairment is in force.
func Serve(ctx context.Context, ifname string, spec Spec, ready func()) error {
	if err := spec.Check(); err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	var p *Pacer
	tapIndex := 0
	if spec.Paced() {
		if p, err = newPacer(spec, ifname, TapName(ifname), ifi.MTU); err != nil {
			return err
		}
		if tapIndex, err = p.TapIndex(); err != nil {
			p.close()
			return err
		}
	}
	l, err := attachEgress(ifi.Index, spec.Loss, tapIndex)
	if err != nil {
		if p != nil {
			p.close()
		}
		return err
	}
	defer l.Close()
	if ready != nil {
		ready()
	}
	if p == nil {
		<-ctx.Done()
		return nil
	}
	return p.Run(ctx)
}

// ethertype is the frame's EtherType in network byte order, as a packet
// socket's sll_protocol wants it.
func ethertype(frame []byte) uint16 {
	if len(frame) < 14 {
		return 0
	}
	v := binary.BigEndian.Uint16(frame[12:14])
	return v<<8 | v>>8
}
