package config

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxInputSize bounds every user input file sdnlab reads (.cfg files, host
// interfaces, lab files, scenario files, frr.conf.local): a real one is a
// few KiB, so 16 MiB only stops a mistake like /dev/urandom from eating
// all memory.
const MaxInputSize = 16 << 20

// ReadInput reads a user input file through the size cap. It refuses what
// is not a regular file (a device, a FIFO, a directory) before opening it,
// since reading /dev/zero never ends and opening a FIFO blocks. Errors
// are plain sentences without the path; callers name the file.
func ReadInput(path string) ([]byte, error) {
	st, err := os.Stat(path) // follows symlinks: a link to /dev/zero is refused too
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errNotRegular(st)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readCapped(f)
}

// ErrTooLarge is returned for an input over MaxInputSize.
var ErrTooLarge = fmt.Errorf("larger than %d MiB: not an input file", MaxInputSize>>20)

// readCapped reads r up to MaxInputSize and fails beyond it.
func readCapped(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInputSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxInputSize {
		return nil, ErrTooLarge
	}
	return data, nil
}

func errNotRegular(st os.FileInfo) error {
	if st.IsDir() {
		return errors.New("is a directory, not a regular file")
	}
	m := st.Mode()
	switch {
	case m&os.ModeDevice != 0:
		return errors.New("not a regular file (a device)")
	case m&os.ModeNamedPipe != 0:
		return errors.New("not a regular file (a named pipe)")
	case m&os.ModeSocket != 0:
		return errors.New("not a regular file (a socket)")
	}
	return errors.New("not a regular file")
}
