// Package strictjson decodes exactly one JSON value and nothing else: no
// unknown object fields, no trailing data. Requests to chatd's control API
// and to the tracker are small and written by our own code, so anything
// unexpected is a mistake worth an error rather than something to ignore.
//
//	var req api.SendRequest
//	err := strictjson.Decode(r.Body, &req)
package strictjson

import (
	"encoding/json"
	"errors"
	"io"
)

// ErrTrailing means more followed the JSON value.
var ErrTrailing = errors.New("trailing data after the JSON value")

// Decode reads one JSON value from r into v. An empty input is io.EOF;
// other errors are encoding/json's or ErrTrailing.
func Decode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return err
		}
		return ErrTrailing
	}
	return nil
}
