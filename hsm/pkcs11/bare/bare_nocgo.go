//go:build !cgo

package bare

import (
	"fmt"

	"github.com/kyso-pki/kyso/hsm"
)

// Token is unavailable without cgo.
type Token struct{}

// Open says this binary has no PKCS#11 support.
func Open(module, token string, pin []byte) (*Token, error) {
	return nil, fmt.Errorf("bare: %w: this kyso binary was built without cgo, so without PKCS#11 support", hsm.ErrUnavailable)
}

// SignFunc is unavailable without cgo.
func (b *Token) SignFunc(label string, alg hsm.Algorithm) (func(worker int, digest []byte) error, error) {
	return nil, hsm.ErrUnavailable
}

// Close does nothing.
func (b *Token) Close() {}
