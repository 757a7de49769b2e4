package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// env is a service on a throwaway CA (signingtest.Env) as this package's
// tests use it.
type env struct {
	svc   *signing.Service
	p     *catest.PKI
	clock *signingtest.Clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with signingtest.Config changed by mod, when not
// nil.
func newEnvWith(t *testing.T, mod func(*signing.Config)) *env {
	t.Helper()
	e := signingtest.New(t, mod)
	return &env{svc: e.Service, p: e.PKI, clock: e.Clock}
}

var cccdSeq atomic.Int64

func (e *env) enrol(t *testing.T, alg hsm.Algorithm) *signing.Enrolment {
	t.Helper()
	n := cccdSeq.Add(1)
	en, err := e.svc.Enrol(context.Background(), &signing.EnrolRequest{
		CCCD: "0792030" + pad5(n), Name: "Nguyễn Văn Đức", Province: "Hồ Chí Minh", PIN: "271828", Algorithm: alg, Actor: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return en
}

func pad5(n int64) string {
	s := "00000" + itoa(n)
	return s[len(s)-5:]
}

func itoa(n int64) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// otp is the owner's current code; next moves to the next time step first,
// as an owner waiting for a fresh code does.
func (e *env) otp(t *testing.T, en *signing.Enrolment) string {
	t.Helper()
	return signingtest.Code(t, en, e.clock.Now())
}

func (e *env) next(t *testing.T, en *signing.Enrolment) string {
	e.clock.Advance(30 * time.Second)
	return e.otp(t, en)
}

func isCode(err error, kind signing.Kind) bool {
	var se *signing.Error
	return errors.As(err, &se) && se.Kind == kind
}

func digest(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func verifySig(t *testing.T, en *signing.Enrolment, h crypto.Hash, d, sig []byte) {
	t.Helper()
	switch k := en.Certificate.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, d, sig) {
			t.Fatal("ECDSA signature does not verify with the certificate's key")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPSS(k, h, d, sig, &rsa.PSSOptions{SaltLength: h.Size()}); err != nil {
			t.Fatalf("RSA-PSS signature: %v", err)
		}
	}
}

// TestImplicitFlow is SmartCA's model: a relying party submits, the owner
// approves with PIN and one-time code, the signatures are made.
func TestImplicitFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	cl, err := e.svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	docs := []signing.Document{{DocID: "to-khai.pdf", Hash: digest("a")}, {DocID: "phu-luc.pdf", Hash: digest("b")}}
	tx, created, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "portal-1", NationalID: en.NationalID, Description: "Đăng ký khai sinh", Documents: docs})
	if err != nil || !created || tx.Status != store.TxPending {
		t.Fatalf("submit: %v created=%v %+v", err, created, tx)
	}
	again, created, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "portal-1", CredentialID: en.CredentialID, Description: "Đăng ký khai sinh", Documents: docs})
	if err != nil || created || again.ID != tx.ID {
		t.Fatalf("resubmit: %v created=%v id %s vs %s", err, created, again.ID, tx.ID)
	}
	if _, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "portal-1", CredentialID: en.CredentialID, Documents: docs[:1]}); !isCode(err, signing.KindConflict) {
		t.Errorf("same reference, other documents: %v", err)
	}
	pending, err := e.svc.OwnerTransactions(ctx, en.OwnerID, true)
	if err != nil || len(pending) != 1 || pending[0].Description != "Đăng ký khai sinh" || len(pending[0].Documents) != 2 {
		t.Fatalf("pending: %v %+v", err, pending)
	}

	other := e.enrol(t, hsm.ECDSAP256)
	if _, err := e.svc.Approve(ctx, other.OwnerID, tx.ID, "271828", e.otp(t, other)); !isCode(err, signing.KindNotFound) {
		t.Errorf("another owner approving: %v", err)
	}
	if _, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "654321", e.otp(t, en)); !isCode(err, signing.KindDenied) {
		t.Errorf("wrong PIN: %v", err)
	}
	if _, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "271828", wrongOTP(t, e, en)); !isCode(err, signing.KindDenied) {
		t.Errorf("wrong code: %v", err)
	}
	code := e.next(t, en)
	done, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "271828", code)
	if err != nil || done.Status != store.TxSigned || len(done.Signatures) != 2 {
		t.Fatalf("approve: %v %+v", err, done)
	}
	for i, s := range done.Signatures {
		if s.DocID != docs[i].DocID {
			t.Errorf("signature %d for %q", i, s.DocID)
		}
		verifySig(t, en, crypto.SHA256, docs[i].Hash, s.Signature)
	}
	if _, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "271828", code); !isCode(err, signing.KindConflict) {
		t.Errorf("approving twice: %v", err)
	}

	got, err := e.svc.ClientTransaction(ctx, cl.ID, "portal-1")
	if err != nil || got.Status != store.TxSigned || len(got.Signatures) != 2 {
		t.Fatalf("client poll by its reference: %v %+v", err, got)
	}
	cl2, _ := e.svc.CreateClient(ctx, "Another portal", "", "test")
	if _, err := e.svc.ClientTransaction(ctx, cl2.ID, tx.ID); !isCode(err, signing.KindNotFound) {
		t.Errorf("another client reading it: %v", err)
	}

	// Replayed code: a new transaction approved with the code just used.
	tx2, _, _ := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "portal-2", CredentialID: en.CredentialID, Documents: docs[:1]})
	if _, err := e.svc.Approve(ctx, en.OwnerID, tx2.ID, "271828", code); !isCode(err, signing.KindDenied) {
		t.Errorf("replayed code: %v", err)
	}
	if err := e.svc.Reject(ctx, en.OwnerID, tx2.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.ClientTransaction(ctx, cl.ID, tx2.ID); got.Status != store.TxRejected {
		t.Errorf("rejected transaction is %s", got.Status)
	}

	// Expiry: nobody approves in time.
	tx3, _, _ := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "portal-3", CredentialID: en.CredentialID, Documents: docs[:1]})
	e.clock.Advance(11 * time.Minute)
	if got, _ := e.svc.ClientTransaction(ctx, cl.ID, tx3.ID); got.Status != store.TxExpired {
		t.Errorf("unapproved transaction is %s after 11 minutes", got.Status)
	}
	if _, err := e.svc.Approve(ctx, en.OwnerID, tx3.ID, "271828", e.next(t, en)); !isCode(err, signing.KindConflict) {
		t.Errorf("approving an expired transaction: %v", err)
	}
}

// TestSignHashRefusals: the SAD signs exactly what was authorised, once.
func TestSignHashRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	other := e.enrol(t, hsm.ECDSAP256)
	hashes := [][]byte{digest("1"), digest("2"), digest("3")}
	authorize := func(hs [][]byte, h crypto.Hash) string {
		t.Helper()
		sad, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: en.CredentialID, NumSignatures: len(hs), Hashes: hs, HashAlgorithm: h, PIN: "271828", OTP: e.next(t, en)})
		if err != nil {
			t.Fatal(err)
		}
		return sad
	}
	sad := authorize(hashes, crypto.SHA256)
	req := func(mod func(r *signing.SignHashRequest)) error {
		r := &signing.SignHashRequest{CredentialID: en.CredentialID, SAD: sad, Hashes: hashes, HashAlgorithm: crypto.SHA256}
		mod(r)
		_, err := e.svc.SignHash(ctx, r)
		return err
	}
	sha512 := sha512.Sum512([]byte("1"))
	for name, mod := range map[string]func(r *signing.SignHashRequest){
		"another credential": func(r *signing.SignHashRequest) { r.CredentialID = other.CredentialID },
		"another hash":       func(r *signing.SignHashRequest) { r.Hashes = [][]byte{hashes[0], hashes[1], digest("evil")} },
		"reordered hashes":   func(r *signing.SignHashRequest) { r.Hashes = [][]byte{hashes[1], hashes[0], hashes[2]} },
		"one hash more":      func(r *signing.SignHashRequest) { r.Hashes = append(append([][]byte{}, hashes...), digest("4")) },
		"one hash fewer":     func(r *signing.SignHashRequest) { r.Hashes = hashes[:2] },
		"another algorithm": func(r *signing.SignHashRequest) {
			r.HashAlgorithm, r.Hashes = crypto.SHA512, [][]byte{sha512[:], sha512[:], sha512[:]}
		},
		"RSA algorithm on an EC key": func(r *signing.SignHashRequest) { r.SignAlgo = algid.RSASSAPSS.String() },
		"a forged SAD":               func(r *signing.SignHashRequest) { r.SAD = "forged" },
	} {
		if err := req(mod); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	sigs, err := e.svc.SignHash(ctx, &signing.SignHashRequest{CredentialID: en.CredentialID, SAD: sad, Hashes: hashes, HashAlgorithm: crypto.SHA256})
	if err != nil || len(sigs) != 3 {
		t.Fatalf("the authorised request: %v", err)
	}
	for i := range sigs {
		verifySig(t, en, crypto.SHA256, hashes[i], sigs[i])
	}
	if err := req(func(*signing.SignHashRequest) {}); err == nil {
		t.Error("a replayed SAD signed again")
	}

	sad = authorize(hashes, crypto.SHA256)
	e.clock.Advance(6 * time.Minute)
	if err := req(func(*signing.SignHashRequest) {}); !isCode(err, signing.KindExpired) {
		t.Errorf("an expired SAD: %v", err)
	}

	// Twenty requests race with one SAD: exactly one signs.
	sad = authorize(hashes, crypto.SHA256)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := req(func(*signing.SignHashRequest) {}); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d racing requests signed with one SAD, want 1", ok.Load())
	}

	if _, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: en.CredentialID, NumSignatures: 1, HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.next(t, en)}); !isCode(err, signing.KindInvalid) {
		t.Errorf("authorising without hashes (SCAL1): %v", err)
	}
}

// TestRSA: RSA keys sign with RSASSA-PSS by default.
func TestRSA(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.RSA2048)
	h := [][]byte{digest("pss")}
	sad, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: en.CredentialID, NumSignatures: 1, Hashes: h, HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.otp(t, en)})
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := e.svc.SignHash(ctx, &signing.SignHashRequest{CredentialID: en.CredentialID, SAD: sad, Hashes: h, HashAlgorithm: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	verifySig(t, en, crypto.SHA256, h[0], sigs[0])
}

// TestClientTokens: client credentials give a bearer token; a wrong secret
// does not; a revoked token stops working.
func TestClientTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cl, err := e.svc.CreateClient(ctx, "Portal", "https://portal.example/hook", "test")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := e.svc.Client(ctx, cl.ID); err != nil {
		t.Fatal(err)
	} else if k, err := e.svc.WebhookKey(c); err != nil || len(cl.WebhookKey) != 32 || !bytes.Equal(k, cl.WebhookKey) {
		t.Errorf("the webhook key handed out is not the one kept: %v", err)
	}
	if _, err := e.svc.CreateClient(ctx, "Bad", "http://portal.example/hook", "test"); !isCode(err, signing.KindInvalid) {
		t.Errorf("plain-http webhook: %v", err)
	}
	if _, _, err := e.svc.ClientToken(ctx, cl.ID, "wrong", signing.ScopeService); err == nil {
		t.Error("a wrong secret got a token")
	}
	tok, life, err := e.svc.ClientToken(ctx, cl.ID, cl.Secret, signing.ScopeService)
	if err != nil || life <= 0 {
		t.Fatal(err)
	}
	p, err := e.svc.Authenticate(ctx, tok, nil)
	if err != nil || p.Kind != "client" || p.ID != cl.ID || p.Scope != signing.ScopeService {
		t.Fatalf("authenticate: %v %+v", err, p)
	}
	if err := e.svc.RevokeToken(ctx, tok, p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, tok, nil); !isCode(err, signing.KindTokenInvalid) {
		t.Errorf("revoked token: %v", err)
	}
	tok, _, _ = e.svc.ClientToken(ctx, cl.ID, cl.Secret, signing.ScopeService)
	e.clock.Advance(2 * time.Hour)
	if _, err := e.svc.Authenticate(ctx, tok, nil); !isCode(err, signing.KindTokenInvalid) {
		t.Errorf("expired token: %v", err)
	}
}

// TestPDFDocuments: a transaction may carry whole PDFs; what kyso cannot
// sign is refused when submitted, not after the owner approved.
func TestPDFDocuments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	cl, _ := e.svc.CreateClient(ctx, "Portal", "", "test")
	submit := func(ref string, d signing.Document, h crypto.Hash) error {
		_, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: ref, CredentialID: en.CredentialID, HashAlgorithm: h, Documents: []signing.Document{d}})
		return err
	}
	pdf := []byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\nxref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \ntrailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n186\n%%EOF\n")
	for name, c := range map[string]struct {
		d signing.Document
		h crypto.Hash
	}{
		"not a PDF":             {signing.Document{DocID: "x", PDF: []byte("hello")}, crypto.SHA256},
		"B-LT without a TSA":    {signing.Document{DocID: "x", PDF: pdf, Level: "B-LT"}, crypto.SHA256},
		"an unknown level":      {signing.Document{DocID: "x", PDF: pdf, Level: "B-Z"}, crypto.SHA256},
		"a SHA-384 transaction": {signing.Document{DocID: "x", PDF: pdf}, crypto.SHA384},
	} {
		if err := submit("bad-"+name, c.d, c.h); !isCode(err, signing.KindInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "pdf-1", CredentialID: en.CredentialID,
		Documents: []signing.Document{{DocID: "don.pdf", PDF: pdf}}})
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(pdf)
	if !bytes.Equal(tx.Documents[0].Hash, want[:]) {
		t.Fatal("the owner is not shown the PDF's SHA-256")
	}
	done, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "271828", e.next(t, en))
	if err != nil {
		t.Fatal(err)
	}
	got := done.Signatures[0].SignedPDF
	if !bytes.HasPrefix(got, pdf) || !bytes.Contains(got, []byte("/ETSI.CAdES.detached")) || done.Signatures[0].Signature != nil {
		t.Fatalf("the result is not the PDF signed incrementally (%d bytes)", len(got))
	}
}
