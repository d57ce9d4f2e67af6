package control

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// eventBatch bounds how many events one Backend.Events call returns, so a
// client resuming from far back is fed in slices.
const eventBatch = 100

// writeTimeout drops a client that stops reading, so a stuck chatctl cannot
// pin a handler goroutine forever.
const writeTimeout = 30 * time.Second

// serveEvents streams events after the cursor until the client disconnects
// or the server shuts down (both cancel r.Context()).
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	after, err := eventCursor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	// Fail before the 200 if the backend cannot serve this cursor at all.
	evs, err := s.Backend.Events(ctx, after, eventBatch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	st := &eventStream{w: w, rc: http.NewResponseController(w), after: after}
	if err := st.flush(); err != nil {
		return
	}
	// streamEvents returns only when the stream ends: the client left,
	// chatd is stopping (ctx), or the store failed.
	if err := s.streamEvents(ctx, st, evs); ctx.Err() == nil {
		s.log().Info("event stream ended", zap.Int64("after", st.after), zap.Error(err))
	}
}

// streamEvents is the Events → write → WaitEvents loop, with a heartbeat
// whenever a wait lasts a whole heartbeat interval. It never returns nil:
// only the error that ended the stream.
func (s *Server) streamEvents(ctx context.Context, st *eventStream, evs []api.Event) error {
	for {
		if err := st.writeEvents(evs); err != nil {
			return err
		}
		if len(evs) < eventBatch {
			if err := s.waitOrHeartbeat(ctx, st); err != nil {
				return err
			}
		}
		var err error
		evs, err = s.Backend.Events(ctx, st.after, eventBatch)
		if err != nil {
			return err
		}
	}
}

func (s *Server) waitOrHeartbeat(ctx context.Context, st *eventStream) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, s.heartbeat())
		err := s.Backend.WaitEvents(wctx, st.after)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if err := st.write(api.HeartbeatLine); err != nil {
			return err
		}
		if err := st.flush(); err != nil {
			return err
		}
	}
}

func eventCursor(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("after")
	if v == "" {
		return 0, nil
	}
	after, err := strconv.ParseInt(v, 10, 64)
	if err != nil || after < 0 {
		return 0, badRequest("after %q is not an event cursor", v)
	}
	return after, nil
}

// eventStream writes events as JSON lines and remembers the last ID it
// wrote, which is where the next Events call resumes.
type eventStream struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	after int64
}

func (st *eventStream) writeEvents(evs []api.Event) error {
	for _, ev := range evs {
		if ev.ID <= st.after {
			continue // a backend bug must not turn into a client-visible repeat
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if err := st.write(append(b, '\n')); err != nil {
			return err
		}
		st.after = ev.ID
	}
	if len(evs) == 0 {
		return nil
	}
	return st.flush()
}

func (st *eventStream) write(b []byte) error {
	if err := st.rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	_, err := st.w.Write(b)
	return err
}

func (st *eventStream) flush() error {
	return st.rc.Flush()
}
