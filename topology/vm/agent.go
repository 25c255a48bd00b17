package vm

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

var execSeq atomic.Uint64

// Exec runs script with sh inside the guest through the agent on the
// virtio serial port and returns its combined output and exit code. err is
// set only when the agent could not be reached or answered nothing
// readable: a command that ran and failed gives rc != 0 and no err.
func (v *VM) Exec(ctx context.Context, script string) ([]byte, int, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", v.agentPath())
	if err != nil {
		return nil, -1, fmt.Errorf("vm %s: agent: %w", v.Name, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	// The id tells this answer from a late answer to an earlier request
	// that the guest got while it was still booting.
	id := fmt.Sprintf("@@ID %d-%d", time.Now().UnixNano(), execSeq.Add(1))
	req := base64.StdEncoding.EncodeToString([]byte("echo '" + id + "'\n" + script + "\n"))
	if _, err := c.Write([]byte(req + "\n")); err != nil {
		return nil, -1, fmt.Errorf("vm %s: agent: %w", v.Name, err)
	}
	r := bufio.NewReader(c)
	for {
		out, rc, err := readAnswer(r)
		if err != nil {
			return nil, -1, fmt.Errorf("vm %s: agent: %w", v.Name, err)
		}
		if rest, ok := strings.CutPrefix(string(out), id+"\n"); ok {
			return []byte(rest), rc, nil
		}
	}
}

// readAnswer reads "@@OUT", base64 lines and "@@RC n".
func readAnswer(r *bufio.Reader) ([]byte, int, error) {
	var b64 strings.Builder
	started := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, -1, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "@@OUT":
			started = true
			b64.Reset()
		case strings.HasPrefix(line, "@@RC ") && started:
			rc, err := strconv.Atoi(strings.TrimPrefix(line, "@@RC "))
			if err != nil {
				return nil, -1, fmt.Errorf("bad exit code line %q", line)
			}
			out, err := base64.StdEncoding.DecodeString(b64.String())
			if err != nil {
				return nil, -1, fmt.Errorf("bad output: %w", err)
			}
			return out, rc, nil
		case started:
			b64.WriteString(line)
		}
	}
}
