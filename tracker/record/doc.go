// Package record defines the self-certifying user record that the tracker
// stores and serves, and every signature in the tracker protocol.
//
// A Record says "the user called Name holds PublicKey and can be reached at
// Addrs until Expires". Its owner signs it with Sign; anyone can check it
// with Signed.Verify, so clients never have to trust the tracker: the
// tracker only stores the signature and hands it back.
//
//	rec := record.Record{Name: "alice", PublicKey: pub, Addrs: []string{"192.0.2.1:7000"},
//		Seq: 1, Expires: time.Now().Add(time.Hour)}
//	signed, err := record.Sign(rec, priv)
//	...
//	err = signed.Verify() // nil when the record is well formed and signed by rec.PublicKey
//
// Every signature covers a domain-separated canonical encoding (see
// Record.Canonical), so a signature made for one purpose (a record, a key
// rotation, a deletion) never verifies for another. Seq orders a user's
// records: the tracker accepts an update only with a greater Seq, which is
// what makes a replayed request fail.
//
// Names are 1 to 32 characters: a lowercase ASCII letter, then lowercase
// letters, digits, '_' or '-' (the regular expression ^[a-z][a-z0-9_-]{0,31}$).
//
// Errors returned by validation and decoding wrap one of the sentinel errors
// (ErrBadName, ErrBadKey, ...) so that a server can map them to status codes
// with errors.Is.
package record
