package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/bench/keybench"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/keystore"
	"github.com/kyso-pki/kyso/hsm/pkcs11"
	"github.com/kyso-pki/kyso/hsm/pkcs11/pkcs11bench"
	"github.com/kyso-pki/kyso/hsm/softkey"
)

// benchKeys measures signatures per second through kyso's PKCS#11 backend
// (token-resident and wrapped keys), softkey and optionally Vault, next to a
// bare PKCS#11 C_Sign loop on the same throwaway SoftHSM token and Go's
// in-memory keys, with 1 and N goroutines.
func benchKeys(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench keys", "bench keys [--duration 2s] [--goroutines N] [--module PATH] [--vault URI] [--output json]")
	dur := fs.Duration("duration", 2*time.Second, "how long to measure each row")
	n := fs.Int("goroutines", runtime.NumCPU(), "the N of the 1 and N goroutine rows")
	module := fs.String("module", "/usr/lib/softhsm/libsofthsm2.so", "SoftHSM PKCS#11 module; a throwaway token is made in a temporary directory")
	vaultURI := fs.String("vault", "", "also measure this Vault Transit key store (vault:… URI); keys bench-* are created and deleted")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *n < 1 || *dur <= 0 {
		return usagef("--goroutines must be ≥ 1 and --duration > 0")
	}
	counts := []int{1}
	if *n > 1 {
		counts = append(counts, *n)
	}

	tok, err := newBenchToken(*module)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tok.dir)
	fmt.Fprintf(e.stderr, "kyso bench keys: throwaway SoftHSM token in %s; %v per row; %d CPU\n", tok.dir, *dur, runtime.NumCPU())

	p11, err := pkcs11.Open(ctx, tok.uri, nil)
	if err != nil {
		return err
	}
	defer p11.Close()
	if err := p11.CreateMasterKey(ctx, ""); err != nil {
		return fmt.Errorf("creating the master wrapping key: %w", err)
	}
	bare, err := pkcs11bench.OpenBare(*module, tok.label, []byte(tok.pin))
	if err != nil {
		return err
	}
	defer bare.Close()

	passDir, err := os.MkdirTemp("", "kyso-bench-softkey-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(passDir)
	sk, err := softkey.Open(ctx, &hsm.URI{Scheme: "softkey", Path: map[string]string{}, Query: map[string]string{
		"dir": filepath.Join(passDir, "keys"), "passphrase": hex.EncodeToString(randBytes(16))}}, nil)
	if err != nil {
		return err
	}
	var vks hsm.KeyStore
	if *vaultURI != "" {
		if vks, _, err = keystore.Open(ctx, *vaultURI, nil); err != nil {
			return err
		}
		defer vks.Close()
	}

	var results []keybench.Result
	for _, alg := range []hsm.Algorithm{hsm.RSA2048, hsm.ECDSAP256} {
		label := "bench-" + string(alg)
		mem, err := memoryKey(alg)
		if err != nil {
			return err
		}
		if _, err := p11.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: alg}); err != nil {
			return err
		}
		tokSigner, err := p11.Signer(ctx, &hsm.SignerRequest{Label: label})
		if err != nil {
			return err
		}
		wk, err := p11.CreateWrappedKey(ctx, &hsm.CreateWrappedKeyRequest{Algorithm: alg})
		if err != nil {
			return err
		}
		wrapped, err := p11.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: wk.Blob})
		if err != nil {
			return err
		}
		bareSign, err := bare.SignFunc(label, alg)
		if err != nil {
			return err
		}
		if _, err := sk.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: alg}); err != nil {
			return err
		}
		skSigner, err := sk.Signer(ctx, &hsm.SignerRequest{Label: label})
		if err != nil {
			return err
		}
		var vSigner crypto.Signer
		if vks != nil {
			if _, err := vks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: alg}); err != nil {
				return err
			}
			if del, ok := vks.(hsm.KeyDeleter); ok {
				defer del.DeleteKey(context.Background(), &hsm.DeleteKeyRequest{Label: label})
			}
			if vSigner, err = vks.Signer(ctx, &hsm.SignerRequest{Label: label}); err != nil {
				return err
			}
		}
		for _, g := range counts {
			row := func(backend string, f keybench.SignFunc) {
				r := keybench.Measure(ctx, backend, string(alg), g, *dur, f)
				fmt.Fprintf(e.stderr, "  %-16s %-11s %2d goroutines: %8.0f sig/s\n", backend, alg, g, r.PerSecond)
				results = append(results, r)
			}
			row("go-memory", keybench.SignerFunc(mem))
			row("pkcs11-bare", bareSign)
			row("pkcs11", keybench.SignerFunc(tokSigner))
			row("pkcs11-wrapped", keybench.SignerFunc(wrapped))
			if alg.IsRSA() {
				row("pkcs11-pss", keybench.PSSSignerFunc(tokSigner))
			}
			row("softkey", keybench.SignerFunc(skSigner))
			if vSigner != nil {
				row("vault", keybench.SignerFunc(vSigner))
			}
		}
	}
	keybench.Ratios(results)
	if *out == "json" {
		return writeJSON(e.stdout, results)
	}
	return keybench.Print(e.stdout, results)
}

func memoryKey(alg hsm.Algorithm) (crypto.Signer, error) {
	if alg.IsRSA() {
		return rsa.GenerateKey(rand.Reader, alg.Bits())
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// benchToken is a throwaway SoftHSM token.
type benchToken struct {
	dir, label, pin, soPIN string
	uri                    *hsm.URI
}

// newBenchToken makes a SoftHSM token in a temporary directory and points
// this process's SOFTHSM2_CONF at it, before the module is first loaded.
func newBenchToken(module string) (*benchToken, error) {
	if _, err := os.Stat(module); err != nil {
		return nil, fmt.Errorf("PKCS#11 module: %w (install softhsm2)", err)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return nil, fmt.Errorf("softhsm2-util not found (install softhsm2): %w", err)
	}
	dir, err := os.MkdirTemp("", "kyso-bench-softhsm-")
	if err != nil {
		return nil, err
	}
	t := &benchToken{dir: dir, label: "kyso-bench", pin: hex.EncodeToString(randBytes(8)), soPIN: hex.EncodeToString(randBytes(8))}
	tokens := filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		return nil, err
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	cmd := exec.Command(util, "--init-token", "--free", "--label", t.label, "--pin", t.pin, "--so-pin", t.soPIN)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("softhsm2-util --init-token: %v: %s", err, out)
	}
	t.uri = &hsm.URI{Scheme: "pkcs11", Path: map[string]string{"token": t.label}, Query: map[string]string{"module-path": module, "pin-value": t.pin}}
	return t, nil
}
