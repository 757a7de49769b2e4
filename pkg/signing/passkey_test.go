package signing_test

import (
	"context"
	"crypto"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

const passkeyOrigin = "https://kyso.example"

// passkeyEnv is an env with passkeys on (kyso.example), a portal and an
// owner with a passkey on a soft authenticator.
type passkeyEnv struct {
	*env
	portal *signing.ClientCredentials
	en     *signing.Enrolment
	auth   *signingtest.Authenticator
}

func newPasskeyEnv(t *testing.T) *passkeyEnv {
	t.Helper()
	e := newEnvWith(t, func(c *signing.Config) { c.PasskeyOrigin = passkeyOrigin })
	cl, err := e.svc.CreateClient(context.Background(), "Cổng dịch vụ công", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	p := &passkeyEnv{env: e, portal: cl, en: e.enrol(t, hsm.ECDSAP256), auth: signingtest.NewAuthenticator(passkeyOrigin)}
	p.register(t, p.en, p.auth)
	return p
}

// register adds a passkey on a to en's owner, with PIN and a fresh code.
func (p *passkeyEnv) register(t *testing.T, en *signing.Enrolment, a *signingtest.Authenticator) {
	t.Helper()
	ctx := context.Background()
	opts, err := p.svc.BeginPasskeyRegistration(ctx, en.OwnerID, signing.PINAndCode("271828", p.next(t, en)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.svc.FinishPasskeyRegistration(ctx, en.OwnerID, "Điện thoại", resp); err != nil {
		t.Fatal(err)
	}
}

func (p *passkeyEnv) submit(t *testing.T, en *signing.Enrolment, ref string) string {
	t.Helper()
	tx, _, err := p.svc.Submit(context.Background(), &signing.SubmitRequest{ClientID: p.portal.ID, ClientRef: ref, NationalID: en.NationalID,
		Description: "Tờ khai", Documents: []signing.Document{{DocID: ref + ".pdf", Hash: digest(ref)}}})
	if err != nil {
		t.Fatal(err)
	}
	return tx.ID
}

// assertion is a's answer to the challenge for en's owner's transaction.
func (p *passkeyEnv) assertion(t *testing.T, en *signing.Enrolment, a *signingtest.Authenticator, txID string) []byte {
	t.Helper()
	opts, err := p.svc.TransactionPasskeyOptions(context.Background(), en.OwnerID, txID)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// passkeyVerdicts are the passkey verdicts of the owner's evaluated
// attempts, in order.
func (p *passkeyEnv) passkeyVerdicts(t *testing.T, ownerID string) []string {
	evaluated, _ := factorEvents(t, p.p.Store, ownerID)
	var out []string
	for _, d := range evaluated {
		if d["factor"] == "passkey" {
			out = append(out, d["passkey"].(string))
		}
	}
	return out
}

// TestPasskeyApproval: a passkey that verifies its user approves a
// transaction alone (the signature is made and the approval's audit says
// "passkey"), and logs its owner in without a national ID.
func TestPasskeyApproval(t *testing.T) {
	p := newPasskeyEnv(t)
	ctx := context.Background()
	tx := p.submit(t, p.en, "a")
	got, err := p.svc.ApproveWith(ctx, p.en.OwnerID, tx, &signing.Factors{Passkey: p.assertion(t, p.en, p.auth, tx)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "signed" || len(got.Signatures) != 1 {
		t.Fatalf("approved with a passkey: status %s, %d signatures", got.Status, len(got.Signatures))
	}
	if v := p.passkeyVerdicts(t, p.en.OwnerID); strings.Join(v, " ") != "right" {
		t.Fatalf("passkey verdicts %v, want [right]", v)
	}
	opts, err := p.svc.LoginPasskeyOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := p.svc.PasskeyLogin(ctx, resp)
	if err != nil {
		t.Fatal(err)
	}
	if pr, err := p.svc.Authenticate(ctx, tok, nil); err != nil || pr.ID != p.en.OwnerID {
		t.Fatalf("the passkey login's token is %+v, %v; want owner %s", pr, err, p.en.OwnerID)
	}
	keys, err := p.svc.Passkeys(ctx, p.en.OwnerID)
	if err != nil || len(keys) != 1 || keys[0].LastUsedAt.IsZero() {
		t.Fatalf("Passkeys = %+v, %v; want one, used", keys, err)
	}
}

// TestPasskeyAttacks: every way to approve without the owner's verified
// passkey for this very transaction is refused, and each refusal is an
// attempt like a wrong PIN, audited with its verdict — a passkey without
// user verification (with its own clear error); an assertion made for
// transaction A posted for B; an assertion replayed; another owner's
// passkey; a counter that went backwards (a clone). The attempts lock the
// owner, and the lock then holds against the right passkey too.
func TestPasskeyAttacks(t *testing.T) {
	p := newPasskeyEnv(t)
	ctx := context.Background()
	txA, txB := p.submit(t, p.en, "A"), p.submit(t, p.en, "B")

	// No user verification: refused, with a message saying why.
	p.auth.UV = false
	_, err := p.svc.ApproveWith(ctx, p.en.OwnerID, txA, &signing.Factors{Passkey: p.assertion(t, p.en, p.auth, txA)})
	if !isCode(err, signing.KindDenied) || !strings.Contains(err.Error(), "did not verify its user") {
		t.Fatalf("approval without UV: %v", err)
	}
	p.auth.UV = true

	// An assertion for A posted for B.
	forA := p.assertion(t, p.en, p.auth, txA)
	if _, err := p.svc.ApproveWith(ctx, p.en.OwnerID, txB, &signing.Factors{Passkey: forA}); !isCode(err, signing.KindDenied) {
		t.Fatalf("A's assertion approving B: %v", err)
	}
	// ... still approves A (the misuse did not spend A's challenge).
	if _, err := p.svc.ApproveWith(ctx, p.en.OwnerID, txA, &signing.Factors{Passkey: forA}); err != nil {
		t.Fatalf("A's assertion approving A: %v", err)
	}

	// Another owner's passkey, answering a challenge issued to this owner.
	other := p.enrol(t, hsm.ECDSAP256)
	otherAuth := signingtest.NewAuthenticator(passkeyOrigin)
	p.register(t, other, otherAuth)
	otherAuth.AnyCredential = true
	if _, err := p.svc.ApproveWith(ctx, p.en.OwnerID, txB, &signing.Factors{Passkey: p.assertion(t, p.en, otherAuth, txB)}); !isCode(err, signing.KindDenied) {
		t.Fatalf("another owner's passkey approving: %v", err)
	}

	// A login's assertion, replayed.
	opts, err := p.svc.LoginPasskeyOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	login, err := p.auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.svc.PasskeyLogin(ctx, login); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.svc.PasskeyLogin(ctx, login); !isCode(err, signing.KindDenied) {
		t.Fatalf("a replayed login assertion: %v", err)
	}

	// A counter that went backwards: a copy of the key answers.
	p.auth.Counter = 1
	if _, err := p.svc.ApproveWith(ctx, p.en.OwnerID, txB, &signing.Factors{Passkey: p.assertion(t, p.en, p.auth, txB)}); !isCode(err, signing.KindDenied) {
		t.Fatalf("a passkey whose counter went back: %v", err)
	}
	if n := countEvents(t, p, "passkey.clone"); n != 1 {
		t.Fatalf("%d passkey.clone events, want 1", n)
	}
	p.auth.Counter = 100

	want := []string{"no_uv", "unbound", "right", "unknown", "right", "replayed", "counter"}
	if v := p.passkeyVerdicts(t, p.en.OwnerID); strings.Join(v, " ") != strings.Join(want, " ") {
		t.Fatalf("passkey verdicts %v, want %v", v, want)
	}

	// Two failures since the login: three wrong PINs more make five, the
	// last of which locks; then even the right passkey is refused,
	// unevaluated.
	for range 3 {
		if _, err := p.svc.Approve(ctx, p.en.OwnerID, txB, "000000", p.next(t, p.en)); !isCode(err, signing.KindDenied) && !isCode(err, signing.KindLocked) {
			t.Fatalf("a wrong PIN: %v", err)
		}
	}
	if _, err := p.svc.ApproveWith(ctx, p.en.OwnerID, txB, &signing.Factors{Passkey: p.assertion(t, p.en, p.auth, txB)}); !isCode(err, signing.KindLocked) {
		t.Fatalf("the right passkey while locked: %v", err)
	}
	if _, refused := factorEvents(t, p.p.Store, p.en.OwnerID); len(refused) != 1 {
		t.Fatalf("%d attempts refused by the lock, want 1", len(refused))
	}
}

// TestPasskeyRegistration: adding a passkey takes the PIN and a fresh
// code (a passkey will not do, nor a wrong PIN, nor nothing); a
// registration answer is good once, for its owner; an authenticator
// without user verification is refused; another owner cannot remove the
// passkey; the owner can, and then it approves nothing.
func TestPasskeyRegistration(t *testing.T) {
	p := newPasskeyEnv(t)
	ctx := context.Background()
	if _, err := p.svc.BeginPasskeyRegistration(ctx, p.en.OwnerID, &signing.Factors{}); !isCode(err, signing.KindInvalid) {
		t.Fatalf("registration without factors: %v", err)
	}
	tx := p.submit(t, p.en, "r")
	if _, err := p.svc.BeginPasskeyRegistration(ctx, p.en.OwnerID, &signing.Factors{Passkey: p.assertion(t, p.en, p.auth, tx)}); !isCode(err, signing.KindInvalid) {
		t.Fatalf("registration with a passkey: %v", err)
	}
	if _, err := p.svc.BeginPasskeyRegistration(ctx, p.en.OwnerID, signing.PINAndCode("000000", p.next(t, p.en))); !isCode(err, signing.KindDenied) {
		t.Fatalf("registration with a wrong PIN: %v", err)
	}
	opts, err := p.svc.BeginPasskeyRegistration(ctx, p.en.OwnerID, signing.PINAndCode("271828", p.next(t, p.en)))
	if err != nil {
		t.Fatal(err)
	}
	second := signingtest.NewAuthenticator(passkeyOrigin)
	resp, err := second.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	other := p.enrol(t, hsm.ECDSAP256)
	if _, err := p.svc.FinishPasskeyRegistration(ctx, other.OwnerID, "x", resp); !isCode(err, signing.KindDenied) {
		t.Fatalf("another owner finishing the registration: %v", err)
	}
	if _, err := p.svc.FinishPasskeyRegistration(ctx, p.en.OwnerID, "Khoá USB", resp); err != nil {
		t.Fatal(err)
	}
	if _, err := p.svc.FinishPasskeyRegistration(ctx, p.en.OwnerID, "Khoá USB", resp); !isCode(err, signing.KindDenied) {
		t.Fatalf("a registration replayed: %v", err)
	}
	opts, err = p.svc.BeginPasskeyRegistration(ctx, p.en.OwnerID, signing.PINAndCode("271828", p.next(t, p.en)))
	if err != nil {
		t.Fatal(err)
	}
	noUV := signingtest.NewAuthenticator(passkeyOrigin)
	noUV.UV = false
	if resp, err = noUV.Create(opts); err != nil {
		t.Fatal(err)
	}
	if _, err := p.svc.FinishPasskeyRegistration(ctx, p.en.OwnerID, "no UV", resp); !isCode(err, signing.KindDenied) || !strings.Contains(err.Error(), "did not verify its user") {
		t.Fatalf("a registration without UV: %v", err)
	}
	keys, err := p.svc.Passkeys(ctx, p.en.OwnerID)
	if err != nil || len(keys) != 2 || keys[1].Name != "Khoá USB" {
		t.Fatalf("Passkeys = %+v, %v; want two", keys, err)
	}
	if err := p.svc.RemovePasskey(ctx, other.OwnerID, keys[0].ID); !isCode(err, signing.KindNotFound) {
		t.Fatalf("another owner removing the passkey: %v", err)
	}
	if err := p.svc.RemovePasskey(ctx, p.en.OwnerID, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	p.auth.AnyCredential = true
	if _, err := p.svc.ApproveWith(ctx, p.en.OwnerID, tx, &signing.Factors{Passkey: p.assertion(t, p.en, p.auth, tx)}); !isCode(err, signing.KindDenied) {
		t.Fatalf("a removed passkey approving: %v", err)
	}
	if n := countEvents(t, p, "passkey.register"); n != 5 {
		t.Fatalf("%d passkey.register events, want 5 (two right, three refused)", n)
	}
	if n := countEvents(t, p, "passkey.remove"); n != 1 {
		t.Fatalf("%d passkey.remove events, want 1", n)
	}
}

// countEvents counts the audit events of an action.
func countEvents(t *testing.T, p *passkeyEnv, action string) int {
	t.Helper()
	evs, err := p.p.Store.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == action {
			n++
		}
	}
	return n
}

// TestPasskeyOAuthBinding: a passkey's answer to one oauth2code request's
// challenge does not approve the same request with another hash, state
// or PKCE challenge, nor a transaction (four failed attempts: a fifth
// would lock); it approves its own request, once.
func TestPasskeyOAuthBinding(t *testing.T) {
	p := newPasskeyEnv(t)
	ctx := context.Background()
	cl, err := p.svc.CreateClient(ctx, "Cổng Thuế", "", "test", signing.WithRedirectURIs("https://thue.example/cb", "https://thue.example/cb2"))
	if err != nil {
		t.Fatal(err)
	}
	req := func(mod func(*signing.OAuthRequest)) *signing.OAuthRequest {
		r := &signing.OAuthRequest{ClientID: cl.ID, RedirectURI: "https://thue.example/cb", State: "s", CodeChallenge: strings.Repeat("A", 43),
			Scope: signing.ScopeCredential, CredentialID: p.en.CredentialID, NumSignatures: 1, Hashes: [][]byte{digest("tờ khai")},
			HashAlgorithm: crypto.SHA256, Description: "Tờ khai thuế"}
		if mod != nil {
			mod(r)
		}
		return r
	}
	opts, err := p.svc.OAuthPasskeyOptions(ctx, p.en.OwnerID, req(nil))
	if err != nil {
		t.Fatal(err)
	}
	answer, err := p.auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	f := &signing.Factors{Passkey: answer}
	for name, mod := range map[string]func(*signing.OAuthRequest){
		"another hash":  func(r *signing.OAuthRequest) { r.Hashes = [][]byte{digest("khác")} },
		"another state": func(r *signing.OAuthRequest) { r.State = "t" },
		"another PKCE":  func(r *signing.OAuthRequest) { r.CodeChallenge = strings.Repeat("B", 43) },
	} {
		if _, err := p.svc.ApproveOAuthWith(ctx, p.en.OwnerID, req(mod), f); !isCode(err, signing.KindDenied) {
			t.Errorf("the answer approving the request with %s: %v", name, err)
		}
	}
	tx := p.submit(t, p.en, "o")
	if _, err := p.svc.ApproveWith(ctx, p.en.OwnerID, tx, f); !isCode(err, signing.KindDenied) {
		t.Errorf("the oauth2code answer approving a transaction: %v", err)
	}
	if _, err := p.svc.ApproveOAuthWith(ctx, p.en.OwnerID, req(nil), f); err != nil {
		t.Fatalf("the answer approving its own request: %v", err)
	}
	if _, err := p.svc.ApproveOAuthWith(ctx, p.en.OwnerID, req(nil), f); !isCode(err, signing.KindDenied) {
		t.Errorf("the answer replayed: %v", err)
	}
	want := "unbound unbound unbound unbound right replayed"
	if v := p.passkeyVerdicts(t, p.en.OwnerID); strings.Join(v, " ") != want {
		t.Errorf("passkey verdicts %v, want %s", v, want)
	}
}
