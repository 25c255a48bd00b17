package capture

import (
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A frame whose VLAN tag the kernel took off gets it back, and its
// length with it, for the live callback as for the kept frames, whether
// the session keeps frames or not.
func TestKeepRestoresVLANTagForLive(t *testing.T) {
	aux := unix.TpacketAuxdata{Status: unix.TP_STATUS_VLAN_VALID, Vlan_tci: 100}
	oob := make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(aux))))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_PACKET, unix.PACKET_AUXDATA
	h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(aux))))
	*(*unix.TpacketAuxdata)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = aux
	frame := make([]byte, 60)
	frame[12], frame[13] = 0x08, 0x00
	for _, keepNone := range []bool{false, true} {
		var gotLen, gotData int
		s := &Session{opts: Options{KeepNone: keepNone, Live: func(_ int, _ time.Time, _ Direction, length int, data []byte) {
			gotLen, gotData = length, len(data)
		}}.withDefaults()}
		pc := &pointCapture{}
		s.keep(pc, len(frame), frame, oob, &unix.SockaddrLinklayer{})
		if gotData != 64 || gotLen != 64 {
			t.Errorf("KeepNone %v: live got %d bytes of length %d, want the tagged 64 of 64", keepNone, gotData, gotLen)
		}
		if keepNone {
			if len(pc.frames) != 0 {
				t.Errorf("KeepNone kept %d frames", len(pc.frames))
			}
		} else if len(pc.frames) != 1 || pc.frames[0].length != 64 || len(pc.frames[0].data) != 64 {
			t.Errorf("kept %d frames (%+v), want one of 64 bytes", len(pc.frames), pc.frames)
		}
	}
}
