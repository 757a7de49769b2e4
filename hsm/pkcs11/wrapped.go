//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/kyso-pki/kyso/hsm"
)

// masterKeyIDLen is the length of the random CKA_ID of a master key; the
// blob names its master key by it.
const masterKeyIDLen = 16

// masterRef is a cached master key handle, valid for one recovery
// generation, and when it was last found on the token.
type masterRef struct {
	gen     uint64
	h       pkcs11.ObjectHandle
	checked time.Time
}

// kwp is CKM_AES_KEY_WRAP_PAD, AES key wrap with padding (RFC 5649).
func kwp() []*pkcs11.Mechanism {
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}
}

// CreateMasterKey generates the AES-256 key that wraps keys kept outside the
// token (see CreateWrappedKey) and labels it label (empty means the store's
// master key: the URI's master-key attribute, else DefaultMasterKey). The key
// is a private, sensitive, non-extractable token object that can only wrap
// and unwrap, with a random 16-byte CKA_ID that wrapped key blobs name it
// by. A label already taken gives an error wrapping hsm.ErrKeyExists.
//
// The key is made by the user, so it is not CKA_TRUSTED: SoftHSM lets only
// the security officer set CKA_TRUSTED, and the security officer can only
// make public (CKA_PRIVATE=false) objects, which SoftHSM stores unencrypted
// and lets any session use without a PIN. See the package documentation.
func (s *Store) CreateMasterKey(ctx context.Context, label string) error {
	if label == "" {
		label = s.master
	}
	if err := hsm.CheckLabel(label); err != nil {
		return fmt.Errorf("pkcs11: creating master key: %w", err)
	}
	id := make([]byte, masterKeyIDLen)
	rand.Read(id)
	return s.createMaster(ctx, label, id)
}

// createMaster makes the master key labelled label with CKA_ID id.
func (s *Store) createMaster(ctx context.Context, label string, id []byte) error {
	s.labelMu.Lock()
	defer s.labelMu.Unlock()
	return s.do(ctx, func(ss session) error {
		objs, err := s.find(ss, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		})
		if err != nil {
			return err
		}
		if len(objs) > 0 {
			return fmt.Errorf("pkcs11: creating master key: %w: token %q already has an object labelled %q", hsm.ErrKeyExists, s.token, label)
		}
		s.objMu.Lock()
		defer s.objMu.Unlock()
		_, err = s.p.GenerateKey(ss.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
			pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		})
		if err != nil {
			return fmt.Errorf("pkcs11: creating master key %q on token %q: %w", label, s.token, err)
		}
		s.log.Info("pkcs11: created master key", "token", s.token, "label", label)
		return nil
	})
}

// masterKey is a master key found on the token.
type masterKey struct {
	h       pkcs11.ObjectHandle
	id      []byte
	trusted bool
}

// checkMaster reads a secret key object and refuses it unless it is an AES
// key that cannot leave the token.
func (s *Store) checkMaster(ss session, h pkcs11.ObjectHandle, name string) (*masterKey, error) {
	attrs, err := s.p.GetAttributeValue(ss.h, h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: reading master key %s on token %q: %w", name, s.token, err)
	}
	isTrue := func(v []byte) bool { return len(v) == 1 && v[0] != 0 }
	switch {
	case bytesToUint(attrs[0].Value) != pkcs11.CKK_AES:
		return nil, fmt.Errorf("pkcs11: master key %s on token %q is not an AES key", name, s.token)
	case !isTrue(attrs[2].Value) || isTrue(attrs[3].Value):
		return nil, fmt.Errorf("pkcs11: master key %s on token %q is extractable or not sensitive; refusing to wrap keys under it", name, s.token)
	case len(attrs[1].Value) == 0 || len(attrs[1].Value) > maxMasterIDLen:
		return nil, fmt.Errorf("pkcs11: master key %s on token %q has a CKA_ID of %d bytes, want 1 to %d", name, s.token, len(attrs[1].Value), maxMasterIDLen)
	}
	return &masterKey{h: h, id: attrs[1].Value, trusted: isTrue(attrs[4].Value)}, nil
}

// masterByLabel finds the master key labelled label.
func (s *Store) masterByLabel(ss session, label string) (*masterKey, error) {
	objs, err := s.find(ss, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	})
	if err != nil {
		return nil, err
	}
	switch len(objs) {
	case 0:
		return nil, fmt.Errorf("pkcs11: %w: no master key labelled %q on token %q (create it with Store.CreateMasterKey)", hsm.ErrKeyNotFound, label, s.token)
	case 1:
		return s.checkMaster(ss, objs[0], fmt.Sprintf("%q", label))
	default:
		return nil, fmt.Errorf("pkcs11: token %q has %d secret keys labelled %q; kyso will not guess which is the master key", s.token, len(objs), label)
	}
}

// masterByID finds the master key a blob names, through a cache valid for
// one recovery generation. A cached handle is read again (its CKA_ID) when
// it was last found more than MasterRecheck ago: keys unwrapped under the
// master key (the key cache's session objects) sign only while it is
// still on the token. A token re-initialised by another process leaves
// this process's sessions, and the objects unwrapped in them, alive
// (SoftHSM does); the read fails with CKR_OBJECT_HANDLE_INVALID, the store
// recovers, the cache of the old generation is forgotten, and the blob is
// unwrapped again — or refused.
func (s *Store) masterByID(ss session, id []byte) (pkcs11.ObjectHandle, error) {
	s.masterMu.Lock()
	r, ok := s.masterCache[string(id)]
	s.masterMu.Unlock()
	if ok && r.gen == ss.gen {
		if time.Since(r.checked) < MasterRecheck {
			return r.h, nil
		}
		attrs, err := s.p.GetAttributeValue(ss.h, r.h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
		if err != nil {
			return 0, fmt.Errorf("pkcs11: reading master key %x on token %q: %w", id, s.token, err)
		}
		if bytes.Equal(attrs[0].Value, id) {
			r.checked = time.Now()
			s.masterMu.Lock()
			if cur, ok := s.masterCache[string(id)]; ok && cur.gen == r.gen && cur.h == r.h {
				s.masterCache[string(id)] = r
			}
			s.masterMu.Unlock()
			return r.h, nil
		}
	}
	objs, err := s.find(ss, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	})
	if err != nil {
		return 0, err
	}
	if len(objs) != 1 {
		return 0, errBlob("it was made under a master key (CKA_ID %x) that token %q does not hold (%d found)", id, s.token, len(objs))
	}
	if _, err := s.checkMaster(ss, objs[0], fmt.Sprintf("with CKA_ID %x", id)); err != nil {
		return 0, err
	}
	s.masterMu.Lock()
	s.masterCache[string(id)] = masterRef{gen: ss.gen, h: objs[0], checked: time.Now()}
	s.masterMu.Unlock()
	return objs[0], nil
}

// CreateWrappedKey generates a key pair on the token as session objects,
// wraps the private key under the master key with CKM_AES_KEY_WRAP_PAD (RFC
// 5649), destroys both objects and returns the blob (see blob.go for its
// format). The private key is sensitive and lives, extractable, only between
// its generation and its wrapping, inside this store's session; it is
// CKA_WRAP_WITH_TRUSTED when the master key is CKA_TRUSTED. The new blob is
// unwrapped and test-signed once before it is returned.
func (s *Store) CreateWrappedKey(ctx context.Context, req *hsm.CreateWrappedKeyRequest) (*hsm.WrappedKey, error) {
	if _, _, _, err := keyTemplates(req.Algorithm, "", nil, false, true, false); err != nil {
		return nil, fmt.Errorf("pkcs11: creating wrapped key: %w", err)
	}
	label := req.MasterKey
	if label == "" {
		label = s.master
	}
	var b *wrappedBlob
	err := s.do(ctx, func(ss session) error {
		mk, err := s.masterByLabel(ss, label)
		if err != nil {
			return err
		}
		id := make([]byte, keyIDLen)
		rand.Read(id)
		pubH, privH, pub, err := s.generateKeyPair(ss, req.Algorithm, "", id, false, true, mk.trusted)
		if err != nil {
			return err
		}
		defer s.p.DestroyObject(ss.h, pubH)
		defer s.p.DestroyObject(ss.h, privH)
		wrapped, err := s.p.WrapKey(ss.h, kwp(), mk.h, privH)
		if err != nil {
			if isCode(err, pkcs11.CKR_KEY_NOT_WRAPPABLE, pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_WRAPPED_KEY_INVALID) {
				return fmt.Errorf("pkcs11: %w: token %q cannot wrap %s keys with CKM_AES_KEY_WRAP_PAD: %v", hsm.ErrUnsupportedAlgorithm, s.token, req.Algorithm, err)
			}
			return fmt.Errorf("pkcs11: wrapping a %s key under master key %q on token %q: %w", req.Algorithm, label, s.token, err)
		}
		spki, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return fmt.Errorf("pkcs11: encoding the public key of a wrapped key: %w", err)
		}
		b = &wrappedBlob{alg: req.Algorithm, masterID: mk.id, spki: spki, pub: pub, wrapped: wrapped}
		return nil
	})
	if err != nil {
		return nil, err
	}
	blob, err := b.marshal()
	if err != nil {
		return nil, err
	}
	if _, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: blob}); err != nil {
		return nil, fmt.Errorf("pkcs11: checking a new wrapped %s key: %w", req.Algorithm, err)
	}
	return &hsm.WrappedKey{Algorithm: req.Algorithm, PublicKey: b.pub, Blob: blob}, nil
}

// WrappedSigner parses blob strictly, and unwraps it and signs a test
// digest, checked against the blob's public key, before returning a signer.
// The signer signs with the key unwrapped into a session object (private,
// sensitive, not extractable, sign only), which the store's key cache keeps
// for the next signatures (URI attributes key-cache and key-cache-idle; see
// the package documentation); the first signatures an object makes are
// verified under the blob's public key. A blob that was altered, truncated
// or made under a master key this token does not hold gives an error
// wrapping hsm.ErrInvalidWrappedKey.
func (s *Store) WrappedSigner(ctx context.Context, req *hsm.WrappedSignerRequest) (crypto.Signer, error) {
	b, err := parseBlob(req.Blob)
	if err != nil {
		return nil, err
	}
	ws := &wrappedSigner{s: s, b: b}
	if req.SkipCheck {
		return ws, nil
	}
	// Check it now: a signer that can never sign should not be handed out.
	msg := []byte("kyso wrapped key check")
	var digest []byte
	var opts crypto.SignerOpts = crypto.Hash(0)
	if b.alg == hsm.Ed25519 {
		digest = msg
	} else {
		d := sha256.Sum256(msg)
		digest, opts = d[:], crypto.SHA256
	}
	if _, err := ws.sign(ctx, digest, opts); err != nil {
		return nil, err
	}
	return ws, nil
}

// wrappedSigner signs with a wrapped key.
type wrappedSigner struct {
	s *Store
	b *wrappedBlob
}

// Public returns the public key in the blob.
func (ws *wrappedSigner) Public() crypto.PublicKey { return ws.b.pub }

// Sign signs digest (the message, for Ed25519) with the key unwrapped on
// the token (see signAll).
func (ws *wrappedSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return ws.sign(context.Background(), digest, opts)
}

func (ws *wrappedSigner) sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	b := ws.b
	p, err := hsm.CheckSignRequest(b.alg, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: signing with a wrapped key: %w", err)
	}
	mech, data, err := signMechanism(b.alg, p, digest)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: signing with a wrapped key: %w", err)
	}
	sigs, err := ws.signAll(ctx, [][]byte{digest}, []*pkcs11.Mechanism{mech}, [][]byte{data}, []hsm.SignParams{p})
	if err != nil {
		return nil, err
	}
	return sigs[0], nil
}

var _ hsm.MultiSigner = (*wrappedSigner)(nil)

// SignDigests signs every digest (C_SignInit and C_Sign each) with the key
// unwrapped on the token once for all of them (see signAll).
func (ws *wrappedSigner) SignDigests(ctx context.Context, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	b := ws.b
	params := make([]hsm.SignParams, len(digests))
	mechs := make([]*pkcs11.Mechanism, len(digests))
	data := make([][]byte, len(digests))
	for i, digest := range digests {
		p, err := hsm.CheckSignRequest(b.alg, digest, opts)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: signing with a wrapped key: %w", err)
		}
		if mechs[i], data[i], err = signMechanism(b.alg, p, digest); err != nil {
			return nil, fmt.Errorf("pkcs11: signing with a wrapped key: %w", err)
		}
		params[i] = p
	}
	return ws.signAll(ctx, digests, mechs, data, params)
}

// signAll signs data[i] with mechs[i] using the blob's key on the token,
// unwrapped once for all of them (or found unwrapped in the store's key
// cache). The signatures an object makes are verified under the blob's
// public key until one has been: after that the object is known to be that
// key, and it is not re-checked for each signature.
func (ws *wrappedSigner) signAll(ctx context.Context, digests [][]byte, mechs []*pkcs11.Mechanism, data [][]byte, params []hsm.SignParams) ([][]byte, error) {
	s, b := ws.s, ws.b
	sigs := make([][]byte, len(digests))
	var verify bool
	err := s.do(ctx, func(ss session) error {
		mh, err := s.masterByID(ss, b.masterID)
		if err != nil {
			return err
		}
		k, err := s.key(ss, mh, b)
		if err != nil {
			return err
		}
		verified, bad := false, false
		defer func() { s.releaseKey(k, ss, verified, bad) }()
		verify = !s.keyVerified(k)
		for i := range digests {
			if sigs[i], err = s.signOnce(ss, mechs[i], k.h, data[i]); err != nil {
				return fmt.Errorf("pkcs11: signing with a wrapped key on token %q: %w", s.token, err)
			}
			if sigs[i], err = finishSignature(b.alg, sigs[i]); err != nil {
				return err
			}
			if verify {
				if err := hsm.VerifySignature(b.pub, digests[i], sigs[i], params[i]); err != nil {
					bad = true
					return errBlob("the unwrapped key's signature does not verify under the blob's public key: %v", err)
				}
			}
		}
		verified = verify
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sigs, nil
}

// unwrap unwraps b's private key under the master key mh into a session
// object and checks it is the private half of b's public key as far as its
// attributes show (the RSA modulus, the EC curve).
func (s *Store) unwrap(ss session, mh pkcs11.ObjectHandle, b *wrappedBlob) (pkcs11.ObjectHandle, error) {
	var keyType uint
	switch {
	case b.alg.IsRSA():
		keyType = pkcs11.CKK_RSA
	case b.alg.IsECDSA():
		keyType = pkcs11.CKK_EC
	default:
		keyType = ckkECEdwards
	}
	if len(b.wrapped) == 0 { // github.com/miekg/pkcs11 indexes wrapped[0]
		return 0, errBlob("empty wrapped key")
	}
	kh, err := s.p.UnwrapKey(ss.h, kwp(), mh, b.wrapped, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	})
	if err != nil {
		if needsRecovery(err) {
			return 0, fmt.Errorf("pkcs11: unwrapping a key on token %q: %w", s.token, err)
		}
		// SoftHSM says CKR_GENERAL_ERROR when RFC 5649's integrity check
		// fails; other modules CKR_WRAPPED_KEY_INVALID.
		return 0, errBlob("unwrapping it on token %q failed (altered, or made under another master key): %v", s.token, err)
	}
	s.unwraps.Add(1)
	var check *pkcs11.Attribute
	var want []byte
	switch pub := b.pub.(type) {
	case *rsa.PublicKey:
		check, want = pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil), pub.N.Bytes()
	case *ecdsa.PublicKey:
		check = pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil)
		if b.alg == hsm.ECDSAP256 {
			want = oidP256
		} else {
			want = oidP384
		}
	}
	if check != nil {
		attrs, err := s.p.GetAttributeValue(ss.h, kh, []*pkcs11.Attribute{check})
		if err != nil {
			s.p.DestroyObject(ss.h, kh)
			return 0, fmt.Errorf("pkcs11: reading an unwrapped key on token %q: %w", s.token, err)
		}
		got := attrs[0].Value
		if check.Type == pkcs11.CKA_MODULUS {
			got = new(big.Int).SetBytes(got).Bytes()
		}
		if !bytes.Equal(got, want) {
			s.p.DestroyObject(ss.h, kh)
			return 0, errBlob("the unwrapped private key does not belong to the blob's public key")
		}
	}
	return kh, nil
}
