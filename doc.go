// Package p2pchat is a peer-to-peer encrypted chat for people who run their
// own machines. The programs live under cmd/, the daemon's parts under
// daemon/, the control API under ctl/ and the rendezvous server under
// tracker/. See README.md for how to run it and DESIGN notes in the package
// docs for how the parts fit together.
package p2pchat
