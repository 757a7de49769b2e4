// Package catest builds the throwaway CA hierarchy many of kyso's tests
// sign with: the real pkg/ca on SQLite and softkey (with a fast key
// derivation, for tests only) in a directory the caller owns and removes.
// It returns errors rather than taking a *testing.T, so package-wide
// fixtures built once in a sync.Once can use it.
package catest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"path/filepath"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// PKI is a CA hierarchy made by ca.Authority.Init.
type PKI struct {
	// Keys is the softkey key store under Dir/keys.
	Keys hsm.KeyStore
	// Store is the SQLite database Dir/kyso.db.
	Store store.Store
	// CA is the authority; Hierarchy what Init made.
	CA        *ca.Authority
	Hierarchy *ca.Hierarchy
}

// New makes a hierarchy named "Kyso Thử Nghiệm" with URLs under
// http://ca.kyso.test in dir.
func New(ctx context.Context, dir string) (*PKI, error) {
	return NewInit(ctx, dir, nil)
}

// NewInit is New with the given InitRequest (nil: the defaults; an empty
// Name: "Kyso Thử Nghiệm").
func NewInit(ctx context.Context, dir string, init *ca.InitRequest) (*PKI, error) {
	return NewOptions(ctx, dir, init, nil)
}

// NewOptions is NewInit with the Authority's options (nil: the defaults;
// an empty BaseURL: http://ca.kyso.test). A fixed Now makes every validity
// period, CRL and OCSP response time repeatable, for golden files.
func NewOptions(ctx context.Context, dir string, init *ca.InitRequest, opts *ca.Options) (*PKI, error) {
	req := ca.InitRequest{}
	if init != nil {
		req = *init
	}
	if req.Name == "" {
		req.Name = "Kyso Thử Nghiệm"
	}
	u, err := hsm.ParseURI("softkey:?dir=" + filepath.Join(dir, "keys") + "&passphrase=test-passphrase")
	if err != nil {
		return nil, err
	}
	ks, err := softkey.Open(ctx, u, &softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "kyso.db"), nil)
	if err != nil {
		return nil, err
	}
	o := ca.Options{}
	if opts != nil {
		o = *opts
	}
	if o.BaseURL == "" {
		o.BaseURL = "http://ca.kyso.test"
	}
	a, err := ca.New(st, ks, &o)
	if err != nil {
		st.Close()
		return nil, err
	}
	h, err := a.Init(ctx, &req)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &PKI{Keys: ks, Store: st, CA: a, Hierarchy: h}, nil
}

// Citizen issues a citizen certificate (name "Nguyễn Văn Đức", province Hồ
// Chí Minh) for a new key of alg labelled label in the key store, and
// returns it with the key's signer. cccd must be a valid, unused number.
func (p *PKI) Citizen(ctx context.Context, label string, alg hsm.Algorithm, cccd string) (*x509.Certificate, crypto.Signer, error) {
	cert, err := p.CA.IssueCitizen(ctx, &ca.CitizenRequest{
		Name: "Nguyễn Văn Đức", CCCD: cccd, Province: "Hồ Chí Minh",
		Key: ca.KeySource{KeyLabel: label, KeyAlgorithm: alg},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("catest: issuing %s: %w", label, err)
	}
	s, err := p.Keys.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		return nil, nil, fmt.Errorf("catest: %w", err)
	}
	return cert, s, nil
}

// Close closes the database.
func (p *PKI) Close() error { return p.Store.Close() }

// Expired issues a citizen certificate (as Citizen does) that expired an
// hour ago: issued by the same issuing CA through a second ca.Authority
// whose clock is set back two hours, with the shortest validity the CA
// allows (one hour).
func (p *PKI) Expired(ctx context.Context, label string, alg hsm.Algorithm, cccd string) (*x509.Certificate, crypto.Signer, error) {
	past := time.Now().Add(-2*time.Hour - 10*time.Minute)
	a, err := ca.New(p.Store, p.Keys, &ca.Options{BaseURL: "http://ca.kyso.test", Now: func() time.Time { return past }})
	if err != nil {
		return nil, nil, err
	}
	cert, err := a.IssueCitizen(ctx, &ca.CitizenRequest{
		Name: "Nguyễn Văn Đức", CCCD: cccd, Province: "Hồ Chí Minh", Validity: time.Hour,
		Key: ca.KeySource{KeyLabel: label, KeyAlgorithm: alg},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("catest: issuing %s: %w", label, err)
	}
	s, err := p.Keys.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		return nil, nil, fmt.Errorf("catest: %w", err)
	}
	return cert, s, nil
}

// Revoked issues a citizen certificate (as Citizen does) and revokes it
// with reason (store.ReasonCertificateHold suspends it).
func (p *PKI) Revoked(ctx context.Context, label string, alg hsm.Algorithm, cccd string, reason int) (*x509.Certificate, crypto.Signer, error) {
	cert, s, err := p.Citizen(ctx, label, alg, cccd)
	if err != nil {
		return nil, nil, err
	}
	if err := p.CA.Revoke(ctx, cert.SerialNumber.Bytes(), reason, time.Time{}); err != nil {
		return nil, nil, fmt.Errorf("catest: revoking %s: %w", label, err)
	}
	return cert, s, nil
}

// WeakKey returns a 1024-bit RSA key and a signing certificate for it
// from the issuing CA — which ca.Authority itself refuses to issue, so it
// is signed here with the issuing CA's key, with the citizen profile's
// extensions and URLs. For tests of refusing weak keys only.
func (p *PKI) WeakKey(ctx context.Context) (*x509.Certificate, crypto.Signer, error) {
	rec, err := p.Store.GetCA(ctx, ca.IssuingName)
	if err != nil {
		return nil, nil, err
	}
	label := rec.KeyURI
	if u, err := hsm.ParseURI(rec.KeyURI); err == nil && u.Path["name"] != "" {
		label = u.Path["name"]
	}
	caKey, err := p.Keys.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		return nil, nil, fmt.Errorf("catest: the issuing CA's key: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	iss := p.Hierarchy.Issuing
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Khóa Yếu", Country: []string{"VN"}},
		NotBefore:             now,
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		OCSPServer:            iss.OCSPServer,
		CRLDistributionPoints: iss.CRLDistributionPoints,
	}
	if len(tmpl.OCSPServer) == 0 {
		tmpl.OCSPServer = []string{"http://ca.kyso.test/ocsp"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, iss, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("catest: signing the weak-key certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}
