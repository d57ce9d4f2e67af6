package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultReadBuffer is the Reader's buffer size. It is small on purpose:
// an idle session keeps it for its whole life, and frames larger than the
// buffer are read into a buffer of their own.
const DefaultReadBuffer = 4 << 10

// Reader decodes frames from a stream. It is not safe for concurrent use.
type Reader struct {
	br *bufio.Reader
}

// NewReader returns a Reader with a DefaultReadBuffer buffer.
func NewReader(r io.Reader) *Reader { return NewReaderSize(r, DefaultReadBuffer) }

// NewReaderSize returns a Reader with a buffer of at least size bytes.
func NewReaderSize(r io.Reader, size int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, max(size, 64))}
}

// Buffered returns the number of bytes read from the stream but not yet
// decoded.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// FrameBuffered reports whether a whole frame is buffered, so that the
// next ReadFrame returns without reading from the stream. A receiver uses
// it to collect the frames that arrived together into one batch.
func (r *Reader) FrameBuffered() bool {
	n := r.br.Buffered()
	if n < HeaderLen {
		return false
	}
	hdr, _ := r.br.Peek(HeaderLen)
	return uint64(binary.BigEndian.Uint32(hdr[1:]))+HeaderLen <= uint64(n)
}

// ReadFrame reads and decodes the next frame. At a clean end of stream it
// returns io.EOF; a stream that ends inside a frame gives
// io.ErrUnexpectedEOF. Byte slices in the frame (Msg.Body) are the
// caller's to keep.
func (r *Reader) ReadFrame() (Frame, error) {
	hdr, err := r.br.Peek(HeaderLen)
	if err != nil {
		if errors.Is(err, io.EOF) && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	t, n := Type(hdr[0]), binary.BigEndian.Uint32(hdr[1:])
	if t < TypeHello || t > TypeSync {
		return nil, fmt.Errorf("%w %d", ErrUnknownType, uint8(t))
	}
	if n > MaxFrame {
		return nil, fmt.Errorf("%w: %v of %d bytes exceeds %d", ErrFrameTooLarge, t, n, MaxFrame)
	}
	r.br.Discard(HeaderLen)
	if int(n) <= r.br.Size() {
		return r.decodeBuffered(t, int(n))
	}
	// Bigger than the buffer: read it into memory the frame can keep.
	p := make([]byte, n)
	if _, err := io.ReadFull(r.br, p); err != nil {
		return nil, eofIsUnexpected(err)
	}
	return decode(t, p, true)
}

func (r *Reader) decodeBuffered(t Type, n int) (Frame, error) {
	p, err := r.br.Peek(n)
	if err != nil {
		return nil, eofIsUnexpected(err)
	}
	f, err := decode(t, p, false)
	r.br.Discard(n)
	return f, err
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
