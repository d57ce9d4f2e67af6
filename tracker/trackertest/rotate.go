package trackertest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// Rotate moves s.Name to the key that signed s, authorised by oldKey's
// rotation signature, as the tracker's API allows. chatd never rotates its
// key (contacts could not follow it: they pin the first key they see), so
// the tracker client has no Rotate; tests use this to make the tracker
// hand out a new key for a pinned name.
func (tr *Tracker) Rotate(ctx context.Context, s record.Signed, oldKey ed25519.PrivateKey) error {
	body, err := json.Marshal(struct {
		Record            record.Signed `json:"record"`
		RotationSignature []byte        `json:"rotation_signature"`
	}{s, record.SignRotation(s.Record, oldKey)})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, tr.URL+"/v1/users/"+url.PathEscape(s.Name), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("rotate %q: tracker answered %s", s.Name, resp.Status)
	}
	return nil
}
