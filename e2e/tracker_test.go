package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Daemons started before their tracker keep retrying, tell the user they
// are not registered yet, and register and talk once it is up.
func TestTrackerDownAtFirst(t *testing.T) {
	e := newEnv(t)
	addr := freeAddr(t)
	alice, bob := e.newChatd("alice", "http://"+addr), e.newChatd("bob", "http://"+addr)
	alice.start()
	bob.start()
	for _, d := range []*chatd{alice, bob} {
		waitFor(t, d.name+" answers while the tracker is down", func() bool {
			st, ok := d.status()
			if ok && st.TrackerState == "registered" {
				t.Fatalf("%s says registered with no tracker running", d.name)
			}
			return ok && st.TrackerState != ""
		})
	}
	waitFor(t, "alice to have retried a few times", func() bool {
		return len(announceFailures(t, alice.p.out.String())) >= 4
	})
	if st, _ := alice.status(); !strings.HasPrefix(st.TrackerState, "not registered") {
		t.Errorf("tracker state while it is down: %q, want it to say not registered", st.TrackerState)
	}

	e.startTrackerAt(addr, filepath.Join(t.TempDir(), "tracker.db"))
	alice.waitRegistered()
	bob.waitRegistered()
	alice.must("send", "--wait", "bob", "the tracker is up")
	bob.must("send", "--wait", "alice", "so it is")
	alice.waitBodies("bob", []string{"out:the tracker is up", "in:so it is"})

	for _, d := range []*chatd{alice, bob} {
		checkBackoff(t, d.name, announceFailures(t, d.p.out.String()))
	}
}

// announceFailure is one "tracker announce failed; retrying" log line:
// when it was logged and how long chatd said it would wait.
type announceFailure struct {
	at      time.Time
	retryIn time.Duration
}

func announceFailures(t *testing.T, log string) []announceFailure {
	t.Helper()
	var out []announceFailure
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "tracker announce failed; retrying") {
			continue
		}
		// console format: TIME \t LEVEL \t [NAME \t] CALLER \t MESSAGE \t {JSON fields}
		f := strings.Split(l, "\t")
		at, err := time.Parse("2006-01-02T15:04:05.000Z0700", f[0])
		brace := strings.Index(l, "{")
		var fields struct {
			RetryIn float64 `json:"retry_in"`
		}
		if err != nil || brace < 0 || json.Unmarshal([]byte(l[brace:]), &fields) != nil {
			t.Fatalf("cannot parse chatd log line %q (time: %v)", l, err)
		}
		out = append(out, announceFailure{at, time.Duration(fields.RetryIn * float64(time.Second))})
	}
	return out
}

// checkBackoff checks that chatd waited at least as long as it said
// before each retry. A lower bound cannot flake: timers do not fire
// early. It catches a retry loop that ignores its backoff and hammers a
// tracker that is down or rate-limiting.
func checkBackoff(t *testing.T, name string, fs []announceFailure) {
	t.Helper()
	const logRounding = 2 * time.Millisecond // log timestamps have millisecond precision
	bad := 0
	for i := 1; i < len(fs); i++ {
		gap := fs[i].at.Sub(fs[i-1].at)
		if gap+logRounding < fs[i-1].retryIn {
			if bad < 3 {
				t.Errorf("%s retried the tracker %v after saying it would wait %v (attempt %d of %d)",
					name, gap, fs[i-1].retryIn, i+1, len(fs))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d tracker retries came before the announced backoff", name, bad, len(fs)-1)
	}
}
