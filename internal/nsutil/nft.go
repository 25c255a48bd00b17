package nsutil

import (
	"fmt"

	"github.com/google/nftables"
)

// NFT runs fn with an nftables connection in namespace ns. The connection
// opens its netlink socket in ns at each c.Flush or query, so the
// namespace stays open until fn returns; fn sends what it queued itself.
func NFT(ns string, fn func(c *nftables.Conn) error) error {
	fd, err := Open(ns)
	if err != nil {
		return err
	}
	defer fd.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(fd)))
	if err != nil {
		return fmt.Errorf("%s: nftables: %w", ns, err)
	}
	defer c.CloseLasting()
	return fn(c)
}
