package proc

import (
	"io"
	"log/slog"
	"os"
)

// The side of a supervised process: how it logs and how it learns that
// its parent wants it gone.

// Logger is the log of a supervised process: text on stderr (which Start
// appends to its log file), at debug level when SDNLAB_DEBUG is set.
func Logger(attrs ...any) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("SDNLAB_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With(attrs...)
}

// ParentPipe returns f when it is a pipe, else nil. A parent that holds a
// process's stdin as a pipe ends it by closing the pipe (tests); with
// stdin on /dev/null (sdnlab up) the lab's teardown kills it instead.
func ParentPipe(f *os.File) io.Reader {
	if f == nil {
		return nil
	}
	if st, err := f.Stat(); err == nil && st.Mode()&os.ModeNamedPipe != 0 {
		return f
	}
	return nil
}
