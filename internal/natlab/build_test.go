package natlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

// Build makes a lab without a test; Close leaves nothing behind, and a
// failed Build tears down what it had built.
func TestBuild(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	if err := Check(); err != nil {
		New(t) // skips or fails
	}
	before := ownNamespaces(t)

	var h *Host
	lab, err := Build(Options{}, func(l *Lab) {
		h = l.AddRouter("home", RouterOptions{NAT: Cone}).AddHost("alice")
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := lab.dir
	cmd := h.Command(context.Background(), "sleep", "60")
	if err := cmd.Start(); err != nil {
		lab.Close()
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	if err := lab.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := lab.Close(); err != nil {
		t.Fatalf("Close again: %v", err)
	}
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not kill a command still running")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lab's directory %s is still there (%v)", dir, err)
	}
	if now := ownNamespaces(t); len(now) != len(before) {
		t.Errorf("namespaces after Close: %v, before Build: %v", now, before)
	}

	_, err = Build(Options{}, func(l *Lab) {
		l.AddPublicHost("twin")
		l.AddPublicHost("twin")
		t.Error("Build went on after an Add method failed")
	})
	if err == nil || !strings.Contains(err.Error(), `already has a node named "twin"`) {
		t.Fatalf("Build with a name used twice: %v", err)
	}
	if now := ownNamespaces(t); len(now) != len(before) {
		t.Errorf("namespaces after a failed Build: %v, before: %v", now, before)
	}
}

// ownNamespaces lists the lab namespaces of this test process.
func ownNamespaces(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), fmt.Sprintf("%s%d-", nsPrefix, os.Getpid())) {
			names = append(names, e.Name())
		}
	}
	return names
}
