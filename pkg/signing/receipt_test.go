package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

// Text a portal or a browser wrote, to find escaped in the receipts.
const (
	hostileDescription = `Tờ khai </script><img src=x onerror=alert(1)> "quoted" & more`
	receiptDocID       = `<b>hop-dong</b>.pdf`
)

func openReceipt(t *testing.T, e *env, der []byte) (*signing.Receipt, []byte) {
	t.Helper()
	return signingtest.OpenReceipt(t, e.p.Hierarchy.Root, der)
}

// TestReceiptTransaction: approving a transaction leaves a signed receipt
// that says what was approved, by whom, when, with which factors, from
// which device; KeyHistory links each signature to it; only its owner and
// its portal get it.
func TestReceiptTransaction(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	portal, err := e.svc.CreateClient(ctx, "Cổng Dịch vụ công", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	otherPortal, err := e.svc.CreateClient(ctx, "Cổng khác", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := e.enrol(t, hsm.ECDSAP256), e.enrol(t, hsm.ECDSAP256)
	pdf := testpdf.Minimal("Hop dong")
	pdfSum := sha256.Sum256(pdf)
	tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: portal.ID, ClientRef: "ref-1", NationalID: mine.NationalID,
		Description: hostileDescription, Documents: []signing.Document{{DocID: receiptDocID, Hash: digest("a")}, {DocID: "to-khai.pdf", PDF: pdf}}})
	if err != nil {
		t.Fatal(err)
	}
	ua := "Mozilla/5.0 <script>alert(1)</script> " + strings.Repeat("Đ", 400)
	octx := signing.WithApprovalOrigin(ctx, signing.ApprovalOrigin{UserAgent: ua, Address: "192.0.2.7:51234", PagesShown: true})
	done, err := e.svc.Approve(octx, mine.OwnerID, tx.ID, "271828", e.next(t, mine))
	if err != nil {
		t.Fatal(err)
	}
	if done.ReceiptID == "" {
		t.Fatal("Approve returned no receipt ID")
	}
	f, err := e.svc.OwnerReceipt(ctx, mine.OwnerID, done.ReceiptID)
	if err != nil {
		t.Fatal(err)
	}
	r, raw := openReceipt(t, e, f.DER)
	cred, err := e.svc.Credential(ctx, mine.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	want := signing.Receipt{Version: 1, Type: "kyso.consent-receipt", ID: done.ReceiptID, Service: e.p.Hierarchy.Issuing.Subject.Organization[0],
		Kind: "transaction", Portal: signing.ReceiptPortal{ClientID: portal.ID, Name: "Cổng Dịch vụ công"},
		Owner:       signing.ReceiptOwner{ID: mine.OwnerID, NationalID: mine.NationalID},
		Credential:  signing.ReceiptCredential{ID: mine.CredentialID, CertificateSerial: ca.FormatSerial(cred.CertSerial)},
		Description: hostileDescription,
		Documents: []signing.ReceiptDocument{
			{Name: receiptDocID, HashAlgorithm: "SHA-256", Hash: hex.EncodeToString(digest("a")), Shown: "hash"},
			{Name: "to-khai.pdf", HashAlgorithm: "SHA-256", Hash: hex.EncodeToString(pdfSum[:]), Shown: "pages"},
		},
		ApprovedAt: r.ApprovedAt, Factors: []string{"pin", "totp"},
		Device:        signing.ReceiptDevice{UserAgent: r.Device.UserAgent, Address: "192.0.2.7:51234"},
		TransactionID: tx.ID, ActivationID: r.ActivationID}
	if !equalReceipt(r, &want) {
		t.Errorf("receipt\n%+v\nwant\n%+v", r, want)
	}
	if !r.ApprovedAt.Equal(e.clock.Now().UTC().Truncate(time.Nanosecond)) {
		t.Errorf("approved_at %v, want the approval's time %v", r.ApprovedAt, e.clock.Now().UTC())
	}
	if len(r.Device.UserAgent) > signing.MaxReceiptUserAgent || !strings.HasPrefix(r.Device.UserAgent, "Mozilla/5.0 <script>") || !utf8Valid(r.Device.UserAgent) {
		t.Errorf("user agent not kept, bounded and valid: %d bytes %q", len(r.Device.UserAgent), r.Device.UserAgent)
	}
	if r.ActivationID == "" {
		t.Error("no activation ID")
	}
	// Hostile text is data: JSON-escaped, never a raw tag in the bytes.
	for _, tag := range []string{"<script>", "<img", "<b>"} {
		if bytes.Contains(raw, []byte(tag)) {
			t.Errorf("the receipt's JSON carries %q unescaped:\n%s", tag, raw)
		}
	}

	// Linked: every signature of the approval names the receipt.
	uses, err := e.svc.KeyHistory(ctx, mine.OwnerID)
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) != 2 {
		t.Fatalf("history has %d uses, want 2", len(uses))
	}
	for _, u := range uses {
		if u.ReceiptID != done.ReceiptID || u.TransactionID != tx.ID {
			t.Errorf("use %+v: receipt %q, want %q", u, u.ReceiptID, done.ReceiptID)
		}
	}

	// The portal gets it by its transaction (its reference too).
	for _, id := range []string{tx.ID, "ref-1"} {
		pf, err := e.svc.ClientTransactionReceipt(ctx, portal.ID, id)
		if err != nil || !bytes.Equal(pf.DER, f.DER) {
			t.Errorf("the portal's receipt of %s: %v", id, err)
		}
	}
	if pf, err := e.svc.ClientReceipt(ctx, portal.ID, done.ReceiptID); err != nil || !bytes.Equal(pf.DER, f.DER) {
		t.Errorf("the portal's receipt by ID: %v", err)
	}

	// Attackers: another owner, another portal, a guessed ID, a
	// transaction not approved — all not found.
	pending, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: portal.ID, ClientRef: "ref-2", NationalID: mine.NationalID,
		Documents: []signing.Document{{DocID: "x", Hash: digest("x")}}})
	if err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"another owner's":                 second(e.svc.OwnerReceipt(ctx, theirs.OwnerID, done.ReceiptID)),
		"another portal's by ID":          second(e.svc.ClientReceipt(ctx, otherPortal.ID, done.ReceiptID)),
		"another portal's by transaction": second(e.svc.ClientTransactionReceipt(ctx, otherPortal.ID, tx.ID)),
		"an unknown ID":                   second(e.svc.OwnerReceipt(ctx, mine.OwnerID, "nope")),
		"an ID with a NUL":                second(e.svc.OwnerReceipt(ctx, mine.OwnerID, "a\x00b")),
		"a pending transaction's":         second(e.svc.ClientTransactionReceipt(ctx, portal.ID, pending.ID)),
	} {
		if !isCode(err, signing.KindNotFound) {
			t.Errorf("%s receipt: %v, want not found", what, err)
		}
	}
}

// TestReceiptWithoutOrigin: a caller that says nothing of the device
// (kyso approve through a library) gets a receipt with an empty device
// and every document shown as its hash only.
func TestReceiptWithoutOrigin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	portal, err := e.svc.CreateClient(ctx, "Cổng", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	mine := e.enrol(t, hsm.ECDSAP256)
	tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: portal.ID, ClientRef: "r", NationalID: mine.NationalID,
		Documents: []signing.Document{{DocID: "a.pdf", PDF: testpdf.Minimal("A")}}})
	if err != nil {
		t.Fatal(err)
	}
	done, err := e.svc.Approve(ctx, mine.OwnerID, tx.ID, "271828", e.next(t, mine))
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.svc.OwnerReceipt(ctx, mine.OwnerID, done.ReceiptID)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := openReceipt(t, e, f.DER)
	if r.Device != (signing.ReceiptDevice{}) || len(r.Documents) != 1 || r.Documents[0].Shown != "hash" {
		t.Errorf("receipt without an origin: device %+v, documents %+v", r.Device, r.Documents)
	}
}

// TestReceiptOAuth: an oauth2code consent leaves a receipt of the hashes
// approved; the portal learns its ID with the token and downloads it;
// the signatures made with that token name it in the history.
func TestReceiptOAuth(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const redirect = "https://portal.example/callback"
	portal, err := e.svc.CreateClient(ctx, "Cổng Thuế", "", "test", signing.WithRedirectURIs(redirect))
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.CreateClient(ctx, "Cổng khác", "", "test", signing.WithRedirectURIs(redirect))
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := e.enrol(t, hsm.ECDSAP256), e.enrol(t, hsm.ECDSAP256)
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	hashes := [][]byte{digest("one"), digest("two")}
	req := &signing.OAuthRequest{ClientID: portal.ID, RedirectURI: redirect, State: "s", CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:]),
		Scope: signing.ScopeCredential, CredentialID: mine.CredentialID, NumSignatures: 2, Hashes: hashes, HashAlgorithm: crypto.SHA256,
		Description: hostileDescription}
	octx := signing.WithApprovalOrigin(ctx, signing.ApprovalOrigin{UserAgent: "Chromium", Address: "198.51.100.2:443"})
	code, err := e.svc.ApproveOAuth(octx, mine.OwnerID, req, "271828", e.next(t, mine))
	if err != nil {
		t.Fatal(err)
	}
	grant, err := e.svc.ExchangeCode(ctx, &signing.CodeExchange{ClientID: portal.ID, ClientSecret: portal.Secret, Code: code, CodeVerifier: verifier, RedirectURI: redirect})
	if err != nil {
		t.Fatal(err)
	}
	if grant.ReceiptID == "" {
		t.Fatal("the code grant names no receipt")
	}
	f, err := e.svc.ClientReceipt(ctx, portal.ID, grant.ReceiptID)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := openReceipt(t, e, f.DER)
	if r.Kind != "oauth2code" || r.Scope != "credential" || r.TransactionID != "" || r.ActivationID == "" ||
		r.Portal != (signing.ReceiptPortal{ClientID: portal.ID, Name: "Cổng Thuế"}) || r.Owner.NationalID != mine.NationalID ||
		r.Credential.ID != mine.CredentialID || r.Description != hostileDescription || !slices.Equal(r.Factors, []string{"pin", "totp"}) ||
		r.Device != (signing.ReceiptDevice{UserAgent: "Chromium", Address: "198.51.100.2:443"}) || len(r.Documents) != 2 {
		t.Fatalf("oauth2code receipt %+v", r)
	}
	for i, d := range r.Documents {
		if d != (signing.ReceiptDocument{HashAlgorithm: "SHA-256", Hash: hex.EncodeToString(hashes[i]), Shown: "hash"}) {
			t.Errorf("document %d: %+v", i, d)
		}
	}
	if _, err := e.svc.SignHash(ctx, &signing.SignHashRequest{ClientID: portal.ID, CredentialID: mine.CredentialID, SAD: grant.AccessToken,
		Hashes: hashes, HashAlgorithm: crypto.SHA256, Actor: "client:" + portal.ID}); err != nil {
		t.Fatal(err)
	}
	uses, err := e.svc.KeyHistory(ctx, mine.OwnerID)
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) != 2 || uses[0].ReceiptID != grant.ReceiptID || uses[1].ReceiptID != grant.ReceiptID {
		t.Fatalf("history after signHash: %+v", uses)
	}
	if own, err := e.svc.OwnerReceipt(ctx, mine.OwnerID, grant.ReceiptID); err != nil || !bytes.Equal(own.DER, f.DER) {
		t.Errorf("the owner's copy: %v", err)
	}
	for what, err := range map[string]error{
		"another portal's": second(e.svc.ClientReceipt(ctx, other.ID, grant.ReceiptID)),
		"another owner's":  second(e.svc.OwnerReceipt(ctx, theirs.OwnerID, grant.ReceiptID)),
	} {
		if !isCode(err, signing.KindNotFound) {
			t.Errorf("%s receipt: %v, want not found", what, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func equalReceipt(a, b *signing.Receipt) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// refuseReceiptKeys is a key store that cannot make the receipt key: the
// service can then sign no receipt.
type refuseReceiptKeys struct{ hsm.KeyStore }

func (k refuseReceiptKeys) CreateKey(ctx context.Context, req *hsm.CreateKeyRequest) (*hsm.KeyInfo, error) {
	if strings.HasPrefix(req.Label, ca.ReceiptKeyLabelPrefix) {
		return nil, errors.New("the token is full")
	}
	return k.KeyStore.CreateKey(ctx, req)
}

// TestNoApprovalWithoutReceipt: when the receipt cannot be signed, the
// approval fails and leaves nothing: the transaction stays pending,
// nothing is signed or in the history, and the oauth2code consent gives
// no code.
func TestNoApprovalWithoutReceipt(t *testing.T) {
	ctx := context.Background()
	p := signingtest.NewPKI(t)
	authority, err := ca.New(p.Store, refuseReceiptKeys{p.Keys}, &ca.Options{BaseURL: "http://ca.kyso.test"})
	if err != nil {
		t.Fatal(err)
	}
	clock := signingtest.NewClock(time.Now())
	e := &env{svc: signingtest.NewService(t, &catest.PKI{Keys: p.Keys, Store: p.Store, CA: authority, Hierarchy: p.Hierarchy}, signingtest.Config(clock)),
		p: p, clock: clock}
	const redirect = "https://portal.example/cb"
	portal, err := e.svc.CreateClient(ctx, "Cổng", "", "test", signing.WithRedirectURIs(redirect))
	if err != nil {
		t.Fatal(err)
	}
	mine := e.enrol(t, hsm.ECDSAP256)
	tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: portal.ID, ClientRef: "r", NationalID: mine.NationalID,
		Documents: []signing.Document{{DocID: "a", Hash: digest("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Approve(ctx, mine.OwnerID, tx.ID, "271828", e.next(t, mine)); err == nil || !strings.Contains(err.Error(), "receipt") {
		t.Fatalf("Approve without a receipt key: %v", err)
	}
	pending, err := e.svc.OwnerTransactions(ctx, mine.OwnerID, true)
	if err != nil || len(pending) != 1 || pending[0].ID != tx.ID {
		t.Errorf("after the failed approval the pending list is %d, %v", len(pending), err)
	}
	if uses, err := e.svc.KeyHistory(ctx, mine.OwnerID); err != nil || len(uses) != 0 {
		t.Errorf("history after the failed approval: %+v, %v", uses, err)
	}
	if _, err := e.svc.ClientTransactionReceipt(ctx, portal.ID, tx.ID); !isCode(err, signing.KindNotFound) {
		t.Errorf("receipt of the failed approval: %v", err)
	}
	sum := sha256.Sum256([]byte(strings.Repeat("v", 50)))
	code, err := e.svc.ApproveOAuth(ctx, mine.OwnerID, &signing.OAuthRequest{ClientID: portal.ID, RedirectURI: redirect,
		CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:]), Scope: signing.ScopeService}, "271828", e.next(t, mine))
	if err == nil || code != "" {
		t.Errorf("a consent without a receipt gave code %q, %v", code, err)
	}
}
