package sdn

// Iface is one stanza of /etc/network/interfaces.d/sdn. (Owned by the zone
// compiler; fields are added as zone types need them.)
type Iface struct {
	Name string
}
