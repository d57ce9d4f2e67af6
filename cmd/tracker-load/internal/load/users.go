package load

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// UserName is the name of synthetic user i.
func UserName(prefix string, i int) string { return fmt.Sprintf("%s%07d", prefix, i) }

// UserKey derives user name's key from seed. Anyone who knows the seed can
// sign for these users: they are test users, never real ones.
func UserKey(seed, name string) ed25519.PrivateKey {
	h := sha256.Sum256([]byte("p2pchat/tracker-load/v1\x00" + seed + "\x00" + name))
	return ed25519.NewKeyFromSeed(h[:])
}

// signedRecord returns user i's record at seq, signed by its key. Its
// address is on loopback so that nothing ever dials it elsewhere.
func (c Config) signedRecord(i int, seq uint64, now time.Time) (record.Signed, error) {
	name := UserName(c.Prefix, i)
	priv := UserKey(c.Seed, name)
	return record.Sign(record.Record{
		Name:      name,
		PublicKey: priv.Public().(ed25519.PublicKey),
		Addrs:     []string{fmt.Sprintf("127.0.0.1:%d", 10000+i%50000)},
		Seq:       seq,
		Expires:   now.Add(c.TTL),
	}, priv)
}
