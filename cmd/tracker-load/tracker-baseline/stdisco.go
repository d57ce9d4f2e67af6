package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Syncthing's discovery server (cmd/stdiscosrv, v1.30) keeps its devices
// in memory and loads them at start from records.db in its --db-dir: a
// sequence of 4-byte big-endian lengths, each followed by a protobuf
// ReplicationRecord:
//
//	message ReplicationRecord { bytes key = 1; repeated DatabaseAddress addresses = 2; int64 seen = 3; }
//	message DatabaseAddress { string address = 1; int64 expires = 2; } // Unix nanoseconds
//
// writeStdiscoDB writes users devices there, each with one address that
// stays valid for a day, so stdiscosrv answers a lookup of each the way
// the tracker answers one of its users.

// stdiscoKey is device i's 32-byte ID: i in the first 5 bytes, then a
// fixed tail. Base32 turns every 5 bytes into 8 characters, so the ID's
// text is 8 characters that encode i followed by StdiscoSuffix: a wrk
// script can make the ID of any device without a table.
func stdiscoKey(i int) [32]byte {
	var k [32]byte
	tail := sha256.Sum256([]byte("p2pchat/tracker-baseline/stdisco"))
	copy(k[5:], tail[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(i))
	copy(k[:5], n[3:])
	return k
}

// StdiscoDeviceID is device i's ID as stdiscosrv parses it: 52 base32
// characters, the form without check digits.
func StdiscoDeviceID(i int) string {
	k := stdiscoKey(i)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(k[:])
}

func writeStdiscoDB(dir string, users int) error {
	if users < 1 || users >= 1<<40 {
		return fmt.Errorf("--users %d: want 1 to 2^40-1", users)
	}
	path := filepath.Join(dir, "records.db")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	now := time.Now()
	seen, expires := now.UnixNano(), now.Add(24*time.Hour).UnixNano()
	var rec, addr []byte
	for i := range users {
		k := stdiscoKey(i)
		addr = appendBytes(addr[:0], 1, fmt.Appendf(nil, "tcp://127.0.0.1:%d", 10000+i%50000))
		addr = appendVarintField(addr, 2, uint64(expires))
		rec = appendBytes(rec[:0], 1, k[:])
		rec = appendBytes(rec, 2, addr)
		rec = appendVarintField(rec, 3, uint64(seen))
		w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(rec))))
		w.Write(rec)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("wrote %d devices to %s; ID suffix %s\n", users, path, StdiscoDeviceID(0)[8:])
	return nil
}

// Protobuf wire format: a field is a varint key (number<<3 | type), then
// a varint (type 0) or a varint length and the bytes (type 2).

func appendVarintField(b []byte, field int, v uint64) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3)
	return binary.AppendUvarint(b, v)
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
