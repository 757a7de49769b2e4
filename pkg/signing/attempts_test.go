package signing_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
)

// auditLog is the part of the store the attempt tests read.
type auditLog interface {
	ListAudit(ctx context.Context, after int64, limit int) ([]*store.AuditEvent, error)
}

// factorEvents returns the audit events of the owner's attempts: those
// evaluated ("owner.factors", one argon2 run each) and those refused
// unevaluated by a lock ("owner.locked").
func factorEvents(t *testing.T, st auditLog, ownerID string) (evaluated, refused []map[string]any) {
	t.Helper()
	var after int64
	for {
		evs, err := st.ListAudit(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return evaluated, refused
		}
		for _, ev := range evs {
			after = ev.ID
			if ev.Actor != "owner:"+ownerID {
				continue
			}
			var d map[string]any
			if err := json.Unmarshal(ev.Details, &d); err != nil {
				t.Fatalf("audit details %s: %v", ev.Details, err)
			}
			switch ev.Action {
			case "owner.factors":
				d["outcome"] = ev.Outcome
				evaluated = append(evaluated, d)
			case "owner.locked":
				refused = append(refused, d)
			}
		}
	}
}

// wrongOTP is a six-digit code that is none of the owner's codes around
// now, so it is wrong whatever step the service checks.
func wrongOTP(t *testing.T, e *env, en *signing.Enrolment) string {
	t.Helper()
	near := map[string]bool{}
	for _, d := range []time.Duration{-60 * time.Second, -30 * time.Second, 0, 30 * time.Second, 60 * time.Second} {
		c, err := signing.TOTPCode(en.TOTPURI, e.clock.Now().Add(d))
		if err != nil {
			t.Fatal(err)
		}
		near[c] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func answer(err error) string {
	se, ok := err.(*signing.Error)
	if !ok {
		return "not a signing.Error: " + err.Error()
	}
	return se.Kind.String() + ": " + se.Description
}

// TestConcurrentGuesses is the attack of issue 13: 150 credentials/
// authorize calls at once against one owner, 149 with wrong PINs (and the
// owner's current code, the worst case: a right code beside a wrong PIN)
// and one with the right PIN and a wrong code. Attempts are reserved
// before they are evaluated, so at most PINAttempts PINs go through argon2,
// the owner ends locked, and the answers tell nothing about the PINs: every
// evaluated attempt gets the same code and text, and every refused one the
// same lock.
func TestConcurrentGuesses(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		e := newEnv(t)
		concurrentGuesses(t, e, e.p.Store)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), testenv.NewPostgres(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		e, _ := productionEnv(t, st)
		concurrentGuesses(t, e, st)
	})
}

func concurrentGuesses(t *testing.T, e *env, st store.Store) {
	const n, limit, rightPIN = 150, 5, "271828"
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	otp, bad := e.otp(t, en), wrongOTP(t, e, en)
	right := n / 2
	answers := make([]string, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			pin, code := "9"+strings.Repeat("0", 5-len(itoa(int64(i))))+itoa(int64(i)), otp
			if i == right {
				pin, code = rightPIN, bad
			}
			start.Wait()
			_, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: en.CredentialID, NumSignatures: 1,
				Hashes: [][]byte{digest("guess")}, HashAlgorithm: crypto.SHA256, PIN: pin, OTP: code, Actor: "client:attacker"})
			if err == nil {
				answers[i] = "authorised"
				return
			}
			answers[i] = answer(err)
		}()
	}
	start.Done()
	done.Wait()

	evaluated, refused := factorEvents(t, st, en.OwnerID)
	distinct := map[string]int{}
	for _, a := range answers {
		distinct[a]++
	}
	rightEvaluated := false
	for _, d := range evaluated {
		if d["pin"] == "right" {
			rightEvaluated = true
		}
	}
	t.Logf("%d concurrent authorize calls (limit %d): %d evaluated (argon2 runs, from the audit log), %d refused by the lock; the right PIN evaluated: %v; distinct answers: %d",
		n, limit, len(evaluated), len(refused), rightEvaluated, len(distinct))
	for a, c := range distinct {
		t.Logf("  %3d × %s", c, a)
	}
	if len(evaluated) > limit || len(evaluated) == 0 {
		t.Errorf("%d attempts evaluated, want 1 to %d", len(evaluated), limit)
	}
	if len(evaluated)+len(refused) != n {
		t.Errorf("%d evaluated + %d refused attempts audited, want %d", len(evaluated), len(refused), n)
	}
	if len(distinct) > 2 {
		t.Errorf("%d distinct answers, want at most 2 (denied, locked): %v", len(distinct), distinct)
	}
	denied := signing.KindDenied.String() + ": wrong PIN or one-time code"
	if distinct[denied] != len(evaluated) {
		t.Errorf("%d answers %q for %d evaluated attempts", distinct[denied], denied, len(evaluated))
	}
	for a, c := range distinct {
		if a != denied && (!strings.HasPrefix(a, signing.KindLocked.String()+": ") || c != len(refused)) {
			t.Errorf("answer %q (%d times) is neither the denial nor the one lock", a, c)
		}
	}
	// The right PIN's answer is one that wrong PINs got too.
	if distinct[answers[right]] < 2 {
		t.Errorf("the right PIN's answer %q was given %d times: it stands out", answers[right], distinct[answers[right]])
	}
	o, err := st.GetOwner(ctx, en.OwnerID)
	if err != nil {
		t.Fatal(err)
	}
	if !o.LockedUntil.After(e.clock.Now()) {
		t.Errorf("the owner is not locked after %d failed attempts: %+v", len(evaluated), o.LockedUntil)
	}
}

// TestOneAnswer: every failed combination of the two factors gets the same
// error, with the same code and text, and runs the same checks (the audit
// log shows both factors judged each time, and which failed); the attempt
// that reaches the limit is answered like the others, and only the next
// is refused by the lock. After the lock, the budget is whole again; a
// success releases it. The audit log never holds a PIN or a code.
func TestOneAnswer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	h := [][]byte{digest("x")}
	authorize := func(pin, otp string) error {
		_, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: en.CredentialID, NumSignatures: 1, Hashes: h, HashAlgorithm: crypto.SHA256, PIN: pin, OTP: otp})
		return err
	}
	used := e.next(t, en)
	if err := authorize("271828", used); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Second)
	combos := []struct {
		name, pin, otp, wantPIN, wantOTP string
	}{
		{"wrong PIN, right code", "654321", "", "wrong", "right"},
		{"right PIN, wrong code", "271828", "bad", "right", "wrong"},
		{"both wrong", "654321", "bad", "wrong", "wrong"},
		{"right PIN, replayed code", "271828", used, "right", "replayed"},
		{"wrong PIN, code spent by the first", "654321", "spent", "wrong", "replayed"},
	}
	first := ""
	for i, c := range combos {
		otp := c.otp
		switch otp {
		case "":
			otp = e.otp(t, en)
		case "bad":
			otp = wrongOTP(t, e, en)
		case "spent":
			otp = e.otp(t, en)
		}
		err := authorize(c.pin, otp)
		if err == nil {
			t.Fatalf("%s: authorised", c.name)
		}
		if i == 0 {
			first = answer(err)
		}
		if got := answer(err); got != first || !strings.HasPrefix(got, signing.KindDenied.String()+": ") {
			t.Errorf("%s: answer %q, want the same as every other failure, %q", c.name, got, first)
		}
	}
	err := authorize("271828", e.next(t, en))
	if !isCode(err, signing.KindLocked) {
		t.Fatalf("right factors after five failed attempts: %v, want the lock", err)
	}
	// The lock says when to try again: when it ends, at most the lockout
	// away (the default, 15 minutes), sent by the edge as Retry-After.
	var se *signing.Error
	if !errors.As(err, &se) || se.RetryAfter <= 0 || se.RetryAfter > 15*time.Minute {
		t.Errorf("the lock's answer says to retry after %v, want within the 15-minute lockout", se.RetryAfter)
	}
	evaluated, refused := factorEvents(t, e.p.Store, en.OwnerID)
	if len(evaluated) != 1+len(combos) || len(refused) != 1 {
		t.Fatalf("audit: %d evaluated, %d refused; want %d and 1", len(evaluated), len(refused), 1+len(combos))
	}
	for i, c := range combos {
		d := evaluated[i+1]
		if d["pin"] != c.wantPIN || d["otp"] != c.wantOTP || d["outcome"] != "error" || d["attempt"] != float64(i+1) {
			t.Errorf("%s: audit %v, want pin %s, otp %s, attempt %d", c.name, d, c.wantPIN, c.wantOTP, i+1)
		}
	}
	if _, ok := evaluated[len(combos)]["locked_until"]; !ok {
		t.Errorf("the attempt that reached the limit does not say it locked: %v", evaluated[len(combos)])
	}
	evs, err := e.p.Store.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if strings.Contains(string(ev.Details), "271828") || strings.Contains(string(ev.Details), "654321") || strings.Contains(string(ev.Details), used) {
			t.Errorf("audit event %s holds a factor: %s", ev.Action, ev.Details)
		}
	}

	// When the lock ends, the budget is whole: four failures and a
	// success, which releases it, then five more failures before a lock.
	e.clock.Advance(16 * time.Minute)
	for range 4 {
		if err := authorize("654321", e.next(t, en)); !isCode(err, signing.KindDenied) {
			t.Fatalf("failure after the lock: %v", err)
		}
	}
	if err := authorize("271828", e.next(t, en)); err != nil {
		t.Fatalf("right factors at the fifth attempt: %v", err)
	}
	for i := range 5 {
		if err := authorize("654321", e.next(t, en)); !isCode(err, signing.KindDenied) {
			t.Fatalf("failure %d after a success: %v", i+1, err)
		}
	}
	if err := authorize("271828", e.next(t, en)); !isCode(err, signing.KindLocked) {
		t.Fatalf("sixth attempt: %v, want the lock", err)
	}
}

// TestLoginDoesNotTellWhoIsEnrolled: a login naming a national ID no
// owner holds is answered as a known owner's wrong factors are — the same
// errors, the lock after the same number of tries, the same audited
// events (without the ID tried) — and sixteen guesses at once at one
// unknown ID are five evaluations, as they would be for an owner.
func TestLoginDoesNotTellWhoIsEnrolled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	const unknown = "CCCD:079203077777"
	answers := func(nationalID string) []string {
		var out []string
		for range 6 {
			_, _, err := e.svc.OwnerLogin(ctx, nationalID, "999999", "000000")
			var se *signing.Error
			if !errors.As(err, &se) {
				t.Fatalf("login of %s: %v", nationalID, err)
			}
			// The lock's end differs by the time between the two runs.
			out = append(out, fmt.Sprint(se.Kind)+": "+regexp.MustCompile(`locked until .*`).ReplaceAllString(se.Error(), "locked until …"))
		}
		return out
	}
	events := func(after int64) []string {
		evs, err := e.p.Store.ListAudit(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ev := range evs {
			if strings.HasPrefix(ev.Action, "owner.") {
				out = append(out, ev.Action+" "+ev.Outcome)
			}
			if strings.Contains(ev.Subject+string(ev.Details), "079203077777") {
				t.Errorf("audit event %d names the unknown national ID tried: %s %s", ev.ID, ev.Subject, ev.Details)
			}
		}
		return out
	}
	head := func() int64 {
		id, _, err := e.p.Store.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	h0 := head()
	known := answers(en.NationalID)
	h1 := head()
	stranger := answers(unknown)
	if strings.Join(known, "\n") != strings.Join(stranger, "\n") {
		t.Errorf("a known owner's wrong logins and an unknown ID's differ:\nknown:\n%s\nunknown:\n%s", strings.Join(known, "\n"), strings.Join(stranger, "\n"))
	}
	if !strings.Contains(known[5], "locked") {
		t.Errorf("the sixth wrong login of an owner: %q, want locked", known[5])
	}
	if k, u := events(h0)[:len(events(h0))-len(events(h1))], events(h1); strings.Join(k, ",") != strings.Join(u, ",") {
		t.Errorf("audited: known %v, unknown %v", k, u)
	}
	// Sixteen at once at another unknown ID: five evaluated, eleven locked.
	var denied, locked atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, _, err := e.svc.OwnerLogin(ctx, "CCCD:079203066666", "999999", "000000")
			switch {
			case isCode(err, signing.KindDenied):
				denied.Add(1)
			case isCode(err, signing.KindLocked):
				locked.Add(1)
			default:
				t.Errorf("a guess at once: %v", err)
			}
		})
	}
	wg.Wait()
	if denied.Load() != 5 || locked.Load() != 11 {
		t.Errorf("16 guesses at once at an unknown ID: %d denied, %d locked; want 5 and 11", denied.Load(), locked.Load())
	}
}
