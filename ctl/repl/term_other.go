//go:build !linux

package repl

import (
	"errors"
	"io"
	"os"
)

func isTerminal(*os.File) bool { return false }

func makeRaw(*os.File) (func(), error) { return nil, errors.New("raw mode: not supported here") }

func termWidth(*os.File) int { return 80 }

var errReaderClosed = errors.New("input closed")

type fdReader struct{ io.Reader }

func newFDReader(f *os.File) (*fdReader, error) { return &fdReader{f}, nil }
func (r *fdReader) Close() error                { return nil }
func (r *fdReader) release()                    {}
