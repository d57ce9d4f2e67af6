package daemon

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/peer"
	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// This file serves the Go API over the control socket: ctlBackend adapts
// the daemon's store types and errors to the wire types in ctl/api.

func (d *Daemon) listenControl(o Options) error {
	switch {
	case o.NoControl:
		return nil
	case o.ControlListener != nil:
		d.ctlLn = o.ControlListener
		return nil
	}
	ln, err := control.Listen(d.cfg.ControlSocket)
	if err != nil {
		return err
	}
	d.ctlLn = ln
	return nil
}

func (d *Daemon) serveControl(ctx context.Context) error {
	srv := &control.Server{Backend: ctlBackend{d}, Log: d.log.Named("control"), UID: os.Getuid(), Version: d.version}
	return srv.Serve(ctx, d.ctlLn)
}

// ControlAddr is the control socket's address, if it is served.
func (d *Daemon) ControlAddr() net.Addr {
	if d.ctlLn == nil {
		return nil
	}
	return d.ctlLn.Addr()
}

type ctlBackend struct{ d *Daemon }

var _ control.Backend = ctlBackend{}

func (b ctlBackend) Status(ctx context.Context) (api.Status, error) {
	d := b.d
	p := d.presence.Status()
	sessions := d.peers.Sessions()
	st := api.Status{
		Name:          d.cfg.Name,
		Fingerprint:   d.id.Fingerprint(),
		PublicKey:     base64.StdEncoding.EncodeToString(d.id.Public),
		ListenAddr:    d.peers.Addr().String(),
		TrackerState:  "registering",
		Sessions:      len(sessions),
		Version:       d.version,
		UptimeSeconds: time.Since(d.started).Seconds(),
	}
	switch {
	case p.LastError != "" && p.Registered:
		st.TrackerState = "unreachable: " + p.LastError
	case p.LastError != "":
		st.TrackerState = "not registered: " + p.LastError
	case p.Registered:
		st.TrackerState = "registered"
	}
	if p.Observed.IsValid() {
		st.ObservedAddrs = []string{p.Observed.String()}
	}
	st.PortMap = d.portMapStatus()
	rs := d.reach.Status()
	st.Relay = api.Relay{State: rs.State, Relay: rs.Relay, Since: rs.Since.UTC(), LastError: rs.LastError}
	for _, s := range sessions {
		st.Online = append(st.Online, api.OnlinePeer{Name: s.Peer, Session: *apiSession(s)})
	}
	u := d.peers.Upgrades()
	st.Upgrades = api.Upgrades{PunchAttempts: u.PunchAttempts, Punched: u.Punched, Reversed: u.Reversed}
	if d.portmap != nil {
		if pub := d.portmap.Public(); pub.IsValid() {
			st.PublicAddrs = []string{pub.String()}
		}
	}
	n, err := d.store.RequestCount(ctx)
	if err != nil {
		return st, apiError(err)
	}
	st.Requests = n
	st.EventCursor = d.store.LastEventID()
	return st, nil
}

func (b ctlBackend) Send(ctx context.Context, to, body string) (api.Message, error) {
	m, err := b.d.Send(ctx, to, body)
	if err != nil {
		return api.Message{}, apiError(err)
	}
	return apiMessage(m), nil
}

func (b ctlBackend) Message(ctx context.Context, peer, id string) (api.Message, error) {
	var mid [16]byte
	if n, err := hex.Decode(mid[:], []byte(id)); err != nil || n != 16 || len(id) != 32 {
		return api.Message{}, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("message id %q is not 32 hex digits", id)}
	}
	m, err := b.d.store.Message(ctx, peer, store.Out, mid)
	if errors.Is(err, store.ErrNotFound) {
		m, err = b.d.store.Message(ctx, peer, store.In, mid)
	}
	if err != nil {
		return api.Message{}, apiError(err)
	}
	return apiMessage(m), nil
}

func (b ctlBackend) History(ctx context.Context, peer string, limit int, before int64) ([]api.Message, error) {
	ms, err := b.d.History(ctx, peer, limit, before)
	if err != nil {
		return nil, apiError(err)
	}
	out := make([]api.Message, len(ms))
	for i, m := range ms {
		out[i] = apiMessage(m)
	}
	return out, nil
}

func (b ctlBackend) Contacts(ctx context.Context) ([]api.Contact, error) {
	cs, err := b.d.Contacts(ctx)
	if err != nil {
		return nil, apiError(err)
	}
	sessions := map[string]peer.SessionInfo{}
	for _, s := range b.d.peers.Sessions() {
		sessions[s.Peer] = s
	}
	out := make([]api.Contact, len(cs))
	for i, c := range cs {
		s, online := sessions[c.Name]
		out[i] = apiContact(c, online)
		if online {
			out[i].Session = apiSession(s)
		}
	}
	return out, nil
}

func (b ctlBackend) AddContact(ctx context.Context, name string) (api.Contact, error) {
	c, err := b.d.AddContact(ctx, name)
	if err != nil {
		return api.Contact{}, apiError(err)
	}
	return apiContact(c, false), nil
}

func (b ctlBackend) VerifyContact(ctx context.Context, name, fp string) (api.Contact, error) {
	c, err := b.d.VerifyContact(ctx, name, fp)
	if err != nil {
		return api.Contact{}, apiError(err)
	}
	return apiContact(c, false), nil
}

func (b ctlBackend) RemoveContact(ctx context.Context, name string) error {
	return apiError(b.d.RemoveContact(ctx, name))
}

func (b ctlBackend) Events(ctx context.Context, after int64, limit int) ([]api.Event, error) {
	evs, err := b.d.Events(ctx, after, limit)
	if err != nil {
		return nil, apiError(err)
	}
	out := make([]api.Event, len(evs))
	for i, e := range evs {
		out[i] = apiEvent(e)
	}
	return out, nil
}

func (b ctlBackend) WaitEvents(ctx context.Context, after int64) error {
	return b.d.store.WaitEvents(ctx, after)
}

func apiMessage(m store.Message) api.Message {
	return api.Message{
		ID: hex.EncodeToString(m.ID[:]), Peer: m.Peer, Direction: string(m.Direction),
		Body: string(m.Body), SentAt: m.SentAt.UTC(), State: string(m.State), Seq: m.Seq,
	}
}

// apiSession is how an online contact is reached.
func apiSession(s peer.SessionInfo) *api.Session {
	return &api.Session{Path: string(s.Path), RemoteAddr: s.RemoteAddr, RTTMillis: float64(s.RTT.Microseconds()) / 1000}
}

func apiContact(c store.Contact, online bool) api.Contact {
	return api.Contact{
		Name: c.Name, Fingerprint: record.Fingerprint(c.PublicKey), Verified: c.Verified,
		Online: online, AddedAt: c.AddedAt.UTC(), LastSeen: c.LastSeen.UTC(),
	}
}

func apiEvent(e store.Event) api.Event {
	out := api.Event{ID: e.ID, Type: e.Type, At: e.At.UTC(), Peer: e.Peer}
	if e.Message != nil {
		m := apiMessage(*e.Message)
		out.Message = &m
	}
	if len(e.Data) == 0 {
		return out
	}
	var data struct {
		Online  *bool  `json:"online"`
		Addr    string `json:"addr"`
		Path    string `json:"path"`
		Pinned  string `json:"pinned"`
		Offered string `json:"offered"`
		Source  string `json:"source"`
		Detail  string `json:"detail"`
	}
	if err := json.Unmarshal(e.Data, &data); err != nil {
		return out
	}
	out.Online, out.Addr, out.Path, out.Detail = data.Online, data.Addr, data.Path, data.Detail
	if e.Type == store.EventKeyMismatch {
		out.Detail = fmt.Sprintf("%s offered key %s but %s is pinned", data.Source, data.Offered, data.Pinned)
	}
	return out
}

// apiError turns the daemon's errors into the control API's typed errors,
// with hints for the user. Anything unrecognised stays as is and becomes a
// generic internal error at the server.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, ErrUnknownUser):
		return &api.Error{Code: api.CodeUnknownUser, Message: lower(err), Hint: "check the spelling; the user must have run chatd at least once to register"}
	case errors.Is(err, ErrKeyMismatch), errors.Is(err, store.ErrKeyMismatch):
		return &api.Error{Code: api.CodeKeyMismatch, Message: lower(err), Hint: "the contact's key changed: compare fingerprints with them out of band before trusting it"}
	case errors.Is(err, ErrFingerprintMismatch):
		return &api.Error{Code: api.CodeFingerprintMismatch, Message: lower(err), Hint: "ask the contact to read their fingerprint from 'chatctl whoami'"}
	case errors.Is(err, ErrBodyTooLarge):
		return &api.Error{Code: api.CodeTooLarge, Message: lower(err), Hint: "split the text into several messages"}
	case errors.Is(err, store.ErrNotFound):
		return &api.Error{Code: api.CodeNotFound, Message: lower(err), Hint: "see 'chatctl contacts'"}
	case errors.Is(err, ErrEmptyBody), errors.Is(err, store.ErrInvalid), errors.Is(err, record.ErrBadName):
		return &api.Error{Code: api.CodeBadRequest, Message: lower(err)}
	case errors.Is(err, ErrTrackerUnavailable):
		return &api.Error{Code: api.CodeUnavailable, Message: lower(err), Hint: "the tracker is unreachable; try again later"}
	}
	return err
}

// lower makes an error one lower-case-initial line, as the control API's
// messages are.
func lower(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

func (d *Daemon) portMapStatus() api.PortMap {
	switch {
	case !d.cfg.PortMap.Enabled:
		return api.PortMap{State: api.PortMapOff, Detail: "disabled in the configuration"}
	case d.portmap == nil:
		return api.PortMap{State: api.PortMapOff, Detail: "chatd listens on a loopback address"}
	}
	s := d.portmap.Status()
	out := api.PortMap{
		State: s.State, Method: s.Method, Gateway: s.Gateway, Expires: s.Expires,
		Permanent: s.Permanent, BehindNAT: s.BehindNAT, LastError: s.LastError,
	}
	if s.External.IsValid() {
		out.External = s.External.String()
	}
	return out
}

func (b ctlBackend) Requests(ctx context.Context) ([]api.Request, error) {
	rs, err := b.d.Requests(ctx)
	if err != nil {
		return nil, apiError(err)
	}
	out := make([]api.Request, len(rs))
	for i, r := range rs {
		out[i] = api.Request{
			Name: r.Name, Fingerprint: record.Fingerprint(r.PublicKey),
			FirstAt: r.FirstAt.UTC(), LastAt: r.LastAt.UTC(), Dropped: r.Dropped,
			Messages: make([]api.Message, len(r.Messages)),
		}
		for j, m := range r.Messages {
			out[i].Messages[j] = apiMessage(m)
		}
	}
	return out, nil
}

func (b ctlBackend) AcceptRequest(ctx context.Context, name string) (api.Contact, error) {
	c, err := b.d.AcceptRequest(ctx, name)
	if err != nil {
		return api.Contact{}, apiError(err)
	}
	return apiContact(c, false), nil
}

func (b ctlBackend) DeclineRequest(ctx context.Context, name string) error {
	return apiError(b.d.DeclineRequest(ctx, name))
}

func (b ctlBackend) Block(ctx context.Context, name string) (api.Blocked, error) {
	bl, err := b.d.Block(ctx, name)
	if err != nil {
		return api.Blocked{}, apiError(err)
	}
	return apiBlocked(bl), nil
}

func (b ctlBackend) Unblock(ctx context.Context, who string) error {
	return apiError(b.d.Unblock(ctx, who))
}

func (b ctlBackend) BlockList(ctx context.Context) ([]api.Blocked, error) {
	bs, err := b.d.BlockList(ctx)
	if err != nil {
		return nil, apiError(err)
	}
	out := make([]api.Blocked, len(bs))
	for i, bl := range bs {
		out[i] = apiBlocked(bl)
	}
	return out, nil
}

func apiBlocked(b store.Blocked) api.Blocked {
	return api.Blocked{Name: b.Name, Fingerprint: record.Fingerprint(b.PublicKey), BlockedAt: b.BlockedAt.UTC()}
}
