package capture

import (
	"encoding/binary"
	"io"
)

// pcapgo's NgWriter cannot attach options to packets, so the merged file's
// enhanced packet blocks are written here, with the epb_flags option carrying
// the direction (Wireshark shows it; ReadFile reads it back). pcapgo still
// writes the section and interface blocks (nanosecond timestamps).

const (
	blockEPB       = 6
	blockSHB       = 0x0A0D0D0A
	optEndOfOpt    = 0
	optEPBFlags    = 2
	epbFlagIn      = 1
	epbFlagOut     = 2
	byteOrderMagic = 0x1A2B3C4D
)

// writeEPB writes one little-endian enhanced packet block.
func writeEPB(w io.Writer, ifIndex int, p *Packet) error {
	data := p.raw
	pad := (4 - len(data)%4) % 4
	var opts []byte
	if p.Dir != DirUnknown {
		flags := uint32(epbFlagIn)
		if p.Dir == DirOut {
			flags = epbFlagOut
		}
		opts = binary.LittleEndian.AppendUint16(opts, optEPBFlags)
		opts = binary.LittleEndian.AppendUint16(opts, 4)
		opts = binary.LittleEndian.AppendUint32(opts, flags)
		opts = binary.LittleEndian.AppendUint32(opts, optEndOfOpt) // code 0, length 0
	}
	total := 28 + len(data) + pad + len(opts) + 4
	ts := uint64(p.Time.UnixNano())
	b := make([]byte, 0, total)
	b = binary.LittleEndian.AppendUint32(b, blockEPB)
	b = binary.LittleEndian.AppendUint32(b, uint32(total))
	b = binary.LittleEndian.AppendUint32(b, uint32(ifIndex))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(max(p.Len, len(data))))
	b = append(b, data...)
	b = append(b, make([]byte, pad)...)
	b = append(b, opts...)
	b = binary.LittleEndian.AppendUint32(b, uint32(total))
	_, err := w.Write(b)
	return err
}

// epbDirections walks a pcapng file and returns the direction of each
// enhanced packet block in order (DirUnknown when it has no flags). It
// gives nil for files it does not understand (big-endian sections, damage):
// direction is a nicety, the packets are read by pcapgo.
func epbDirections(data []byte) []Direction {
	var out []Direction
	le := binary.LittleEndian
	for off := 0; off+12 <= len(data); {
		typ := le.Uint32(data[off:])
		n := int(le.Uint32(data[off+4:]))
		if typ == blockSHB && le.Uint32(data[off+8:]) != byteOrderMagic {
			return nil
		}
		if n < 12 || n%4 != 0 || off+n > len(data) {
			return nil
		}
		if typ == blockEPB && n >= 32 {
			blk := data[off : off+n]
			capLen := int(le.Uint32(blk[20:]))
			dir := DirUnknown
			o := 28 + capLen + (4-capLen%4)%4
			for o+4 <= n-4 {
				code, l := le.Uint16(blk[o:]), int(le.Uint16(blk[o+2:]))
				if code == optEndOfOpt || o+4+l > n-4 {
					break
				}
				if code == optEPBFlags && l == 4 {
					switch le.Uint32(blk[o+4:]) & 3 {
					case epbFlagIn:
						dir = DirIn
					case epbFlagOut:
						dir = DirOut
					}
				}
				o += 4 + l + (4-l%4)%4
			}
			out = append(out, dir)
		}
		off += n
	}
	return out
}
