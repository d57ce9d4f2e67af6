package record

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// vectors.json is written by testdata/gen_vectors.py, a second, independent
// implementation of the formats in Python.
type vectorFile struct {
	Records []struct {
		SeedHex      string   `json:"seed_hex"`
		Name         string   `json:"name"`
		Addrs        []string `json:"addrs"`
		Seq          uint64   `json:"seq"`
		Expires      int64    `json:"expires"`
		PublicKeyHex string   `json:"public_key_hex"`
		CanonicalHex string   `json:"canonical_hex"`
		SignatureHex string   `json:"signature_hex"`
		Fingerprint  string   `json:"fingerprint"`
		JSON         string   `json:"json"`
	} `json:"records"`
	Rotations []struct {
		OldSeedHex   string `json:"old_seed_hex"`
		RecordIndex  int    `json:"record_index"`
		MessageHex   string `json:"message_hex"`
		SignatureHex string `json:"signature_hex"`
	} `json:"rotations"`
	Deletions []struct {
		SeedHex      string `json:"seed_hex"`
		Name         string `json:"name"`
		Seq          uint64 `json:"seq"`
		CanonicalHex string `json:"canonical_hex"`
		SignatureHex string `json:"signature_hex"`
	} `json:"deletions"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(data, &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Records) == 0 || len(vf.Rotations) == 0 || len(vf.Deletions) == 0 {
		t.Fatal("vectors.json has an empty section")
	}
	return vf
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKnownAnswerRecords(t *testing.T) {
	for _, v := range loadVectors(t).Records {
		t.Run(v.Name, func(t *testing.T) {
			priv := ed25519.NewKeyFromSeed(unhex(t, v.SeedHex))
			pub := priv.Public().(ed25519.PublicKey)
			if got := hex.EncodeToString(pub); got != v.PublicKeyHex {
				t.Fatalf("public key %s, want %s", got, v.PublicKeyHex)
			}
			rec := Record{Name: v.Name, PublicKey: pub, Addrs: v.Addrs, Seq: v.Seq, Expires: time.Unix(v.Expires, 0)}
			if got := hex.EncodeToString(rec.Canonical()); got != v.CanonicalHex {
				t.Errorf("canonical\n got %s\nwant %s", got, v.CanonicalHex)
			}
			s, err := Sign(rec, priv)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(s.Signature); got != v.SignatureHex {
				t.Errorf("signature\n got %s\nwant %s", got, v.SignatureHex)
			}
			if got := Fingerprint(pub); got != v.Fingerprint {
				t.Errorf("fingerprint %s, want %s", got, v.Fingerprint)
			}
			enc, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if string(enc) != v.JSON {
				t.Errorf("json\n got %s\nwant %s", enc, v.JSON)
			}
			dec, err := DecodeSigned([]byte(v.JSON))
			if err != nil {
				t.Fatalf("decode vector json: %v", err)
			}
			if err := dec.Verify(); err != nil {
				t.Errorf("vector record does not verify: %v", err)
			}
		})
	}
}

func TestKnownAnswerRotation(t *testing.T) {
	vf := loadVectors(t)
	for _, v := range vf.Rotations {
		rv := vf.Records[v.RecordIndex]
		newPriv := ed25519.NewKeyFromSeed(unhex(t, rv.SeedHex))
		rec := Record{Name: rv.Name, PublicKey: newPriv.Public().(ed25519.PublicKey), Addrs: rv.Addrs, Seq: rv.Seq, Expires: time.Unix(rv.Expires, 0)}
		oldPriv := ed25519.NewKeyFromSeed(unhex(t, v.OldSeedHex))
		if got := hex.EncodeToString(rotationMessage(rec)); got != v.MessageHex {
			t.Errorf("rotation message\n got %s\nwant %s", got, v.MessageHex)
		}
		sig := SignRotation(rec, oldPriv)
		if got := hex.EncodeToString(sig); got != v.SignatureHex {
			t.Errorf("rotation signature\n got %s\nwant %s", got, v.SignatureHex)
		}
		if err := VerifyRotation(rec, unhex(t, v.SignatureHex), oldPriv.Public().(ed25519.PublicKey)); err != nil {
			t.Errorf("vector rotation does not verify: %v", err)
		}
	}
}

func TestKnownAnswerDeletion(t *testing.T) {
	for _, v := range loadVectors(t).Deletions {
		priv := ed25519.NewKeyFromSeed(unhex(t, v.SeedHex))
		d := Deletion{Name: v.Name, PublicKey: priv.Public().(ed25519.PublicKey), Seq: v.Seq}
		if got := hex.EncodeToString(d.Canonical()); got != v.CanonicalHex {
			t.Errorf("deletion canonical\n got %s\nwant %s", got, v.CanonicalHex)
		}
		if got := hex.EncodeToString(SignDeletion(d, priv)); got != v.SignatureHex {
			t.Errorf("deletion signature\n got %s\nwant %s", got, v.SignatureHex)
		}
		if err := VerifyDeletion(d, unhex(t, v.SignatureHex)); err != nil {
			t.Errorf("vector deletion does not verify: %v", err)
		}
	}
}
