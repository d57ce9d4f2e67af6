package defaults

import (
	"testing"
	"time"
)

func TestSet(t *testing.T) {
	d, n, s, f := time.Duration(0), -3, "", 0.0
	Set(&d, time.Second)
	Set(&n, 7)
	Set(&s, "x")
	Set(&f, 0.5)
	if d != time.Second || n != 7 || s != "x" || f != 0.5 {
		t.Fatalf("unset values not filled: %v %v %q %v", d, n, s, f)
	}
	d, n, s = 2*time.Second, 3, "kept"
	Set(&d, time.Second)
	Set(&n, 7)
	Set(&s, "x")
	if d != 2*time.Second || n != 3 || s != "kept" {
		t.Fatalf("set values overwritten: %v %v %q", d, n, s)
	}
}
