package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// newRenewEnv is newEnvWith whose CA reads the test clock too: renewals
// happen months after enrolment.
func newRenewEnv(t *testing.T, mod func(*signing.Config)) *env {
	t.Helper()
	clock := signingtest.NewClock(time.Now())
	p, err := catest.NewOptions(context.Background(), t.TempDir(), nil, &ca.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cfg := signingtest.Config(clock)
	if mod != nil {
		mod(&cfg)
	}
	return &env{svc: signingtest.NewService(t, p, cfg), p: p, clock: clock}
}

func (e *env) renew(t *testing.T, en *signing.Enrolment, pin, code string, revokeOld bool) (*signing.Renewed, error) {
	t.Helper()
	return e.svc.Renew(context.Background(), &signing.RenewRequest{OwnerID: en.OwnerID, CredentialID: en.CredentialID,
		Factors: signing.PINAndCode(pin, code), RevokeOld: revokeOld})
}

func (e *env) certsOf(t *testing.T, en *signing.Enrolment) []*store.Certificate {
	t.Helper()
	cs, err := e.p.Store.ListCertificates(context.Background(), &store.CertificateFilter{NationalID: en.NationalID})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestRenew: the owner renews a credential 20 days before its end with
// PIN and code: a new key and certificate (same subject) under the same
// credential ID, which signs from then on; the old certificate stays
// good; the campaign rule passes to the new certificate and the free
// period goes on from the first (a signature after the first year is
// metered, though the renewed certificate is younger); the renewal is
// counted (free by default); every step is audited.
func TestRenew(t *testing.T) {
	e := newRenewEnv(t, nil)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	old := en.Certificate
	portal, err := e.svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test", signing.InCategory(store.CategoryPublicService))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(old.NotAfter.Add(-20 * 24 * time.Hour))
	states, err := e.svc.RenewalStates(ctx, en.OwnerID)
	if err != nil || len(states) != 1 || !states[0].Expiring() || !states[0].Renewable || states[0].DaysLeft != 20 || states[0].Metered {
		t.Fatalf("RenewalStates = %+v, %v", *states[0], err)
	}
	r, err := e.renew(t, en, "271828", e.next(t, en), false)
	if err != nil {
		t.Fatal(err)
	}
	if r.New.SerialNumber.Cmp(old.SerialNumber) == 0 || !bytes.Equal(r.New.RawSubject, old.RawSubject) || r.Metered {
		t.Fatalf("renewed certificate %s subject %s (old %s %s), metered %v", r.New.SerialNumber, r.New.Subject, old.SerialNumber, old.Subject, r.Metered)
	}
	if oldKey, newKey := old.PublicKey.(*ecdsa.PublicKey), r.New.PublicKey.(*ecdsa.PublicKey); oldKey.Equal(newKey) {
		t.Fatal("the renewed certificate certifies the old key")
	}
	cred, err := e.svc.Credential(ctx, en.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := e.svc.Certificate(ctx, cred); err != nil || !got.Equal(r.New) {
		t.Fatalf("the credential's certificate after renewal: %v %v", got.SerialNumber, err)
	}
	if !strings.HasPrefix(cred.KeyURI, signing.CredentialKeyPrefix+en.CredentialID+".") {
		t.Errorf("the renewed key is labelled %q", cred.KeyURI)
	}
	oldRec, err := e.p.Store.GetCertificate(ctx, ca.IssuingName, old.SerialNumber.Bytes())
	if err != nil || oldRec.Status != store.StatusGood {
		t.Fatalf("the old certificate after renewal: %+v %v; want good, left to expire", oldRec, err)
	}
	newRec, err := e.p.Store.GetCertificate(ctx, ca.IssuingName, r.New.SerialNumber.Bytes())
	if err != nil || !newRec.Campaign || !bytes.Equal(newRec.Renews, old.SerialNumber.Bytes()) || !newRec.CampaignFrom.Equal(old.NotBefore) {
		t.Fatalf("the renewed certificate's record: %+v %v", newRec, err)
	}
	// The new key signs, through the one path, with the owner's approval.
	sign := func(ref string) {
		t.Helper()
		h := digest(ref)
		tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: portal.ID, ClientRef: ref, CredentialID: en.CredentialID,
			Documents: []signing.Document{{DocID: ref + ".pdf", Hash: h}}})
		if err != nil {
			t.Fatal(err)
		}
		done, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "271828", e.next(t, en))
		if err != nil || done.Status != store.TxSigned {
			t.Fatalf("approve after renewal: %v %+v", err, done)
		}
		if !ecdsa.VerifyASN1(r.New.PublicKey.(*ecdsa.PublicKey), h, done.Signatures[0].Signature) {
			t.Fatal("the signature after renewal does not verify with the renewed certificate's key")
		}
	}
	sign("after-renewal")
	// A year after the first certificate: metered, though the renewed
	// one is 20 days younger.
	e.clock.Set(old.NotBefore.AddDate(0, signing.DefaultFreeMonths, 2))
	sign("after-the-free-year")
	u, err := e.svc.Usage(ctx, &signing.UsageQuery{From: old.NotAfter.AddDate(0, 0, -21).UTC().Format(time.DateOnly), To: e.clock.Now().UTC().Format(time.DateOnly), Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Lines) != 1 || u.Lines[0].Free != 1 || u.Lines[0].Metered != 1 {
		t.Errorf("usage lines = %+v, want one free (in the first year) and one metered", u.Lines)
	}
	if len(u.Renewals) != 1 || u.Renewals[0].NationalID != en.NationalID || u.Renewals[0].Free != 1 || u.Renewals[0].Metered != 0 {
		t.Errorf("usage renewals = %+v, want one free", u.Renewals)
	}
	events, err := e.p.Store.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, ev := range events {
		if ev.Action == "credential.renew" || (ev.Action == "cert.issue" && strings.Contains(string(ev.Details), `"renews"`)) {
			seen = append(seen, ev.Action+":"+ev.Outcome)
		}
	}
	if strings.Join(seen, " ") != "credential.renew:intent cert.issue:intent cert.issue:ok credential.renew:ok" {
		t.Errorf("audit of the renewal: %v", seen)
	}
}

// TestRenewRefused: the attacker's and the unlucky cases. Another
// owner's credential is not found; wrong factors are denied and spend
// attempts under the same counter and lock as every approval; a revoked
// or expired certificate cannot be renewed (conflict, no attempt spent,
// nothing issued: the citizen enrols again); of concurrent renewals with
// different valid codes exactly one makes a certificate.
func TestRenewRefused(t *testing.T) {
	e := newRenewEnv(t, nil)
	ctx := context.Background()
	en, other := e.enrol(t, hsm.ECDSAP256), e.enrol(t, hsm.ECDSAP256)
	_, err := e.svc.Renew(ctx, &signing.RenewRequest{OwnerID: other.OwnerID, CredentialID: en.CredentialID, Factors: signing.PINAndCode("271828", e.next(t, other))})
	if !isCode(err, signing.KindNotFound) {
		t.Errorf("renewing another owner's credential: %v, want not found", err)
	}
	if _, err := e.svc.RenewalState(ctx, other.OwnerID, en.CredentialID); !isCode(err, signing.KindNotFound) {
		t.Errorf("another owner's renewal state: %v", err)
	}
	// Wrong factors: denied, counted, and the fifth locks (for signing too).
	for i := 1; i <= 5; i++ {
		if _, err := e.renew(t, en, "999999", e.next(t, en), false); !isCode(err, signing.KindDenied) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
	}
	if _, err := e.renew(t, en, "271828", e.next(t, en), false); !isCode(err, signing.KindLocked) {
		t.Fatalf("right factors after five wrong: %v, want locked", err)
	}
	if _, err := e.svc.Approve(ctx, en.OwnerID, "no-such", "271828", e.next(t, en)); err == nil {
		t.Fatal("approve while locked passed")
	}
	if n := len(e.certsOf(t, en)); n != 1 {
		t.Fatalf("%d certificates after refused renewals, want 1", n)
	}
	// Revoked.
	rev := e.enrol(t, hsm.ECDSAP256)
	if err := e.p.CA.Revoke(ctx, rev.Certificate.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.renew(t, rev, "271828", e.next(t, rev), false); !isCode(err, signing.KindConflict) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("renewing a revoked certificate: %v", err)
	}
	if _, err := e.svc.RequestRenewal(ctx, rev.CredentialID, "officer"); !isCode(err, signing.KindConflict) {
		t.Errorf("requesting the renewal of a revoked certificate: %v", err)
	}
	// Concurrent: codes of the three steps the window takes, at once.
	race := e.enrol(t, hsm.ECDSAP256)
	now := e.clock.Now()
	var wg sync.WaitGroup
	results := make(chan error, 3)
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		code := signingtest.Code(t, race, now.Add(d))
		wg.Go(func() {
			_, err := e.renew(t, race, "271828", code, false)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !isCode(err, signing.KindConflict) && !isCode(err, signing.KindDenied):
			t.Errorf("a losing concurrent renewal: %v", err)
		}
	}
	if n := len(e.certsOf(t, race)); won != 1 || n != 2 {
		t.Errorf("concurrent renewals: %d succeeded and %d certificates, want 1 and 2", won, n)
	}
	// Expired: refused before the factors, nothing spent.
	late := e.enrol(t, hsm.ECDSAP256)
	e.clock.Set(late.Certificate.NotAfter.Add(time.Minute))
	if _, err := e.renew(t, late, "999999", "000000", false); !isCode(err, signing.KindConflict) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("renewing an expired certificate: %v", err)
	}
	if o, err := e.p.Store.GetOwner(ctx, late.OwnerID); err != nil || o.PINFailures != 0 {
		t.Errorf("an expired certificate's renewal spent an attempt: %+v %v", o, err)
	}
	if n := len(e.certsOf(t, late)); n != 1 {
		t.Errorf("%d certificates after renewing an expired one, want 1", n)
	}
}

// TestRenewRequested: an operator asks (once), the owner's state shows
// who asked, the owner approves with their factors and may have the old
// certificate revoked (superseded); under a metered policy the renewal
// is counted metered.
func TestRenewRequested(t *testing.T) {
	if _, err := signing.New(nil, nil, nil, signing.Config{RenewalPolicy: "gratis"}); err == nil {
		t.Error("an unknown renewal policy was accepted")
	}
	e := newRenewEnv(t, func(c *signing.Config) { c.RenewalPolicy = signing.RenewalMetered })
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	if _, err := e.svc.RequestRenewal(ctx, "no-such-credential", "officer"); !isCode(err, signing.KindNotFound) {
		t.Errorf("request for an unknown credential: %v", err)
	}
	st, err := e.svc.RequestRenewal(ctx, en.CredentialID, "officer:lan")
	if err != nil || st.Requested != "officer:lan" || !st.Renewable || !st.Metered {
		t.Fatalf("RequestRenewal = %+v, %v", st, err)
	}
	if _, err := e.svc.RequestRenewal(ctx, en.CredentialID, "officer:lan"); !isCode(err, signing.KindConflict) {
		t.Errorf("a second request: %v", err)
	}
	if n := len(e.certsOf(t, en)); n != 1 {
		t.Fatalf("a request issued something: %d certificates", n)
	}
	r, err := e.renew(t, en, "271828", e.next(t, en), true)
	if err != nil || !r.Metered {
		t.Fatalf("renewing a requested renewal: %+v %v", r, err)
	}
	rv, err := e.p.Store.GetRevocation(ctx, ca.IssuingName, en.Certificate.SerialNumber.Bytes())
	if err != nil || rv.Reason != store.ReasonSuperseded {
		t.Errorf("the old certificate's revocation: %+v %v, want superseded", rv, err)
	}
	st, err = e.svc.RenewalState(ctx, en.OwnerID, en.CredentialID)
	if err != nil || st.Requested != "" || st.Serial != ca.FormatSerialInt(r.New.SerialNumber) || !st.Renewable {
		t.Errorf("state after the renewal: %+v %v", st, err)
	}
	day := e.clock.Now().UTC().Format(time.DateOnly)
	u, err := e.svc.Usage(ctx, &signing.UsageQuery{From: day, To: day, Actor: "test"})
	if err != nil || len(u.Renewals) != 1 || u.Renewals[0].Metered != 1 || u.Renewals[0].Free != 0 {
		t.Errorf("usage renewals = %+v %v, want one metered", u, err)
	}
}

// TestNotifyExpiring: 30 and then 7 days before the end, each portal
// holding the credential (with a webhook URL) gets one credential.expiring
// webhook, however often and by however many replicas the sweep runs; a
// portal that never used the credential gets none.
func TestNotifyExpiring(t *testing.T) {
	e := newRenewEnv(t, nil)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	holder, err := e.svc.CreateClient(ctx, "Cổng dịch vụ công", "https://portal.example/hooks", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateClient(ctx, "Một cổng khác", "https://other.example/hooks", "test"); err != nil {
		t.Fatal(err)
	}
	tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: holder.ID, ClientRef: "r1", CredentialID: en.CredentialID,
		Documents: []signing.Document{{DocID: "a.pdf", Hash: digest("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Reject(ctx, en.OwnerID, tx.ID); err != nil {
		t.Fatal(err)
	}
	drain := func() []*store.Webhook {
		t.Helper()
		hooks, err := e.p.Store.ClaimWebhooks(ctx, e.clock.Now().Add(time.Hour), time.Minute, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []*store.Webhook
		for _, w := range hooks {
			if err := e.p.Store.FinishWebhook(ctx, w.ID, true, time.Time{}, ""); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(w.Body, []byte("credential.expiring")) {
				out = append(out, w)
			}
		}
		return out
	}
	sweep := func(want int) {
		t.Helper()
		var wg sync.WaitGroup
		sent := make(chan int, 3)
		for range 3 { // three replicas at once
			wg.Go(func() {
				n, err := e.svc.NotifyExpiring(ctx)
				if err != nil {
					t.Error(err)
				}
				sent <- n
			})
		}
		wg.Wait()
		close(sent)
		total := 0
		for n := range sent {
			total += n
		}
		if total != want {
			t.Errorf("the sweeps sent %d notices, want %d", total, want)
		}
	}
	sweep(0)
	drain()
	for _, days := range []int{30, 7} {
		e.clock.Set(en.Certificate.NotAfter.Add(-time.Duration(days)*24*time.Hour + time.Hour))
		sweep(1)
		sweep(0)
		hooks := drain()
		if len(hooks) != 1 || hooks[0].ClientID != holder.ID {
			t.Fatalf("%d days before: webhooks %+v, want one to the holding portal", days, hooks)
		}
		var body signing.Expiring
		if err := json.Unmarshal(hooks[0].Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Event != "credential.expiring" || body.CredentialID != en.CredentialID || body.DaysLeft != days ||
			body.Serial != ca.FormatSerialInt(en.Certificate.SerialNumber) || !body.NotAfter.Equal(en.Certificate.NotAfter) ||
			!strings.HasSuffix(hooks[0].IdempotencyKey, ":"+itoa(int64(days))) {
			t.Errorf("%d days before: body %+v key %q", days, body, hooks[0].IdempotencyKey)
		}
	}
}

// TestRenewPasskey: a passkey's answer to the renewal's challenge renews
// the credential; an answer made for a transaction cannot renew it, nor
// the renewal's answer approve the transaction (unbound), nor an answer
// made to let the old certificate expire revoke it; each such attempt is
// counted.
func TestRenewPasskey(t *testing.T) {
	p := newPasskeyEnv(t)
	ctx := context.Background()
	tx := p.submit(t, p.en, "renew-passkey")
	forTx := p.assertion(t, p.en, p.auth, tx)
	renew := func(answer []byte) error {
		_, err := p.svc.Renew(ctx, &signing.RenewRequest{OwnerID: p.en.OwnerID, CredentialID: p.en.CredentialID, Factors: &signing.Factors{Passkey: answer}})
		return err
	}
	if err := renew(forTx); !isCode(err, signing.KindDenied) {
		t.Errorf("renewing with a transaction's passkey answer: %v", err)
	}
	opts, err := p.svc.RenewalPasskeyOptions(ctx, p.en.OwnerID, p.en.CredentialID, false)
	if err != nil {
		t.Fatal(err)
	}
	forRenewal, err := p.auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.svc.ApproveWith(ctx, p.en.OwnerID, tx, &signing.Factors{Passkey: forRenewal}); !isCode(err, signing.KindDenied) {
		t.Errorf("approving a transaction with the renewal's passkey answer: %v", err)
	}
	if got := strings.Join(p.passkeyVerdicts(t, p.en.OwnerID), " "); got != "unbound unbound" {
		t.Errorf("passkey verdicts %q, want two unbound", got)
	}
	// An answer made to let the old certificate expire does not revoke
	// it: the choice is bound too.
	opts, err = p.svc.RenewalPasskeyOptions(ctx, p.en.OwnerID, p.en.CredentialID, false)
	if err != nil {
		t.Fatal(err)
	}
	keepOld, err := p.auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.svc.Renew(ctx, &signing.RenewRequest{OwnerID: p.en.OwnerID, CredentialID: p.en.CredentialID,
		Factors: &signing.Factors{Passkey: keepOld}, RevokeOld: true})
	if !isCode(err, signing.KindDenied) {
		t.Errorf("renewing and revoking with an answer made to keep the old certificate: %v", err)
	}
	opts, err = p.svc.RenewalPasskeyOptions(ctx, p.en.OwnerID, p.en.CredentialID, true)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := p.auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.svc.Renew(ctx, &signing.RenewRequest{OwnerID: p.en.OwnerID, CredentialID: p.en.CredentialID,
		Factors: &signing.Factors{Passkey: answer}, RevokeOld: true})
	if err != nil {
		t.Fatalf("renewing with the passkey, revoking the old certificate: %v", err)
	}
	if rec, err := p.p.Store.GetCertificate(ctx, "issuing", p.en.Certificate.SerialNumber.Bytes()); err != nil || rec.Status != store.StatusRevoked {
		t.Errorf("the old certificate after a renewal that revokes it: %+v, %v", rec, err)
	}
	if _, err := p.svc.RenewalPasskeyOptions(ctx, p.neighbourOf(t), p.en.CredentialID, false); !isCode(err, signing.KindNotFound) {
		t.Errorf("another owner's renewal challenge: %v", err)
	}
}

// neighbourOf enrols another owner and returns their ID.
func (p *passkeyEnv) neighbourOf(t *testing.T) string { return p.enrol(t, hsm.ECDSAP256).OwnerID }

// TestRenewSpendsActivations: activation data approved before a renewal
// (a portal's hashes built over the old certificate) cannot be spent
// after it: the portal asks again, and the new key signs then.
func TestRenewSpendsActivations(t *testing.T) {
	e := newRenewEnv(t, nil)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	portal, err := e.svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	h := [][]byte{digest("before")}
	sad, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{ClientID: portal.ID, CredentialID: en.CredentialID, NumSignatures: 1,
		Hashes: h, HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.next(t, en)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.renew(t, en, "271828", e.next(t, en), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SignHash(ctx, &signing.SignHashRequest{ClientID: portal.ID, CredentialID: en.CredentialID, SAD: sad, Hashes: h,
		HashAlgorithm: crypto.SHA256}); err == nil {
		t.Fatal("activation data approved before the renewal signed after it")
	}
	sad, _, err = e.svc.Authorize(ctx, &signing.AuthorizeRequest{ClientID: portal.ID, CredentialID: en.CredentialID, NumSignatures: 1,
		Hashes: h, HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.next(t, en)})
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := e.svc.SignHash(ctx, &signing.SignHashRequest{ClientID: portal.ID, CredentialID: en.CredentialID, SAD: sad, Hashes: h, HashAlgorithm: crypto.SHA256})
	if err != nil || !ecdsa.VerifyASN1(r.New.PublicKey.(*ecdsa.PublicKey), h[0], sigs[0]) {
		t.Fatalf("signHash after renewal: %v", err)
	}
}

// TestRenewFailsStaleHashes: a SmartCA-style transaction of hashes
// submitted before a renewal was computed for the old certificate: the
// renewal fails it (its portal told by webhook) and its approval is
// refused before the owner's factors are asked; a whole PDF submitted
// before the renewal is signed with the new certificate. A transaction
// recorded under another certificate than the credential's (the renewal
// not swept) is refused at approval too, and spends no attempt.
func TestRenewFailsStaleHashes(t *testing.T) {
	e := newRenewEnv(t, func(c *signing.Config) {
		c.Notification = func(x *signing.Transaction) ([]byte, error) { return []byte(string(x.Status) + " " + x.Error), nil }
	})
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	portal, err := e.svc.CreateClient(ctx, "Cổng dịch vụ công", "https://portal.example/hook", "test")
	if err != nil {
		t.Fatal(err)
	}
	submit := func(ref string, d signing.Document) *signing.Transaction {
		t.Helper()
		tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: portal.ID, ClientRef: ref, CredentialID: en.CredentialID,
			Description: "Tờ khai", Documents: []signing.Document{d}})
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	hashTx := submit("hash-1", signing.Document{DocID: "a", Hash: digest("a")})
	pdfTx := submit("pdf-1", signing.Document{DocID: "b.pdf", PDF: testpdf.Minimal("B")})
	r, err := e.renew(t, en, "271828", e.next(t, en), false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.ClientTransaction(ctx, portal.ID, hashTx.ID)
	if err != nil || got.Status != store.TxFailed || !strings.Contains(got.Error, "renewed") {
		t.Fatalf("the hash transaction after the renewal: %+v, %v; want failed, saying why", got, err)
	}
	hooks, err := e.p.Store.ClaimWebhooks(ctx, e.clock.Now().Add(time.Minute), time.Minute, 10)
	if err != nil || len(hooks) != 1 || !strings.Contains(string(hooks[0].Body), "failed") || hooks[0].IdempotencyKey != hashTx.ID+":failed" {
		t.Fatalf("the portal's webhooks after the renewal: %d, %v", len(hooks), err)
	}
	if _, err := e.svc.Approve(ctx, en.OwnerID, hashTx.ID, "271828", e.next(t, en)); err == nil {
		t.Fatal("a failed transaction approved")
	}
	done, err := e.svc.Approve(ctx, en.OwnerID, pdfTx.ID, "271828", e.next(t, en))
	if err != nil || done.Status != store.TxSigned {
		t.Fatalf("the PDF submitted before the renewal: %v", err)
	}
	// The signature's CMS (hex in /Contents) carries the signer's
	// certificate: the new one, not the old.
	signed := strings.ToLower(string(done.Signatures[0].SignedPDF))
	if !strings.Contains(signed, hex.EncodeToString(r.New.Raw)) || strings.Contains(signed, hex.EncodeToString(r.Old.Raw)) {
		t.Fatal("the PDF submitted before the renewal was not signed with the new certificate")
	}

	// A transaction recorded under the old certificate that no sweep
	// failed (as one written by a replica mid-renewal would be).
	old := submit("hash-2", signing.Document{DocID: "c", Hash: digest("c")})
	raw, err := e.p.Store.GetTransaction(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	stale := *raw
	stale.ID, stale.ClientRef = raw.ID+"x", "hash-3"
	stale.Documents = []byte(strings.Replace(string(raw.Documents), hex.EncodeToString(r.New.SerialNumber.Bytes()),
		hex.EncodeToString(r.Old.SerialNumber.Bytes()), 1))
	if _, _, err := e.p.Store.CreateTransaction(ctx, &stale); err != nil {
		t.Fatal(err)
	}
	before, _ := e.p.Store.GetOwner(ctx, en.OwnerID)
	_, err = e.svc.Approve(ctx, en.OwnerID, stale.ID, "000000", e.next(t, en))
	if !isCode(err, signing.KindConflict) || !strings.Contains(err.Error(), "renewed") {
		t.Fatalf("approving hashes made for the old certificate: %v, want a conflict saying the credential was renewed", err)
	}
	if after, _ := e.p.Store.GetOwner(ctx, en.OwnerID); after.PINFailures != before.PINFailures {
		t.Errorf("the refused approval counted an attempt: %d → %d", before.PINFailures, after.PINFailures)
	}
	if got, err := e.svc.ClientTransaction(ctx, portal.ID, stale.ID); err != nil || got.Status != store.TxFailed {
		t.Errorf("the stale transaction after its refused approval: %+v, %v; want failed", got, err)
	}
	// Submitting hash-2 again is the same request, not a conflict.
	if again, created, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: portal.ID, ClientRef: "hash-2", CredentialID: en.CredentialID,
		Description: "Tờ khai", Documents: []signing.Document{{DocID: "c", Hash: digest("c")}}}); err != nil || created || again.ID != old.ID {
		t.Errorf("the same submission again: %v, created %t", err, created)
	}
	if done, err := e.svc.Approve(ctx, en.OwnerID, old.ID, "271828", e.next(t, en)); err != nil || done.Status != store.TxSigned ||
		!ecdsa.VerifyASN1(r.New.PublicKey.(*ecdsa.PublicKey), digest("c"), done.Signatures[0].Signature) {
		t.Fatalf("hashes submitted after the renewal: %v", err)
	}
}

// TestRenewAfterDeadClaim: a renewal claimed by a replica that died
// before finishing blocks the owner's renewal for RenewalClaim only (a
// conflict that says when to try again); then it renews, once.
func TestRenewAfterDeadClaim(t *testing.T) {
	e := newRenewEnv(t, nil)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	now := e.clock.Now()
	if err := e.p.Store.ClaimRenewal(ctx, &store.Renewal{CredentialID: en.CredentialID, FromSerial: en.Certificate.SerialNumber.Bytes(),
		OwnerID: en.OwnerID, RequestedBy: "owner:" + en.OwnerID, RequestedAt: now, ClaimedUntil: now.Add(signing.RenewalClaim)}, now); err != nil {
		t.Fatal(err)
	}
	_, err := e.renew(t, en, "271828", e.next(t, en), false)
	if !isCode(err, signing.KindConflict) || !strings.Contains(err.Error(), "try again in 30s") {
		t.Fatalf("renewing under a dead replica's claim: %v, want a conflict saying when to try again", err)
	}
	e.clock.Advance(signing.RenewalClaim)
	r, err := e.renew(t, en, "271828", e.next(t, en), false)
	if err != nil {
		t.Fatalf("renewing once the dead claim ended: %v", err)
	}
	keys := func() int {
		ks, err := e.p.Keys.ListKeys(ctx, &hsm.ListKeysRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return len(ks)
	}
	before := keys()
	if _, err := e.renew(t, en, "271828", e.next(t, en), false); !isCode(err, signing.KindConflict) || !strings.Contains(err.Error(), "still in force") {
		t.Fatalf("renewing the renewed certificate again: %v, want a conflict naming the replaced certificate in force", err)
	}
	// The refused issuance's key, made for it, is gone.
	if after := keys(); after != before {
		t.Errorf("the refused renewal left a key behind: %d keys before, %d after", before, after)
	}
	if cur, err := e.svc.Credential(ctx, en.CredentialID); err != nil || string(cur.CertSerial) != string(r.New.SerialNumber.Bytes()) {
		t.Fatalf("the credential after the renewal: %v", err)
	}
}

// TestRefusedIssuanceLeavesNoKey: enrolments of one citizen racing past
// the early checks are refused at the certificate's insert (one campaign
// certificate each); the key each loser's issuance made in the key store
// is deleted, so the store holds one credential key, the winner's.
func TestRefusedIssuanceLeavesNoKey(t *testing.T) {
	e := newRenewEnv(t, nil)
	ctx := context.Background()
	credKeys := func() (n int) {
		ks, err := e.p.Keys.ListKeys(ctx, &hsm.ListKeysRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if signing.IsCredentialKey(k.Label) {
				n++
			}
		}
		return n
	}
	before := credKeys()
	var wg sync.WaitGroup
	var won atomic.Int32
	for range 6 {
		wg.Go(func() {
			_, err := e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "079203099991", Name: "Trần Thị Hoa", Province: "Hồ Chí Minh",
				PIN: "271828", Algorithm: hsm.ECDSAP256, Actor: "test"})
			if err == nil {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d of 6 racing enrolments of one citizen succeeded, want 1", won.Load())
	}
	if got := credKeys() - before; got != 1 {
		t.Errorf("%d credential keys after the race, want 1 (the refused issuances' keys left behind)", got)
	}
}
