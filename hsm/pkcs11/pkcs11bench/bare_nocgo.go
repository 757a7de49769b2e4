//go:build !cgo

package pkcs11bench

import (
	"fmt"

	"github.com/kyso-pki/kyso/hsm"
)

// Bare is unavailable without cgo.
type Bare struct{}

// OpenBare says this binary has no PKCS#11 support.
func OpenBare(module, token string, pin []byte) (*Bare, error) {
	return nil, fmt.Errorf("pkcs11bench: %w: this kyso binary was built without cgo, so without PKCS#11 support", hsm.ErrUnavailable)
}

// SignFunc is unavailable without cgo.
func (b *Bare) SignFunc(label string, alg hsm.Algorithm) (func(worker int, digest []byte) error, error) {
	return nil, hsm.ErrUnavailable
}

// Close does nothing.
func (b *Bare) Close() {}
