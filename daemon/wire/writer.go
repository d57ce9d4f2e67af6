package wire

import (
	"io"
	"sync"
)

// flushAt is how much a Writer buffers before writing on its own. A few
// TLS records' worth: big enough that a burst of messages leaves in full
// 16 KiB records, small enough not to hold a lot of memory.
const flushAt = 32 << 10

// bufPool holds write buffers between bursts, so idle sessions hold none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// Writer buffers encoded frames and writes them to a stream in as few
// writes as possible. It is not safe for concurrent use. After a write
// error every call returns that error.
type Writer struct {
	w   io.Writer
	buf *[]byte // nil while nothing is buffered
	err error
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteFrame encodes f into the buffer, writing the buffer out when it is
// full. A frame that breaks a limit (ErrBodyTooLarge, ErrFrameTooLarge, a
// bad name or reason) is refused without buffering anything, and the
// Writer stays usable.
func (w *Writer) WriteFrame(f Frame) error {
	if w.err != nil {
		return w.err
	}
	if w.buf == nil {
		w.buf = bufPool.Get().(*[]byte)
	}
	b, err := AppendFrame(*w.buf, f)
	if err != nil {
		return err
	}
	*w.buf = b
	if len(b) >= flushAt {
		return w.write()
	}
	return nil
}

// Buffered returns the number of encoded bytes not yet written.
func (w *Writer) Buffered() int {
	if w.buf == nil {
		return 0
	}
	return len(*w.buf)
}

// Flush writes all buffered frames in one Write, which crypto/tls sends as
// few records as their size allows.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.buf == nil {
		return nil
	}
	err := w.write()
	b := w.buf
	w.buf = nil
	if cap(*b) <= 4*flushAt { // keep the pool's buffers bounded
		bufPool.Put(b)
	}
	return err
}

func (w *Writer) write() error {
	b := *w.buf
	if len(b) == 0 {
		return nil
	}
	_, err := w.w.Write(b)
	*w.buf = b[:0]
	if err != nil {
		w.err = err
	}
	return err
}
