//go:build !cgo

package pkcs11

import (
	"context"
	"crypto"
	"fmt"

	"github.com/kyso-pki/kyso/hsm"
)

var (
	_ hsm.KeyStore        = (*Store)(nil)
	_ hsm.KeyDeleter      = (*Store)(nil)
	_ hsm.WrappedKeyStore = (*Store)(nil)
)

// errNoCgo is what every entry point returns in a binary built without cgo.
var errNoCgo = fmt.Errorf("pkcs11: %w: this kyso binary was built without cgo, so without PKCS#11 support", hsm.ErrUnavailable)

// Store is a key store on a PKCS#11 token. In this build, without cgo, it
// cannot be opened.
type Store struct{}

// Open fails: this binary was built without cgo, so without PKCS#11 support.
// The error wraps hsm.ErrUnavailable.
func Open(ctx context.Context, u *hsm.URI, opts *Options) (*Store, error) {
	return nil, errNoCgo
}

// CreateMasterKey fails: this binary has no PKCS#11 support.
func (s *Store) CreateMasterKey(ctx context.Context, label string) error { return errNoCgo }

// CreateKey fails: this binary has no PKCS#11 support.
func (s *Store) CreateKey(ctx context.Context, req *hsm.CreateKeyRequest) (*hsm.KeyInfo, error) {
	return nil, errNoCgo
}

// PublicKey fails: this binary has no PKCS#11 support.
func (s *Store) PublicKey(ctx context.Context, req *hsm.PublicKeyRequest) (crypto.PublicKey, error) {
	return nil, errNoCgo
}

// Signer fails: this binary has no PKCS#11 support.
func (s *Store) Signer(ctx context.Context, req *hsm.SignerRequest) (crypto.Signer, error) {
	return nil, errNoCgo
}

// ListKeys fails: this binary has no PKCS#11 support.
func (s *Store) ListKeys(ctx context.Context, req *hsm.ListKeysRequest) ([]*hsm.KeyInfo, error) {
	return nil, errNoCgo
}

// DeleteKey fails: this binary has no PKCS#11 support.
func (s *Store) DeleteKey(ctx context.Context, req *hsm.DeleteKeyRequest) error { return errNoCgo }

// CreateWrappedKey fails: this binary has no PKCS#11 support.
func (s *Store) CreateWrappedKey(ctx context.Context, req *hsm.CreateWrappedKeyRequest) (*hsm.WrappedKey, error) {
	return nil, errNoCgo
}

// WrappedSigner fails: this binary has no PKCS#11 support.
func (s *Store) WrappedSigner(ctx context.Context, req *hsm.WrappedSignerRequest) (crypto.Signer, error) {
	return nil, errNoCgo
}

// Close does nothing.
func (s *Store) Close() error { return nil }
