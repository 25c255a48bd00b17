package evpn

import (
	"context"
	"io"
	"log/slog"
)

// Serve runs an agent for cfg with its control socket at ctlPath ("" none)
// until ctx ends or, when stdin is not nil, stdin reaches EOF (the parent
// holds the other end of a pipe: when it goes, so does the agent).
func Serve(ctx context.Context, cfg Config, ctlPath string, stdin io.Reader, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, err := New(cfg, log)
	if err != nil {
		return err
	}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			cancel()
		}()
	}
	if ctlPath != "" {
		if err := a.ServeControl(ctx, ctlPath); err != nil {
			return err
		}
	}
	return a.Run(ctx)
}
