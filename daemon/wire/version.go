package wire

import (
	"errors"
	"fmt"
)

// Protocol versions. Version1 is Hello, Msg, Ack, Ping, Pong and Bye;
// Version2 adds Connect and Sync, with which two daemons joined by a relay
// coordinate a direct connection.
const (
	Version1 uint16 = 1
	Version2 uint16 = 2
)

// ErrNoCommonVersion: the two sides share no protocol version.
var ErrNoCommonVersion = errors.New("no common protocol version")

// Versions returns the protocol versions this build speaks, for a Hello.
func Versions() []uint16 { return []uint16{Version1, Version2} }

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
