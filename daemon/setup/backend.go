package setup

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// backend answers the control API while chatd has no name.
type backend struct {
	cfg     Config
	id      *identity.Identity
	log     *zap.Logger
	started time.Time
	done    chan config.Account // gets the account once, after init

	mu   sync.Mutex // serializes Init; guards acct
	acct config.Account
}

var (
	_ control.Backend     = (*backend)(nil)
	_ control.Initializer = (*backend)(nil)
)

// errNoName answers everything but status and init.
var errNoName = &api.Error{Code: api.CodeNoName, Message: "chatd has no name yet",
	Hint: "choose one with 'chatctl init NAME [--tracker URL]'"}

const nameHint = "a name is 1-32 characters: a lowercase letter, then lowercase letters, digits, '-' or '_'"

func (b *backend) Init(ctx context.Context, req api.InitRequest) (api.InitResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	tracker := req.Tracker
	if tracker == "" {
		tracker = b.cfg.Tracker
	}
	if b.acct.Name != "" { // a second init raced the first
		if req.Name == b.acct.Name && tracker == b.acct.Tracker {
			return b.result(false), nil
		}
		return api.InitResult{}, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("chatd already has the name %q", b.acct.Name)}
	}
	if err := record.ValidateName(req.Name); err != nil {
		return api.InitResult{}, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("%q is not a valid name", req.Name), Hint: nameHint}
	}
	if err := validTracker(tracker); err != nil {
		return api.InitResult{}, &api.Error{Code: api.CodeBadRequest,
			Message: fmt.Sprintf("tracker url %q is not an http or https url", tracker),
			Hint:    "for example: chatctl init " + req.Name + " --tracker https://tracker.example.org"}
	}
	if err := register(ctx, client.New(tracker, b.cfg.HTTP), req.Name, b.id); err != nil {
		if errors.Is(err, errTaken) {
			return api.InitResult{}, &api.Error{Code: api.CodeNameTaken,
				Message: fmt.Sprintf("the name %q is taken on %s", req.Name, tracker),
				Hint:    "choose another name: chatctl init OTHER-NAME"}
		}
		b.log.Warn("init: register failed", zap.String("name", req.Name), zap.String("tracker", tracker), zap.Error(err))
		return api.InitResult{}, &api.Error{Code: api.CodeUnavailable,
			Message: fmt.Sprintf("cannot register %q on %s: %s", req.Name, tracker, lower(err)),
			Hint:    "check the tracker url (--tracker) and your network, then run chatctl init again"}
	}
	acct := config.Account{Name: req.Name, Tracker: tracker}
	if err := config.WriteAccount(b.cfg.DataDir, acct); err != nil {
		return api.InitResult{}, err
	}
	b.log.Info("registered name", zap.String("name", acct.Name), zap.String("tracker", tracker))
	b.acct = acct
	b.done <- acct
	return b.result(true), nil
}

func (b *backend) result(initialized bool) api.InitResult {
	return api.InitResult{Name: b.acct.Name, Tracker: b.acct.Tracker, Fingerprint: b.id.Fingerprint(), Initialized: initialized}
}

// errTaken means another key holds the name.
var errTaken = errors.New("name taken")

// register claims name for id's key with a record without addresses
// (chatd's presence loop publishes them as soon as it runs). The name
// already being ours is success.
func register(ctx context.Context, tc *client.Client, name string, id *identity.Identity) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	defer tc.HTTP.CloseIdleConnections()
	now := time.Now()
	signed, err := record.Sign(record.Record{
		Name: name, PublicKey: id.Public, Seq: uint64(now.UnixMicro()),
		Expires: now.Add(time.Hour).Truncate(time.Second),
	}, id.Private)
	if err != nil {
		return fmt.Errorf("sign record: %w", err)
	}
	_, err = tc.Register(ctx, signed)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrKeyMismatch):
		return errTaken
	case errors.Is(err, client.ErrNameTaken), errors.Is(err, client.ErrStaleSeq):
		cur, _, err := tc.Lookup(ctx, name)
		if err != nil && !errors.Is(err, client.ErrExpired) {
			return fmt.Errorf("look up %q: %w", name, err)
		}
		if !bytes.Equal(cur.PublicKey, id.Public) {
			return errTaken
		}
		return nil
	default:
		return err
	}
}

func (b *backend) Status(ctx context.Context) (api.Status, error) {
	return api.Status{
		Fingerprint:   b.id.Fingerprint(),
		PublicKey:     base64.StdEncoding.EncodeToString(b.id.Public),
		TrackerState:  "no name yet: run 'chatctl init NAME'",
		Version:       b.cfg.Version,
		UptimeSeconds: time.Since(b.started).Seconds(),
	}, nil
}

func (b *backend) Send(context.Context, string, string) (api.Message, error) {
	return api.Message{}, errNoName
}

func (b *backend) Message(context.Context, string, string) (api.Message, error) {
	return api.Message{}, errNoName
}

func (b *backend) History(context.Context, string, int, int64) ([]api.Message, error) {
	return nil, errNoName
}

func (b *backend) Contacts(context.Context) ([]api.Contact, error) { return nil, errNoName }

func (b *backend) AddContact(context.Context, string) (api.Contact, error) {
	return api.Contact{}, errNoName
}

func (b *backend) VerifyContact(context.Context, string, string) (api.Contact, error) {
	return api.Contact{}, errNoName
}

func (b *backend) RemoveContact(context.Context, string) error { return errNoName }

func (b *backend) Requests(context.Context) ([]api.Request, error) { return nil, errNoName }

func (b *backend) AcceptRequest(context.Context, string) (api.Contact, error) {
	return api.Contact{}, errNoName
}

func (b *backend) DeclineRequest(context.Context, string) error { return errNoName }

func (b *backend) Block(context.Context, string) (api.Blocked, error) {
	return api.Blocked{}, errNoName
}

func (b *backend) Unblock(context.Context, string) error { return errNoName }

func (b *backend) BlockList(context.Context) ([]api.Blocked, error) { return nil, errNoName }

func (b *backend) Events(context.Context, int64, int) ([]api.Event, error) { return nil, errNoName }

func (b *backend) WaitEvents(context.Context, int64) error { return errNoName }

// lower makes an error message one lower-case-initial line.
func lower(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
