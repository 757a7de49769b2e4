package signing_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/signing"
)

// allocated returns the bytes f allocates (runtime.MemStats.TotalAlloc):
// memory, not time, so it can be asserted. The store's background
// goroutines allocate too, a few kilobytes; an argon2id evaluation at
// kysod's parameters allocates 19 MiB.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// kysodEnv is newEnv with kysod's argon2id parameters (19 MiB, 2 passes)
// and a gate of concurrency places with that wait (zero: the defaults).
func kysodEnv(t *testing.T, concurrency int, wait time.Duration) *env {
	t.Helper()
	return newEnvWith(t, func(cfg *signing.Config) {
		cfg.Password, cfg.HashConcurrency, cfg.HashWait = signing.PasswordParams{}, concurrency, wait
	})
}

// loginsAtOnce sends n owner logins for unknown national IDs at once, one
// ID each (each checks the decoy hash at kysod's parameters: a full
// argon2id evaluation; one ID tried n times would be locked after five,
// as an owner is, and evaluate no more), and returns their errors.
func loginsAtOnce(e *env, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, _, errs[i] = e.svc.OwnerLogin(context.Background(), fmt.Sprintf("CCCD:0792038%05d", i), "135790", "000000")
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestClientCheckCostsNoArgon2 is the token flood of issue 13 in one
// goroutine: checking a client — unknown, with a wrong secret, with the
// right one, as oauth2/token and every SmartCA call (status polls
// included) do — must not run argon2id, whose 19 MiB per request took
// kysod to gigabytes under 100 concurrent requests.
func TestClientCheckCostsNoArgon2(t *testing.T) {
	e := kysodEnv(t, 0, 0)
	ctx := context.Background()
	cl, err := e.svc.CreateClient(ctx, "Cổng Dịch vụ công", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	const bound = 2 << 20 // far below one argon2id evaluation's 19 MiB
	for _, c := range []struct{ name, id, secret string }{
		{"unknown client", "nosuchclient", cl.Secret},
		{"wrong secret", cl.ID, strings.Repeat("A", len(cl.Secret))},
		{"right secret", cl.ID, cl.Secret},
	} {
		var err error
		n := allocated(func() { _, err = e.svc.CheckClient(ctx, c.id, c.secret) })
		if (err == nil) != (c.name == "right secret") {
			t.Errorf("%s: %v", c.name, err)
		}
		if n > bound {
			t.Errorf("%s: checking the client allocated %d bytes: an argon2id evaluation, on an unauthenticated request", c.name, n)
		}
	}
	st := e.p.Store
	stored, err := st.GetClient(ctx, cl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored.SecretHash, "$hmac-sha256$v=1$") || strings.Contains(stored.SecretHash, cl.Secret) {
		t.Errorf("a new client's secret is stored as %q, want the HMAC form", stored.SecretHash)
	}
	// The HMAC form is bound to its client: copied onto another client's
	// row, it does not let the first client's secret in as the second.
	other, err := e.svc.CreateClient(ctx, "Cổng khác", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	o, _ := st.GetClient(ctx, other.ID)
	if err := st.SetClientSecretHash(ctx, other.ID, o.SecretHash, stored.SecretHash); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CheckClient(ctx, other.ID, cl.Secret); !isCode(err, signing.KindClientInvalid) {
		t.Errorf("a secret HMAC copied to another client's row let its secret in: %v", err)
	}
}

// TestLegacyClientSecretMigrates: a client registered before secrets were
// HMAC'd has an argon2id hash; its right secret still works, once through
// argon2id, after which the stored form is the HMAC one and the check
// costs no argon2id. A wrong secret leaves the old form in place.
func TestLegacyClientSecretMigrates(t *testing.T) {
	e := kysodEnv(t, 0, 0)
	ctx := context.Background()
	st := e.p.Store
	cl, err := e.svc.CreateClient(ctx, "Cổng cũ", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := signing.Argon2Hash(cl.Secret, signing.DefaultPasswordParams, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := st.GetClient(ctx, cl.ID)
	if err := st.SetClientSecretHash(ctx, cl.ID, c.SecretHash, legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CheckClient(ctx, cl.ID, "wrong-"+cl.Secret); !isCode(err, signing.KindClientInvalid) {
		t.Fatalf("wrong secret for a legacy client: %v", err)
	}
	if c, _ := st.GetClient(ctx, cl.ID); c.SecretHash != legacy {
		t.Fatalf("a wrong secret changed the stored form to %q", c.SecretHash)
	}
	if _, _, err := e.svc.ClientToken(ctx, cl.ID, cl.Secret, ""); err != nil {
		t.Fatalf("the right secret of a legacy client: %v", err)
	}
	c, _ = st.GetClient(ctx, cl.ID)
	if !strings.HasPrefix(c.SecretHash, "$hmac-sha256$v=1$") {
		t.Fatalf("after a right use the stored form is %q, want the HMAC form", c.SecretHash)
	}
	var n uint64
	if n = allocated(func() { _, err = e.svc.CheckClient(ctx, cl.ID, cl.Secret) }); err != nil || n > 2<<20 {
		t.Errorf("after migration: %v, %d bytes allocated", err, n)
	}
	if _, err := e.svc.CheckClient(ctx, cl.ID, "wrong-"+cl.Secret); !isCode(err, signing.KindClientInvalid) {
		t.Errorf("wrong secret after migration: %v", err)
	}
	events, err := st.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	rehashed := 0
	for _, ev := range events {
		if ev.Action == "client.secret.rehash" && ev.Subject == cl.ID {
			rehashed++
		}
	}
	if rehashed != 1 {
		t.Errorf("%d client.secret.rehash audit events, want 1", rehashed)
	}
}

// TestArgon2Busy: with every place at the gate taken for longer than
// HashWait, a PIN check is refused with KindBusy instead of queueing; the
// refused checks ran no argon2id, and a check once the flood is over is
// evaluated.
func TestArgon2Busy(t *testing.T) {
	e := kysodEnv(t, 1, time.Millisecond)
	ctx := context.Background()
	const n = 12
	busy, denied := 0, 0
	for _, err := range loginsAtOnce(e, n) {
		switch {
		case isCode(err, signing.KindBusy):
			busy++
		case isCode(err, signing.KindDenied):
			denied++
		default:
			t.Errorf("login: %v", err)
		}
	}
	if busy == 0 || denied == 0 {
		t.Fatalf("%d busy, %d evaluated of %d at once with one place and a 1ms wait: want both", busy, denied, n)
	}
	if _, _, err := e.svc.OwnerLogin(ctx, "CCCD:079203999999", "135790", "000000"); !isCode(err, signing.KindDenied) {
		t.Errorf("a check after the flood: %v", err)
	}
	if e.svc.HashConcurrency() != 1 {
		t.Errorf("HashConcurrency() = %d, want 1", e.svc.HashConcurrency())
	}
}

// TestArgon2Bounded: 16 PIN checks at once with two places hold at most
// two evaluations' memory at a time, not sixteen: the heap in use, sampled
// while they run, stays far below 16 × 19 MiB (garbage not yet collected
// counts too, hence the margin).
func TestArgon2Bounded(t *testing.T) {
	e := kysodEnv(t, 2, time.Minute)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	const n = 16
	for _, err := range loginsAtOnce(e, n) {
		if !isCode(err, signing.KindDenied) {
			t.Errorf("login: %v", err)
		}
	}
	close(done)
	<-sampled
	const eval = 19 << 20
	t.Logf("grew %d MiB", (int64(peak.Load())-int64(base))>>20)
	if grew := int64(peak.Load()) - int64(base); grew > 8*eval {
		t.Errorf("the heap grew by %d MiB with 2 places for %d concurrent checks: more than 8 evaluations' worth", grew>>20, n)
	}
}
