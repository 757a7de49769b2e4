// Package testpki builds the throwaway CA hierarchy many of kyso's tests
// sign with: the real pkg/ca on SQLite and softkey (with a fast key
// derivation, for tests only) in a directory the caller owns and removes.
// It returns errors rather than taking a *testing.T, so package-wide
// fixtures built once in a sync.Once can use it.
package testpki

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"path/filepath"

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
		return nil, nil, fmt.Errorf("testpki: issuing %s: %w", label, err)
	}
	s, err := p.Keys.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		return nil, nil, fmt.Errorf("testpki: %w", err)
	}
	return cert, s, nil
}

// Close closes the database.
func (p *PKI) Close() error { return p.Store.Close() }
