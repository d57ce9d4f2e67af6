package peer

import "sync"

// event is a PeerState report.
type event struct {
	peer string
	up   bool
	addr string
	path Path
}

// eventQueue hands PeerState reports to the Handler in order, one at a
// time, from one goroutine, so a slow Handler never holds Manager.mu and
// "up" always reaches it before the matching "down".
type eventQueue struct {
	h      Handler
	mu     sync.Mutex
	q      []event // guarded by mu
	closed bool    // guarded by mu: run returns once q is empty
	wake   chan struct{}
}

func newEventQueue(h Handler) *eventQueue {
	return &eventQueue{h: h, wake: make(chan struct{}, 1)}
}

func (e *eventQueue) push(ev event) {
	e.mu.Lock()
	e.q = append(e.q, ev)
	e.mu.Unlock()
	e.signal()
}

func (e *eventQueue) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.signal()
}

func (e *eventQueue) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run delivers events until close has been called and all are delivered.
func (e *eventQueue) run() {
	for {
		e.mu.Lock()
		q, closed := e.q, e.closed
		e.q = nil
		e.mu.Unlock()
		for _, ev := range q {
			e.h.PeerState(ev.peer, ev.up, ev.addr, ev.path)
		}
		if len(q) == 0 {
			if closed {
				return
			}
			<-e.wake
		}
	}
}
