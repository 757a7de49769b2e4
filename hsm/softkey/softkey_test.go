package softkey

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/hsmtest"
)

// testKDF keeps the suite fast; production uses DefaultKDF.
var testKDF = KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}

func open(t *testing.T, dir, pass string) (*Store, error) {
	t.Helper()
	u := &hsm.URI{Scheme: "softkey", Path: map[string]string{}, Query: map[string]string{"dir": dir, "passphrase": pass}}
	return Open(context.Background(), u, &Options{KDF: testKDF})
}

func TestConformance(t *testing.T) {
	s, err := open(t, filepath.Join(t.TempDir(), "keys"), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	hsmtest.Run(t, s, hsmtest.Config{Algorithms: hsm.Algorithms})
}

func TestFilesAreSealedAndPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	s, err := open(t, dir, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "citizen-1", Algorithm: hsm.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"keystore.json", "citizen-1.key"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "citizen-1.key"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Fatal("key file holds a PEM private key in the clear")
	}
	if info.URI != "softkey:name=citizen-1?dir="+dir {
		t.Errorf("URI = %q", info.URI)
	}
	if strings.Contains(info.URI, "correct") {
		t.Error("URI leaks the passphrase")
	}
}

func TestWrongPassphrase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if _, err := open(t, dir, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	_, err := open(t, dir, "wrong horse battery")
	if !errors.Is(err, hsm.ErrAuthentication) {
		t.Fatalf("err = %v, want ErrAuthentication", err)
	}
	if strings.Contains(err.Error(), "wrong horse") {
		t.Fatal("error leaks the passphrase")
	}
	if _, err := open(t, dir, "short"); err == nil {
		t.Fatal("a 5-byte passphrase was accepted")
	}
}

func TestRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
	if _, err := open(t, dir, "correct horse battery"); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v, want a refusal to use a non-empty directory", err)
	}
}

// TestConcurrentFirstOpen: processes opening the same new directory at
// once (kysod and kyso, or replicas, on a first start) all open the one
// key store that wins; none refuses the directory for the other's
// half-written description, and a key made through one opens in another.
func TestConcurrentFirstOpen(t *testing.T) {
	for round := range 20 {
		dir := filepath.Join(t.TempDir(), "keys")
		const n = 8
		stores := make([]*Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = open(t, dir, "correct horse battery") })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: opener %d of %d: %v", round, i, n, err)
			}
		}
		ctx := context.Background()
		if _, err := stores[0].CreateKey(ctx, &hsm.CreateKeyRequest{Label: "k", Algorithm: hsm.ECDSAP256}); err != nil {
			t.Fatal(err)
		}
		for i, s := range stores {
			if _, err := s.Signer(ctx, &hsm.SignerRequest{Label: "k"}); err != nil {
				t.Fatalf("round %d: opener %d cannot open the key another made: %v", round, i, err)
			}
		}
	}
}

func TestTamperedKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	s, err := open(t, dir, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "a", Algorithm: hsm.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "b", Algorithm: hsm.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	pathA := filepath.Join(dir, "a.key")
	orig, _ := os.ReadFile(pathA)

	t.Run("swapped-public-key", func(t *testing.T) {
		var a, b keyFile
		rb, _ := os.ReadFile(filepath.Join(dir, "b.key"))
		json.Unmarshal(orig, &a)
		json.Unmarshal(rb, &b)
		a.PublicKey = b.PublicKey
		out, _ := json.Marshal(a)
		os.WriteFile(pathA, out, 0o600)
		if _, err := s.Signer(ctx, &hsm.SignerRequest{Label: "a"}); err == nil {
			t.Fatal("a key file with another key's public key was accepted")
		}
	})
	t.Run("flipped-ciphertext", func(t *testing.T) {
		var a keyFile
		json.Unmarshal(orig, &a)
		a.Ciphertext[len(a.Ciphertext)/2] ^= 1
		out, _ := json.Marshal(a)
		os.WriteFile(pathA, out, 0o600)
		if _, err := s.Signer(ctx, &hsm.SignerRequest{Label: "a"}); err == nil {
			t.Fatal("an altered ciphertext was accepted")
		}
	})
	t.Run("other-store", func(t *testing.T) {
		other, err := open(t, filepath.Join(t.TempDir(), "other"), "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(other.Dir(), "a.key"), orig, 0o600)
		if _, err := other.Signer(ctx, &hsm.SignerRequest{Label: "a"}); err == nil {
			t.Fatal("a key file from another key store (another salt) was accepted")
		}
	})
	t.Run("garbage", func(t *testing.T) {
		os.WriteFile(pathA, []byte("{not json"), 0o600)
		_, err := s.Signer(ctx, &hsm.SignerRequest{Label: "a"})
		if err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("err = %v, want 'damaged'", err)
		}
	})
}

func TestConcurrentCreateSameLabel(t *testing.T) {
	s, err := open(t, filepath.Join(t.TempDir(), "keys"), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, exists := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateKey(context.Background(), &hsm.CreateKeyRequest{Label: "race", Algorithm: hsm.ECDSAP256})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, hsm.ErrKeyExists):
				exists++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || exists != 7 {
		t.Fatalf("%d creates succeeded and %d saw ErrKeyExists; want 1 and 7", ok, exists)
	}
	sg, err := s.Signer(context.Background(), &hsm.SignerRequest{Label: "race"})
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	sig, err := sg.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := hsmtest.Verify(sg.Public(), d[:], sig, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkSign(b *testing.B) {
	u := &hsm.URI{Scheme: "softkey", Path: map[string]string{}, Query: map[string]string{"dir": filepath.Join(b.TempDir(), "k"), "passphrase": "benchmark pass"}}
	s, err := Open(context.Background(), u, &Options{KDF: testKDF})
	if err != nil {
		b.Fatal(err)
	}
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
		if _, err := s.CreateKey(context.Background(), &hsm.CreateKeyRequest{Label: string(alg), Algorithm: alg}); err != nil {
			b.Fatal(err)
		}
		sg, err := s.Signer(context.Background(), &hsm.SignerRequest{Label: string(alg)})
		if err != nil {
			b.Fatal(err)
		}
		d := sha256.Sum256([]byte("bench"))
		b.Run(string(alg), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := sg.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
