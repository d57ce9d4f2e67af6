package client

import (
	"context"
	"net/http"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// Status describes the daemon; its EventCursor is where to Watch from to
// see only what happens next.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var st api.Status
	err := c.do(ctx, http.MethodGet, api.PathStatus, nil, &st)
	return st, err
}

// Send queues body for to and returns the message in state queued.
func (c *Client) Send(ctx context.Context, to, body string) (api.Message, error) {
	var m api.Message
	err := c.do(ctx, http.MethodPost, api.PathSend, api.SendRequest{To: to, Body: body}, &m)
	return m, err
}

// Message returns one message's current state.
func (c *Client) Message(ctx context.Context, peer, id string) (api.Message, error) {
	var m api.Message
	err := c.do(ctx, http.MethodGet, api.MessagePath(peer, id), nil, &m)
	return m, err
}

// History returns up to limit messages with peer (0: the daemon's default)
// older than sequence number before (0: the newest), oldest first.
func (c *Client) History(ctx context.Context, peer string, limit int, before int64) ([]api.Message, error) {
	var ms []api.Message
	err := c.do(ctx, http.MethodGet, api.HistoryPath(peer, limit, before), nil, &ms)
	return ms, err
}

// LastMessages returns the newest n messages with peer, oldest first,
// paging back api.MaxHistoryPage at a time.
func (c *Client) LastMessages(ctx context.Context, peer string, n int) ([]api.Message, error) {
	var all []api.Message
	var before int64
	for len(all) < n {
		page := min(n-len(all), api.MaxHistoryPage)
		ms, err := c.History(ctx, peer, page, before)
		if err != nil {
			return nil, err
		}
		all = append(ms, all...)
		if len(ms) < page {
			break
		}
		before = ms[0].Seq
	}
	return all, nil
}

// Contacts lists the pinned contacts.
func (c *Client) Contacts(ctx context.Context) ([]api.Contact, error) {
	var cs []api.Contact
	err := c.do(ctx, http.MethodGet, api.PathContacts, nil, &cs)
	return cs, err
}

// AddContact looks name up on the tracker and pins its key.
func (c *Client) AddContact(ctx context.Context, name string) (api.Contact, error) {
	var ct api.Contact
	err := c.do(ctx, http.MethodPost, api.PathContacts, api.AddContactRequest{Name: name}, &ct)
	return ct, err
}

// VerifyContact marks name verified if fingerprint matches its pinned key.
func (c *Client) VerifyContact(ctx context.Context, name, fingerprint string) (api.Contact, error) {
	var ct api.Contact
	err := c.do(ctx, http.MethodPost, api.VerifyPath(name), api.VerifyRequest{Fingerprint: fingerprint}, &ct)
	return ct, err
}

// RemoveContact forgets name and its pinned key.
func (c *Client) RemoveContact(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, api.ContactPath(name), nil, nil)
}

// Requests lists what strangers sent, most recently active first.
func (c *Client) Requests(ctx context.Context) ([]api.Request, error) {
	var rs []api.Request
	err := c.do(ctx, http.MethodGet, api.PathRequests, nil, &rs)
	return rs, err
}

// AcceptRequest makes name a contact and moves its request into the
// history.
func (c *Client) AcceptRequest(ctx context.Context, name string) (api.Contact, error) {
	var ct api.Contact
	err := c.do(ctx, http.MethodPost, api.AcceptPath(name), nil, &ct)
	return ct, err
}

// DeclineRequest deletes name's request.
func (c *Client) DeclineRequest(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, api.RequestPath(name), nil, nil)
}

// Block puts name's key on the block list.
func (c *Client) Block(ctx context.Context, name string) (api.Blocked, error) {
	var b api.Blocked
	err := c.do(ctx, http.MethodPost, api.PathBlocked, api.BlockRequest{Name: name}, &b)
	return b, err
}

// Unblock takes a key off the block list, by the name it was blocked
// under or its fingerprint.
func (c *Client) Unblock(ctx context.Context, who string) error {
	return c.do(ctx, http.MethodDelete, api.BlockedPath(who), nil, nil)
}

// BlockList lists the blocked keys.
func (c *Client) BlockList(ctx context.Context) ([]api.Blocked, error) {
	var bs []api.Blocked
	err := c.do(ctx, http.MethodGet, api.PathBlocked, nil, &bs)
	return bs, err
}
