// Package defaults is the one way p2pchat fills in configuration defaults:
// each package declares its defaults once (as constants or a DefaultConfig
// value) and fills a Config's unset fields with Set. daemon/config and
// tracker/config build their Default() from the same declarations, and
// tests check that the example files in configs/ equal them.
//
//	defaults.Set(&c.KeepAlive, DefaultKeepAlive)
//	defaults.Set(&c.Name, "p2pchat chatd")
package defaults

import "cmp"

// Set sets *p to d when *p is unset: the zero value, or below zero for
// numbers (a negative duration, count or rate is never meant).
func Set[T cmp.Ordered](p *T, d T) {
	var zero T
	if *p <= zero {
		*p = d
	}
}
