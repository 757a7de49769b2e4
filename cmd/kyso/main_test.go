package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
)

// kyso runs the CLI in-process and returns stdout, stderr and the exit code.
func kyso(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &env{stdout: &out, stderr: &errb})
	return out.String(), errb.String(), code
}

// kysoExit returns a function that runs kyso and fails t unless it exits
// with want; it returns the standard output and error.
func kysoExit(t *testing.T) func(want int, args ...string) (string, string) {
	return func(want int, args ...string) (string, string) {
		t.Helper()
		out, errOut, code := kyso(t, args...)
		if code != want {
			t.Fatalf("kyso %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out, errOut
	}
}

// initData makes a CA in a new data directory, with KYSO_DATA and
// KYSO_KEYSTORE unset, and returns the temporary directory holding it,
// the data directory and kysoExit.
func initData(t *testing.T) (dir, data string, run func(want int, args ...string) (string, string)) {
	dir = t.TempDir()
	data = filepath.Join(dir, "data")
	t.Setenv("KYSO_DATA", "")
	t.Setenv("KYSO_KEYSTORE", "")
	run = kysoExit(t)
	run(0, "ca", "init", "--data", data)
	return dir, data, run
}

func TestHelpAndVersion(t *testing.T) {
	out, _, code := kyso(t, "--help")
	if code != 0 || !strings.Contains(out, "kyso <noun> <verb>") || !strings.Contains(out, "key create") {
		t.Fatalf("--help: code %d\n%s", code, out)
	}
	out, _, code = kyso(t, "version")
	if code != 0 || !strings.HasPrefix(out, "kyso ") {
		t.Fatalf("version: code %d %q", code, out)
	}
	out, _, code = kyso(t, "version", "--output", "json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["version"] == "" {
		t.Fatalf("version --output json: code %d %q", code, out)
	}
	if _, errOut, code := kyso(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: code %d %q", code, errOut)
	}
	if _, errOut, code := kyso(t, "key", "create", "--output", "yaml"); code != 2 || !strings.Contains(errOut, "want text or json") {
		t.Fatalf("bad --output: code %d %q", code, errOut)
	}
}

func TestKeyLifecycleSoftkey(t *testing.T) {
	t.Setenv("KYSO_TEST_PASS", "a long test passphrase")
	ks := "softkey:?dir=" + filepath.Join(t.TempDir(), "keys") + "&passphrase-source=env:KYSO_TEST_PASS"

	out, errOut, code := kyso(t, "key", "create", "--keystore", ks, "--label", "ca-root", "--alg", "ecdsa-p384")
	if code != 0 {
		t.Fatalf("key create: %d %s", code, errOut)
	}
	uri, pemText, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(uri, "softkey:name=ca-root?") || strings.Contains(uri, "a long test") {
		t.Errorf("key create printed URI %q", uri)
	}
	blk, _ := pem.Decode([]byte(pemText))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("key create printed no PEM public key:\n%s", out)
	}
	if _, err := x509.ParsePKIXPublicKey(blk.Bytes); err != nil {
		t.Fatal(err)
	}

	out, errOut, code = kyso(t, "key", "create", "--keystore", ks, "--label", "tls", "--alg", "rsa-2048", "--output", "json")
	var kj keyJSON
	if code != 0 || json.Unmarshal([]byte(out), &kj) != nil || kj.Algorithm != "rsa-2048" || kj.Label != "tls" {
		t.Fatalf("key create --output json: %d %q %s", code, out, errOut)
	}

	if _, errOut, code := kyso(t, "key", "create", "--keystore", ks, "--label", "tls", "--alg", "rsa-2048"); code != 1 || !strings.Contains(errOut, "key already exists") {
		t.Errorf("duplicate label: code %d %q", code, errOut)
	}
	if _, errOut, code := kyso(t, "key", "create", "--keystore", ks, "--label", "x", "--alg", "dsa"); code != 2 || !strings.Contains(errOut, "unknown key algorithm") {
		t.Errorf("bad alg: code %d %q", code, errOut)
	}

	out, _, code = kyso(t, "key", "list", "--keystore", ks, "--output", "json")
	var list []keyJSON
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[0].Label != "ca-root" || list[1].Label != "tls" {
		t.Fatalf("key list: %d %s", code, out)
	}
	out, _, code = kyso(t, "key", "list", "--keystore", ks)
	if code != 0 || !strings.Contains(out, "LABEL") || !strings.Contains(out, "ecdsa-p384") {
		t.Fatalf("key list (text): %d %s", code, out)
	}

	if _, errOut, code := kyso(t, "key", "delete", "--keystore", ks, "--label", "tls"); code != 0 {
		t.Fatalf("key delete: %d %s", code, errOut)
	}
	if _, errOut, code := kyso(t, "key", "delete", "--keystore", ks, "--label", "tls"); code != 1 || !strings.Contains(errOut, "key not found") {
		t.Fatalf("second delete: %d %s", code, errOut)
	}

	t.Setenv("KYSO_TEST_PASS", "the wrong passphrase")
	if _, errOut, code := kyso(t, "key", "list", "--keystore", ks); code != 1 || !strings.Contains(errOut, "wrong passphrase") || strings.Contains(errOut, "the wrong passphrase") {
		t.Fatalf("wrong passphrase: %d %q", code, errOut)
	}
	t.Setenv("KYSO_KEYSTORE", "")
	if _, errOut, code := kyso(t, "key", "list"); code != 2 || !strings.Contains(errOut, "--keystore is required") {
		t.Fatalf("no keystore: %d %q", code, errOut)
	}
	if _, errOut, code := kyso(t, "key", "list", "--keystore", "tpm:foo=bar"); code != 1 || !strings.Contains(errOut, "unknown key store scheme") {
		t.Fatalf("bad scheme: %d %q", code, errOut)
	}
}

// kysoOK runs kyso with args and returns its stdout; a non-zero exit
// fails t with what it printed.
func kysoOK(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := kyso(t, args...)
	if code != 0 {
		t.Fatalf("kyso %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}
