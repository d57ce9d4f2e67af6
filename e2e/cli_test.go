package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	hexID       = regexp.MustCompile(`^[0-9a-f]{32}$`)
	fingerprint = regexp.MustCompile(`^[A-Z0-9]{4}(-[A-Z0-9]{4})+$`)
)

// pair starts a tracker with alice and bob registered on it, each the
// other's contact.
func pair(t *testing.T) (e *testEnv, alice, bob *chatd) {
	t.Helper()
	e = newEnv(t)
	tr := e.startTracker()
	alice, bob = e.startDaemon("alice", tr.url), e.startDaemon("bob", tr.url)
	befriend(alice, bob)
	return e, alice, bob
}

func TestCLIAgainstRealDaemons(t *testing.T) {
	_, alice, bob := pair(t)

	id := strings.TrimSpace(alice.must("send", "bob", "hi"))
	if !hexID.MatchString(id) {
		t.Fatalf("send printed %q, want a 32-hex-digit message ID", id)
	}
	out := alice.must("send", "--wait", "bob", "second, with --wait")
	id2 := strings.TrimSpace(out)
	if !hexID.MatchString(id2) {
		t.Fatalf("send --wait printed %q, want the message ID", out)
	}
	// --wait returned 0, so the receipt came: no polling needed here.
	if st := stateOf(t, alice.history("bob"), id2); st != "delivered" {
		t.Errorf("after send --wait exited 0, alice sees state %q, want delivered", st)
	}
	alice.waitAllDelivered("bob")

	t.Run("history json", func(t *testing.T) {
		checkHistoryJSON(t, alice, "bob", "out", "delivered", []string{id, id2})
		checkHistoryJSON(t, bob, "alice", "in", "received", []string{id, id2})
	})
	t.Run("contacts", func(t *testing.T) {
		if out := alice.must("contacts"); !strings.Contains(out, "bob") {
			t.Errorf("alice's contacts do not list bob:\n%s", out)
		}
		cs := contactsJSON(t, bob)
		if len(cs) != 1 || cs[0].Name != "alice" {
			t.Errorf("bob's contacts --json = %+v, want alice alone", cs)
		}
	})
	t.Run("whoami and verify", func(t *testing.T) {
		name, fpr := whoami(t, bob)
		if name != "bob" || !fingerprint.MatchString(fpr) {
			t.Fatalf("bob's whoami: name %q fingerprint %q, want bob and XXXX-XXXX-...", name, fpr)
		}
		wrong := []byte(fpr)
		wrong[0] = map[bool]byte{true: 'B', false: 'A'}[wrong[0] == 'A']
		r := alice.ctl("verify", "bob", string(wrong))
		if r.code == 0 {
			t.Fatalf("verify with a wrong fingerprint exited 0: %s", r.stdout)
		}
		checkErrorLines(t, r, "fingerprint")
		if cs := contactsJSON(t, alice); len(cs) != 1 || cs[0].Verified {
			t.Errorf("after a failed verify, contacts say %+v, want bob unverified", cs)
		}
		alice.must("verify", "bob", fpr)
		cs := contactsJSON(t, alice)
		if len(cs) != 1 || cs[0].Name != "bob" || !cs[0].Verified || cs[0].Fingerprint != fpr {
			t.Errorf("after verify, contacts --json = %+v, want bob verified with %s", cs, fpr)
		}
		if out := alice.must("contacts"); !regexp.MustCompile(`(?m)^bob\s+` + regexp.QuoteMeta(fpr) + `\s+yes\b`).MatchString(out) {
			t.Errorf("contacts does not show bob verified:\n%s", out)
		}
	})
	t.Run("status json", func(t *testing.T) {
		st, ok := alice.status()
		if !ok || st.Name != "alice" || st.TrackerState != "registered" || !fingerprint.MatchString(st.Fingerprint) ||
			!strings.HasPrefix(st.ListenAddr, "127.0.0.1:") {
			t.Errorf("status --json = %+v (ok %v)", st, ok)
		}
	})
}

func stateOf(t *testing.T, ms []message, id string) string {
	t.Helper()
	for _, m := range ms {
		if m.ID == id {
			return m.State
		}
	}
	t.Fatalf("message %s not in history %+v", id, ms)
	return ""
}

// checkHistoryJSON checks the exact field set and values that scripts rely on.
func checkHistoryJSON(t *testing.T, d *chatd, peer, dir, state string, ids []string) {
	t.Helper()
	out := d.must("history", peer, "--json")
	var raw []map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%s: history --json is not a JSON array: %v\n%s", d.name, err, out)
	}
	if len(raw) != len(ids) {
		t.Fatalf("%s: %d messages in history, want %d:\n%s", d.name, len(raw), len(ids), out)
	}
	for i, m := range raw {
		for _, k := range []string{"id", "peer", "direction", "body", "sent_at", "state"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: history entry %d has no %q field: %v", d.name, i, k, m)
			}
		}
		if m["id"] != ids[i] || m["peer"] != peer || m["direction"] != dir || m["state"] != state {
			t.Errorf("%s: history entry %d = %v, want id %s peer %s direction %s state %s", d.name, i, m, ids[i], peer, dir, state)
		}
		at, _ := m["sent_at"].(string)
		if ts, err := time.Parse(time.RFC3339Nano, at); err != nil || time.Since(ts) > time.Hour || time.Until(ts) > time.Hour {
			t.Errorf("%s: sent_at %q is not a recent RFC 3339 time (%v)", d.name, at, err)
		}
	}
	if len(raw) == 2 && (raw[0]["body"] != "hi" || raw[1]["body"] != "second, with --wait") {
		t.Errorf("%s: bodies %q, %q", d.name, raw[0]["body"], raw[1]["body"])
	}
}

type contactJSON struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	Verified    bool   `json:"verified"`
	Online      bool   `json:"online"`
}

func contactsJSON(t *testing.T, d *chatd) []contactJSON {
	t.Helper()
	out := d.must("contacts", "--json")
	var cs []contactJSON
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatalf("%s: contacts --json: %v\n%s", d.name, err, out)
	}
	return cs
}

func whoami(t *testing.T, d *chatd) (name, fpr string) {
	t.Helper()
	text := strings.Split(strings.TrimSpace(d.must("whoami")), "\n")
	if len(text) != 2 || text[0] != d.name || text[1] != "fingerprint: "+strings.TrimPrefix(text[1], "fingerprint: ") {
		t.Errorf("whoami printed %q, want the name, then 'fingerprint: ...'", text)
	}
	var who struct{ Name, Fingerprint string }
	if err := json.Unmarshal([]byte(d.must("whoami", "--json")), &who); err != nil {
		t.Fatalf("whoami --json: %v", err)
	}
	if len(text) == 2 && text[1] != "fingerprint: "+who.Fingerprint {
		t.Errorf("whoami shows %q, --json says %q", text[1], who.Fingerprint)
	}
	return who.Name, who.Fingerprint
}

// checkErrorLines checks chatctl's error voice: one "chatctl: " line in
// lower case that mentions want, then at most a "hint: " line.
func checkErrorLines(t *testing.T, r result, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	first := lines[0]
	msg, ok := strings.CutPrefix(first, "chatctl: ")
	if !ok || msg == "" || strings.ToLower(msg[:1]) != msg[:1] {
		t.Errorf("first stderr line %q: want 'chatctl: ' and a lower-case message", first)
	}
	if !strings.Contains(strings.ToLower(first), want) {
		t.Errorf("error %q does not mention %q", first, want)
	}
	if len(lines) > 2 || (len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: ")) {
		t.Errorf("stderr has more than the error and a hint:\n%s", r.stderr)
	}
}
