package api

// PathInit is where `chatctl init` gives a new daemon its name
// (POST, InitRequest → InitResult).
const PathInit = "/v1/init"

// CodeNameTaken means another key holds the name on the tracker.
const CodeNameTaken = "name_taken"

// CodeNoName means chatd is waiting for `chatctl init` and cannot do the
// request yet.
const CodeNoName = "no_name"

// Sentinels for the init codes.
var (
	ErrNameTaken = &Error{Code: CodeNameTaken}
	ErrNoName    = &Error{Code: CodeNoName}
)

// InitRequest chooses the user's name and, optionally, the tracker to
// register it on (default: chatd's configured tracker).
type InitRequest struct {
	Name    string `json:"name"`
	Tracker string `json:"tracker,omitempty"`
}

// InitResult says what chatd registered. Initialized is false when the
// daemon already had this name (init is idempotent).
type InitResult struct {
	Name        string `json:"name"`
	Tracker     string `json:"tracker"`
	Fingerprint string `json:"fingerprint"`
	Initialized bool   `json:"initialized"`
}
