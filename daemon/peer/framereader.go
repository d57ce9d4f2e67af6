package peer

import (
	"io"
	"sync"

	"github.com/p2pchat/p2pchat/daemon/wire"
)

// frameReader reads frames from a session's TLS connection, but holds a
// read buffer only while frames are arriving. Most sessions are idle most
// of the time, and a wire.Reader's buffer (4 KiB) would otherwise be kept
// by every one of them for its whole life. While idle it waits in a
// one-byte read; when that returns, it borrows a buffered reader from a
// pool, and gives it back once everything buffered has been decoded.
// Frames do not point into the buffer (wire.Reader copies bodies), so
// returning it does not touch what callers hold. Like wire.Reader it is
// not safe for concurrent use.
type frameReader struct {
	conn io.Reader
	one  [1]byte
	cur  *pooledReader // nil while idle
}

// pooledReader is a wire.Reader together with the source it reads from,
// so that it can be lent to one connection after another.
type pooledReader struct {
	r    *wire.Reader
	in   io.Reader // the connection while lent out
	head []byte    // bytes read before the reader was borrowed
	err  error     // returned after head: an error that came with it
	// failed is set once the source returned an error: the reader may
	// hold it, so it must not be lent to another connection.
	failed bool
}

var readerPool = sync.Pool{New: func() any {
	p := &pooledReader{}
	p.r = wire.NewReader(p)
	return p
}}

func (p *pooledReader) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.in.Read(b)
	if err != nil {
		p.failed = true
	}
	return n, err
}

func newFrameReader(conn io.Reader) *frameReader { return &frameReader{conn: conn} }

// ReadFrame reads and decodes the next frame, as wire.Reader.ReadFrame.
func (f *frameReader) ReadFrame() (wire.Frame, error) {
	if f.cur == nil {
		if err := f.borrow(); err != nil {
			return nil, err
		}
	}
	fr, err := f.cur.r.ReadFrame()
	if f.cur.r.Buffered() == 0 && len(f.cur.head) == 0 {
		f.release()
	}
	return fr, err
}

// FrameBuffered reports whether a whole frame is buffered, as
// wire.Reader.FrameBuffered.
func (f *frameReader) FrameBuffered() bool {
	return f.cur != nil && f.cur.r.FrameBuffered()
}

// borrow waits, without a buffer, until the connection has data, and then
// takes a reader from the pool to decode it.
func (f *frameReader) borrow() error {
	n, err := f.conn.Read(f.one[:])
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	p := readerPool.Get().(*pooledReader)
	p.in, p.head, p.err = f.conn, f.one[:n], err
	p.failed = err != nil
	f.cur = p
	return nil
}

func (f *frameReader) release() {
	p := f.cur
	f.cur = nil
	if p.failed {
		return
	}
	p.in, p.head = nil, nil
	readerPool.Put(p)
}
