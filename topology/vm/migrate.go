package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// MigrationStats is what QEMU reports about a finished migration.
type MigrationStats struct {
	Downtime    time.Duration // the guest was paused this long (QEMU's own figure)
	TotalTime   time.Duration // from the migrate command to completion
	Setup       time.Duration
	Transferred int64 // bytes of RAM sent
	Wall        time.Duration
}

// DowntimeLimit is the pause QEMU aims for at the end of pre-copy, as
// Proxmox sets it (migrate_downtime, 0.1 s by default).
const DowntimeLimit = 100 * time.Millisecond

// Migrate live-migrates src to a new instance described by dst (another
// node's namespace, its own directory): the destination QEMU starts with
// -incoming, plug is called with it so the caller can put its tap on the
// VNet bridge, then the source sends its state over a unix socket; QEMU
// pauses the guest for the last pass and the destination resumes it and
// announces the guest's MAC (QEMU's announce-self: 5 rounds, 50 ms then
// 100 ms more each time). The source QEMU is ended afterwards.
func Migrate(ctx context.Context, src *VM, dst Config, plug func(*VM) error) (*VM, MigrationStats, error) {
	var st MigrationStats
	t0 := time.Now()
	to, err := start(ctx, dst, true)
	if err != nil {
		return nil, st, err
	}
	fail := func(err error) (*VM, MigrationStats, error) {
		to.Kill()
		return nil, st, fmt.Errorf("migrate %s: %w", src.Name, err)
	}
	if err := plug(to); err != nil {
		return fail(err)
	}
	dq, err := dialQMP(ctx, to.qmpPath())
	if err != nil {
		return fail(err)
	}
	defer dq.close()
	uri := "unix:" + to.migratePath()
	if _, err := dq.do("migrate-incoming", map[string]any{"uri": uri}); err != nil {
		return fail(err)
	}
	sq, err := dialQMP(ctx, src.qmpPath())
	if err != nil {
		return fail(err)
	}
	defer sq.close()
	if _, err := sq.do("migrate-set-parameters", map[string]any{
		"downtime-limit": DowntimeLimit.Milliseconds(),
		"max-bandwidth":  int64(8) << 30, // local socket: no reason to throttle
	}); err != nil {
		return fail(err)
	}
	if _, err := sq.do("migrate", map[string]any{"uri": uri}); err != nil {
		return fail(err)
	}
	for {
		raw, err := sq.do("query-migrate", nil)
		if err != nil {
			return fail(err)
		}
		var m struct {
			Status    string `json:"status"`
			Downtime  int64  `json:"downtime"`
			TotalTime int64  `json:"total-time"`
			SetupTime int64  `json:"setup-time"`
			ErrorDesc string `json:"error-desc"`
			RAM       struct {
				Transferred int64 `json:"transferred"`
			} `json:"ram"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return fail(err)
		}
		switch m.Status {
		case "completed":
			st.Downtime = time.Duration(m.Downtime) * time.Millisecond
			st.TotalTime = time.Duration(m.TotalTime) * time.Millisecond
			st.Setup = time.Duration(m.SetupTime) * time.Millisecond
			st.Transferred = m.RAM.Transferred
			// Through this connection: QMP serves one client at a time.
			src.quit(sq)
			st.Wall = time.Since(t0)
			return to, st, nil
		case "failed", "cancelled":
			return fail(fmt.Errorf("qemu: migration %s: %s", m.Status, m.ErrorDesc))
		}
		if ctx.Err() != nil {
			sq.do("migrate_cancel", nil)
			return fail(ctx.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
