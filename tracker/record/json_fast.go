package record

import (
	"encoding/base64"
	"strconv"
	"time"
)

// decodeSimple decodes the common form of a Signed's JSON without
// reflection: the six fields once each, in any order, strings of
// printable ASCII without escapes, integers without fraction or
// exponent, keys of the right sizes in strict base64. On anything else,
// valid or not, it gives up (ok false) and UnmarshalJSON takes the
// general path, whose answer and errors then stand; so for every input it
// accepts, the general path would decode exactly the same record. It
// makes a signed update's decoding a tenth of what it was.
func decodeSimple(data []byte) (s Signed, ok bool) {
	sc := scanner{b: data}
	s, ok = sc.signed()
	sc.space()
	if !ok || sc.i != len(sc.b) {
		return Signed{}, false
	}
	return s, true
}

// DecodeMember decodes an object whose one member is named field (exactly)
// and holds a Signed in the form UnmarshalJSON decodes without reflection:
// a signed update's body, {"record":{...}}. On anything else, valid or
// not, it gives up (ok false): decode with DecodeStrict then, whose answer
// stands. For every input it accepts, DecodeStrict into a struct whose
// only field is a *Signed named field decodes the same record; it keeps
// encoding/json's scan of the whole body off an update's path.
func DecodeMember(data []byte, field string) (s Signed, ok bool) {
	sc := scanner{b: data}
	if !sc.take('{') || sc.str() != field || sc.bad || !sc.take(':') {
		return Signed{}, false
	}
	if s, ok = sc.signed(); !ok || !sc.take('}') {
		return Signed{}, false
	}
	sc.space()
	if sc.i != len(sc.b) {
		return Signed{}, false
	}
	return s, true
}

// signed reads a Signed object in the simple form at sc.i, leaving sc.i
// after its closing brace.
func (sc *scanner) signed() (s Signed, ok bool) {
	const (
		name = 1 << iota
		publicKey
		addrs
		seq
		expires
		signature
		all = 1<<iota - 1
	)
	var seen int
	var exp int64
	if !sc.take('{') {
		return Signed{}, false
	}
	for {
		key := sc.str()
		if !sc.take(':') {
			return Signed{}, false
		}
		var bit int
		switch key {
		case "name":
			bit, s.Name = name, sc.str()
		case "public_key":
			bit, s.PublicKey = publicKey, sc.base64(32)
		case "addrs":
			bit, s.Addrs = addrs, sc.strings()
		case "seq":
			bit, s.Seq = seq, sc.uint()
		case "expires":
			bit, exp = expires, sc.int()
		case "signature":
			bit, s.Signature = signature, sc.base64(SignatureSize)
		default:
			return Signed{}, false
		}
		if seen&bit != 0 || sc.bad {
			return Signed{}, false
		}
		seen |= bit
		if sc.take('}') {
			break
		}
		if !sc.take(',') {
			return Signed{}, false
		}
	}
	if seen != all || sc.bad {
		return Signed{}, false
	}
	s.Expires = time.Unix(exp, 0).UTC()
	return s, true
}

// scanner reads the simple subset of JSON that decodeSimple accepts; bad
// records that it met something else.
type scanner struct {
	b   []byte
	i   int
	bad bool
}

func (sc *scanner) space() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// take consumes c, after any space, if it comes next.
func (sc *scanner) take(c byte) bool {
	sc.space()
	if sc.i < len(sc.b) && sc.b[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes.
func (sc *scanner) str() string {
	if !sc.take('"') {
		sc.bad = true
		return ""
	}
	start := sc.i
	for ; sc.i < len(sc.b); sc.i++ {
		switch c := sc.b[sc.i]; {
		case c == '"':
			sc.i++
			return string(sc.b[start : sc.i-1])
		case c < ' ' || c > '~' || c == '\\':
			sc.bad = true
			return ""
		}
	}
	sc.bad = true
	return ""
}

// strings reads an array of simple strings; [] is an empty, non-nil
// slice, as encoding/json makes it.
func (sc *scanner) strings() []string {
	if !sc.take('[') {
		sc.bad = true
		return nil
	}
	out := []string{}
	if sc.take(']') {
		return out
	}
	for !sc.bad {
		out = append(out, sc.str())
		if sc.take(']') {
			return out
		}
		if !sc.take(',') {
			sc.bad = true
		}
	}
	return nil
}

// digits returns the integer literal that comes next, optionally signed:
// no leading zeros, and followed by something that ends a number here.
func (sc *scanner) digits(signed bool) string {
	sc.space()
	start := sc.i
	if signed && sc.i < len(sc.b) && sc.b[sc.i] == '-' {
		sc.i++
	}
	first := sc.i
	for sc.i < len(sc.b) && sc.b[sc.i] >= '0' && sc.b[sc.i] <= '9' {
		sc.i++
	}
	n := sc.i - first
	if n == 0 || n > 1 && sc.b[first] == '0' {
		sc.bad = true
		return ""
	}
	if sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ',', '}', ' ', '\t', '\n', '\r':
		default: // a fraction, an exponent, or worse
			sc.bad = true
			return ""
		}
	}
	return string(sc.b[start:sc.i])
}

func (sc *scanner) uint() uint64 {
	n, err := strconv.ParseUint(sc.digits(false), 10, 64)
	if err != nil {
		sc.bad = true
	}
	return n
}

func (sc *scanner) int() int64 {
	n, err := strconv.ParseInt(sc.digits(true), 10, 64)
	if err != nil {
		sc.bad = true
	}
	return n
}

// base64 reads a string of standard, padded, strict base64 that decodes
// to exactly size bytes.
func (sc *scanner) base64(size int) []byte {
	s := sc.str()
	if sc.bad || len(s) != base64.StdEncoding.EncodedLen(size) {
		sc.bad = true
		return nil
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != size {
		sc.bad = true
		return nil
	}
	return b
}
