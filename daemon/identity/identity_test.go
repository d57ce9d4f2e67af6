package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreateCreatesThenLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "chatd")
	id, created, err := LoadOrCreate(dir)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v, want a new key", created, err)
	}
	path := filepath.Join(dir, KeyFileName)
	assertMode(t, path, 0o600)
	assertMode(t, dir, 0o700)

	again, created, err := LoadOrCreate(dir)
	if err != nil || created {
		t.Fatalf("second start: created=%v err=%v, want the stored key", created, err)
	}
	if !again.Public.Equal(id.Public) || !again.Private.Equal(id.Private) {
		t.Fatal("second start loaded a different key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d entries, want only %s (temp file left behind?)", len(entries), KeyFileName)
	}
}

func TestKeyFileIsPKCS8PEM(t *testing.T) {
	dir := t.TempDir()
	id, _, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, KeyFileName))
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Fatalf("key file does not start with a PRIVATE KEY PEM header:\n%s", data)
	}
	got, err := ParseKey(data)
	if err != nil || !got.Public.Equal(id.Public) {
		t.Fatalf("ParseKey(file) = %v, %v", got, err)
	}
}

func TestRefusesInsecurePermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602, 0o666} {
		dir := t.TempDir()
		if _, _, err := LoadOrCreate(dir); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, KeyFileName)
		before, _ := os.ReadFile(path)
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreate(dir)
		if !errors.Is(err, ErrInsecurePermissions) {
			t.Fatalf("mode %#o: err = %v, want ErrInsecurePermissions", mode, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "chmod 600 "+path) || strings.Contains(msg, "\n") {
			t.Errorf("mode %#o: message %q should be one line naming `chmod 600 %s`", mode, msg, path)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Errorf("mode %#o: key file was modified", mode)
		}
	}
}

func TestRefusesCorruptKeyAndNeverOverwrites(t *testing.T) {
	valid, err := MarshalKey(mustGenerate(t))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := MarshalKey(mustGenerate(t))
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	cases := map[string][]byte{
		"empty":          {},
		"truncated":      valid[:len(valid)/2],
		"garbage":        []byte("not a key at all\n"),
		"wrong type":     bytes.Replace(valid, []byte("PRIVATE KEY"), []byte("PUBLIC KEY"), 2),
		"trailing data":  append(append([]byte{}, valid...), []byte("junk")...),
		"two keys":       append(append([]byte{}, valid...), other...),
		"bad body":       bytes.Replace(valid, []byte("BQYDK2Vw"), []byte("BQYDK2Vx"), 1),
		"ecdsa key":      pemBlock("PRIVATE KEY", ecDER),
		"huge":           bytes.Repeat([]byte("A"), 10000),
		"pem headers":    bytes.Replace(valid, []byte("KEY-----\n"), []byte("KEY-----\nProc-Type: 4,ENCRYPTED\n\n"), 1),
		"raw seed bytes": make([]byte, ed25519.SeedSize),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFileName)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, created, err := LoadOrCreate(dir)
			if !errors.Is(err, ErrCorrupt) || created {
				t.Fatalf("created=%v err=%v, want ErrCorrupt", created, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, data) {
				t.Error("corrupt key file was overwritten")
			}
		})
	}
}

func TestFingerprintKnownAnswer(t *testing.T) {
	// Computed independently (Python hashlib + base64.b32encode).
	pub := make(ed25519.PublicKey, ed25519.PublicKeySize)
	for i := range pub {
		pub[i] = byte(i)
	}
	const want = "YZQT-6NL5-EHCX-BGLN-A4QV-WWJA-2WNW-MFDC"
	if got := Fingerprint(pub); got != want {
		t.Fatalf("Fingerprint = %s, want %s", got, want)
	}
	id := &Identity{Public: pub}
	if id.Fingerprint() != want {
		t.Fatal("Identity.Fingerprint differs from Fingerprint")
	}
}

func TestCertificateRoundTrip(t *testing.T) {
	id := mustGenerate(t)
	cert, err := id.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := PeerKeyFromCerts(cert.Certificate)
	if err != nil {
		t.Fatalf("PeerKeyFromCerts(own cert): %v", err)
	}
	if !pub.Equal(id.Public) {
		t.Fatal("certificate carries a different key")
	}
	again, _ := id.TLSCertificate()
	if !bytes.Equal(again.Certificate[0], cert.Certificate[0]) {
		t.Error("certificate is not deterministic")
	}
}

func TestPeerKeyFromCertsRefuses(t *testing.T) {
	alice, mallory := mustGenerate(t), mustGenerate(t)
	good, _ := alice.TLSCertificate()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	ecCert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	// Alice's public key in a certificate Mallory signed.
	forged, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, alice.Public, mallory.Private)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][][]byte{
		"none":            nil,
		"two":             {good.Certificate[0], good.Certificate[0]},
		"garbage":         {[]byte("junk")},
		"ecdsa key":       {ecCert},
		"signed by other": {forged},
	}
	for name, certs := range cases {
		if _, err := PeerKeyFromCerts(certs); !errors.Is(err, ErrBadPeerCert) {
			t.Errorf("%s: err = %v, want ErrBadPeerCert", name, err)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	valid, _ := MarshalKey(mustGenerate(f))
	f.Add(valid)
	f.Add(valid[:40])
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParseKey(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		out, err := MarshalKey(id)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseKey(out)
		if err != nil || !back.Private.Equal(id.Private) {
			t.Fatalf("re-encoded key does not round-trip: %v", err)
		}
	})
}

func mustGenerate(t testing.TB) *Identity {
	t.Helper()
	id, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func pemBlock(typ string, der []byte) []byte {
	return []byte("-----BEGIN " + typ + "-----\n" + base64.StdEncoding.EncodeToString(der) + "\n-----END " + typ + "-----\n")
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s has mode %#o, want %#o", path, got, want)
	}
}
