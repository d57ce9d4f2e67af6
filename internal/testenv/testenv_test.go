package testenv

import "testing"

// recorder is a testing.TB that records instead of skipping or failing.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()      {}
func (r *recorder) Skip(...any)  { r.skipped = true }
func (r *recorder) Fatal(...any) { r.failed = true }

func TestSkipOrFail(t *testing.T) {
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	SkipOrFail(r, "no tool")
	if !r.skipped || r.failed {
		t.Fatalf("outside CI: skipped=%v failed=%v, want a skip", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	SkipOrFail(r, "no tool")
	if r.skipped || !r.failed {
		t.Fatalf("under CI: skipped=%v failed=%v, want a failure", r.skipped, r.failed)
	}
}

func TestPostgresURL(t *testing.T) {
	t.Setenv("CI", "true")
	t.Setenv("P2PCHAT_TEST_POSTGRES", "")
	r := &recorder{TB: t}
	PostgresURL(r)
	if !r.failed {
		t.Fatal("a missing database URL did not fail under CI")
	}
	t.Setenv("P2PCHAT_TEST_POSTGRES", "postgres://x@127.0.0.1/db")
	r = &recorder{TB: t}
	if got := PostgresURL(r); got != "postgres://x@127.0.0.1/db" || r.failed || r.skipped {
		t.Fatalf("PostgresURL = %q (failed=%v skipped=%v)", got, r.failed, r.skipped)
	}
}
