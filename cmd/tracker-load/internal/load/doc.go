// Package load drives a running tracker with synthetic users and measures
// it: how many lookups and signed updates per second it answers, and their
// latency percentiles. cmd/tracker-load is its command line.
//
// Users are deterministic: user i is named Prefix followed by i in seven
// digits, and its Ed25519 key is derived from Seed and the name. So a run
// can preload once and later runs (same Prefix and Seed) can look up and
// update the same users without storing any keys.
//
//	cfg := load.Config{URL: "http://127.0.0.1:8080", Users: 100_000, Workers: 64}
//	res, err := load.Preload(ctx, cfg, log)     // over HTTP, or cfg.PreloadDSN straight into the store
//	res, err = load.Lookups(ctx, cfg)
//	res, err = load.Updates(ctx, cfg)
//	fmt.Println(res)
//
// Every phase is bounded by a count and a duration. The package sends
// packets only to loopback: CheckTarget and CheckDSN refuse anything else,
// and the phases call them first.
package load
