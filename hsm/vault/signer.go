package vault

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/kyso-pki/kyso/hsm"
)

// Signer returns a crypto.Signer for the latest version of a Transit key.
// The version is pinned: a key rotated later still signs with the version
// read here, and every signature is verified against this version's public
// key before it is returned, so a key deleted and re-created under the same
// name makes Sign fail instead of signing with a key the caller never chose.
func (s *Store) Signer(ctx context.Context, req *hsm.SignerRequest) (crypto.Signer, error) {
	if err := hsm.CheckLabel(req.Label); err != nil {
		return nil, fmt.Errorf("vault: signer: %w", err)
	}
	k, err := s.readKey(ctx, req.Label)
	if err != nil {
		return nil, err
	}
	return &signer{store: s, label: req.Label, alg: k.alg, version: k.latest, pub: k.pub}, nil
}

type signer struct {
	store   *Store
	label   string
	alg     hsm.Algorithm
	version int
	pub     crypto.PublicKey
}

func (s *signer) Public() crypto.PublicKey { return s.pub }

// transitHashes are Transit's names for the hashes kyso signs with.
var transitHashes = map[crypto.Hash]string{
	crypto.SHA256: "sha2-256",
	crypto.SHA384: "sha2-384",
	crypto.SHA512: "sha2-512",
}

// Sign signs digest (the message, for Ed25519) with Transit's sign endpoint:
// pre-hashed, PKCS#1 v1.5 or PSS with a salt as long as the hash, ECDSA in
// ASN.1. rand is not used: Vault makes its own randomness. Each call is
// bounded by the 30s request timeout, as crypto.Signer takes no context.
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	p, err := hsm.CheckSignRequest(s.alg, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("vault: signing with key %s: %w", s.label, err)
	}
	if err := s.store.checkOpen(); err != nil {
		return nil, err
	}
	body := map[string]any{
		"input":       base64.StdEncoding.EncodeToString(digest),
		"key_version": s.version,
	}
	path := s.store.mount + "/sign/" + s.label
	if s.alg != hsm.Ed25519 {
		h := transitHashes[p.Hash]
		path += "/" + h
		body["hash_algorithm"] = h
		body["prehashed"] = true
		body["marshaling_algorithm"] = "asn1"
		if s.alg.IsRSA() {
			body["signature_algorithm"] = "pkcs1v15"
			if p.PSS {
				body["signature_algorithm"] = "pss"
				body["salt_length"] = strconv.Itoa(p.SaltLength)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	sec, err := s.store.client.Logical().WriteWithContext(ctx, path, body)
	if err != nil {
		return nil, s.store.wrap("signing with key "+s.label, err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("vault: signing with key %s: empty response", s.label)
	}
	text, _ := sec.Data["signature"].(string)
	sig, version, err := parseSignature(text)
	if err != nil {
		return nil, fmt.Errorf("vault: signing with key %s: %w", s.label, err)
	}
	if version != s.version {
		return nil, fmt.Errorf("vault: signing with key %s: Vault signed with version %d, not the pinned version %d", s.label, version, s.version)
	}
	if err := verify(s.pub, digest, sig, p); err != nil {
		return nil, fmt.Errorf("vault: signing with key %s: the signature does not verify with the key's public key (was the key deleted and re-created?): %w", s.label, err)
	}
	return sig, nil
}

// verify is hsm.VerifySignature, but holding PSS to the exact salt length
// asked for, so that a server ignoring salt_length is caught.
func verify(pub crypto.PublicKey, digest, sig []byte, p hsm.SignParams) error {
	if rk, ok := pub.(*rsa.PublicKey); ok && p.PSS {
		return rsa.VerifyPSS(rk, p.Hash, digest, sig, &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: p.Hash})
	}
	return hsm.VerifySignature(pub, digest, sig, p)
}

// parseSignature splits Transit's "vault:vN:base64" signature.
func parseSignature(text string) ([]byte, int, error) {
	rest, ok := strings.CutPrefix(text, "vault:v")
	if !ok {
		return nil, 0, errors.New(`signature is not "vault:vN:..."`)
	}
	vs, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, 0, errors.New(`signature is not "vault:vN:..."`)
	}
	version, err := strconv.Atoi(vs)
	if err != nil || version < 1 {
		return nil, 0, fmt.Errorf("signature has a bad key version %q", vs)
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sig) == 0 {
		return nil, 0, errors.New("signature is not base64")
	}
	return sig, version, nil
}
