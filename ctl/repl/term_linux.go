//go:build linux

package repl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

func isTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

// makeRaw puts the terminal in raw mode (golang.org/x/term) and returns
// how to undo it. Output is written with explicit \r\n (see crlf).
func makeRaw(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, fmt.Errorf("raw mode: %w", err)
	}
	return func() { term.Restore(fd, old) }, nil
}

func termWidth(f *os.File) int {
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

var errReaderClosed = errors.New("input closed")

// fdReader reads a file descriptor (a terminal, pipe or file) in a way that
// Close can interrupt: every Read polls the descriptor together with a
// wake-up pipe. A plain blocking read of stdin could not be stopped, and
// its goroutine would outlive attach.
type fdReader struct {
	fd           int
	wakeR, wakeW int
	once         sync.Once
}

func newFDReader(f *os.File) (*fdReader, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("wake-up pipe: %w", err)
	}
	return &fdReader{fd: int(f.Fd()), wakeR: p[0], wakeW: p[1]}, nil
}

func (r *fdReader) Read(b []byte) (int, error) {
	fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}, {Fd: int32(r.wakeR), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("poll input: %w", err)
		}
		if fds[1].Revents != 0 {
			return 0, errReaderClosed
		}
		if fds[0].Revents == 0 {
			continue
		}
		n, err := unix.Read(r.fd, b)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read input: %w", err)
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// Close wakes a blocked Read, which then returns errReaderClosed; the wake
// pipe stays open until release so that no Read polls a closed descriptor.
func (r *fdReader) Close() error {
	r.once.Do(func() { unix.Write(r.wakeW, []byte{0}) })
	return nil
}

// release frees the pipe once no Read can be running.
func (r *fdReader) release() {
	r.Close()
	unix.Close(r.wakeR)
	unix.Close(r.wakeW)
}
