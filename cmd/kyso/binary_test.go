package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kyso-pki/kyso/cmd/internal/bench/keybench"
	"github.com/kyso-pki/kyso/internal/testenv"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds kyso twice, as users get it: with cgo (PKCS#11) and
// without.
func binaries(t *testing.T) (withCgo, withoutCgo string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "kyso-cli-test-")
		if buildErr != nil {
			return
		}
		for _, b := range []struct{ name, cgo string }{{"kyso", "1"}, {"kyso-nocgo", "0"}} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, b.name), ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = &buildError{b.name, err, string(out)}
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "kyso"), filepath.Join(binDir, "kyso-nocgo")
}

type buildError struct {
	name string
	err  error
	out  string
}

func (b *buildError) Error() string {
	return "building " + b.name + ": " + b.err.Error() + "\n" + b.out
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	testenv.StopSoftHSM()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// runBin runs a built kyso with extra environment.
func runBin(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestCLIOnSoftHSM(t *testing.T) {
	bin, _ := binaries(t)
	tok := testenv.NewSoftHSM(t)
	env := []string{"SOFTHSM2_CONF=" + tok.Conf, "KYSO_TEST_PIN=" + tok.PIN}
	ks := "pkcs11:token=" + tok.TokenLabel + "?module-path=" + tok.Module + "&pin-source=env:KYSO_TEST_PIN"

	out, errOut, code := runBin(t, bin, env, "key", "create", "--keystore", ks, "--label", "officer-7", "--alg", "rsa-3072", "--output", "json")
	var kj keyJSON
	if code != 0 || json.Unmarshal([]byte(out), &kj) != nil {
		t.Fatalf("key create on SoftHSM: %d %s %s", code, out, errOut)
	}
	if kj.Algorithm != "rsa-3072" || !strings.HasPrefix(kj.URI, "pkcs11:") || !strings.Contains(kj.URI, "object=officer-7") || strings.Contains(kj.URI, tok.PIN) {
		t.Fatalf("key create printed %+v", kj)
	}
	if _, errOut, code := runBin(t, bin, env, "key", "create-master", "--keystore", ks); code != 0 {
		t.Fatalf("key create-master: %d %s", code, errOut)
	}
	if _, errOut, code := runBin(t, bin, env, "key", "create-master", "--keystore", ks); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("second key create-master: %d %s", code, errOut)
	}
	out, _, code = runBin(t, bin, env, "key", "list", "--keystore", ks)
	if code != 0 || !strings.Contains(out, "officer-7") || !strings.Contains(out, "rsa-3072") {
		t.Fatalf("key list: %d %s", code, out)
	}
	if _, errOut, code := runBin(t, bin, env, "key", "delete", "--keystore", ks, "--label", "officer-7"); code != 0 {
		t.Fatalf("key delete: %d %s", code, errOut)
	}
	bad := []string{"SOFTHSM2_CONF=" + tok.Conf, "KYSO_TEST_PIN=000000"}
	if _, errOut, code := runBin(t, bin, bad, "key", "list", "--keystore", ks); code != 1 || !strings.Contains(errOut, "authentication") || strings.Contains(errOut, "000000") {
		t.Fatalf("wrong PIN: %d %q", code, errOut)
	}
	if _, errOut, code := runBin(t, bin, env, "key", "list", "--keystore", "pkcs11:token=no-such-token?module-path="+tok.Module+"&pin-source=env:KYSO_TEST_PIN"); code != 1 || !strings.Contains(errOut, "no-such-token") {
		t.Fatalf("unknown token: %d %q", code, errOut)
	}
}

func TestCLIOnVault(t *testing.T) {
	bin, _ := binaries(t)
	v := testenv.NewVault(t)
	ks := v.URI().String()
	out, errOut, code := runBin(t, bin, nil, "key", "create", "--keystore", ks, "--label", "seal-1", "--alg", "ed25519")
	if code != 0 || !strings.HasPrefix(out, "vault:") || !strings.Contains(out, "BEGIN PUBLIC KEY") {
		t.Fatalf("key create on Vault: %d %s %s", code, out, errOut)
	}
	out, _, code = runBin(t, bin, nil, "key", "list", "--keystore", ks, "--output", "json")
	var list []keyJSON
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Algorithm != "ed25519" {
		t.Fatalf("key list on Vault: %d %s", code, out)
	}
	if _, errOut, code := runBin(t, bin, nil, "key", "delete", "--keystore", ks, "--label", "seal-1"); code != 0 {
		t.Fatalf("key delete on Vault: %d %s", code, errOut)
	}
	if _, errOut, code := runBin(t, bin, nil, "key", "list", "--keystore", "vault:?address=http://127.0.0.1:1&token-source=env:HOME"); code != 1 || !strings.Contains(errOut, "cannot reach") {
		t.Fatalf("unreachable Vault: %d %q", code, errOut)
	}
}

func TestCLIWithoutCgo(t *testing.T) {
	_, nocgo := binaries(t)
	_, errOut, code := runBin(t, nocgo, nil, "key", "list", "--keystore", "pkcs11:token=kyso?pin-value=1234")
	if code != 1 || !strings.Contains(errOut, "built without cgo, so without PKCS#11 support") || strings.Contains(errOut, "1234") {
		t.Fatalf("PKCS#11 without cgo: %d %q", code, errOut)
	}
	// Everything else works without cgo.
	t.Setenv("KYSO_TEST_PASS", "a long test passphrase")
	ks := "softkey:?dir=" + filepath.Join(t.TempDir(), "k") + "&passphrase-source=env:KYSO_TEST_PASS"
	if out, errOut, code := runBin(t, nocgo, nil, "key", "create", "--keystore", ks, "--label", "x"); code != 0 {
		t.Fatalf("softkey without cgo: %d %s %s", code, out, errOut)
	}
}

// TestBenchKeys runs `kyso bench keys` briefly, as an operator would, and
// checks every row is there and measured; the figures themselves are not
// asserted (speed is reported, not tested).
func TestBenchKeys(t *testing.T) {
	bin, _ := binaries(t)
	testenv.LookPath(t, "softhsm2-util", "apt-get install softhsm2")
	out, errOut, code := runBin(t, bin, nil, "bench", "keys", "--duration", "150ms", "--goroutines", "2", "--output", "json")
	if code != 0 {
		t.Fatalf("bench keys: %d\n%s\n%s", code, out, errOut)
	}
	var rs []keybench.Result
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("bench keys --output json: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, r := range rs {
		if r.Err != "" || r.Signatures == 0 || r.PerSecond <= 0 {
			t.Errorf("row %+v did not measure", r)
		}
		if r.Backend == "pkcs11" && r.VsBare == 0 {
			t.Errorf("row %+v has no ratio to the bare loop", r)
		}
		seen[r.Backend+"/"+r.Algorithm] = true
	}
	for _, b := range []string{"go-memory", "pkcs11-bare", "pkcs11", "pkcs11-wrapped", "softkey"} {
		for _, a := range []string{"rsa-2048", "ecdsa-p256"} {
			if !seen[b+"/"+a] {
				t.Errorf("no %s row for %s", b, a)
			}
		}
	}
}
