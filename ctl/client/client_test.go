package client_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
)

func setup(t *testing.T) (*controltest.Backend, *client.Client) {
	t.Helper()
	controltest.CheckGoroutines(t)
	b := controltest.NewBackend("alice")
	b.AddUser("bob")
	c := &client.Client{Socket: controltest.Serve(t, b)}
	t.Cleanup(c.CloseIdleConnections)
	return b, c
}

func TestEveryRoute(t *testing.T) {
	b, c := setup(t)
	ctx := context.Background()

	st, err := c.Status(ctx)
	if err != nil || st.Name != "alice" || st.Fingerprint != controltest.Fingerprint("alice") {
		t.Fatalf("Status: %+v %v", st, err)
	}
	ct, err := c.AddContact(ctx, "bob")
	if err != nil || ct.Name != "bob" || ct.Verified {
		t.Fatalf("AddContact: %+v %v", ct, err)
	}
	ct, err = c.VerifyContact(ctx, "bob", controltest.Fingerprint("bob"))
	if err != nil || !ct.Verified {
		t.Fatalf("VerifyContact: %+v %v", ct, err)
	}
	cs, err := c.Contacts(ctx)
	if err != nil || len(cs) != 1 || !cs[0].Verified {
		t.Fatalf("Contacts: %+v %v", cs, err)
	}
	m, err := c.Send(ctx, "bob", "hi bob")
	if err != nil || m.State != api.StateQueued || len(m.ID) != 32 || m.Direction != api.DirectionOut {
		t.Fatalf("Send: %+v %v", m, err)
	}
	b.Receive("bob", "hi alice")
	got, err := c.Message(ctx, "bob", m.ID)
	if err != nil || got.Body != "hi bob" {
		t.Fatalf("Message: %+v %v", got, err)
	}
	hist, err := c.History(ctx, "bob", 0, 0)
	if err != nil || len(hist) != 2 || hist[0].Body != "hi bob" || hist[1].Direction != api.DirectionIn {
		t.Fatalf("History: %+v %v", hist, err)
	}
	older, err := c.History(ctx, "bob", 10, hist[1].Seq)
	if err != nil || len(older) != 1 || older[0].ID != m.ID {
		t.Fatalf("History before %d: %+v %v", hist[1].Seq, older, err)
	}
	if err := c.RemoveContact(ctx, "bob"); err != nil {
		t.Fatalf("RemoveContact: %v", err)
	}
	if cs, _ := c.Contacts(ctx); len(cs) != 0 {
		t.Fatalf("contact not removed: %+v", cs)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	_, c := setup(t)
	ctx := context.Background()
	_, err := c.Send(ctx, "bobb", "hi")
	if !errors.Is(err, api.ErrUnknownUser) {
		t.Errorf("send to unknown user: %v", err)
	}
	var ae *api.Error
	if !errors.As(err, &ae) || !strings.Contains(ae.Message, "bobb") {
		t.Errorf("error lost its message: %v", err)
	}
	if _, err := c.Send(ctx, "bob", strings.Repeat("x", api.MaxBodyBytes+1)); !errors.Is(err, api.ErrTooLarge) {
		t.Errorf("oversized message: %v", err)
	}
	if _, err := c.VerifyContact(ctx, "bob", "0000"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("verify non-contact: %v", err)
	}
	c.AddContact(ctx, "bob")
	if _, err := c.VerifyContact(ctx, "bob", "0000-0000"); !errors.Is(err, api.ErrFingerprintMismatch) {
		t.Errorf("verify wrong fingerprint: %v", err)
	}
	if _, err := c.Message(ctx, "bob", "ff"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unknown message: %v", err)
	}
}

func TestDaemonNotRunning(t *testing.T) {
	dir := t.TempDir()
	c := &client.Client{Socket: filepath.Join(dir, "nothing.sock")}
	_, err := c.Status(context.Background())
	if !errors.Is(err, client.ErrDaemonNotRunning) {
		t.Fatalf("no socket: got %v, want ErrDaemonNotRunning", err)
	}
	if !strings.Contains(err.Error(), "nothing.sock") {
		t.Errorf("error does not name the socket: %v", err)
	}
	if _, err := c.Watch(context.Background(), 0); !errors.Is(err, client.ErrDaemonNotRunning) {
		t.Fatalf("Watch with no socket: got %v", err)
	}
}

func TestWaitDelivered(t *testing.T) {
	b, c := setup(t)
	ctx := context.Background()
	st, _ := c.Status(ctx)
	m, err := c.Send(ctx, "bob", "are you there")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		d, err := c.WaitDelivered(ctx, "bob", m.ID, st.EventCursor)
		if err == nil && d.State != api.StateDelivered {
			err = fmt.Errorf("state %s", d.State)
		}
		got <- err
	}()
	b.Receive("bob", "unrelated")
	if err := b.Deliver("bob", m.ID); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("WaitDelivered: %v", err)
	}
}

func TestWaitDeliveredTimesOut(t *testing.T) {
	_, c := setup(t)
	st, _ := c.Status(context.Background())
	m, _ := c.Send(context.Background(), "bob", "into the void")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.WaitDelivered(ctx, "bob", m.ID, st.EventCursor)
	if !errors.Is(err, api.ErrNotDelivered) {
		t.Fatalf("got %v, want ErrNotDelivered", err)
	}
}
