package portmaptest

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// PMPOptions configures NewPMP.
type PMPOptions struct {
	PMP, PCP   bool   // which protocols to answer; the other's requests get no answer
	ExternalIP string // default 203.0.113.7
	// Epoch is the server's age at start, in seconds (default 1000), so a
	// Reboot, which sets it to 0, shows as an epoch going back.
	Epoch uint32
}

// PMP is a fake NAT-PMP (RFC 6886) and PCP (RFC 6887) server on port 5351.
type PMP struct {
	conn *net.UDPConn
	o    PMPOptions
	wg   sync.WaitGroup

	mu       sync.Mutex // guards below
	start    time.Time  // when the epoch was o.Epoch
	epoch0   uint32
	external netip.Addr
	mappings map[uint16]uint16 // internal port -> external port (TCP)
	requests int
}

// NewPMP starts a fake NAT-PMP/PCP server on addr:5351 and stops it when
// the test ends.
func NewPMP(t testing.TB, addr netip.Addr, o PMPOptions) *PMP {
	t.Helper()
	if o.ExternalIP == "" {
		o.ExternalIP = "203.0.113.7"
	}
	if o.Epoch == 0 {
		o.Epoch = 1000
	}
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 5351)))
	if err != nil {
		t.Fatalf("fake nat-pmp: %v", err)
	}
	s := &PMP{conn: c, o: o, start: time.Now(), epoch0: o.Epoch,
		external: netip.MustParseAddr(o.ExternalIP), mappings: map[uint16]uint16{}}
	s.wg.Go(s.serve)
	t.Cleanup(func() { c.Close(); s.wg.Wait() })
	return s
}

// Reboot drops the mappings and restarts the epoch at 0.
func (s *PMP) Reboot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start, s.epoch0 = time.Now(), 0
	clear(s.mappings)
}

// SetExternalIP moves the external address.
func (s *PMP) SetExternalIP(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.external = netip.MustParseAddr(ip)
}

// Mappings returns internal port -> external port.
func (s *PMP) Mappings() map[uint16]uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[uint16]uint16{}
	for k, v := range s.mappings {
		out[k] = v
	}
	return out
}

// Requests counts the requests answered.
func (s *PMP) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *PMP) serve() {
	buf := make([]byte, 1100)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var resp []byte
		s.mu.Lock()
		switch {
		case n >= 2 && buf[0] == 0 && s.o.PMP:
			resp = s.pmp(buf[:n])
		case n >= 24 && buf[0] == 2 && s.o.PCP:
			resp = s.pcp(buf[:n])
		}
		if resp != nil {
			s.requests++
		}
		s.mu.Unlock()
		if resp != nil {
			s.conn.WriteToUDPAddrPort(resp, from)
		}
	}
}

func (s *PMP) epoch() uint32 { return s.epoch0 + uint32(time.Since(s.start)/time.Second) }

// mapLocked gives internal a port (the wanted one if free), or deletes its
// mapping when life is 0.
func (s *PMP) mapLocked(internal, want uint16, life uint32) uint16 {
	if life == 0 {
		delete(s.mappings, internal)
		return 0
	}
	if p, ok := s.mappings[internal]; ok {
		return p
	}
	used := map[uint16]bool{}
	for _, p := range s.mappings {
		used[p] = true
	}
	if want == 0 {
		want = internal
	}
	for used[want] {
		want++
	}
	s.mappings[internal] = want
	return want
}

func (s *PMP) pmp(req []byte) []byte {
	switch req[1] {
	case 0:
		b := make([]byte, 12)
		b[1] = 128
		binary.BigEndian.PutUint32(b[4:8], s.epoch())
		a := s.external.As4()
		copy(b[8:12], a[:])
		return b
	case 2:
		if len(req) < 12 {
			return nil
		}
		in, want, life := binary.BigEndian.Uint16(req[4:6]), binary.BigEndian.Uint16(req[6:8]), binary.BigEndian.Uint32(req[8:12])
		ext := s.mapLocked(in, want, life)
		b := make([]byte, 16)
		b[1] = 130
		binary.BigEndian.PutUint32(b[4:8], s.epoch())
		binary.BigEndian.PutUint16(b[8:10], in)
		binary.BigEndian.PutUint16(b[10:12], ext)
		binary.BigEndian.PutUint32(b[12:16], life)
		return b
	}
	return nil
}

func (s *PMP) pcp(req []byte) []byte {
	op := req[1]
	life := binary.BigEndian.Uint32(req[4:8])
	resp := make([]byte, 24)
	resp[0], resp[1] = 2, op|0x80
	binary.BigEndian.PutUint32(resp[8:12], s.epoch())
	switch {
	case op == 0:
		return resp
	case op == 1 && len(req) >= 60:
		m := req[24:60]
		in, want := binary.BigEndian.Uint16(m[16:18]), binary.BigEndian.Uint16(m[18:20])
		ext := s.mapLocked(in, want, life)
		binary.BigEndian.PutUint32(resp[4:8], life)
		body := make([]byte, 36)
		copy(body, m[:12])
		body[12] = m[12]
		binary.BigEndian.PutUint16(body[16:18], in)
		binary.BigEndian.PutUint16(body[18:20], ext)
		a := netip.AddrFrom4(s.external.As4()).As16()
		copy(body[20:36], a[:])
		return append(resp, body...)
	}
	resp[3] = 4 // unsupported opcode
	return resp
}
