//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/hsmtest"
)

// wrappedAlgorithms are the algorithms SoftHSM can wrap; Ed25519 it cannot.
var wrappedAlgorithms = []hsm.Algorithm{hsm.RSA2048, hsm.RSA3072, hsm.ECDSAP256, hsm.ECDSAP384}

func TestWrappedKeys(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if err := s.CreateMasterKey(ctx, ""); err != nil {
		t.Fatalf("CreateMasterKey: %v", err)
	}
	if err := s.CreateMasterKey(ctx, ""); !errors.Is(err, hsm.ErrKeyExists) {
		t.Fatalf("second CreateMasterKey: err = %v, want ErrKeyExists", err)
	}
	blobs := map[hsm.Algorithm]*hsm.WrappedKey{}
	for _, alg := range wrappedAlgorithms {
		t.Run("sign/"+string(alg), func(t *testing.T) {
			wk, err := s.CreateWrappedKey(ctx, &hsm.CreateWrappedKeyRequest{Algorithm: alg})
			if err != nil {
				t.Fatalf("CreateWrappedKey: %v", err)
			}
			if wk.Algorithm != alg {
				t.Fatalf("wrapped key is %s, want %s", wk.Algorithm, alg)
			}
			blobs[alg] = wk
			signer, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: wk.Blob})
			if err != nil {
				t.Fatalf("WrappedSigner: %v", err)
			}
			if !hsm.SamePublicKey(signer.Public(), wk.PublicKey) {
				t.Fatal("signer's public key differs from the wrapped key's")
			}
			hsmtest.CheckSigner(t, signer, alg)
		})
	}
	t.Run("ed25519-unsupported", func(t *testing.T) {
		_, err := s.CreateWrappedKey(ctx, &hsm.CreateWrappedKeyRequest{Algorithm: hsm.Ed25519})
		if !errors.Is(err, hsm.ErrUnsupportedAlgorithm) {
			t.Fatalf("wrapped Ed25519: err = %v, want ErrUnsupportedAlgorithm (SoftHSM cannot wrap EdDSA keys)", err)
		}
	})
	t.Run("no-session-objects-left", func(t *testing.T) {
		// The key cache keeps unwrapped keys until they idle out; past
		// that nothing is left.
		if s.cachedKeys() == 0 {
			t.Error("the key cache holds no unwrapped key after signing")
		}
		s.keys.mu.Lock()
		s.keys.now = func() time.Time { return time.Now().Add(DefaultKeyCacheIdle + time.Second) }
		s.keys.mu.Unlock()
		s.sweep(ctx)
		err := s.do(ctx, func(ss session) error {
			objs, err := s.find(ss, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false)})
			if err == nil && len(objs) != 0 {
				t.Errorf("%d session objects left on the token", len(objs))
			}
			objs, err = s.find(ss, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)})
			if err == nil && len(objs) != 0 {
				t.Errorf("%d private key objects on the token; wrapped keys must leave none", len(objs))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("hammer", func(t *testing.T) {
		for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
			if blobs[alg] == nil {
				t.Fatalf("no %s wrapped key", alg)
			}
			signer, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: blobs[alg].Blob})
			if err != nil {
				t.Fatal(err)
			}
			hsmtest.Hammer(t, signer, 32, 25)
		}
	})
	t.Run("master-key-not-extractable", func(t *testing.T) {
		err := s.do(ctx, func(ss session) error {
			mk, err := s.masterByLabel(ss, DefaultMasterKey)
			if err != nil {
				return err
			}
			attrs, err := s.p.GetAttributeValue(ss.h, mk.h, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
				pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, nil),
			})
			if err != nil {
				return err
			}
			if !bytes.Equal(attrs[0].Value, []byte{0}) || !bytes.Equal(attrs[1].Value, []byte{1}) || !bytes.Equal(attrs[2].Value, []byte{1}) || !bytes.Equal(attrs[3].Value, []byte{1}) {
				t.Errorf("master key extractable=%x sensitive=%x never-extractable=%x private=%x", attrs[0].Value, attrs[1].Value, attrs[2].Value, attrs[3].Value)
			}
			if _, err := s.p.GetAttributeValue(ss.h, mk.h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); err == nil {
				t.Error("the master key's CKA_VALUE can be read")
			}
			// Wrapping it under another key must fail too.
			other, err := s.p.GenerateKey(ss.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
				pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
			})
			if err != nil {
				return err
			}
			defer s.p.DestroyObject(ss.h, other)
			if _, err := s.p.WrapKey(ss.h, kwp(), other, mk.h); err == nil {
				t.Error("the master key could be wrapped out of the token")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("altered-blob", func(t *testing.T) {
		for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
			blob := blobs[alg].Blob
			idLen := int(blob[6])
			spkiAt := 7 + idLen + 2
			spkiLen := int(binary.BigEndian.Uint16(blob[7+idLen:]))
			wrappedAt := spkiAt + spkiLen + 2
			positions := map[string]int{
				"magic":          0,
				"version":        4,
				"algorithm":      5,
				"master-id-len":  6,
				"master-id":      7,
				"master-id-last": 7 + idLen - 1,
				"spki-len":       7 + idLen + 1,
				"spki-first":     spkiAt,
				"spki-middle":    spkiAt + spkiLen/2,
				"spki-last":      spkiAt + spkiLen - 1,
				"wrapped-len":    wrappedAt - 1,
				"wrapped-first":  wrappedAt,
				"wrapped-middle": wrappedAt + (len(blob)-wrappedAt)/2,
				"wrapped-last":   len(blob) - 1,
			}
			for name, at := range positions {
				for _, bit := range []byte{0x01, 0x80} {
					bad := bytes.Clone(blob)
					bad[at] ^= bit
					if _, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: bad}); !errors.Is(err, hsm.ErrInvalidWrappedKey) {
						t.Errorf("%s: blob with %s (byte %d) ^ %#x: err = %v, want ErrInvalidWrappedKey", alg, name, at, bit, err)
					}
				}
			}
			for _, bad := range [][]byte{nil, blob[:len(blob)-1], blob[:len(blob)-8], append(bytes.Clone(blob), 0)} {
				if _, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: bad}); !errors.Is(err, hsm.ErrInvalidWrappedKey) {
					t.Errorf("%s: blob of %d bytes: err = %v, want ErrInvalidWrappedKey", alg, len(bad), err)
				}
			}
			// Every byte, for the smaller blob.
			if alg == hsm.ECDSAP256 {
				for at := range blob {
					bad := bytes.Clone(blob)
					bad[at] ^= 0x10
					if _, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: bad}); !errors.Is(err, hsm.ErrInvalidWrappedKey) {
						t.Errorf("%s: blob with byte %d altered: err = %v, want ErrInvalidWrappedKey", alg, at, err)
					}
				}
			}
		}
	})

	t.Run("another-master-key", func(t *testing.T) {
		// A blob made on another token under its own master key.
		other, _ := openStore(t)
		if err := other.CreateMasterKey(ctx, ""); err != nil {
			t.Fatal(err)
		}
		wk, err := other.CreateWrappedKey(ctx, &hsm.CreateWrappedKeyRequest{Algorithm: hsm.ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: wk.Blob}); !errors.Is(err, hsm.ErrInvalidWrappedKey) {
			t.Errorf("blob from another token's master key: err = %v, want ErrInvalidWrappedKey", err)
		}
		// A blob made here under a second master key, relabelled as the
		// first master key's: RFC 5649's integrity check catches it.
		if err := s.CreateMasterKey(ctx, "second-master"); err != nil {
			t.Fatal(err)
		}
		wk2, err := s.CreateWrappedKey(ctx, &hsm.CreateWrappedKeyRequest{Algorithm: hsm.ECDSAP256, MasterKey: "second-master"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: wk2.Blob}); err != nil {
			t.Fatalf("blob under the second master key: %v", err)
		}
		first := blobs[hsm.ECDSAP256].Blob
		swapped := bytes.Clone(wk2.Blob)
		copy(swapped[7:7+int(swapped[6])], first[7:7+int(first[6])])
		if _, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: swapped}); !errors.Is(err, hsm.ErrInvalidWrappedKey) {
			t.Errorf("blob naming the wrong master key: err = %v, want ErrInvalidWrappedKey", err)
		}
		// And another key's public key in front of the wrapped key.
		wk3, err := s.CreateWrappedKey(ctx, &hsm.CreateWrappedKeyRequest{Algorithm: hsm.ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		mixed := append(bytes.Clone(first[:len(first)-len(parseOK(t, first).wrapped)-2]), wk3.Blob[len(wk3.Blob)-len(parseOK(t, wk3.Blob).wrapped)-2:]...)
		if _, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: mixed}); !errors.Is(err, hsm.ErrInvalidWrappedKey) {
			t.Errorf("blob with another key's public key: err = %v, want ErrInvalidWrappedKey", err)
		}
	})

	t.Run("missing-master-key", func(t *testing.T) {
		_, err := s.CreateWrappedKey(ctx, &hsm.CreateWrappedKeyRequest{Algorithm: hsm.ECDSAP256, MasterKey: "no-such-master"})
		if !errors.Is(err, hsm.ErrKeyNotFound) {
			t.Errorf("CreateWrappedKey under a missing master key: err = %v, want ErrKeyNotFound", err)
		}
	})

	t.Run("bad-sign-options", func(t *testing.T) {
		signer, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: blobs[hsm.ECDSAP256].Blob})
		if err != nil {
			t.Fatal(err)
		}
		d := sha256.Sum256([]byte("x"))
		if _, err := signer.Sign(rand.Reader, d[:31], hsmSHA256); err == nil {
			t.Error("signing a 31-byte SHA-256 digest succeeded")
		}
	})
}

func parseOK(t *testing.T, blob []byte) *wrappedBlob {
	t.Helper()
	b, err := parseBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
