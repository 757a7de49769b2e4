// Package hsmtest is the conformance suite every hsm.KeyStore backend runs:
// the same behaviour is asserted against PKCS#11 (SoftHSM), Vault Transit and
// softkey, so that code above the hsm package can treat them alike.
package hsmtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
)

// Config says what a backend supports and how hard to push it.
type Config struct {
	// Algorithms lists the key types the backend must create and sign with.
	Algorithms []hsm.Algorithm
	// StressAlgorithms are the key types used for the concurrency test; empty
	// means ecdsa-p256 and rsa-2048 where supported.
	StressAlgorithms []hsm.Algorithm
	// Goroutines and PerGoroutine size the concurrency test; zero means 32 and
	// 200, as the key custody issue asks.
	Goroutines, PerGoroutine int
	// LabelPrefix keeps runs that share a store apart; empty means "t".
	LabelPrefix string
}

// Run runs the whole suite against ks. The store must be empty of labels
// starting with cfg.LabelPrefix.
func Run(t *testing.T, ks hsm.KeyStore, cfg Config) {
	t.Helper()
	if cfg.LabelPrefix == "" {
		cfg.LabelPrefix = "t"
	}
	if cfg.Goroutines == 0 {
		cfg.Goroutines = 32
	}
	if cfg.PerGoroutine == 0 {
		cfg.PerGoroutine = 200
	}
	ctx := context.Background()
	label := func(s string) string { return cfg.LabelPrefix + "-" + s }

	created := map[hsm.Algorithm]*hsm.KeyInfo{}
	for _, alg := range cfg.Algorithms {
		t.Run("create-sign-verify/"+string(alg), func(t *testing.T) {
			info, err := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label(string(alg)), Algorithm: alg})
			if err != nil {
				t.Fatalf("CreateKey(%s): %v", alg, err)
			}
			if info.Label != label(string(alg)) || info.Algorithm != alg {
				t.Fatalf("CreateKey returned %+v", info)
			}
			if got, err := hsm.AlgorithmOf(info.PublicKey); err != nil || got != alg {
				t.Fatalf("created key is %v (%v), want %s", got, err, alg)
			}
			if !strings.HasPrefix(info.URI, strings.SplitN(info.URI, ":", 2)[0]+":") || !strings.Contains(info.URI, info.Label) {
				t.Errorf("key URI %q does not name the key", info.URI)
			}
			created[alg] = info
			pub, err := ks.PublicKey(ctx, &hsm.PublicKeyRequest{Label: info.Label})
			if err != nil {
				t.Fatalf("PublicKey: %v", err)
			}
			if !hsm.SamePublicKey(pub, info.PublicKey) {
				t.Fatal("PublicKey differs from the key CreateKey returned")
			}
			s, err := ks.Signer(ctx, &hsm.SignerRequest{Label: info.Label})
			if err != nil {
				t.Fatalf("Signer: %v", err)
			}
			CheckSigner(t, s, alg)
		})
	}

	t.Run("list", func(t *testing.T) {
		keys, err := ks.ListKeys(ctx, &hsm.ListKeysRequest{})
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		seen := map[string]*hsm.KeyInfo{}
		for i, k := range keys {
			seen[k.Label] = k
			if i > 0 && keys[i-1].Label > k.Label {
				t.Errorf("ListKeys not sorted: %q before %q", keys[i-1].Label, k.Label)
			}
		}
		for alg, info := range created {
			k, ok := seen[info.Label]
			if !ok {
				t.Errorf("ListKeys misses %q", info.Label)
				continue
			}
			if k.Algorithm != alg || !hsm.SamePublicKey(k.PublicKey, info.PublicKey) {
				t.Errorf("ListKeys gives %q as %s with another public key", k.Label, k.Algorithm)
			}
		}
	})

	t.Run("duplicate-label", func(t *testing.T) {
		alg := cfg.Algorithms[0]
		if created[alg] == nil {
			t.Skip("first algorithm failed to create")
		}
		_, err := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label(string(alg)), Algorithm: alg})
		if !errors.Is(err, hsm.ErrKeyExists) {
			t.Fatalf("second CreateKey with the same label: err = %v, want ErrKeyExists", err)
		}
	})

	t.Run("bad-input", func(t *testing.T) {
		cases := []struct {
			name string
			req  hsm.CreateKeyRequest
		}{
			{"empty-label", hsm.CreateKeyRequest{Label: "", Algorithm: hsm.ECDSAP256}},
			{"bad-label", hsm.CreateKeyRequest{Label: "a/b", Algorithm: hsm.ECDSAP256}},
			{"long-label", hsm.CreateKeyRequest{Label: strings.Repeat("x", 65), Algorithm: hsm.ECDSAP256}},
			{"bad-algorithm", hsm.CreateKeyRequest{Label: label("bad-alg"), Algorithm: "dsa-1024"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if _, err := ks.CreateKey(ctx, &c.req); err == nil {
					t.Fatalf("CreateKey(%+v) succeeded", c.req)
				}
			})
		}
	})

	t.Run("unknown-key", func(t *testing.T) {
		if _, err := ks.Signer(ctx, &hsm.SignerRequest{Label: label("no-such-key")}); !errors.Is(err, hsm.ErrKeyNotFound) {
			t.Errorf("Signer(unknown): err = %v, want ErrKeyNotFound", err)
		}
		if _, err := ks.PublicKey(ctx, &hsm.PublicKeyRequest{Label: label("no-such-key")}); !errors.Is(err, hsm.ErrKeyNotFound) {
			t.Errorf("PublicKey(unknown): err = %v, want ErrKeyNotFound", err)
		}
	})

	t.Run("bad-sign-options", func(t *testing.T) {
		info := created[cfg.Algorithms[0]]
		if info == nil || info.Algorithm == hsm.Ed25519 {
			t.Skip("needs a hashing key")
		}
		s, err := ks.Signer(ctx, &hsm.SignerRequest{Label: info.Label})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sign(rand.Reader, make([]byte, 20), crypto.SHA1); err == nil {
			t.Error("signing a SHA-1 digest succeeded")
		}
		if _, err := s.Sign(rand.Reader, make([]byte, 31), crypto.SHA256); err == nil {
			t.Error("signing a 31-byte 'SHA-256' digest succeeded")
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		algs := cfg.StressAlgorithms
		if len(algs) == 0 {
			for _, a := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
				if created[a] != nil {
					algs = append(algs, a)
				}
			}
		}
		for _, alg := range algs {
			t.Run(string(alg), func(t *testing.T) {
				info := created[alg]
				if info == nil {
					t.Skipf("%s failed to create", alg)
				}
				s, err := ks.Signer(ctx, &hsm.SignerRequest{Label: info.Label})
				if err != nil {
					t.Fatal(err)
				}
				Hammer(t, s, cfg.Goroutines, cfg.PerGoroutine)
			})
		}
	})

	if del, ok := ks.(hsm.KeyDeleter); ok {
		t.Run("delete", func(t *testing.T) {
			info, err := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label("doomed"), Algorithm: hsm.ECDSAP256})
			if err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			old, err := ks.Signer(ctx, &hsm.SignerRequest{Label: info.Label})
			if err != nil {
				t.Fatal(err)
			}
			if err := del.DeleteKey(ctx, &hsm.DeleteKeyRequest{Label: info.Label}); err != nil {
				t.Fatalf("DeleteKey: %v", err)
			}
			if _, err := ks.Signer(ctx, &hsm.SignerRequest{Label: info.Label}); !errors.Is(err, hsm.ErrKeyNotFound) {
				t.Errorf("Signer after delete: err = %v, want ErrKeyNotFound", err)
			}
			if err := del.DeleteKey(ctx, &hsm.DeleteKeyRequest{Label: info.Label}); !errors.Is(err, hsm.ErrKeyNotFound) {
				t.Errorf("second DeleteKey: err = %v, want ErrKeyNotFound", err)
			}
			digest := sha256.Sum256([]byte("after delete"))
			if _, err := old.Sign(rand.Reader, digest[:], crypto.SHA256); err == nil {
				t.Error("a signer for a deleted key still signs")
			}
			// A new key under the old label must not be used by the old signer:
			// it would sign with a key the caller never asked for.
			if _, err := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: info.Label, Algorithm: hsm.ECDSAP256}); err != nil {
				t.Fatalf("re-create under the same label: %v", err)
			}
			sig, err := old.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err == nil {
				if ecdsa.VerifyASN1(info.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
					t.Fatal("impossible: deleted key signed")
				}
				t.Fatal("a signer for a deleted key signed with the new key that took its label")
			}
			if err := del.DeleteKey(ctx, &hsm.DeleteKeyRequest{Label: info.Label}); err != nil {
				t.Errorf("cleanup DeleteKey: %v", err)
			}
		})
	}
}

// CheckSigner signs with every option kyso uses for alg and verifies each
// signature with crypto/x509 and the standard library's verifiers.
func CheckSigner(t *testing.T, s crypto.Signer, alg hsm.Algorithm) {
	t.Helper()
	if got, err := hsm.AlgorithmOf(s.Public()); err != nil || got != alg {
		t.Fatalf("signer's public key is %v (%v), want %s", got, err, alg)
	}
	msg := []byte("kyso conformance " + string(alg))
	if alg == hsm.Ed25519 {
		sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			t.Fatalf("Sign(Ed25519): %v", err)
		}
		if !ed25519.Verify(s.Public().(ed25519.PublicKey), msg, sig) {
			t.Fatal("Ed25519 signature does not verify")
		}
		checkX509(t, s, x509.PureEd25519)
		return
	}
	hashes := []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}
	for _, h := range hashes {
		d := digest(h, msg)
		sig, err := s.Sign(rand.Reader, d, h)
		if err != nil {
			t.Fatalf("Sign(%v): %v", h, err)
		}
		switch pub := s.Public().(type) {
		case *rsa.PublicKey:
			if err := rsa.VerifyPKCS1v15(pub, h, d, sig); err != nil {
				t.Fatalf("PKCS#1 v1.5 %v signature: %v", h, err)
			}
			for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto} {
				sig, err := s.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: salt, Hash: h})
				if err != nil {
					t.Fatalf("Sign(PSS %v salt %d): %v", h, salt, err)
				}
				if err := rsa.VerifyPSS(pub, h, d, sig, &rsa.PSSOptions{SaltLength: h.Size()}); err != nil {
					t.Fatalf("PSS %v signature (salt %d): %v", h, salt, err)
				}
			}
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(pub, d, sig) {
				t.Fatalf("ECDSA %v signature does not verify (is it ASN.1?)", h)
			}
		}
	}
	switch alg {
	case hsm.RSA2048, hsm.RSA3072, hsm.RSA4096:
		checkX509(t, s, x509.SHA256WithRSA)
		checkX509(t, s, x509.SHA256WithRSAPSS)
		checkX509(t, s, x509.SHA512WithRSAPSS)
	case hsm.ECDSAP256:
		checkX509(t, s, x509.ECDSAWithSHA256)
	case hsm.ECDSAP384:
		checkX509(t, s, x509.ECDSAWithSHA384)
	}
}

// checkX509 makes a self-signed certificate with s and has crypto/x509 verify
// its signature: the way every certificate, CRL and OCSP response kyso
// signs will be checked.
func checkX509(t *testing.T, s crypto.Signer, sa x509.SignatureAlgorithm) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kyso conformance"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		SignatureAlgorithm:    sa,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.Public(), s)
	if err != nil {
		t.Fatalf("x509.CreateCertificate with %v: %v", sa, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Fatalf("crypto/x509 rejects the %v signature: %v", sa, err)
	}
}

// Hammer signs from goroutines × per goroutines at once and verifies every
// signature.
func Hammer(t *testing.T, s crypto.Signer, goroutines, per int) {
	t.Helper()
	var wg sync.WaitGroup
	var ok atomic.Int64
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				d := sha256.Sum256([]byte(fmt.Sprintf("hammer %d %d", g, i)))
				var opts crypto.SignerOpts = crypto.SHA256
				if _, isRSA := s.Public().(*rsa.PublicKey); isRSA && i%2 == 1 {
					opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
				}
				sig, err := s.Sign(rand.Reader, d[:], opts)
				if err != nil {
					errs <- fmt.Errorf("goroutine %d signature %d: %w", g, i, err)
					return
				}
				if err := Verify(s.Public(), d[:], sig, opts); err != nil {
					errs <- fmt.Errorf("goroutine %d signature %d: %w", g, i, err)
					return
				}
				ok.Add(1)
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if want := int64(goroutines * per); ok.Load() != want {
		t.Fatalf("%d of %d signatures verified", ok.Load(), want)
	}
}

// Verify checks a signature made by Sign(rand, digest, opts).
func Verify(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	p := hsm.SignParams{Hash: opts.HashFunc()}
	if _, ok := opts.(*rsa.PSSOptions); ok {
		p.PSS = true
	}
	return hsm.VerifySignature(pub, digest, sig, p)
}

func digest(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(msg)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(msg)
		return d[:]
	default:
		d := sha512.Sum512(msg)
		return d[:]
	}
}
