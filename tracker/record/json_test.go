package record

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func validJSON(t testing.TB) string {
	pub, priv := testKey(1)
	s, err := Sign(testRecord(pub), priv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// field replaces the value of one field in a valid encoding.
func withField(t *testing.T, key, value string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(validJSON(t)), &m); err != nil {
		t.Fatal(err)
	}
	m[key] = json.RawMessage(value)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func withoutField(t *testing.T, key string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal([]byte(validJSON(t)), &m)
	delete(m, key)
	b, _ := json.Marshal(m)
	return string(b)
}

func TestDecodeStrict(t *testing.T) {
	valid := validJSON(t)
	cases := []struct {
		name, body, mention string
		want                error
	}{
		{"empty", "", "", ErrBadJSON},
		{"not an object", "[]", "", ErrBadJSON},
		{"truncated", valid[:len(valid)-5], "", ErrBadJSON},
		{"trailing data", valid + "{}", "trailing", ErrBadJSON},
		{"unknown field", withField(t, "extra", "1"), "extra", ErrBadJSON},
		{"wrong case", strings.Replace(valid, `"seq"`, `"SEQ"`, 1), "SEQ", ErrBadJSON},
		{"duplicate field", strings.Replace(valid, `{"name":"alice"`, `{"name":"alice","name":"bob"`, 1), "twice", ErrBadJSON},
		{"missing signature", withoutField(t, "signature"), "signature", ErrBadJSON},
		{"null name", withField(t, "name", "null"), "name", ErrBadJSON},
		{"negative seq", withField(t, "seq", "-1"), "seq", ErrBadJSON},
		{"fractional expires", withField(t, "expires", "1.5"), "expires", ErrBadJSON},
		{"string seq", withField(t, "seq", `"1"`), "seq", ErrBadJSON},
		{"bad base64 key", withField(t, "public_key", `"!!!!"`), "public_key", ErrBadBase64},
		{"unpadded key", withField(t, "public_key", `"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`), "public_key", ErrBadBase64},
		{"url base64 sig", withField(t, "signature", `"`+strings.Repeat("_", 86)+`=="`), "signature", ErrBadBase64},
		{"key with newline", withField(t, "public_key", `"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nAAA="`), "public_key", ErrBadBase64},
		{"short key", withField(t, "public_key", `"AAAA"`), "public_key", ErrBadKey},
		{"short signature", withField(t, "signature", `"AAAA"`), "signature", ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeSigned([]byte(c.body))
			if !errors.Is(err, c.want) {
				t.Fatalf("decode: %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %q does not mention %q", err, c.mention)
			}
		})
	}
	if _, err := DecodeSigned([]byte(" " + valid + "\n")); err != nil {
		t.Fatalf("valid record with whitespace around it: %v", err)
	}
}

func FuzzDecodeSigned(f *testing.F) {
	f.Add(validJSON(f))
	f.Add(`{"name":"a","public_key":"","addrs":null,"seq":0,"expires":0,"signature":""}`)
	f.Add(`{"name":"bob","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","addrs":["x:1"],"seq":18446744073709551615,"expires":-1,"signature":"` + strings.Repeat("A", 86) + `=="}`)
	f.Add(strings.Replace(validJSON(f), `"expires":1700000000`, `"expires":9223372036854775807`, 1))
	f.Add(strings.Replace(validJSON(f), `"expires":1700000000`, `"expires":-9223372036854775808`, 1))
	f.Add(`{}`)
	f.Add(`[`)
	wraps := func(err error, sentinels ...error) bool {
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, body string) {
		s, err := DecodeSigned([]byte(body))
		if err != nil {
			if !wraps(err, ErrBadJSON, ErrBadBase64, ErrBadKey, ErrBadSignature) {
				t.Fatalf("decode error %v wraps none of the decoding sentinels", err)
			}
			return
		}
		// Verify must not panic whatever was decoded, and says why it refuses.
		if err := s.Verify(); err != nil && !wraps(err, ErrBadName, ErrBadKey, ErrBadAddr, ErrBadExpiry, ErrBadSignature) {
			t.Fatalf("verify error %v wraps none of the sentinels", err)
		}
		enc, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("re-encode decoded record: %v", err)
		}
		s2, err := DecodeSigned(enc)
		if err != nil {
			t.Fatalf("decode of our own encoding %s: %v", enc, err)
		}
		enc2, _ := json.Marshal(s2)
		if string(enc) != string(enc2) {
			t.Fatalf("decode/encode not stable:\n%s\n%s", enc, enc2)
		}
		if (s.Verify() == nil) != (s2.Verify() == nil) {
			t.Fatalf("verification changed across a round trip")
		}
	})
}

// TestAppendJSONMatchesEncodingJSON holds AppendJSON to what encoding/json
// writes for the wire fields, escaping included, so that clients see the
// same bytes whichever encoder made them.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	type wire struct {
		Name      string   `json:"name"`
		PublicKey string   `json:"public_key"`
		Addrs     []string `json:"addrs"`
		Seq       uint64   `json:"seq"`
		Expires   int64    `json:"expires"`
		Signature string   `json:"signature"`
	}
	pub, priv := testKey(1)
	signed, err := Sign(testRecord(pub), priv)
	if err != nil {
		t.Fatal(err)
	}
	odd := []string{"", "a<b>&c", `q"uote\`, "tab\there", "é", "\xff\xfe", "\u2028", "del\x7f", "relay://r.example:443/" + strings.Repeat("A", 43)}
	cases := []Signed{signed, {}, {Record: Record{Name: "x", Addrs: odd, Seq: 1<<64 - 1, Expires: time.Unix(-5, 0)}}}
	for _, a := range odd {
		cases = append(cases, Signed{Record: Record{Name: a, Addrs: []string{a}}, Signature: []byte{1, 2}})
	}
	for _, s := range cases {
		addrs := s.Addrs
		if addrs == nil {
			addrs = []string{}
		}
		want, err := json.Marshal(wire{s.Name, b64(s.PublicKey), addrs, s.Seq, s.Expires.Unix(), b64(s.Signature)})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.AppendJSON([]byte("x")); string(got) != "x"+string(want) {
			t.Errorf("AppendJSON = %s\nencoding/json %s", got[1:], want)
		}
		if got, _ := json.Marshal(s); string(got) != string(want) {
			t.Errorf("json.Marshal = %s\nencoding/json %s", got, want)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestDecodeSimpleAgreesWithGeneral mutates valid encodings many ways: for
// every input the fast decoder accepts, the general one must decode the
// same record; and it must accept the common forms, or it is no use.
func TestDecodeSimpleAgreesWithGeneral(t *testing.T) {
	for _, body := range simpleBodies(t) {
		fast, ok := decodeSimple([]byte(body))
		var general Signed
		err := general.unmarshalGeneral([]byte(body))
		if ok && (err != nil || !reflect.DeepEqual(fast, general)) {
			t.Errorf("%s:\nfast decoded %+v\ngeneral %+v, %v", body, fast, general, err)
		}
	}
}

// TestDecodeMemberAgreesWithDecodeStrict: what DecodeMember accepts,
// DecodeStrict into the tracker's update request decodes the same; and it
// accepts an update's common form.
func TestDecodeMemberAgreesWithDecodeStrict(t *testing.T) {
	type update struct {
		Record            *Signed `json:"record"`
		RotationSignature *string `json:"rotation_signature,omitempty"`
	}
	bodies := simpleBodies(t)
	valid := bodies[1]
	if _, ok := DecodeMember([]byte(`{"record":`+valid+`}`), "record"); !ok {
		t.Errorf("DecodeMember refused the common form")
	}
	var wrapped []string
	for _, b := range bodies {
		wrapped = append(wrapped, `{"record":`+b+`}`, " {\n\"record\" : "+b+" }\n")
	}
	wrapped = append(wrapped, `{"Record":`+valid+`}`, `{"record":null}`, `{"record":`+valid+`}}`,
		`{"record":`+valid+`,"x":1}`, `{"record":`+valid+`,"rotation_signature":"AA=="}`, `{"record":`+valid+`,"record":`+valid+`}`,
		`{"record":`+valid, `{"record"`+valid+`}`, `{record:`+valid+`}`, `[`+valid+`]`, `{"record":`+valid+`} x`)
	for _, body := range wrapped {
		fast, ok := DecodeMember([]byte(body), "record")
		var general update
		err := DecodeStrict([]byte(body), &general)
		if ok && (err != nil || general.Record == nil || general.RotationSignature != nil || !reflect.DeepEqual(fast, *general.Record)) {
			t.Errorf("%s:\nDecodeMember decoded %+v\nDecodeStrict %+v, %v", body, fast, general, err)
		}
	}
}

// simpleBodies are valid encodings of signed records mutated many ways;
// the first three are common forms the fast decoder must accept.
func simpleBodies(t *testing.T) []string {
	pub, priv := testKey(1)
	var bodies []string
	for _, addrs := range [][]string{nil, {"192.0.2.1:7000"}, {"a:1", "[2001:db8::1]:2", "relay://r.example:443/" + strings.Repeat("A", 43)}} {
		r := testRecord(pub)
		r.Addrs = addrs
		s, err := Sign(r, priv)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(s)
		bodies = append(bodies, string(b))
		if _, ok := decodeSimple(b); !ok {
			t.Errorf("the fast decoder refused the common form %s", b)
		}
	}
	valid := bodies[1]
	// Field orders, spacing, and each edit a client or an attacker might make.
	bodies = append(bodies,
		" "+valid+"\n\t",
		strings.ReplaceAll(valid, ",", " ,\n "),
		strings.ReplaceAll(valid, ":", " : "),
		`{"signature":`+strings.SplitN(valid, `"signature":`, 2)[1][:len(strings.SplitN(valid, `"signature":`, 2)[1])-1]+`,`+valid[1:strings.Index(valid, `,"signature"`)]+`}`,
	)
	edits := []struct{ old, new string }{
		{`"seq":`, `"seq":0`}, {`"seq":`, `"seq":-`}, {`"seq":`, `"seq":1.`}, {`"expires":`, `"expires":-`},
		{`"expires":`, `"expires":00`}, {`"name":"`, `"name":"\u00e9`}, {`"name":"`, `"name":"\\u0061`},
		{`"name":"`, `"NAME":"`}, {`"name":`, `"name":null,"x":`}, {`"addrs":[`, `"addrs":[null,`},
		{`"addrs":[`, `"addrs":["a",`}, {`"addrs":[`, `"addrs":[],"y":[`}, {`}`, `,"name":"b"}`}, {`}`, `} x`},
		{`"public_key":"`, `"public_key":"A`}, {`=",`, `",`}, {`"signature":"`, `"signature":"\n`},
		{`"seq":`, `"seq":18446744073709551616`}, {`"expires":`, `"expires":9223372036854775808`},
		{`"expires":`, `"expires":-9223372036854775808`}, {`"seq":`, `"seq":18446744073709551615`},
		{`"seq":`, `"seq":1e`}, {`"name":"`, `"name":"<>&`}, {`,`, `,,`}, {`{`, `{,`}, {`"`, `'`},
	}
	for _, e := range edits {
		for _, b := range bodies[:2] {
			bodies = append(bodies, strings.Replace(b, e.old, e.new, 1))
		}
	}
	for i := 0; i < len(valid); i += 7 { // every truncation and a byte flipped
		bodies = append(bodies, valid[:i], valid[:i]+"x"+valid[i+1:])
	}
	return bodies
}

// FuzzDecodeMember holds DecodeMember to DecodeStrict on any input.
func FuzzDecodeMember(f *testing.F) {
	f.Add(`{"record":` + validJSON(f) + `}`)
	f.Add(`{"record":` + validJSON(f) + `,"rotation_signature":"AA=="}`)
	f.Add(`{"record":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		fast, ok := DecodeMember([]byte(body), "record")
		if !ok {
			return
		}
		var general struct {
			Record            *Signed `json:"record"`
			RotationSignature *string `json:"rotation_signature,omitempty"`
		}
		err := DecodeStrict([]byte(body), &general)
		if err != nil || general.Record == nil || general.RotationSignature != nil || !reflect.DeepEqual(fast, *general.Record) {
			t.Fatalf("DecodeMember decoded %+v; DecodeStrict %+v, %v", fast, general, err)
		}
	})
}
