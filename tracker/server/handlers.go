package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"math"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/store"
)

// updateRequest is the PUT body. RotationSignature is present only when the
// key changes: the registered (old) key's record.SignRotation over Record.
type updateRequest struct {
	Record            *record.Signed `json:"record"`
	RotationSignature *string        `json:"rotation_signature,omitempty"`
}

// deleteRequest is the DELETE body: a record.Deletion for the path's name
// and its signature.
type deleteRequest struct {
	PublicKey *string `json:"public_key"`
	Seq       *uint64 `json:"seq"`
	Signature *string `json:"signature"`
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	rec, err := record.DecodeSigned(body)
	if err != nil {
		return err
	}
	if err := s.checkRecord(rec, nil); err != nil {
		return err
	}
	if err := s.store.Create(r.Context(), toStore(rec)); err != nil {
		if errors.Is(err, store.ErrExists) {
			return newAPIError(http.StatusConflict, CodeNameTaken, "name %q is already registered", rec.Name)
		}
		return err
	}
	s.log.Debug("registered", zap.String("name", rec.Name))
	s.writeUser(w, r, http.StatusCreated, rec, s.dialbackFor(r))
	return nil
}

// dialbackFor runs the dial-back r asks for, once r has been accepted,
// and returns the answer; "" if r asks for none.
func (s *Server) dialbackFor(r *http.Request) string {
	if !wantsDialback(r.URL) {
		return ""
	}
	return s.dialback.run(r, s.clientAddr(r))
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := record.ValidateName(name); err != nil {
		return err
	}
	bp := getBuf()
	defer putBuf(bp)
	body, err := s.readBodyTo((*bp)[:0], w, r)
	*bp = body
	if err != nil {
		return err
	}
	var req updateRequest
	if rec, ok := record.DecodeMember(body, "record"); ok {
		req.Record = &rec // the common form, without encoding/json's scan
	} else if err := record.DecodeStrict(body, &req); err != nil {
		return err
	}
	if req.Record == nil {
		return newAPIError(http.StatusBadRequest, CodeBadJSON, "bad json: missing field \"record\"")
	}
	rec := *req.Record
	if rec.Name != name {
		return newAPIError(http.StatusBadRequest, CodeNameMismatch, "record name %q does not match the path name %q", rec.Name, name)
	}
	storedKey, err := s.storedKey(r.Context(), name)
	if err != nil {
		return err
	}
	// The stored key passed ValidatePublicKey when it was registered (or
	// rotated to): a record under the same key skips the curve checks.
	if err := s.checkRecord(rec, storedKey); err != nil {
		return err
	}
	signer, err := authoriseUpdate(rec, storedKey, req.RotationSignature)
	if err != nil {
		return err
	}
	if err := s.store.Update(r.Context(), toStore(rec), signer); err != nil {
		return err
	}
	s.writeUser(w, r, http.StatusOK, rec, s.dialbackFor(r))
	return nil
}

// authoriseUpdate returns the key that must still be registered for the
// update to go through: the stored key, which either signed rec itself or
// authorised the new key with a rotation signature. The store re-checks it
// atomically, so a concurrent rotation cannot slip in between.
func authoriseUpdate(rec record.Signed, storedKey ed25519.PublicKey, rotationSig *string) (ed25519.PublicKey, error) {
	if storedKey.Equal(rec.PublicKey) {
		if rotationSig != nil {
			return nil, newAPIError(http.StatusBadRequest, CodeBadRotation, "rotation_signature given but the key is unchanged")
		}
		return storedKey, nil
	}
	if rotationSig == nil {
		return nil, newAPIError(http.StatusForbidden, CodeKeyMismatch,
			"the record's key differs from the registered key; a key change needs a rotation_signature by the registered key")
	}
	sig, err := record.DecodeBase64("rotation_signature", *rotationSig)
	if err != nil {
		return nil, err
	}
	if err := record.VerifyRotation(rec.Record, sig, storedKey); err != nil {
		return nil, err
	}
	return storedKey, nil
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := record.ValidateName(name); err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	d, sig, err := decodeDeletion(name, body)
	if err != nil {
		return err
	}
	if err := record.VerifyDeletion(d, sig); err != nil {
		return err
	}
	if d.Seq > math.MaxInt64 {
		return newAPIError(http.StatusBadRequest, CodeBadSeq, "seq %d is above the largest the tracker keeps (%d)", d.Seq, int64(math.MaxInt64))
	}
	if err := s.store.Delete(r.Context(), name, d.PublicKey, d.Seq); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func decodeDeletion(name string, body []byte) (record.Deletion, []byte, error) {
	var req deleteRequest
	if err := record.DecodeStrict(body, &req); err != nil {
		return record.Deletion{}, nil, err
	}
	if req.PublicKey == nil || req.Seq == nil || req.Signature == nil {
		return record.Deletion{}, nil, newAPIError(http.StatusBadRequest, CodeBadJSON, "bad json: public_key, seq and signature are all required")
	}
	pub, err := record.DecodeBase64("public_key", *req.PublicKey)
	if err != nil {
		return record.Deletion{}, nil, err
	}
	sig, err := record.DecodeBase64("signature", *req.Signature)
	if err != nil {
		return record.Deletion{}, nil, err
	}
	return record.Deletion{Name: name, PublicKey: pub, Seq: *req.Seq}, sig, nil
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.counts.get(ctx); err != nil { // cached: see countCache
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleNoRoute(w http.ResponseWriter, r *http.Request) error {
	return newAPIError(http.StatusNotFound, CodeNoRoute, "no such route: %s %s", r.Method, r.URL.Path)
}

// checkRecord applies the server's policy to a record a client sent: a
// valid signature by its own key, a seq the store can keep, and an expiry
// in the future but no further than MaxTTL. knownKey, if not nil, is a key
// that passed record.ValidatePublicKey before (see record.VerifyKnownKey).
func (s *Server) checkRecord(rec record.Signed, knownKey ed25519.PublicKey) error {
	if err := rec.VerifyKnownKey(knownKey); err != nil {
		return err
	}
	if rec.Seq > math.MaxInt64 {
		return newAPIError(http.StatusBadRequest, CodeBadSeq, "seq %d is above the largest the tracker keeps (%d)", rec.Seq, int64(math.MaxInt64))
	}
	now := s.cfg.Now()
	if !rec.Expires.After(now) {
		return newAPIError(http.StatusBadRequest, CodeBadExpires, "the record expired at %s, before it was sent", rec.Expires.UTC().Format(time.RFC3339))
	}
	if rec.Expires.After(now.Add(s.cfg.MaxTTL)) {
		return newAPIError(http.StatusBadRequest, CodeBadExpires, "expires is more than %v ahead; this tracker accepts at most %v", s.cfg.MaxTTL, s.cfg.MaxTTL)
	}
	return nil
}

func (s *Server) get(ctx context.Context, name string) (record.Signed, error) {
	st, err := s.store.Get(ctx, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return record.Signed{}, newAPIError(http.StatusNotFound, CodeNotFound, "no user is registered as %q", name)
		}
		return record.Signed{}, err
	}
	return fromStore(st), nil
}

func toStore(s record.Signed) store.Record {
	return store.Record{Name: s.Name, PublicKey: s.PublicKey, Addrs: s.Addrs, Seq: s.Seq, Expires: s.Expires, Signature: s.Signature}
}

func fromStore(r store.Record) record.Signed {
	return record.Signed{
		Record:    record.Record{Name: r.Name, PublicKey: r.PublicKey, Addrs: r.Addrs, Seq: r.Seq, Expires: r.Expires.UTC()},
		Signature: r.Signature,
	}
}
