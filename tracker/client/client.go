// Package client is the typed Go client of the tracker's HTTP API, used by
// chatd to announce itself and to find other users.
//
//	c := client.New("https://tracker.example.org", nil)
//	ann, err := c.Register(ctx, signed) // signed: a record.Signed from record.Sign
//	rec, ann, err := c.Lookup(ctx, "bob")
//	ann, err = c.Update(ctx, next, client.WithDialback()) // ann.Dialback: can peers dial us?
//	switch {
//	case errors.Is(err, client.ErrNotFound): // no such user
//	case errors.Is(err, client.ErrExpired):  // rec is bob's last record, now stale
//	}
//
// Lookup verifies the record's signature and name itself, so a lying
// tracker cannot substitute a record: at worst it can withhold one.
//
// The http.Client is injectable because chatd dials the tracker from its
// own listening port (SO_REUSEPORT), so that Announce.Observed is the
// NAT's mapping of that port. The default client uses no proxy for the same
// reason: a proxy would be the observed address.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// maxResponse bounds what the client reads from the tracker.
const maxResponse = 64 << 10

// Client talks to one tracker. The zero value is not usable; call New.
type Client struct {
	BaseURL string       // e.g. "https://tracker.example.org", no trailing slash needed
	HTTP    *http.Client // never nil after New
}

// New returns a client for the tracker at baseURL. A nil httpClient gets a
// default with dial, TLS and response timeouts and no proxy.
func New(baseURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = defaultHTTPClient()
	}
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: httpClient}
}

func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 15 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   2,
			ForceAttemptHTTP2:     true,
		},
	}
}

// Announce is what the tracker says about the caller after a register,
// update or lookup.
type Announce struct {
	// Observed is the address the tracker saw the request come from; the
	// zero value if the tracker did not say (or was behind a proxy that
	// hides it). A port of 0 means the tracker knew only the IP.
	Observed netip.AddrPort
	// ReannounceAfter is when to announce again (after a lookup: when the
	// looked-up record is worth fetching again).
	ReannounceAfter time.Duration
	// Dialback is the answer to WithDialback: whether the tracker could
	// connect back to Observed. DialbackNone when not asked for, or when
	// the tracker does not know the check.
	Dialback Dialback
}

type userResponse struct {
	Record          *record.Signed `json:"record"`
	ObservedAddr    string         `json:"observed_addr"`
	ReannounceAfter int64          `json:"reannounce_after"`
	Dialback        string         `json:"dialback"`
}

func (u userResponse) announce() Announce {
	obs, _ := netip.ParseAddrPort(u.ObservedAddr)
	return Announce{Observed: obs, ReannounceAfter: time.Duration(u.ReannounceAfter) * time.Second,
		Dialback: parseDialback(u.Dialback)}
}

// Register claims s.Name for s.PublicKey. ErrNameTaken if someone holds it.
func (c *Client) Register(ctx context.Context, s record.Signed, opts ...AnnounceOption) (Announce, error) {
	u, err := c.send(ctx, http.MethodPost, "/v1/users"+query(opts), s, http.StatusCreated)
	if err != nil {
		return Announce{}, fmt.Errorf("register %q: %w", s.Name, err)
	}
	return u.announce(), nil
}

// Update replaces the caller's record with s, signed by the same key and
// with a greater Seq (else ErrStaleSeq).
func (c *Client) Update(ctx context.Context, s record.Signed, opts ...AnnounceOption) (Announce, error) {
	u, err := c.send(ctx, http.MethodPut, "/v1/users/"+url.PathEscape(s.Name)+query(opts), updateRequest{Record: s}, http.StatusOK)
	if err != nil {
		return Announce{}, fmt.Errorf("update %q: %w", s.Name, err)
	}
	return u.announce(), nil
}

// Delete removes d.Name; sig is record.SignDeletion(d, key) and d.Seq must
// be greater than the registered record's.
func (c *Client) Delete(ctx context.Context, d record.Deletion, sig []byte) error {
	body := deleteRequest{PublicKey: d.PublicKey, Seq: d.Seq, Signature: sig}
	if _, err := c.send(ctx, http.MethodDelete, "/v1/users/"+url.PathEscape(d.Name), body, http.StatusNoContent); err != nil {
		return fmt.Errorf("delete %q: %w", d.Name, err)
	}
	return nil
}

// Lookup returns name's record after checking its signature and that it is
// for name. For an expired record it returns the record and an error that
// matches ErrExpired. A record that fails the checks is ErrBadRecord.
func (c *Client) Lookup(ctx context.Context, name string) (record.Signed, Announce, error) {
	if err := record.ValidateName(name); err != nil {
		return record.Signed{}, Announce{}, fmt.Errorf("look up: %w", err)
	}
	u, err := c.send(ctx, http.MethodGet, "/v1/users/"+name, nil, http.StatusOK)
	if err != nil && !isExpired(err) {
		return record.Signed{}, Announce{}, fmt.Errorf("look up %q: %w", name, err)
	}
	if u.Record == nil {
		return record.Signed{}, Announce{}, fmt.Errorf("look up %q: %w: the tracker sent no record", name, ErrBadRecord)
	}
	rec := *u.Record
	if verr := checkRecord(name, rec); verr != nil {
		return record.Signed{}, Announce{}, fmt.Errorf("look up %q: %w", name, verr)
	}
	if err != nil {
		return rec, u.announce(), fmt.Errorf("look up %q: %w", name, err)
	}
	return rec, u.announce(), nil
}

func checkRecord(name string, rec record.Signed) error {
	if rec.Name != name {
		return fmt.Errorf("%w: the tracker answered with the record of %q", ErrBadRecord, rec.Name)
	}
	if err := rec.Verify(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	return nil
}

type updateRequest struct {
	Record record.Signed `json:"record"`
}

type deleteRequest struct {
	PublicKey []byte `json:"public_key"`
	Seq       uint64 `json:"seq"`
	Signature []byte `json:"signature"`
}

// send does one request and decodes a userResponse from a reply with status
// want. A 410 also decodes the body, which carries the expired record.
func (c *Client) send(ctx context.Context, method, path string, body any, want int) (userResponse, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return userResponse{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return userResponse{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return userResponse{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return userResponse{}, fmt.Errorf("read tracker response: %w", err)
	}
	if resp.StatusCode != want {
		return decodeErrorBody(resp, data)
	}
	var u userResponse
	if want != http.StatusNoContent {
		if err := json.Unmarshal(data, &u); err != nil {
			return userResponse{}, fmt.Errorf("%w: tracker response is not JSON: %v", ErrBadRecord, err)
		}
	}
	return u, nil
}
