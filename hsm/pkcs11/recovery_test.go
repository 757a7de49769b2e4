//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/hsmtest"
)

// load signs with every signer from several goroutines until stopped,
// checking each signature against the signer's own public key: a signature
// that does not verify there was made with another key, which must never
// happen.
type load struct {
	t       *testing.T
	signers map[string]crypto.Signer
	stop    chan struct{}
	wg      sync.WaitGroup
	ok      map[string]*atomic.Int64
	failed  map[string]*atomic.Int64
	mu      sync.Mutex
	lastErr map[string]error
}

func startLoad(t *testing.T, signers map[string]crypto.Signer, perSigner int) *load {
	l := &load{t: t, signers: signers, stop: make(chan struct{}), ok: map[string]*atomic.Int64{}, failed: map[string]*atomic.Int64{}, lastErr: map[string]error{}}
	for name := range signers {
		l.ok[name], l.failed[name] = new(atomic.Int64), new(atomic.Int64)
	}
	for name, s := range signers {
		for g := 0; g < perSigner; g++ {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				for i := 0; ; i++ {
					select {
					case <-l.stop:
						return
					default:
					}
					d := sha256.Sum256(fmt.Appendf(nil, "%s %d %d", name, g, i))
					var opts crypto.SignerOpts = crypto.SHA256
					if _, isRSA := s.Public().(*rsa.PublicKey); isRSA && i%2 == 1 {
						opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
					}
					sig, err := s.Sign(rand.Reader, d[:], opts)
					if err != nil {
						l.failed[name].Add(1)
						l.mu.Lock()
						l.lastErr[name] = err
						l.mu.Unlock()
						time.Sleep(time.Millisecond)
						continue
					}
					if err := hsmtest.Verify(s.Public(), d[:], sig, opts); err != nil {
						t.Errorf("%s: a signature does not verify under the signer's public key: %v", name, err)
						return
					}
					l.ok[name].Add(1)
				}
			}()
		}
	}
	return l
}

// counts returns the signatures made and failed so far per signer.
func (l *load) counts() (ok, failed map[string]int64) {
	ok, failed = map[string]int64{}, map[string]int64{}
	for name := range l.signers {
		ok[name], failed[name] = l.ok[name].Load(), l.failed[name].Load()
	}
	return ok, failed
}

func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
}

// TestRecoverySessionKill closes every session of the process on the token
// — as a module restart or another library calling C_CloseAllSessions would
// — while signers are busy. They must recover without a restart: the store
// opens new sessions, logs in again and finds the keys again.
func TestRecoverySessionKill(t *testing.T) {
	s, sh := openStore(t)
	ctx := context.Background()
	signers := map[string]crypto.Signer{}
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
		label := "kill-" + string(alg)
		if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: alg}); err != nil {
			t.Fatal(err)
		}
		signer, err := s.Signer(ctx, &hsm.SignerRequest{Label: label})
		if err != nil {
			t.Fatal(err)
		}
		signers[label] = signer
	}
	// Another application context on the same module in this process: it
	// shares the module's sessions and login state, as PKCS#11 says.
	other := pkcs11.New(sh.Module)
	if err := other.Initialize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		t.Fatal(err)
	}
	slot := s.slot

	l := startLoad(t, signers, 4)
	time.Sleep(200 * time.Millisecond)
	const kills = 5
	for i := 0; i < kills; i++ {
		s.quiesce(func() {
			if err := other.CloseAllSessions(slot); err != nil {
				t.Errorf("C_CloseAllSessions: %v", err)
			}
		})
		time.Sleep(150 * time.Millisecond)
	}
	before, _ := l.counts()
	time.Sleep(300 * time.Millisecond)
	after, failed := l.counts()
	l.end()
	for name := range signers {
		if after[name] <= before[name] {
			t.Errorf("%s made no signature after the sessions were killed (last error: %v)", name, l.lastErr[name])
		}
		// Each failure is retried once after recovery, so none should
		// reach the caller.
		if failed[name] != 0 {
			t.Errorf("%s: %d signatures failed across %d session kills (last: %v)", name, failed[name], kills, l.lastErr[name])
		}
		t.Logf("%s: %d signatures, %d failed", name, after[name], failed[name])
	}
	if g := s.generation(); g < kills {
		t.Errorf("store recovered %d times for %d session kills", g, kills)
	}
	// The store is still whole.
	if _, err := s.ListKeys(ctx, &hsm.ListKeysRequest{}); err != nil {
		t.Errorf("ListKeys after recovery: %v", err)
	}
}

// TestRecoveryTokenReinit re-initialises the token under busy signers — all
// objects gone — and then creates new keys under the same labels. Old
// signers must fail cleanly, with ErrKeyNotFound, and never sign with the
// new keys; new signers must work.
func TestRecoveryTokenReinit(t *testing.T) {
	s, sh := openStore(t)
	ctx := context.Background()
	signers := map[string]crypto.Signer{}
	algs := map[string]hsm.Algorithm{"reinit-ec": hsm.ECDSAP256, "reinit-rsa": hsm.RSA2048}
	for label, alg := range algs {
		if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: alg}); err != nil {
			t.Fatal(err)
		}
		signer, err := s.Signer(ctx, &hsm.SignerRequest{Label: label})
		if err != nil {
			t.Fatal(err)
		}
		signers[label] = signer
	}
	l := startLoad(t, signers, 3)
	time.Sleep(150 * time.Millisecond)
	// SoftHSM 2.6.1's file store is not safe against a process reading the
	// token while another re-initialises it: the reader may keep a torn
	// view (the token listed with an empty label, object creation failing
	// with CKR_GENERAL_ERROR) until it restarts. The signers keep looping
	// but wait outside the module meanwhile.
	s.quiesce(func() { sh.Reinit(t) })
	time.Sleep(150 * time.Millisecond)
	for label, alg := range algs {
		if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: alg}); err != nil {
			t.Fatalf("re-creating %q after re-initialisation: %v", label, err)
		}
	}
	mid, _ := l.counts()
	time.Sleep(300 * time.Millisecond)
	after, failed := l.counts()
	l.end()
	for name := range signers {
		if after[name] != mid[name] {
			t.Errorf("%s signed %d times after its key was destroyed and the label reused", name, after[name]-mid[name])
		}
		if failed[name] == 0 {
			t.Errorf("%s never failed", name)
		}
		if err := l.lastErr[name]; !errors.Is(err, hsm.ErrKeyNotFound) {
			t.Errorf("%s: last error %v, want ErrKeyNotFound", name, err)
		}
		t.Logf("%s: %d signatures before, %d refused; last error: %v", name, mid[name], failed[name], l.lastErr[name])
	}
	// A signer for the new key works; the store needed no restart.
	for label, alg := range algs {
		signer, err := s.Signer(ctx, &hsm.SignerRequest{Label: label})
		if err != nil {
			t.Fatalf("Signer for the new %q: %v", label, err)
		}
		if hsm.SamePublicKey(signer.Public(), signers[label].Public()) {
			t.Fatalf("the new %q has the old public key", label)
		}
		hsmtest.CheckSigner(t, signer, alg)
	}
}

// TestRecoveryReinitIdle re-initialises the token while nothing signs: the
// first signature afterwards must fail with ErrKeyNotFound, and so must the
// next, even once a key with the same label exists.
func TestRecoveryReinitIdle(t *testing.T) {
	s, sh := openStore(t)
	ctx := context.Background()
	if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "idle", Algorithm: hsm.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	signer, err := s.Signer(ctx, &hsm.SignerRequest{Label: "idle"})
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("idle"))
	if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	sh.Reinit(t)
	if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("Sign after re-initialisation: err = %v, want ErrKeyNotFound", err)
	}
	if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "idle", Algorithm: hsm.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("Sign after the label was reused: err = %v, want ErrKeyNotFound", err)
	}
}

// TestRecoveryReinitCachedWrappedKey re-initialises the token while a
// wrapped key is unwrapped in the key cache, then makes a master key with
// the label and CKA_ID of the one that wrapped it. SoftHSM leaves the
// process's sessions, and the unwrapped object in them, alive; the signer
// must still stop: the cached key signs only while its master key is on
// the token, and the impostor fails RFC 5649's integrity check.
func TestRecoveryReinitCachedWrappedKey(t *testing.T) {
	s, sh := openStore(t)
	ctx := context.Background()
	if err := s.CreateMasterKey(ctx, ""); err != nil {
		t.Fatal(err)
	}
	wk, err := s.CreateWrappedKey(ctx, &hsm.CreateWrappedKeyRequest{Algorithm: hsm.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: wk.Blob})
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("cached"))
	if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if n := s.cachedKeys(); n != 1 {
		t.Fatalf("%d keys cached, want 1", n)
	}
	s.quiesce(func() { sh.Reinit(t) })
	b, err := parseBlob(wk.Blob)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.createMaster(ctx, s.master, b.masterID); err != nil {
		t.Fatalf("making the impostor master key: %v", err)
	}
	// The cached master key handle is read again after MasterRecheck.
	time.Sleep(MasterRecheck)
	for i := range 2 {
		sig, err := signer.Sign(rand.Reader, d[:], crypto.SHA256)
		if !errors.Is(err, hsm.ErrInvalidWrappedKey) || sig != nil {
			t.Fatalf("signature %d after the re-initialisation: %x, err = %v; want ErrInvalidWrappedKey", i+1, sig, err)
		}
	}
}
