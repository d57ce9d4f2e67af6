package main

import (
	"crypto/ed25519"
	"time"

	"github.com/p2pchat/p2pchat/tracker/record"
)

const defaultVerifyDuration = 3 * time.Second

// verifyRate checks one record's Ed25519 signature over and over on one
// goroutine (ed25519.Verify over the canonical bytes, the part of an
// update's work no server can skip) and returns verifications per second.
func verifyRate(d time.Duration) float64 {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	s, err := record.Sign(record.Record{
		Name: "load0000001", PublicKey: priv.Public().(ed25519.PublicKey),
		Addrs: []string{"127.0.0.1:10001"}, Seq: 1, Expires: time.Now().Add(time.Hour),
	}, priv)
	if err != nil {
		panic(err)
	}
	msg, pub := s.Canonical(), s.PublicKey
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		for range 100 {
			if !ed25519.Verify(pub, msg, s.Signature) {
				panic("a valid record failed to verify")
			}
		}
		n += 100
	}
	return float64(n) / time.Since(start).Seconds()
}
