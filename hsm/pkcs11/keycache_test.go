//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// openCached opens a store on sh's token with the key cache set by the URI
// attributes in q.
func openCached(t *testing.T, sh *testenv.SoftHSM, q map[string]string) *Store {
	t.Helper()
	u := sh.URI()
	for k, v := range q {
		u.Query[k] = v
	}
	s, err := Open(context.Background(), u, nil)
	if err != nil {
		t.Fatalf("Open with %v: %v", q, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sessionKeys returns the attributes of the private keys on the token that
// are session objects (CKA_TOKEN false).
func sessionKeys(t *testing.T, s *Store) []map[uint][]byte {
	t.Helper()
	var keys []map[uint][]byte
	err := s.do(context.Background(), func(ss session) error {
		objs, err := s.find(ss, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		})
		if err != nil {
			return err
		}
		for _, h := range objs {
			attrs, err := s.p.GetAttributeValue(ss.h, h, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
				pkcs11.NewAttribute(pkcs11.CKA_SIGN, nil),
				pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, nil),
				pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, nil),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, nil),
			})
			if err != nil {
				return err
			}
			m := map[uint][]byte{}
			for _, a := range attrs {
				m[a.Type] = a.Value
			}
			if _, err := s.p.GetAttributeValue(ss.h, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); err == nil {
				t.Errorf("a cached key's CKA_VALUE can be read")
			}
			keys = append(keys, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestKeyCache(t *testing.T) {
	ctx := context.Background()
	sh := testenv.NewSoftHSM(t)
	setup := openCached(t, sh, nil)
	if err := setup.CreateMasterKey(ctx, ""); err != nil {
		t.Fatal(err)
	}
	var blobs [][]byte
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.ECDSAP256, hsm.RSA2048} {
		wk, err := setup.CreateWrappedKey(ctx, &hsm.CreateWrappedKeyRequest{Algorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, wk.Blob)
	}
	// Creating checks each key, which leaves it cached; closing the store
	// closes its sessions, and their objects go with them.
	if setup.cachedKeys() != 3 {
		t.Errorf("after creating 3 keys, %d cached", setup.cachedKeys())
	}
	setup.Close()
	digest := sha256.Sum256([]byte("kyso key cache"))
	signWith := func(t *testing.T, s *Store, blob []byte, n int) {
		t.Helper()
		signer, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: blob, SkipCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		ms := signer.(hsm.MultiSigner)
		ds := make([][]byte, n)
		for i := range ds {
			ds[i] = digest[:]
		}
		sigs, err := ms.SignDigests(ctx, ds, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		for _, sig := range sigs {
			if err := hsm.VerifySignature(signer.Public(), digest[:], sig, hsm.SignParams{Hash: crypto.SHA256}); err != nil {
				t.Fatalf("signature from the cache does not verify: %v", err)
			}
		}
	}

	t.Run("one-unwrap-for-many-requests", func(t *testing.T) {
		s := openCached(t, sh, nil)
		for range 5 {
			signWith(t, s, blobs[0], 3)
		}
		if n := s.unwraps.Load(); n != 1 {
			t.Errorf("5 requests with one key unwrapped it %d times, want 1", n)
		}
		keys := sessionKeys(t, s)
		if len(keys) != 1 {
			t.Fatalf("%d session private keys on the token, want the 1 cached", len(keys))
		}
		want := map[uint]byte{pkcs11.CKA_SENSITIVE: 1, pkcs11.CKA_EXTRACTABLE: 0, pkcs11.CKA_SIGN: 1, pkcs11.CKA_DECRYPT: 0, pkcs11.CKA_UNWRAP: 0, pkcs11.CKA_PRIVATE: 1}
		for a, v := range want {
			if !bytes.Equal(keys[0][a], []byte{v}) {
				t.Errorf("cached key attribute %#x = %x, want %x", a, keys[0][a], v)
			}
		}
		// Idle past key-cache-idle: the sweep destroys it.
		s.keys.mu.Lock()
		s.keys.now = func() time.Time { return time.Now().Add(DefaultKeyCacheIdle + time.Second) }
		s.keys.mu.Unlock()
		s.sweep(ctx)
		if n := len(sessionKeys(t, s)); n != 0 || s.cachedKeys() != 0 {
			t.Errorf("after the idle sweep: %d session keys on the token, %d cached; want none", n, s.cachedKeys())
		}
	})

	t.Run("bounded", func(t *testing.T) {
		s := openCached(t, sh, map[string]string{"key-cache": "2"})
		for _, b := range blobs {
			signWith(t, s, b, 1)
		}
		if n := len(sessionKeys(t, s)); n != 2 {
			t.Errorf("key-cache=2 after 3 keys: %d session keys on the token, want 2", n)
		}
		signWith(t, s, blobs[0], 1) // the least recently used: evicted
		signWith(t, s, blobs[2], 1) // cached
		if n := s.unwraps.Load(); n != 4 {
			t.Errorf("unwrapped %d times, want 4 (3 keys, then the evicted one again)", n)
		}
	})

	t.Run("off", func(t *testing.T) {
		s := openCached(t, sh, map[string]string{"key-cache": "0"})
		signWith(t, s, blobs[0], 2)
		signWith(t, s, blobs[0], 2)
		if n := s.unwraps.Load(); n != 2 {
			t.Errorf("key-cache=0: unwrapped %d times for 2 requests, want 2", n)
		}
		if n := len(sessionKeys(t, s)); n != 0 {
			t.Errorf("key-cache=0: %d session keys left on the token", n)
		}
	})

	// Signers racing over more keys than the cache holds: objects are
	// evicted while others sign with them, and destroyed by the last user.
	t.Run("race", func(t *testing.T) {
		s := openCached(t, sh, map[string]string{"key-cache": "1"})
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Go(func() {
				for i := range 15 {
					signWith(t, s, blobs[(g+i)%len(blobs)], 2)
				}
			})
		}
		wg.Wait()
		if n := len(sessionKeys(t, s)); n > 1 {
			t.Errorf("key-cache=1: %d session keys left on the token after the race", n)
		}
	})

	t.Run("bad-attributes", func(t *testing.T) {
		for _, q := range []map[string]string{{"key-cache": "-1"}, {"key-cache": "many"}, {"key-cache-idle": "0s"}, {"key-cache-idle": "forever"}} {
			u := sh.URI()
			for k, v := range q {
				u.Query[k] = v
			}
			_, err := Open(ctx, u, nil)
			for k := range q {
				if err == nil || !strings.Contains(err.Error(), k) {
					t.Errorf("Open with %v: err = %v, want one naming %s", q, err, k)
				}
			}
		}
	})
}
