package slots

import (
	"net/netip"
	"testing"
)

func TestBounds(t *testing.T) {
	s := New(4, 2)
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	for i := range 2 {
		if _, ok := s.Take(a); !ok {
			t.Fatalf("take %d from a refused", i)
		}
	}
	if bound, ok := s.Take(a); ok || bound != PerSource {
		t.Fatalf("third from a: ok %v bound %q, want refused per source", ok, bound)
	}
	// The IPv4-mapped form of a is a, not a new source.
	if bound, ok := s.Take(netip.AddrFrom16(a.As16())); ok || bound != PerSource {
		t.Fatalf("a as ::ffff:10.0.0.1: ok %v bound %q, want refused per source", ok, bound)
	}
	if _, ok := s.Take(b); !ok {
		t.Fatal("b refused while a holds 2 of 4")
	}
	if _, ok := s.Take(netip.Addr{}); !ok {
		t.Fatal("a connection without an address refused while 3 of 4 are taken")
	}
	if bound, ok := s.Take(c); ok || bound != Total {
		t.Fatalf("fifth: ok %v bound %q, want refused by the total", ok, bound)
	}
	s.Release(a)
	if _, ok := s.Take(c); !ok {
		t.Fatal("c refused after a slot was released")
	}
	if _, ok := s.Take(a); ok {
		t.Fatal("a got a slot while the total is reached")
	}
	s.Release(netip.Addr{})
	if _, ok := s.Take(a); !ok {
		t.Fatal("a refused with 1 of its 2 and 3 of 4 taken")
	}
	for _, src := range []netip.Addr{a, a, b, c} {
		s.Release(src)
	}
	if n := s.InUse(); n != 0 || s.HeldBy(a) != 0 || len(s.bySource) != 0 {
		t.Fatalf("after releasing everything: %d in use, %d sources remembered", n, len(s.bySource))
	}
}
