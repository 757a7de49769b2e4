package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// testUpkeep: of replicas claiming one upkeep lease at once one gets it;
// its holder extends it, nobody else takes it before it ends, anyone may
// after; leases of other names are apart; a lease that ends before now,
// or names nobody, is refused.
func testUpkeep(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	claim := func(name, holder string, at time.Time) bool {
		t.Helper()
		ok, err := s.ClaimUpkeep(ctx, name, holder, at, at.Add(30*time.Second))
		if err != nil {
			t.Fatalf("ClaimUpkeep(%s, %s): %v", name, holder, err)
		}
		return ok
	}
	var mu sync.Mutex
	var won []string
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			h := fmt.Sprintf("replica-%d", i)
			if claim("pki", h, now) {
				mu.Lock()
				won = append(won, h)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d of 8 concurrent claims won: %v", len(won), won)
	}
	holder, other := won[0], "replica-x"
	if !claim("pki", holder, now.Add(10*time.Second)) {
		t.Error("the holder could not extend its lease")
	}
	if claim("pki", other, now.Add(39*time.Second)) {
		t.Error("another took the lease before its extension ended")
	}
	if !claim("crl", other, now) {
		t.Error("a lease of another name was not free")
	}
	if !claim("pki", other, now.Add(40*time.Second)) {
		t.Error("the lease could not be taken once it ended")
	}
	if claim("pki", holder, now.Add(41*time.Second)) {
		t.Error("the old holder took back a lease another holds")
	}
	for _, bad := range []struct{ name, holder string }{{"", "r"}, {"pki", ""}} {
		if _, err := s.ClaimUpkeep(ctx, bad.name, bad.holder, now, now.Add(time.Second)); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ClaimUpkeep(%q, %q): %v, want ErrInvalid", bad.name, bad.holder, err)
		}
	}
	if _, err := s.ClaimUpkeep(ctx, "pki", holder, now, now); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a lease ending when it begins: %v, want ErrInvalid", err)
	}
}
