// Package rowstate holds the rules both SQL backends share: which records
// can be stored, how addresses are encoded, and why a conditional write
// matched no row.
//
// The backends write with one conditional statement (INSERT ... ON CONFLICT
// DO UPDATE ... WHERE, UPDATE ... WHERE key AND seq). When it changes no
// row they read the row and ask this package for the reason. If the row now
// satisfies the conditions (another writer changed it in between), the
// answer is nil and the backend retries the write; so every error returned
// describes a state the row really was in, and each operation stays atomic.
package rowstate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/p2pchat/p2pchat/tracker/store"
)

// MaxAttempts bounds the write-read-retry loop; every retry means another
// writer succeeded in between, so running out needs a storm of writes to
// one name.
const MaxAttempts = 8

// Row is the part of a stored row the write conditions look at.
type Row struct {
	Found     bool
	Deleted   bool
	PublicKey []byte
	Seq       int64
	// KeySeen and KeySeq: for a create, whether the key being registered
	// ever held the name, and the highest seq it had (key_history).
	KeySeen bool
	KeySeq  int64
}

// Seq converts seq to the signed integer SQL stores. Values above
// math.MaxInt64 cannot be stored without breaking the seq comparison.
func Seq(seq uint64) (int64, error) {
	if seq > math.MaxInt64 {
		return 0, fmt.Errorf("%w: seq %d above %d", store.ErrInvalidRecord, seq, int64(math.MaxInt64))
	}
	return int64(seq), nil
}

// EncodeAddrs encodes addrs as a JSON array. JSON would silently replace
// invalid UTF-8, so such an address is refused rather than altered.
func EncodeAddrs(addrs []string) (string, error) {
	for _, a := range addrs {
		if !utf8.ValidString(a) {
			return "", fmt.Errorf("%w: address %q is not valid UTF-8", store.ErrInvalidRecord, a)
		}
	}
	if addrs == nil {
		addrs = []string{}
	}
	b, err := json.Marshal(addrs)
	if err != nil {
		return "", fmt.Errorf("encode addrs: %w", err)
	}
	return string(b), nil
}

// DecodeAddrs is the inverse of EncodeAddrs. An empty list decodes to nil.
func DecodeAddrs(s string) ([]string, error) {
	var addrs []string
	if err := json.Unmarshal([]byte(s), &addrs); err != nil {
		return nil, fmt.Errorf("decode addrs %q: %w", s, err)
	}
	if len(addrs) == 0 {
		return nil, nil
	}
	return addrs, nil
}

// WhyCreateFailed explains why the conditional insert of a record with key
// and seq changed nothing, given the row as read afterwards. nil means the
// insert would succeed now: retry.
func WhyCreateFailed(row Row, key []byte, seq int64) error {
	switch {
	case row.Found && !row.Deleted:
		return store.ErrExists
	case row.KeySeen && seq <= row.KeySeq:
		return store.ErrStaleSeq // a key the name had before: a replay
	case row.Found && bytes.Equal(row.PublicKey, key) && seq <= row.Seq:
		return store.ErrStaleSeq
	}
	return nil
}

// WhyWriteFailed explains why a conditional update or delete signed by
// signerKey with seq changed nothing. nil means it would succeed now: retry.
func WhyWriteFailed(row Row, signerKey []byte, seq int64) error {
	switch {
	case !row.Found || row.Deleted:
		return store.ErrNotFound
	case !bytes.Equal(row.PublicKey, signerKey):
		return store.ErrKeyMismatch
	case seq <= row.Seq:
		return store.ErrStaleSeq
	}
	return nil
}

// ErrContended is returned when MaxAttempts retries all lost to other writers.
var ErrContended = fmt.Errorf("record kept changing under concurrent writers after %d attempts", MaxAttempts)

// Columns is a record row as both backends store it; Record turns it back
// into a store.Record.
type Columns struct {
	PublicKey []byte
	Addrs     string
	Seq       int64
	Expires   int64
	Signature []byte
}

// Record rebuilds the record for name from its stored columns.
func (c Columns) Record(name string) (store.Record, error) {
	addrs, err := DecodeAddrs(c.Addrs)
	if err != nil {
		return store.Record{}, fmt.Errorf("get %q: %w", name, err)
	}
	return store.Record{
		Name: name, PublicKey: c.PublicKey, Addrs: addrs, Seq: uint64(c.Seq),
		Expires: time.Unix(c.Expires, 0).UTC(), Signature: c.Signature,
	}, nil
}

// Stored is rec as the store gives it back: expiry in whole seconds, in
// UTC, and no empty address list.
func Stored(rec store.Record) store.Record {
	rec.Expires = time.Unix(rec.Expires.Unix(), 0).UTC()
	if len(rec.Addrs) == 0 {
		rec.Addrs = nil
	}
	return rec
}
