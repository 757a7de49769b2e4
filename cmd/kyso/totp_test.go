package main

import (
	"testing"
	"time"
)

// TestCodesNeverReuseAStep: consecutive commands acting as the owner's
// phone (each its own codes, as each kyso process is) never send a code of
// a time step already used, as the service accepts each step once; and
// they wait rather than run more than one step ahead of the clock.
func TestCodesNeverReuseAStep(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KYSO_TEST_OTPAUTH", "otpauth://totp/kyso:CCCD:079203001234?algorithm=SHA1&digits=6&issuer=kyso&period=30&secret=WKWYDAGLIK4Y7ZILSETH2RMVPKQHWBXA")
	clock := time.Unix(1_800_000_000, 0) // the start of a step
	var slept time.Duration
	command := func() *codes {
		c, err := newCodes("env:KYSO_TEST_OTPAUTH", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.now = func() time.Time { return clock }
		c.sleep = func(d time.Duration) { slept += d; clock = clock.Add(d) }
		return c
	}
	seen := map[string]bool{}
	for i := range 4 { // sign --remote, then approve's login and approval, then another
		c := command()
		n := 1
		if i == 1 {
			n = 2
		}
		for range n {
			code, err := c.next()
			if err != nil {
				t.Fatal(err)
			}
			if seen[code] {
				t.Fatalf("command %d sent code %s twice", i, code)
			}
			seen[code] = true
			if step := clock.Unix() / 30; c.lastStep > step+1 {
				t.Fatalf("command %d used step %d, more than one ahead of the clock's %d", i, c.lastStep, step)
			}
		}
	}
	if slept == 0 {
		t.Error("five codes within one step: the phone must have waited for later steps")
	}
}
