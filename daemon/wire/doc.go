// Package wire is the framing of chatd's peer protocol: what two daemons
// say to each other inside their TLS 1.3 connection.
//
// Every frame is
//
//	type    uint8
//	length  uint32, big-endian: the payload length, at most MaxFrame
//	payload length bytes, laid out per type (below)
//
// All integers are big-endian. Every encoding is canonical: a payload
// decodes only if re-encoding the decoded frame gives the same bytes, so
// there is one way to say each thing.
//
//	Hello (1)  count uint8 (1..MaxVersions), versions count×uint16,
//	           features uint64, nameLen uint8, name (UTF-8, ≤ MaxName bytes)
//	Msg   (2)  id [16]byte, sentAt int64 (Unix nanoseconds, 0 = unknown),
//	           body (the rest, ≤ MaxBody bytes)
//	Ack   (3)  count uint16 (1..MaxAckIDs), ids count×[16]byte
//	Ping  (4)  nonce uint64
//	Pong  (5)  nonce uint64 (echoes the Ping)
//	Bye   (6)  reason (the rest, UTF-8, ≤ MaxReason bytes)
//
// Version 2 adds, for the upgrade of a relayed session to a direct one:
//
//	Connect (7)  flags uint8 (bit 0: dial me back), count uint8
//	             (≤ MaxAddrs), then count × (len uint16, address: UTF-8
//	             host:port of 1..MaxAddrLen bytes)
//	Sync    (8)  empty
//
// A session starts with both sides sending Hello; Negotiate picks the
// highest version both support. Then either side sends Msg frames, which
// the other acknowledges with Ack once it has stored them; Ping/Pong keep
// an idle connection alive; Bye says why a side is closing.
//
// Use a Reader to decode and a Writer to encode:
//
//	w := wire.NewWriter(conn)
//	w.WriteFrame(wire.Msg{ID: id, SentAt: time.Now(), Body: body})
//	w.Flush() // frames queued together go out in as few TLS records as possible
//
//	r := wire.NewReader(conn)
//	f, err := r.ReadFrame() // a wire.Hello, wire.Msg, wire.Ack, ...
//
// A decoding error (ErrFrameTooLarge, ErrMalformed, ErrUnknownType,
// io.ErrUnexpectedEOF) leaves the stream at an unknown position: the only
// sensible thing to do is to close the connection.
package wire
