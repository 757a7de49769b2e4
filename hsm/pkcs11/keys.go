//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"sort"
	"sync/atomic"

	"github.com/miekg/pkcs11"

	"github.com/kyso-pki/kyso/hsm"
)

// PKCS#11 3.0 names github.com/miekg/pkcs11 v1.1.2 does not define.
const (
	ckkECEdwards             = 0x00000040 // CKK_EC_EDWARDS
	ckmECEdwardsKeyPairGen   = 0x00001055 // CKM_EC_EDWARDS_KEY_PAIR_GEN
	ckmEdDSA                 = 0x00001057 // CKM_EDDSA
	maxObjectsPerFind        = 64
	keyIDLen                 = 16
	edwards25519PrintableStr = "edwards25519"
)

// Named curve OIDs as DER, the CKA_EC_PARAMS values (PKCS#11 3.0 section
// 2.3.3; RFC 5480 section 2.1.1.1; RFC 8410 section 3).
var (
	oidP256    = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	oidP384    = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}
	oidEd25519 = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}
)

// keyTemplates returns the mechanism and the public and private key
// templates that generate a key pair of alg. token says whether the objects
// are token objects (CreateKey) or session objects (CreateWrappedKey);
// extractable is only ever true for the latter, which are wrapped at once.
func keyTemplates(alg hsm.Algorithm, label string, id []byte, token, extractable, wrapWithTrusted bool) (*pkcs11.Mechanism, []*pkcs11.Attribute, []*pkcs11.Attribute, error) {
	var (
		mech    uint
		keyType uint
		pubAlg  []*pkcs11.Attribute
	)
	switch alg {
	case hsm.RSA2048, hsm.RSA3072, hsm.RSA4096:
		mech, keyType = pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11.CKK_RSA
		pubAlg = []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, alg.Bits()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}),
		}
	case hsm.ECDSAP256:
		mech, keyType = pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKK_EC
		pubAlg = []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidP256)}
	case hsm.ECDSAP384:
		mech, keyType = pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKK_EC
		pubAlg = []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidP384)}
	case hsm.Ed25519:
		mech, keyType = ckmECEdwardsKeyPairGen, ckkECEdwards
		pubAlg = []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidEd25519)}
	default:
		return nil, nil, nil, fmt.Errorf("pkcs11: %w: %q", hsm.ErrUnsupportedAlgorithm, alg)
	}
	pub := append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}, pubAlg...)
	priv := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, extractable),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	if extractable {
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_WRAP_WITH_TRUSTED, wrapWithTrusted))
	}
	if label != "" {
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	}
	return pkcs11.NewMechanism(mech, nil), pub, priv, nil
}

// generateKeyPair generates a key pair of alg on the token and returns its
// handles and public key. On error nothing is left behind.
func (s *Store) generateKeyPair(ss session, alg hsm.Algorithm, label string, id []byte, token, extractable, wrapWithTrusted bool) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, crypto.PublicKey, error) {
	mech, pubT, privT, err := keyTemplates(alg, label, id, token, extractable, wrapWithTrusted)
	if err != nil {
		return 0, 0, nil, err
	}
	if token {
		s.objMu.Lock()
	}
	pubH, privH, err := s.p.GenerateKeyPair(ss.h, []*pkcs11.Mechanism{mech}, pubT, privT)
	if token {
		s.objMu.Unlock()
	}
	if err != nil {
		if isCode(err, pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_TEMPLATE_INCONSISTENT, pkcs11.CKR_ATTRIBUTE_VALUE_INVALID, pkcs11.CKR_DOMAIN_PARAMS_INVALID, pkcs11.CKR_CURVE_NOT_SUPPORTED) {
			return 0, 0, nil, fmt.Errorf("pkcs11: %w: token %q cannot generate %s keys: %v", hsm.ErrUnsupportedAlgorithm, s.token, alg, err)
		}
		return 0, 0, nil, fmt.Errorf("pkcs11: generating a %s key on token %q: %w", alg, s.token, err)
	}
	pub, err := s.readPublicKey(ss, pubH)
	if err == nil {
		var got hsm.Algorithm
		if got, err = hsm.AlgorithmOf(pub); err == nil && got != alg {
			err = fmt.Errorf("pkcs11: token %q generated a %s key when asked for %s", s.token, got, alg)
		}
	}
	if err != nil {
		s.p.DestroyObject(ss.h, privH)
		s.p.DestroyObject(ss.h, pubH)
		return 0, 0, nil, err
	}
	return pubH, privH, pub, nil
}

// CreateKey generates a key pair on the token: the private key is a token
// object, private, sensitive, not extractable, for signing only; the public
// key beside it has the same CKA_LABEL and a random 16-byte CKA_ID.
func (s *Store) CreateKey(ctx context.Context, req *hsm.CreateKeyRequest) (*hsm.KeyInfo, error) {
	if err := hsm.CheckLabel(req.Label); err != nil {
		return nil, fmt.Errorf("pkcs11: creating key: %w", err)
	}
	if _, _, _, err := keyTemplates(req.Algorithm, "", nil, true, false, false); err != nil {
		return nil, fmt.Errorf("pkcs11: creating key %q: %w", req.Label, err)
	}
	id := make([]byte, keyIDLen)
	rand.Read(id)
	s.labelMu.Lock()
	defer s.labelMu.Unlock()
	var pub crypto.PublicKey
	err := s.do(ctx, func(ss session) error {
		objs, err := s.find(ss, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, req.Label),
		})
		if err != nil {
			return err
		}
		if len(objs) > 0 {
			return fmt.Errorf("pkcs11: creating key: %w: token %q already has an object labelled %q", hsm.ErrKeyExists, s.token, req.Label)
		}
		_, _, pub, err = s.generateKeyPair(ss, req.Algorithm, req.Label, id, true, false, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("pkcs11: created key", "token", s.token, "label", req.Label, "algorithm", req.Algorithm)
	return &hsm.KeyInfo{Label: req.Label, URI: s.keyURI(req.Label), Algorithm: req.Algorithm, PublicKey: pub}, nil
}

// keyURI names the key labelled label: the store's URI, without PIN value,
// with the object attribute.
func (s *Store) keyURI(label string) string {
	return s.uri.WithKey("object", label).String()
}

// find returns the handles of the objects matching tmpl.
func (s *Store) find(ss session, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	s.objMu.RLock()
	defer s.objMu.RUnlock()
	if err := s.p.FindObjectsInit(ss.h, tmpl); err != nil {
		return nil, fmt.Errorf("pkcs11: searching token %q: %w", s.token, err)
	}
	var all []pkcs11.ObjectHandle
	for {
		objs, _, err := s.p.FindObjects(ss.h, maxObjectsPerFind)
		if err != nil {
			s.p.FindObjectsFinal(ss.h)
			return nil, fmt.Errorf("pkcs11: searching token %q: %w", s.token, err)
		}
		all = append(all, objs...)
		if len(objs) < maxObjectsPerFind {
			break
		}
	}
	if err := s.p.FindObjectsFinal(ss.h); err != nil {
		return nil, fmt.Errorf("pkcs11: searching token %q: %w", s.token, err)
	}
	return all, nil
}

// foundKey is a key pair found on the token.
type foundKey struct {
	priv pkcs11.ObjectHandle
	id   []byte
	pub  crypto.PublicKey
	alg  hsm.Algorithm
}

// findKey finds the private key labelled label and its public key (the
// public key object with the same CKA_ID). No private key gives an error
// wrapping hsm.ErrKeyNotFound.
func (s *Store) findKey(ss session, label string) (*foundKey, error) {
	privs, err := s.find(ss, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	})
	if err != nil {
		return nil, err
	}
	switch len(privs) {
	case 0:
		return nil, fmt.Errorf("pkcs11: %w: no private key labelled %q on token %q", hsm.ErrKeyNotFound, label, s.token)
	case 1:
	default:
		return nil, fmt.Errorf("pkcs11: token %q has %d private keys labelled %q; kyso will not guess which to use", s.token, len(privs), label)
	}
	return s.keyPair(ss, privs[0], label)
}

// keyPair reads the CKA_ID of the private key priv and the public key object
// with that CKA_ID.
func (s *Store) keyPair(ss session, priv pkcs11.ObjectHandle, label string) (*foundKey, error) {
	attrs, err := s.p.GetAttributeValue(ss.h, priv, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: reading the CKA_ID of key %q on token %q: %w", label, s.token, err)
	}
	id := attrs[0].Value
	if len(id) == 0 {
		return nil, fmt.Errorf("pkcs11: key %q on token %q has no CKA_ID, so its public key cannot be found", label, s.token)
	}
	pubs, err := s.find(ss, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	})
	if err != nil {
		return nil, err
	}
	if len(pubs) != 1 {
		return nil, fmt.Errorf("pkcs11: key %q on token %q: %d public key objects share its CKA_ID, want 1", label, s.token, len(pubs))
	}
	pub, err := s.readPublicKey(ss, pubs[0])
	if err != nil {
		return nil, fmt.Errorf("pkcs11: key %q: %w", label, err)
	}
	alg, err := hsm.AlgorithmOf(pub)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: key %q on token %q: %w", label, s.token, err)
	}
	if rsaPub, ok := pub.(*rsa.PublicKey); ok {
		// The private object carries the modulus too: check it is the
		// private half, not just an object with the same CKA_ID.
		attrs, err := s.p.GetAttributeValue(ss.h, priv, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil)})
		if err != nil {
			return nil, fmt.Errorf("pkcs11: reading the modulus of key %q on token %q: %w", label, s.token, err)
		}
		if new(big.Int).SetBytes(attrs[0].Value).Cmp(rsaPub.N) != 0 {
			return nil, fmt.Errorf("pkcs11: key %q on token %q: the public key object with its CKA_ID has another modulus", label, s.token)
		}
	}
	return &foundKey{priv: priv, id: id, pub: pub, alg: alg}, nil
}

// readPublicKey reads a public key object (or an RSA private key object,
// which carries the modulus and exponent).
func (s *Store) readPublicKey(ss session, h pkcs11.ObjectHandle) (crypto.PublicKey, error) {
	attrs, err := s.p.GetAttributeValue(ss.h, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil)})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: reading a public key on token %q: %w", s.token, err)
	}
	switch keyType := bytesToUint(attrs[0].Value); keyType {
	case pkcs11.CKK_RSA:
		attrs, err := s.p.GetAttributeValue(ss.h, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
		})
		if err != nil {
			return nil, fmt.Errorf("pkcs11: reading an RSA public key on token %q: %w", s.token, err)
		}
		e := new(big.Int).SetBytes(attrs[1].Value)
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, fmt.Errorf("pkcs11: RSA public key on token %q has an unusable exponent", s.token)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(attrs[0].Value), E: int(e.Int64())}, nil
	case pkcs11.CKK_EC, ckkECEdwards:
		attrs, err := s.p.GetAttributeValue(ss.h, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
		})
		if err != nil {
			return nil, fmt.Errorf("pkcs11: reading an EC public key on token %q: %w", s.token, err)
		}
		pub, err := parseECPoint(attrs[0].Value, attrs[1].Value)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: EC public key on token %q: %w", s.token, err)
		}
		return pub, nil
	default:
		return nil, fmt.Errorf("pkcs11: %w: key type 0x%x on token %q", hsm.ErrUnsupportedAlgorithm, keyType, s.token)
	}
}

// parseECPoint decodes CKA_EC_PARAMS and CKA_EC_POINT. The point is a DER
// OCTET STRING (PKCS#11 3.0 section 2.3.3); some modules give it bare.
func parseECPoint(params, point []byte) (crypto.PublicKey, error) {
	var raw []byte
	if rest, err := asn1.Unmarshal(point, &raw); err != nil || len(rest) != 0 {
		raw = point
	}
	switch {
	case bytes.Equal(params, oidP256):
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	case bytes.Equal(params, oidP384):
		return ecdsa.ParseUncompressedPublicKey(elliptic.P384(), raw)
	case bytes.Equal(params, oidEd25519) || isPrintable(params, edwards25519PrintableStr):
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 public key is %d bytes", len(raw))
		}
		return ed25519.PublicKey(bytes.Clone(raw)), nil
	}
	return nil, fmt.Errorf("%w: curve parameters %x", hsm.ErrUnsupportedAlgorithm, params)
}

func isPrintable(der []byte, s string) bool {
	var got string
	rest, err := asn1.Unmarshal(der, &got)
	return err == nil && len(rest) == 0 && got == s
}

// bytesToUint decodes a CK_ULONG attribute value in host byte order.
func bytesToUint(b []byte) uint {
	var v uint64
	switch len(b) {
	case 8:
		v = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	case 4:
		v = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
	case 1:
		v = uint64(b[0])
	}
	return uint(v)
}

// PublicKey returns the public key of the key labelled req.Label.
func (s *Store) PublicKey(ctx context.Context, req *hsm.PublicKeyRequest) (crypto.PublicKey, error) {
	var k *foundKey
	err := s.do(ctx, func(ss session) (err error) {
		k, err = s.findKey(ss, req.Label)
		return err
	})
	if err != nil {
		return nil, err
	}
	return k.pub, nil
}

// ListKeys lists the private keys on the token that have a label, sorted by
// label. Keys of kinds kyso does not use are left out.
func (s *Store) ListKeys(ctx context.Context, req *hsm.ListKeysRequest) ([]*hsm.KeyInfo, error) {
	var out []*hsm.KeyInfo
	err := s.do(ctx, func(ss session) error {
		out = nil
		privs, err := s.find(ss, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		})
		if err != nil {
			return err
		}
		for _, h := range privs {
			attrs, err := s.p.GetAttributeValue(ss.h, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)})
			if err != nil {
				return fmt.Errorf("pkcs11: listing keys on token %q: %w", s.token, err)
			}
			label := string(attrs[0].Value)
			if label == "" {
				continue
			}
			k, err := s.keyPair(ss, h, label)
			if err != nil {
				if needsRecovery(err) {
					return err
				}
				s.log.Debug("pkcs11: leaving a key out of the list", "token", s.token, "label", label, "reason", err.Error())
				continue
			}
			out = append(out, &hsm.KeyInfo{Label: label, URI: s.keyURI(label), Algorithm: k.alg, PublicKey: k.pub})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out, nil
}

// DeleteKey destroys the private key labelled req.Label and its public key.
// Signers for it stop working.
func (s *Store) DeleteKey(ctx context.Context, req *hsm.DeleteKeyRequest) error {
	s.labelMu.Lock()
	defer s.labelMu.Unlock()
	defer s.keyEpoch.Add(1)
	return s.do(ctx, func(ss session) error {
		privs, err := s.find(ss, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, req.Label),
		})
		if err != nil {
			return err
		}
		if len(privs) == 0 {
			return fmt.Errorf("pkcs11: deleting key: %w: no private key labelled %q on token %q", hsm.ErrKeyNotFound, req.Label, s.token)
		}
		doomed := append([]pkcs11.ObjectHandle(nil), privs...)
		for _, h := range privs {
			attrs, err := s.p.GetAttributeValue(ss.h, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
			if err != nil {
				return fmt.Errorf("pkcs11: deleting key %q: reading its CKA_ID: %w", req.Label, err)
			}
			if len(attrs[0].Value) == 0 {
				continue
			}
			pubs, err := s.find(ss, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_ID, attrs[0].Value),
			})
			if err != nil {
				return err
			}
			doomed = append(doomed, pubs...)
		}
		// Public keys left with the label but another CKA_ID go too.
		pubs, err := s.find(ss, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, req.Label),
		})
		if err != nil {
			return err
		}
		seen := map[pkcs11.ObjectHandle]bool{}
		s.objMu.Lock()
		defer s.objMu.Unlock()
		for _, h := range append(doomed, pubs...) {
			if seen[h] {
				continue
			}
			seen[h] = true
			if err := s.p.DestroyObject(ss.h, h); err != nil {
				return fmt.Errorf("pkcs11: deleting key %q on token %q: %w", req.Label, s.token, err)
			}
		}
		s.log.Info("pkcs11: deleted key", "token", s.token, "label", req.Label)
		return nil
	})
}

// Signer returns a crypto.Signer for the key labelled req.Label. The signer
// remembers the public key it was made for: after any recovery, or after
// this store deletes a key, it looks the label up again and refuses to sign
// unless the key found has that same public key.
func (s *Store) Signer(ctx context.Context, req *hsm.SignerRequest) (crypto.Signer, error) {
	sg := &signer{s: s, label: req.Label}
	err := s.do(ctx, func(ss session) error {
		epoch := s.keyEpoch.Load()
		k, err := s.findKey(ss, req.Label)
		if err != nil {
			return err
		}
		sg.pub, sg.alg = k.pub, k.alg
		sg.ref.Store(&keyRef{gen: ss.gen, epoch: epoch, priv: k.priv})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sg, nil
}

// keyRef is a signer's cached private key handle, valid for one recovery
// generation and one key epoch.
type keyRef struct {
	gen, epoch uint64
	priv       pkcs11.ObjectHandle
}

// signer signs with a key on the token.
type signer struct {
	s     *Store
	label string
	pub   crypto.PublicKey
	alg   hsm.Algorithm
	ref   atomic.Pointer[keyRef]
}

// Public returns the public key the signer was made for.
func (sg *signer) Public() crypto.PublicKey { return sg.pub }

// handle returns the private key handle to sign with on ss, looking the
// label up again (and checking the public key) when the cached one is from
// an older generation or key epoch.
func (sg *signer) handle(ss session) (pkcs11.ObjectHandle, error) {
	epoch := sg.s.keyEpoch.Load()
	if r := sg.ref.Load(); r != nil && r.gen == ss.gen && r.epoch == epoch {
		return r.priv, nil
	}
	k, err := sg.s.findKey(ss, sg.label)
	if err != nil {
		return 0, err
	}
	if !hsm.SamePublicKey(k.pub, sg.pub) {
		return 0, fmt.Errorf("pkcs11: %w: the key labelled %q on token %q is no longer the key this signer was made for (it was deleted and the label reused, or the token was re-initialised); refusing to sign with it", hsm.ErrKeyNotFound, sg.label, sg.s.token)
	}
	sg.ref.Store(&keyRef{gen: ss.gen, epoch: epoch, priv: k.priv})
	return k.priv, nil
}

// Sign signs digest (the message, for Ed25519) with the key on the token.
func (sg *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	p, err := hsm.CheckSignRequest(sg.alg, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: signing with key %q: %w", sg.label, err)
	}
	mech, data, err := signMechanism(sg.alg, p, digest)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: signing with key %q: %w", sg.label, err)
	}
	var sig []byte
	err = sg.s.do(context.Background(), func(ss session) error {
		h, err := sg.handle(ss)
		if err != nil {
			return err
		}
		sig, err = sg.s.signOnce(ss, mech, h, data)
		if err != nil {
			return fmt.Errorf("pkcs11: signing with key %q on token %q: %w", sg.label, sg.s.token, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return finishSignature(sg.alg, sig)
}

// signOnce runs C_SignInit and C_Sign.
func (s *Store) signOnce(ss session, mech *pkcs11.Mechanism, h pkcs11.ObjectHandle, data []byte) ([]byte, error) {
	if err := s.p.SignInit(ss.h, []*pkcs11.Mechanism{mech}, h); err != nil {
		return nil, err
	}
	return s.p.Sign(ss.h, data)
}

// signMechanism picks the PKCS#11 mechanism and the data to pass to C_Sign:
// CKM_RSA_PKCS over a DigestInfo (RFC 8017 section 9.2), CKM_RSA_PKCS_PSS
// with salt the hash length, CKM_ECDSA over the digest, CKM_EDDSA over the
// message.
func signMechanism(alg hsm.Algorithm, p hsm.SignParams, digest []byte) (*pkcs11.Mechanism, []byte, error) {
	switch {
	case alg.IsRSA() && p.PSS:
		var hashMech, mgf uint
		switch p.Hash {
		case crypto.SHA256:
			hashMech, mgf = pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256
		case crypto.SHA384:
			hashMech, mgf = pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384
		case crypto.SHA512:
			hashMech, mgf = pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512
		default:
			return nil, nil, fmt.Errorf("%w: PSS with %v", hsm.ErrUnsupportedSignature, p.Hash)
		}
		return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hashMech, mgf, uint(p.SaltLength))), digest, nil
	case alg.IsRSA():
		di, err := hsm.DigestInfo(p.Hash, digest)
		if err != nil {
			return nil, nil, err
		}
		return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil), di, nil
	case alg.IsECDSA():
		return pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil), digest, nil
	case alg == hsm.Ed25519:
		return pkcs11.NewMechanism(ckmEdDSA, nil), digest, nil
	}
	return nil, nil, fmt.Errorf("%w: %s", hsm.ErrUnsupportedAlgorithm, alg)
}

// finishSignature converts the token's ECDSA r||s to ASN.1.
func finishSignature(alg hsm.Algorithm, sig []byte) ([]byte, error) {
	if alg.IsECDSA() {
		der, err := hsm.ECDSARawToASN1(sig)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: %w", err)
		}
		return der, nil
	}
	return sig, nil
}
