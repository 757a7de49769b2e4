// Package hsm is kyso's key custody layer: one small interface over the places
// a private key may live — a PKCS#11 token, HashiCorp Vault's Transit engine, or
// passphrase-encrypted files on a laptop — so that the CA, TSA, OCSP, CMS and
// PAdES code take a crypto.Signer and never know where the key is.
//
// A backend creates keys inside itself and never hands out private key
// material. Keys are named by URI (see ParseURI): RFC 7512 "pkcs11:" URIs,
// "vault:" and "softkey:" URIs in the same attribute syntax.
//
// Extra abilities that only some backends have are separate interfaces found
// by type assertion: KeyDeleter, WrappedKeyStore.
package hsm

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"time"
)

// Algorithm names a key type and size. The string values are the ones the CLI
// and URIs use.
type Algorithm string

// The key algorithms kyso knows. Ed25519 is offered only by backends that have
// it (Vault and softkey); PKCS#11 tokens vary.
const (
	RSA2048   Algorithm = "rsa-2048"
	RSA3072   Algorithm = "rsa-3072"
	RSA4096   Algorithm = "rsa-4096"
	ECDSAP256 Algorithm = "ecdsa-p256"
	ECDSAP384 Algorithm = "ecdsa-p384"
	Ed25519   Algorithm = "ed25519"
)

// Algorithms lists every Algorithm in a stable order.
var Algorithms = []Algorithm{RSA2048, RSA3072, RSA4096, ECDSAP256, ECDSAP384, Ed25519}

// ParseAlgorithm returns the Algorithm named s, or an error that lists the
// names kyso accepts.
func ParseAlgorithm(s string) (Algorithm, error) {
	for _, a := range Algorithms {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("hsm: unknown key algorithm %q (want one of rsa-2048, rsa-3072, rsa-4096, ecdsa-p256, ecdsa-p384, ed25519)", s)
}

// IsRSA reports whether a is an RSA algorithm.
func (a Algorithm) IsRSA() bool { return a == RSA2048 || a == RSA3072 || a == RSA4096 }

// IsECDSA reports whether a is an ECDSA algorithm.
func (a Algorithm) IsECDSA() bool { return a == ECDSAP256 || a == ECDSAP384 }

// Bits returns the RSA modulus size or the curve size of a, 0 for Ed25519.
func (a Algorithm) Bits() int {
	switch a {
	case RSA2048:
		return 2048
	case RSA3072:
		return 3072
	case RSA4096:
		return 4096
	case ECDSAP256:
		return 256
	case ECDSAP384:
		return 384
	}
	return 0
}

// Errors a caller may want to tell apart. Backends wrap them with detail, so
// test with errors.Is.
var (
	// ErrKeyNotFound: no key with that label exists in the key store.
	ErrKeyNotFound = errors.New("key not found")
	// ErrKeyExists: CreateKey was asked for a label that is already taken.
	ErrKeyExists = errors.New("key already exists")
	// ErrUnsupportedAlgorithm: the backend cannot make or use keys of this kind.
	ErrUnsupportedAlgorithm = errors.New("unsupported key algorithm")
	// ErrUnsupportedSignature: the signing options (hash, padding) are not
	// available for this key.
	ErrUnsupportedSignature = errors.New("unsupported signature options")
	// ErrAuthentication: the PIN, passphrase or token was refused.
	ErrAuthentication = errors.New("authentication to key store failed")
	// ErrUnavailable: the key store cannot be reached (Vault down, PKCS#11 module
	// missing, binary built without PKCS#11 support).
	ErrUnavailable = errors.New("key store unavailable")
	// ErrInvalidWrappedKey: a wrapped key blob was altered, truncated, or made
	// under another master key.
	ErrInvalidWrappedKey = errors.New("invalid wrapped key")
)

// KeyStore is the interface every key custody backend implements.
//
// Implementations are safe for use by many goroutines at once, and so are the
// signers they return.
type KeyStore interface {
	// CreateKey generates a new key pair inside the store. The private key is
	// never returned.
	CreateKey(ctx context.Context, req *CreateKeyRequest) (*KeyInfo, error)
	// PublicKey returns the public half of a stored key.
	PublicKey(ctx context.Context, req *PublicKeyRequest) (crypto.PublicKey, error)
	// Signer returns a crypto.Signer for a stored key. The signer checks the
	// key still exists and is the same key each time it signs.
	Signer(ctx context.Context, req *SignerRequest) (crypto.Signer, error)
	// ListKeys lists the keys in the store, sorted by label.
	ListKeys(ctx context.Context, req *ListKeysRequest) ([]*KeyInfo, error)
	// Close releases sessions and connections. Signers from the store stop
	// working.
	Close() error
}

// KeyDeleter is implemented by key stores that can destroy keys.
type KeyDeleter interface {
	// DeleteKey destroys the key for good. Deleting a key that does not exist
	// returns an error wrapping ErrKeyNotFound.
	DeleteKey(ctx context.Context, req *DeleteKeyRequest) error
}

// WrappedKeyStore is implemented by key stores that can hold any number of
// keys outside the device: each key is generated inside the device, wrapped
// (encrypted) under a master key that never leaves it, and the blob is given
// to the caller to keep. Signing unwraps the blob into a temporary object
// inside the device, signs, and destroys it. The private key never exists in
// plaintext outside the device.
type WrappedKeyStore interface {
	// CreateWrappedKey generates a key pair and returns it wrapped.
	CreateWrappedKey(ctx context.Context, req *CreateWrappedKeyRequest) (*WrappedKey, error)
	// WrappedSigner returns a crypto.Signer for a wrapped key. The blob is
	// checked (integrity, master key, public key) before it is returned.
	WrappedSigner(ctx context.Context, req *WrappedSignerRequest) (crypto.Signer, error)
}

// CreateKeyRequest asks for a new key.
type CreateKeyRequest struct {
	// Label names the key inside the store: letters, digits, '.', '_' and
	// '-', at most 64 bytes. Required.
	Label string
	// Algorithm is the key type. Required.
	Algorithm Algorithm
}

// PublicKeyRequest names a stored key.
type PublicKeyRequest struct {
	// Label is the key's label. Required.
	Label string
}

// SignerRequest names a stored key to sign with.
type SignerRequest struct {
	// Label is the key's label. Required.
	Label string
}

// ListKeysRequest asks for the keys in a store. It has no fields yet.
type ListKeysRequest struct{}

// DeleteKeyRequest names a key to destroy.
type DeleteKeyRequest struct {
	// Label is the key's label. Required.
	Label string
}

// CreateWrappedKeyRequest asks for a new wrapped key.
type CreateWrappedKeyRequest struct {
	// MasterKey is the label of the wrapping key inside the device. Empty
	// means the store's default master key.
	MasterKey string
	// Algorithm is the key type. Required.
	Algorithm Algorithm
}

// WrappedSignerRequest names a wrapped key to sign with.
type WrappedSignerRequest struct {
	// Blob is WrappedKey.Blob as returned by CreateWrappedKey. Required.
	Blob []byte
	// SkipCheck leaves out the check signature WrappedSigner makes before
	// it returns. Zero: the blob is checked. For callers about to sign:
	// every signature is verified under the blob's public key anyway, so a
	// bad blob still fails, at its first Sign.
	SkipCheck bool
}

// MultiSigner is a crypto.Signer that signs several digests in one
// operation on the device: a wrapped key is unwrapped once for all of
// them. Found by type assertion on what WrappedSigner returns.
type MultiSigner interface {
	crypto.Signer
	// SignDigests signs each digest with opts, in order.
	SignDigests(ctx context.Context, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error)
}

// KeyInfo describes a stored key.
type KeyInfo struct {
	// Label is the key's name inside the store.
	Label string `json:"label"`
	// URI names the key, store included, in the store's URI scheme.
	URI string `json:"uri"`
	// Algorithm is the key type.
	Algorithm Algorithm `json:"algorithm"`
	// PublicKey is the public half.
	PublicKey crypto.PublicKey `json:"-"`
	// Created is when the key was made, where the backend records it.
	Created time.Time `json:"created,omitzero"`
}

// WrappedKey is a key kept outside the device, encrypted under a master key
// inside it.
type WrappedKey struct {
	// Algorithm is the key type.
	Algorithm Algorithm
	// PublicKey is the public half, in the clear.
	PublicKey crypto.PublicKey
	// Blob is the opaque, versioned encoding of the wrapped private key, its
	// public key and the master key's identity. The caller stores it.
	Blob []byte
}

// CheckLabel returns an error unless label is a valid key label.
func CheckLabel(label string) error {
	if label == "" {
		return errors.New("hsm: key label is empty")
	}
	if len(label) > 64 {
		return fmt.Errorf("hsm: key label is %d bytes long, at most 64 allowed", len(label))
	}
	for _, r := range label {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("hsm: key label %q has %q: only letters, digits, '.', '_' and '-' are allowed", label, r)
		}
	}
	return nil
}

// OpenOrCreate returns the signer of the key labelled label in ks, making
// it (of type alg) on first use: how kysod makes its service keys (the
// audit key, the staff badge key) in the key store on first start. Two
// replicas starting at once make one key.
func OpenOrCreate(ctx context.Context, ks KeyStore, label string, alg Algorithm) (crypto.Signer, error) {
	if _, err := ks.CreateKey(ctx, &CreateKeyRequest{Label: label, Algorithm: alg}); err != nil && !errors.Is(err, ErrKeyExists) {
		return nil, fmt.Errorf("hsm: creating key %q: %w", label, err)
	}
	s, err := ks.Signer(ctx, &SignerRequest{Label: label})
	if err != nil {
		return nil, fmt.Errorf("hsm: opening key %q: %w", label, err)
	}
	return s, nil
}
