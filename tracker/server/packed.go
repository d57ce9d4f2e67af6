package server

import (
	"bytes"
	"encoding/binary"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// A record's JSON, as record.Signed.AppendJSON writes it, is a template
// of constant field names around six pieces of text:
//
//	{"name":"NAME","public_key":"KEY","addrs":[ADDRS],"seq":SEQ,"expires":EXPIRES,"signature":"SIG"}
//
// The lookup cache keeps the pieces after the name, each after its
// length (ADDRS in two bytes, the others in one), and a lookup writes
// them back between the constants: the bytes are still encoded once, when
// the record is written, but a million records take 60 MB less. The name
// comes from the request.
const (
	jsonName      = `{"name":"`
	jsonKey       = `","public_key":"`
	jsonAddrs     = `","addrs":[`
	jsonSeq       = `],"seq":`
	jsonExpires   = `,"expires":`
	jsonSignature = `,"signature":"`
	jsonEnd       = `"}`
)

// packRecord appends rec's packed pieces to dst; ok is false (and dst
// unchanged) for a record whose pieces do not fit their lengths or whose
// name is not a valid one, which the cache then does not keep.
func packRecord(dst []byte, rec record.Signed) (_ []byte, ok bool) {
	if record.ValidateName(rec.Name) != nil {
		return dst, false
	}
	// Scratch space on the stack: a cache refresh runs in the store's
	// committer, once per update, and garbage there costs every update.
	var jsonBuf, backBuf [512]byte
	json := rec.AppendJSON(jsonBuf[:0])
	rest, ok := bytes.CutPrefix(json, []byte(jsonName+rec.Name+jsonKey))
	if !ok {
		return dst, false
	}
	// The pieces after ADDRS are digits and base64, so the last `],"seq":`
	// ends ADDRS whatever its strings hold.
	key, rest, ok1 := bytes.Cut(rest, []byte(jsonAddrs))
	cut := bytes.LastIndex(rest, []byte(jsonSeq))
	if !ok1 || cut < 0 {
		return dst, false
	}
	addrs, rest := rest[:cut], rest[cut+len(jsonSeq):]
	seq, rest, ok2 := bytes.Cut(rest, []byte(jsonExpires))
	exp, rest, ok3 := bytes.Cut(rest, []byte(jsonSignature))
	sig, ok4 := bytes.CutSuffix(rest, []byte(jsonEnd))
	if !ok2 || !ok3 || !ok4 || len(key) > 255 || len(addrs) > 0xffff || len(seq) > 255 || len(exp) > 255 || len(sig) > 255 {
		return dst, false
	}
	start := len(dst)
	dst = append(append(dst, byte(len(key))), key...)
	dst = append(binary.LittleEndian.AppendUint16(dst, uint16(len(addrs))), addrs...)
	dst = append(append(dst, byte(len(seq))), seq...)
	dst = append(append(dst, byte(len(exp))), exp...)
	dst = append(append(dst, byte(len(sig))), sig...)
	// A record that does not come back the same is not kept.
	if !bytes.Equal(unpackRecord(backBuf[:0], rec.Name, dst[start:]), json) {
		return dst[:start], false
	}
	return dst, true
}

// unpackRecord appends the JSON of the record for name that packed holds.
func unpackRecord(dst []byte, name string, packed []byte) []byte {
	p := unpacker{b: packed}
	dst = append(dst, jsonName...)
	dst = append(dst, name...)
	dst = append(dst, jsonKey...)
	dst = append(dst, p.next(1)...)
	dst = append(dst, jsonAddrs...)
	dst = append(dst, p.next(2)...)
	dst = append(dst, jsonSeq...)
	dst = append(dst, p.next(1)...)
	dst = append(dst, jsonExpires...)
	dst = append(dst, p.next(1)...)
	dst = append(dst, jsonSignature...)
	dst = append(dst, p.next(1)...)
	return append(dst, jsonEnd...)
}

// packedKey decodes the public key from packed pieces.
func packedKey(packed []byte) ([]byte, error) {
	p := unpacker{b: packed}
	return record.DecodeBase64("public_key", string(p.next(1)))
}

type unpacker struct{ b []byte }

// next returns the next piece, whose length takes n bytes.
func (p *unpacker) next(n int) []byte {
	if len(p.b) < n {
		return nil
	}
	l := int(p.b[0])
	if n == 2 {
		l = int(binary.LittleEndian.Uint16(p.b))
	}
	if len(p.b) < n+l {
		return nil
	}
	piece := p.b[n : n+l]
	p.b = p.b[n+l:]
	return piece
}
