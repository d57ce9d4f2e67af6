package api

import (
	"net/url"
	"strconv"
)

// Host is the only Host header the control API answers (a request made
// through some other name, such as a DNS-rebinding web page via a local
// proxy, is refused): http://chatd/v1/status, with curl
// `curl --unix-socket SOCKET http://chatd/v1/status`.
const Host = "chatd"

// HeaderVersion carries chatd's version on every response, so chatctl can
// say when the two differ after an upgrade.
const HeaderVersion = "Chatd-Version"

// Route paths. Names in paths are escaped with url.PathEscape; use the
// helper functions below.
const (
	PathStatus   = "/v1/status"
	PathSend     = "/v1/send"
	PathContacts = "/v1/contacts"
	PathEvents   = "/v1/events"
	PathRequests = "/v1/requests"
	PathBlocked  = "/v1/blocked"
)

// History pages: HistoryPath's limit defaults to DefaultHistoryPage and
// is capped at MaxHistoryPage, so that one request cannot make chatd load a
// whole conversation; a client that wants more pages back with before.
const (
	DefaultHistoryPage = 50
	MaxHistoryPage     = 1000
)

// HistoryPath is the path for the messages with peer: at most limit of them
// (0 for the server's default), older than seq before (0 for the newest).
func HistoryPath(peer string, limit int, before int64) string {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	p := "/v1/history/" + url.PathEscape(peer)
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// MessagePath is the path of one message.
func MessagePath(peer, id string) string {
	return "/v1/messages/" + url.PathEscape(peer) + "/" + url.PathEscape(id)
}

// ContactPath is the path of one contact (DELETE removes it).
func ContactPath(name string) string {
	return PathContacts + "/" + url.PathEscape(name)
}

// VerifyPath is the path that marks a contact verified.
func VerifyPath(name string) string {
	return ContactPath(name) + "/verify"
}

// RequestPath is the path of one request (DELETE declines it).
func RequestPath(name string) string {
	return PathRequests + "/" + url.PathEscape(name)
}

// AcceptPath is the path that accepts a request.
func AcceptPath(name string) string {
	return RequestPath(name) + "/accept"
}

// BlockedPath is the path of one blocked key, by the name it was blocked
// under or its fingerprint (DELETE unblocks it).
func BlockedPath(who string) string {
	return PathBlocked + "/" + url.PathEscape(who)
}

// EventsPath is the path of the event stream resuming after cursor.
func EventsPath(after int64) string {
	return PathEvents + "?after=" + strconv.FormatInt(after, 10)
}
