package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// Consent as a user sees it with chatctl: a stranger's message waits in
// `chatctl requests`, not in the history, until accepted; a blocked key
// gets nothing in, whatever it sends.
func TestConsentWithChatctl(t *testing.T) {
	e := newEnv(t)
	tr := e.startTracker()
	alice, bob := e.startDaemon("alice", tr.url), e.startDaemon("bob", tr.url)
	mallory := e.startDaemon("mallory", tr.url)

	alice.must("send", "--wait", "bob", "hi bob, we met at the conference")
	if got := bob.bodies("alice"); len(got) != 0 {
		t.Fatalf("a stranger's message is in bob's history: %v", got)
	}
	if out := bob.must("status"); !strings.Contains(out, "1 waiting: chatctl requests") {
		t.Fatalf("chatctl status does not say a request waits:\n%s", out)
	}
	out := bob.must("requests")
	for _, want := range []string{"alice (fingerprint ", "1 message", "hi bob, we met at the conference", "chatctl accept alice"} {
		if !strings.Contains(out, want) {
			t.Fatalf("chatctl requests does not show %q:\n%s", want, out)
		}
	}
	var reqs []struct {
		Name     string `json:"name"`
		Messages []struct {
			Body string `json:"body"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(bob.must("requests", "--json")), &reqs); err != nil || len(reqs) != 1 || reqs[0].Name != "alice" || len(reqs[0].Messages) != 1 {
		t.Fatalf("chatctl requests --json = %+v, %v", reqs, err)
	}
	if out := bob.must("accept", "alice"); !strings.Contains(out, "accepted alice") {
		t.Fatalf("chatctl accept: %s", out)
	}
	bob.waitBodies("alice", []string{"in:hi bob, we met at the conference"})
	if out := bob.must("requests"); !strings.Contains(out, "no requests") {
		t.Fatalf("requests after accept:\n%s", out)
	}
	bob.must("send", "--wait", "alice", "nice to hear from you")
	alice.waitBodies("bob", []string{"out:hi bob, we met at the conference", "in:nice to hear from you"})

	mallory.must("send", "--wait", "bob", "cheap watches")
	if out := bob.must("block", "mallory"); !strings.Contains(out, "blocked mallory") {
		t.Fatalf("chatctl block: %s", out)
	}
	if out := bob.must("blocked"); !strings.Contains(out, "mallory") {
		t.Fatalf("chatctl blocked does not list mallory:\n%s", out)
	}
	r := mallory.ctl("send", "--wait", "--timeout", "3s", "bob", "cheaper watches")
	if r.code == 0 {
		t.Fatal("a blocked sender's message was delivered")
	}
	if out := bob.must("requests"); strings.Contains(out, "mallory") {
		t.Fatalf("a blocked key's messages were kept:\n%s", out)
	}
	if got := bob.bodies("mallory"); len(got) != 0 {
		t.Fatalf("a blocked key's messages reached the history: %v", got)
	}
	bob.must("unblock", "mallory")
	if out := bob.must("blocked"); !strings.Contains(out, "nobody is blocked") {
		t.Fatalf("chatctl blocked after unblock:\n%s", out)
	}
}
