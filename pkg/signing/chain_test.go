package signing_test

import (
	"context"
	"crypto"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

// signerLog is a key store that records the label of every Signer it
// hands out.
type signerLog struct {
	hsm.KeyStore
	mu     sync.Mutex
	labels []string
}

func (l *signerLog) Signer(ctx context.Context, req *hsm.SignerRequest) (crypto.Signer, error) {
	l.mu.Lock()
	l.labels = append(l.labels, req.Label)
	l.mu.Unlock()
	return l.KeyStore.Signer(ctx, req)
}

// opened returns how many Signers were handed out for a label that the key
// URI uri names.
func (l *signerLog) opened(uri string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, label := range l.labels {
		if label != "" && strings.Contains(uri, label) {
			n++
		}
	}
	return n
}

// TestSignHashLeavesCAKeyClosed: a signature needs the issuing CA's
// certificates, never its private key. A service over a fresh authority
// (nothing cached) signs a hash without asking the key store for the
// issuing CA's signer; the authority's Hierarchy, which does load the
// issuer, shows the log sees such a request.
func TestSignHashLeavesCAKeyClosed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	rec, err := e.p.Store.GetCA(ctx, ca.IssuingName)
	if err != nil {
		t.Fatal(err)
	}
	keys := &signerLog{KeyStore: e.p.Keys}
	authority, err := ca.New(e.p.Store, keys, &ca.Options{BaseURL: "http://ca.kyso.test"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := signing.New(e.p.Store, keys, authority, signingtest.Config(e.clock))
	if err != nil {
		t.Fatal(err)
	}
	h := [][]byte{digest("chain only")}
	sad, _, err := svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: en.CredentialID, NumSignatures: 1, Hashes: h, HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.otp(t, en)})
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := svc.SignHash(ctx, &signing.SignHashRequest{CredentialID: en.CredentialID, SAD: sad, Hashes: h, HashAlgorithm: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	verifySig(t, en, crypto.SHA256, h[0], sigs[0])
	cred, err := e.p.Store.GetCredential(ctx, en.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	if _, chain, err := svc.Certificate(ctx, cred); err != nil || len(chain) == 0 || !chain[0].Equal(e.p.Hierarchy.Issuing) {
		t.Fatalf("the chain starts with %v (err %v); want the issuing CA", chain, err)
	}
	if n := keys.opened(rec.KeyURI); n != 0 {
		t.Errorf("signHash opened the issuing CA's key (%s) %d times; want none", rec.KeyURI, n)
	}
	if _, err := authority.Hierarchy(ctx); err != nil {
		t.Fatal(err)
	}
	if n := keys.opened(rec.KeyURI); n != 1 {
		t.Errorf("loading the issuer opened the issuing CA's key %d times; the log should have seen it once", n)
	}
}

// failingKeys is a key store whose signers fail as a module does with a
// code no recovery knows (CKR_GENERAL_ERROR during a re-initialisation).
type failingKeys struct{ hsm.KeyStore }

func (k failingKeys) Signer(ctx context.Context, req *hsm.SignerRequest) (crypto.Signer, error) {
	s, err := k.KeyStore.Signer(ctx, req)
	if err != nil {
		return nil, err
	}
	return failingSigner{s}, nil
}

type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("pkcs11: CKR_GENERAL_ERROR")
}

// TestKeyStoreFailureIsOutage: a key store failing to sign with an error
// of its own is a 503 (KindBusy) with the key store's message, nothing
// signed — the key store's trouble, not an internal error.
func TestKeyStoreFailureIsOutage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	svc, err := signing.New(e.p.Store, failingKeys{e.p.Keys}, e.p.CA, signingtest.Config(e.clock))
	if err != nil {
		t.Fatal(err)
	}
	h := [][]byte{digest("refused by the module")}
	sad, _, err := svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: en.CredentialID, NumSignatures: 1, Hashes: h, HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.otp(t, en)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.SignHash(ctx, &signing.SignHashRequest{CredentialID: en.CredentialID, SAD: sad, Hashes: h, HashAlgorithm: crypto.SHA256})
	if kind, desc := signing.Public(err); kind != signing.KindBusy || !strings.Contains(desc, "key store") || !signing.Outage(err) {
		t.Fatalf("signHash with a failing key store: %v (%v %q), want KindBusy naming the key store", err, kind, desc)
	}
}
