// Package controltest provides an in-memory control.Backend and a helper
// that serves it on a temporary Unix socket, for testing control clients
// (ctl/client, chatctl) without a real daemon:
//
//	b := controltest.NewBackend("alice")
//	b.AddUser("bob")
//	sock := controltest.Serve(t, b)
//	c := &client.Client{Socket: sock}
//
// The backend keeps contacts, conversations and an event log. Tests drive
// the far side with Receive, Deliver and SetOnline; AutoDeliver makes every
// sent message delivered at once.
package controltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// Backend is an in-memory control.Backend. The zero value is not usable;
// call NewBackend.
type Backend struct {
	name string

	mu          sync.Mutex        // guards every field below
	users       map[string]string // tracker: name → fingerprint
	contacts    map[string]*api.Contact
	convs       map[string][]api.Message
	requests    map[string]*api.Request
	blocked     []api.Blocked
	seq         int64
	events      []api.Event
	changed     chan struct{} // closed and replaced on every new event
	autoDeliver bool
	now         func() time.Time
}

// NewBackend returns a backend for the local user name.
func NewBackend(name string) *Backend {
	return &Backend{
		name:     name,
		users:    map[string]string{name: Fingerprint(name)},
		contacts: map[string]*api.Contact{},
		convs:    map[string][]api.Message{},
		requests: map[string]*api.Request{},
		changed:  make(chan struct{}),
		now:      time.Now,
	}
}

// Fingerprint is the made-up fingerprint the fake tracker gives name.
func Fingerprint(name string) string {
	h := hex.EncodeToString([]byte(name + "________"))[:16]
	return h[0:4] + "-" + h[4:8] + "-" + h[8:12] + "-" + h[12:16]
}

// AddUser registers name on the fake tracker, so AddContact and Send find it.
func (b *Backend) AddUser(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users[name] = Fingerprint(name)
}

// SetAutoDeliver makes every later Send deliver its message at once
// (a "sent" and a "delivered" event follow the send).
func (b *Backend) SetAutoDeliver(on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.autoDeliver = on
}

// Unregister deletes the user from the fake tracker.
func (b *Backend) Unregister(ctx context.Context) (api.UnregisterResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.users, b.name)
	return api.UnregisterResult{Name: b.name, Tracker: "http://tracker.test"}, nil
}

// Registered reports whether the user is on the fake tracker.
func (b *Backend) Registered() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.users[b.name]
	return ok
}

func (b *Backend) Status(ctx context.Context) (api.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return api.Status{
		Name:         b.name,
		Fingerprint:  Fingerprint(b.name),
		PublicKey:    "AAAA",
		ListenAddr:   "127.0.0.1:7500",
		TrackerState: "registered",
		Sessions:     len(b.contacts),
		Version:      "test",
		EventCursor:  int64(len(b.events)),
	}, nil
}

func (b *Backend) Send(ctx context.Context, to, body string) (api.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.knownLocked(to); err != nil {
		return api.Message{}, err
	}
	m := b.appendLocked(api.Message{ID: newID(), Peer: to, Direction: api.DirectionOut, Body: body, State: api.StateQueued})
	if b.autoDeliver {
		b.setStateLocked(to, m.ID, api.StateSent, api.EventSent)
		b.setStateLocked(to, m.ID, api.StateDelivered, api.EventDelivered)
	}
	return m, nil
}

func (b *Backend) knownLocked(name string) error {
	if _, ok := b.users[name]; !ok {
		return &api.Error{Code: api.CodeUnknownUser, Message: fmt.Sprintf("no user %q on the tracker", name)}
	}
	return nil
}

// Receive stores an incoming message from peer and emits its event.
func (b *Backend) Receive(peer, body string) api.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.appendLocked(api.Message{ID: newID(), Peer: peer, Direction: api.DirectionIn, Body: body, State: api.StateReceived})
	b.emitLocked(api.Event{Type: api.EventMessage, Peer: peer, Message: &m})
	return m
}

// Deliver marks an outgoing message delivered, as a peer's receipt would.
func (b *Backend) Deliver(peer, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.setStateLocked(peer, id, api.StateDelivered, api.EventDelivered)
}

// SetOnline emits a presence event for peer.
func (b *Backend) SetOnline(peer string, online bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.contacts[peer]; ok {
		c.Online = online
		c.LastSeen = b.now().UTC()
	}
	b.emitLocked(api.Event{Type: api.EventPresence, Peer: peer, Online: &online, Addr: "127.0.0.1:7501"})
}

// Emit appends an arbitrary event (its ID and time are filled in).
func (b *Backend) Emit(ev api.Event) api.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.emitLocked(ev)
}

func (b *Backend) appendLocked(m api.Message) api.Message {
	b.seq++
	m.Seq = b.seq
	m.SentAt = b.now().UTC()
	b.convs[m.Peer] = append(b.convs[m.Peer], m)
	return m
}

func (b *Backend) setStateLocked(peer, id, state, evType string) error {
	conv := b.convs[peer]
	for i := range conv {
		if conv[i].ID == id {
			conv[i].State = state
			m := conv[i]
			b.emitLocked(api.Event{Type: evType, Peer: peer, Message: &m})
			return nil
		}
	}
	return &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no message %s with %s", id, peer)}
}

func (b *Backend) emitLocked(ev api.Event) api.Event {
	ev.ID = int64(len(b.events)) + 1
	ev.At = b.now().UTC()
	b.events = append(b.events, ev)
	close(b.changed)
	b.changed = make(chan struct{})
	return ev
}

func (b *Backend) Message(ctx context.Context, peer, id string) (api.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.convs[peer] {
		if m.ID == id {
			return m, nil
		}
	}
	return api.Message{}, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no message %s with %s", id, peer)}
}

func (b *Backend) History(ctx context.Context, peer string, limit int, beforeSeq int64) ([]api.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.knownLocked(peer); err != nil {
		return nil, err
	}
	var out []api.Message
	for _, m := range b.convs[peer] {
		if beforeSeq == 0 || m.Seq < beforeSeq {
			out = append(out, m)
		}
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

func (b *Backend) Contacts(ctx context.Context) ([]api.Contact, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]api.Contact, 0, len(b.contacts))
	for _, c := range b.contacts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (b *Backend) AddContact(ctx context.Context, name string) (api.Contact, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.knownLocked(name); err != nil {
		return api.Contact{}, err
	}
	if c, ok := b.contacts[name]; ok {
		return *c, nil
	}
	c := &api.Contact{Name: name, Fingerprint: b.users[name], AddedAt: b.now().UTC()}
	b.contacts[name] = c
	b.emitLocked(api.Event{Type: api.EventContact, Peer: name, Detail: "added"})
	return *c, nil
}

func (b *Backend) VerifyContact(ctx context.Context, name, fingerprint string) (api.Contact, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.contacts[name]
	if !ok {
		return api.Contact{}, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("%s is not a contact", name)}
	}
	if fingerprint != c.Fingerprint {
		return api.Contact{}, &api.Error{Code: api.CodeFingerprintMismatch,
			Message: fmt.Sprintf("fingerprint does not match %s's key", name)}
	}
	c.Verified = true
	b.emitLocked(api.Event{Type: api.EventContact, Peer: name, Detail: "verified"})
	return *c, nil
}

func (b *Backend) RemoveContact(ctx context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.contacts[name]; !ok {
		return &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("%s is not a contact", name)}
	}
	delete(b.contacts, name)
	b.emitLocked(api.Event{Type: api.EventContact, Peer: name, Detail: "removed"})
	return nil
}

func (b *Backend) Events(ctx context.Context, after int64, limit int) ([]api.Event, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if after >= int64(len(b.events)) {
		return nil, nil
	}
	evs := b.events[after:]
	if len(evs) > limit {
		evs = evs[:limit]
	}
	return append([]api.Event(nil), evs...), nil
}

func (b *Backend) WaitEvents(ctx context.Context, after int64) error {
	b.mu.Lock()
	if int64(len(b.events)) > after {
		b.mu.Unlock()
		return nil
	}
	ch := b.changed
	b.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Request keeps a message from peer, who is not a contact, as a request
// (peer is registered on the fake tracker).
func (b *Backend) Request(peer, body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users[peer] = Fingerprint(peer)
	r := b.requests[peer]
	if r == nil {
		r = &api.Request{Name: peer, Fingerprint: Fingerprint(peer), FirstAt: b.now().UTC()}
		b.requests[peer] = r
	}
	r.LastAt = b.now().UTC()
	r.Messages = append(r.Messages, api.Message{ID: newID(), Peer: peer, Direction: api.DirectionIn,
		Body: body, State: api.StateReceived, SentAt: b.now().UTC()})
	b.emitLocked(api.Event{Type: api.EventRequest, Peer: peer, Detail: "received"})
}

func (b *Backend) Requests(ctx context.Context) ([]api.Request, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]api.Request, 0, len(b.requests))
	for _, r := range b.requests {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastAt.After(out[j].LastAt) })
	return out, nil
}

func (b *Backend) noRequest(name string) error {
	return &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no request from %s", name)}
}

func (b *Backend) AcceptRequest(ctx context.Context, name string) (api.Contact, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.requests[name]
	if !ok {
		return api.Contact{}, b.noRequest(name)
	}
	delete(b.requests, name)
	c := &api.Contact{Name: name, Fingerprint: r.Fingerprint, AddedAt: b.now().UTC()}
	b.contacts[name] = c
	for _, m := range r.Messages {
		m = b.appendLocked(m)
		b.emitLocked(api.Event{Type: api.EventMessage, Peer: name, Message: &m})
	}
	b.emitLocked(api.Event{Type: api.EventRequest, Peer: name, Detail: "accepted"})
	return *c, nil
}

func (b *Backend) DeclineRequest(ctx context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.requests[name]; !ok {
		return b.noRequest(name)
	}
	delete(b.requests, name)
	b.emitLocked(api.Event{Type: api.EventRequest, Peer: name, Detail: "declined"})
	return nil
}

func (b *Backend) Block(ctx context.Context, name string) (api.Blocked, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fp, ok := b.users[name]
	if !ok {
		return api.Blocked{}, b.knownLocked(name)
	}
	delete(b.requests, name)
	delete(b.contacts, name)
	bl := api.Blocked{Name: name, Fingerprint: fp, BlockedAt: b.now().UTC()}
	b.blocked = append(b.blocked, bl)
	b.emitLocked(api.Event{Type: api.EventRequest, Peer: name, Detail: "blocked"})
	return bl, nil
}

func (b *Backend) Unblock(ctx context.Context, who string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, bl := range b.blocked {
		if bl.Name == who || bl.Fingerprint == who {
			b.blocked = append(b.blocked[:i], b.blocked[i+1:]...)
			return nil
		}
	}
	return &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("%s is not on the block list", who)}
}

func (b *Backend) BlockList(ctx context.Context) ([]api.Blocked, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]api.Blocked(nil), b.blocked...), nil
}
