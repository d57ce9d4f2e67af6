package wire

import (
	"errors"
	"fmt"
)

// Version1 is the protocol this package speaks: the frames listed in the
// package doc.
const Version1 uint16 = 1

// ErrNoCommonVersion: the two sides share no protocol version.
var ErrNoCommonVersion = errors.New("no common protocol version")

// Versions returns the protocol versions this build speaks, for a Hello.
func Versions() []uint16 { return []uint16{Version1} }

// Negotiate returns the highest version in both lists.
func Negotiate(ours, theirs []uint16) (uint16, error) {
	var best uint16
	for _, a := range ours {
		for _, b := range theirs {
			if a == b && a > best {
				best = a
			}
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("%w: we speak %v, peer speaks %v", ErrNoCommonVersion, ours, theirs)
	}
	return best, nil
}
