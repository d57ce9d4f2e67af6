package record

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/p2pchat/p2pchat/internal/strictjson"
)

// MarshalJSON encodes s as
//
//	{"name":"alice","public_key":"<base64>","addrs":["host:port"],
//	 "seq":1,"expires":<unix seconds>,"signature":"<base64>"}
//
// with standard padded base64 and addrs always an array: exactly what
// encoding/json makes of those fields (AppendJSON writes it).
func (s Signed) MarshalJSON() ([]byte, error) {
	return s.AppendJSON(make([]byte, 0, 256)), nil
}

// AppendJSON appends the encoding MarshalJSON returns to dst, byte for
// byte what encoding/json writes for it, without reflection: a server
// encodes each record once and keeps the bytes.
func (s Signed) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, s.Name)
	dst = append(dst, `,"public_key":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, s.PublicKey)
	dst = append(dst, `","addrs":[`...)
	for i, a := range s.Addrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, a)
	}
	dst = append(dst, `],"seq":`...)
	dst = strconv.AppendUint(dst, s.Seq, 10)
	dst = append(dst, `,"expires":`...)
	dst = strconv.AppendInt(dst, s.Expires.Unix(), 10)
	dst = append(dst, `,"signature":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, s.Signature)
	return append(dst, `"}`...)
}

// appendJSONString appends str as a JSON string. Names and valid
// addresses are printable ASCII that needs no escaping; anything else
// goes through encoding/json, whose escaping (HTML characters, invalid
// UTF-8) the output must match.
func appendJSONString(dst []byte, str string) []byte {
	for i := 0; i < len(str); i++ {
		if c := str[i]; c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(str) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, str...)
	return append(dst, '"')
}

// UnmarshalJSON decodes the form MarshalJSON writes, strictly: field names
// must match exactly, unknown or repeated fields are refused, every field is
// required, the key must be 32 bytes and the signature 64. It does not check
// the signature; call Verify for that. Errors wrap ErrBadJSON, ErrBadBase64,
// ErrBadKey or ErrBadSignature and name the field.
func (s *Signed) UnmarshalJSON(data []byte) error {
	if out, ok := decodeSimple(data); ok {
		*s = out
		return nil
	}
	return s.unmarshalGeneral(data)
}

// unmarshalGeneral is UnmarshalJSON for any input, and the reference
// decodeSimple is held to.
func (s *Signed) unmarshalGeneral(data []byte) error {
	fields, err := decodeObject(data, "name", "public_key", "addrs", "seq", "expires", "signature")
	if err != nil {
		return err
	}
	var out Signed
	var expires int64
	if err := firstErr(
		decodeField(fields, "name", &out.Name),
		decodeField(fields, "addrs", &out.Addrs),
		decodeField(fields, "seq", &out.Seq),
		decodeField(fields, "expires", &expires),
	); err != nil {
		return err
	}
	if out.PublicKey, err = decodeBytes(fields, "public_key", 32, ErrBadKey); err != nil {
		return err
	}
	if out.Signature, err = decodeBytes(fields, "signature", SignatureSize, ErrBadSignature); err != nil {
		return err
	}
	out.Expires = time.Unix(expires, 0).UTC()
	*s = out
	return nil
}

// DecodeSigned decodes exactly one Signed JSON value from data and refuses
// trailing data.
func DecodeSigned(data []byte) (Signed, error) {
	var s Signed
	if err := DecodeStrict(data, &s); err != nil {
		return Signed{}, err
	}
	return s, nil
}

// DecodeStrict unmarshals exactly one JSON value from data into v, refusing
// unknown fields and trailing data. Errors wrap ErrBadJSON unless v's own
// UnmarshalJSON returned a more precise sentinel.
func DecodeStrict(data []byte, v any) error {
	if err := strictjson.Decode(bytes.NewReader(data), v); err != nil {
		return wrapJSON(err)
	}
	return nil
}

// wrapJSON keeps our own sentinel errors and wraps anything from
// encoding/json in ErrBadJSON.
func wrapJSON(err error) error {
	for _, sentinel := range []error{ErrBadJSON, ErrBadBase64, ErrBadKey, ErrBadSignature, ErrBadName, ErrBadAddr, ErrBadExpiry} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: empty body", ErrBadJSON)
	}
	return fmt.Errorf("%w: %v", ErrBadJSON, err)
}

// decodeObject splits a JSON object into its raw fields, insisting on
// exactly the given names: encoding/json alone would match names case
// insensitively and let a repeated field silently win.
func decodeObject(data []byte, names ...string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: want a JSON object", ErrBadJSON)
	}
	fields := make(map[string]json.RawMessage, len(names))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadJSON, err)
		}
		key, _ := tok.(string)
		if !contains(names, key) {
			return nil, fmt.Errorf("%w: unknown field %s", ErrBadJSON, quoteShort(key))
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("%w: field %q appears twice", ErrBadJSON, key)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: field %q: %v", ErrBadJSON, key, err)
		}
		fields[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	for _, n := range names {
		if _, ok := fields[n]; !ok {
			return nil, fmt.Errorf("%w: missing field %q", ErrBadJSON, n)
		}
	}
	return fields, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func decodeField(fields map[string]json.RawMessage, name string, v any) error {
	raw := fields[name]
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return fmt.Errorf("%w: field %q is null", ErrBadJSON, name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: field %q: %v", ErrBadJSON, name, err)
	}
	return nil
}

// decodeBytes decodes a base64 field of exactly size bytes; a wrong size
// wraps sizeErr so the caller learns which field was wrong.
func decodeBytes(fields map[string]json.RawMessage, name string, size int, sizeErr error) ([]byte, error) {
	var str string
	if err := decodeField(fields, name, &str); err != nil {
		return nil, err
	}
	b, err := DecodeBase64(name, str)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d", sizeErr, name, len(b), size)
	}
	return b, nil
}

// DecodeBase64 decodes padded standard base64 strictly: no line breaks, no
// non-zero padding bits, so each value has exactly one encoding. field names
// the value in the error, which wraps ErrBadBase64.
func DecodeBase64(field, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: %s contains a line break", ErrBadBase64, field)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadBase64, field, err)
	}
	return b, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
