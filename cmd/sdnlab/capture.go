package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/capture"
)

func captureCommand() *command {
	return &command{
		name:    "capture",
		summary: "capture live on lab interfaces: pcapng to a file or stdout (| wireshark -k -i -), or decoded lines",
		usage:   "LAB THING[:IFACE]|SEGMENT... [-w FILE|-] [--vni N] [--duration D] [-q]",
		run: func(ctx context.Context, args []string) error {
			return runCapture(ctx, args, os.Stdout, os.Stderr)
		},
	}
}

func runCapture(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("capture")
	write := fs.String("w", "", "write pcapng here (- is standard output); without it, print a decoded line per frame")
	vni := fs.String("vni", "", "keep only VXLAN frames of this VNI")
	duration := fs.Duration("duration", 0, "stop after this long (default: until Ctrl-C)")
	quiet := fs.Bool("q", false, "with -w FILE: no decoded lines")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return badInput("expected LAB and at least one THING[:IFACE] or SEGMENT")
	}
	if *duration < 0 {
		return badInput("--duration %s: cannot be negative", *duration)
	}
	wantVNI := -1
	if *vni != "" {
		n, err := strconv.Atoi(*vni)
		if err != nil || n < 0 || n > 1<<24-1 {
			return badInput("--vni %q: want a VXLAN network identifier (0-16777215)", *vni)
		}
		wantVNI = n
	}
	lab, err := stateOf(pos[0])
	if err != nil {
		return err
	}
	var points []capture.Point
	for _, what := range pos[1:] {
		refs, err := lab.ResolveIfaces(what)
		if err != nil {
			return badInput("%v", err)
		}
		for _, r := range refs {
			points = append(points, capture.Point{Netns: r.NS, Ifname: r.Ifname, Label: r.Thing + ":" + r.Ifname})
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("labs are network namespaces: run as root")
	}
	var out io.Writer
	lines := stdout
	switch *write {
	case "":
	case "-":
		out, lines = stdout, nil // the pipe carries pcapng only
	default:
		f, err := os.Create(*write)
		if err != nil {
			return badInput("-w %s: %v", *write, err)
		}
		defer f.Close()
		out = f
		if *quiet {
			lines = nil
		}
	}
	const snaplen = 65535
	var stream *capture.Stream
	if out != nil {
		if stream, err = capture.NewStream(out, points, snaplen); err != nil {
			return err
		}
	}
	decode := capture.DecodeOptions{VXLANPorts: lab.VXLANPorts(defaultStateDir())}
	// One decoder per point: Live is called from each point's reader.
	decoders := make([]*capture.Decoder, len(points))
	for i := range decoders {
		decoders[i] = capture.NewDecoder(decode)
	}
	var mu sync.Mutex
	var kept, seen int
	var writeErr error
	live := func(point int, ts time.Time, dir capture.Direction, length int, data []byte) {
		var p *capture.Packet
		if lines != nil || wantVNI >= 0 {
			p = decoders[point].Decode(points[point].Label, ts, dir, length, append([]byte(nil), data...))
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		if wantVNI >= 0 && (p.VXLAN == nil || p.VXLAN.VNI != uint32(wantVNI)) {
			return
		}
		kept++
		if stream != nil && writeErr == nil {
			writeErr = stream.Write(point, ts, dir, length, data)
		}
		if lines != nil {
			fmt.Fprintf(lines, "%s %s %s %s\n", ts.Format("15:04:05.000000"), points[point].Label, dir, p.Summary())
		}
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	sess, err := capture.Start(ctx, points, capture.Options{Snaplen: snaplen, Decode: decode, Live: live, KeepNone: true})
	if err != nil {
		return err
	}
	only := ""
	if wantVNI >= 0 {
		only = ", VNI " + *vni + " only"
	}
	fmt.Fprintf(stderr, "capturing on %d interfaces (VXLAN ports %v)%s; Ctrl-C stops\n", len(points), decode.VXLANPorts, only)
	<-ctx.Done()
	_, stopErr := sess.Stop()
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(stderr, "%d frames seen, %d kept\n", seen, kept)
	if writeErr != nil {
		return fmt.Errorf("write pcapng: %w", writeErr)
	}
	return stopErr
}
