package hsm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	cases := []struct {
		in      string
		scheme  string
		path    map[string]string
		query   map[string]string
		wantErr string
	}{
		{
			in:     "pkcs11:token=kyso;object=ca-root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/kyso/pin",
			scheme: "pkcs11",
			path:   map[string]string{"token": "kyso", "object": "ca-root"},
			query:  map[string]string{"module-path": "/usr/lib/softhsm/libsofthsm2.so", "pin-source": "file:/etc/kyso/pin"},
		},
		{ // RFC 7512 section 3 examples use percent-encoding in values.
			in:     "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin",
			scheme: "pkcs11",
			path:   map[string]string{"token": "Software PKCS#11 softtoken", "manufacturer": "Snake Oil, Inc."},
			query:  map[string]string{"pin-value": "the-pin"},
		},
		{
			in:     "vault:mount=transit;name=k1?address=https://127.0.0.1:8200&token-source=env:VAULT_TOKEN",
			scheme: "vault",
			path:   map[string]string{"mount": "transit", "name": "k1"},
			query:  map[string]string{"address": "https://127.0.0.1:8200", "token-source": "env:VAULT_TOKEN"},
		},
		{
			in:     "SOFTKEY:?dir=./keys&passphrase-source=env:P",
			scheme: "softkey",
			path:   map[string]string{},
			query:  map[string]string{"dir": "./keys", "passphrase-source": "env:P"},
		},
		{in: "no-scheme-here", wantErr: "no scheme"},
		{in: ":token=x", wantErr: "no scheme"},
		{in: "pkcs11:token", wantErr: "not name=value"},
		{in: "pkcs11:token=a;token=b", wantErr: "given twice"},
		{in: "pkcs11:token=%zz", wantErr: "percent-encoding"},
		{in: "pkcs11:token=x?pin-value=hunter2&pin-value=again", wantErr: "given twice"},
		{in: "pkcs11:" + strings.Repeat("a", 5000), wantErr: "at most 4096"},
	}
	for _, c := range cases {
		t.Run(c.in[:min(len(c.in), 40)], func(t *testing.T) {
			u, err := ParseURI(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error leaks a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Scheme != c.scheme || !equal(u.Path, c.path) || !equal(u.Query, c.query) {
				t.Fatalf("got %+v", u)
			}
			again, err := ParseURI(u.String())
			if err != nil || !equal(again.Path, u.Path) || !equal(again.Query, u.Query) {
				t.Fatalf("String() does not round-trip: %q → %+v (%v)", u.String(), again, err)
			}
		})
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestRedacted(t *testing.T) {
	u, err := ParseURI("pkcs11:token=kyso?pin-value=123456&module-path=/m.so")
	if err != nil {
		t.Fatal(err)
	}
	r := u.Redacted()
	v, _ := ParseURI("vault:name=k?token=hvs.hunter2&address=https://v:8200")
	if vr := v.Redacted(); strings.Contains(vr, "hunter2") || !strings.Contains(vr, "https://v:8200") {
		t.Fatalf("vault Redacted() = %q", vr)
	}
	if pr := u.Redacted(); !strings.Contains(pr, "token=kyso") {
		t.Fatalf("the pkcs11 token label was redacted: %q", pr)
	}
	if strings.Contains(r, "123456") || !strings.Contains(r, "pin-value=REDACTED") || !strings.Contains(r, "/m.so") {
		t.Fatalf("Redacted() = %q", r)
	}
	k := u.WithKey("object", "ca root")
	if k.Path["object"] != "ca root" || u.Path["object"] != "" {
		t.Fatal("WithKey changed the original or lost the label")
	}
	if !strings.Contains(k.String(), "object=ca%20root") {
		t.Fatalf("String() = %q", k.String())
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pin")
	os.WriteFile(f, []byte("1234\n"), 0o600)
	t.Setenv("KYSO_TEST_SECRET", "s3cret")
	for _, src := range []string{f, "file:" + f, "file://" + f} {
		got, err := ReadSecret(src)
		if err != nil || string(got) != "1234" {
			t.Errorf("ReadSecret(%q) = %q, %v", src, got, err)
		}
	}
	if got, err := ReadSecret("env:KYSO_TEST_SECRET"); err != nil || string(got) != "s3cret" {
		t.Errorf("env: %q %v", got, err)
	}
	bad := map[string]string{
		"":                       "empty",
		"env:KYSO_NOT_SET_12345": "not set",
		"file:" + dir + "/none":  "no such file",
	}
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 5000), 0o600)
	bad["file:"+big] = "larger than"
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	bad[empty] = "empty"
	for src, want := range bad {
		if _, err := ReadSecret(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadSecret(%q): err = %v, want %q", src, err, want)
		}
	}
}

func TestCheckSignRequest(t *testing.T) {
	d := make([]byte, 32)
	cases := []struct {
		name string
		alg  Algorithm
		d    []byte
		opts crypto.SignerOpts
		ok   bool
		pss  bool
	}{
		{"rsa-pkcs1", RSA2048, d, crypto.SHA256, true, false},
		{"rsa-pss-equals", RSA2048, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}, true, true},
		{"rsa-pss-auto", RSA2048, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256}, true, true},
		{"rsa-pss-32", RSA2048, d, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}, true, true},
		{"rsa-pss-20", RSA2048, d, &rsa.PSSOptions{SaltLength: 20, Hash: crypto.SHA256}, false, false},
		{"ecdsa-pss", ECDSAP256, d, &rsa.PSSOptions{Hash: crypto.SHA256}, false, false},
		{"sha1", ECDSAP256, make([]byte, 20), crypto.SHA1, false, false},
		{"short", ECDSAP256, d[:31], crypto.SHA256, false, false},
		{"sha384-len", ECDSAP384, make([]byte, 48), crypto.SHA384, true, false},
		{"ed25519-prehash", Ed25519, d, crypto.SHA512, false, false},
		{"ed25519", Ed25519, []byte("msg"), crypto.Hash(0), true, false},
		{"nil", RSA2048, d, nil, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := CheckSignRequest(c.alg, c.d, c.opts)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, ErrUnsupportedSignature) {
				t.Fatalf("err = %v does not wrap ErrUnsupportedSignature", err)
			}
			if c.ok && p.PSS != c.pss {
				t.Fatalf("PSS = %v", p.PSS)
			}
			if p.PSS && p.SaltLength != 32 {
				t.Fatalf("SaltLength = %d", p.SaltLength)
			}
		})
	}
}

func TestECDSARawToASN1(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("x"))
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	s.FillBytes(raw[32:])
	der, err := ECDSARawToASN1(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(&k.PublicKey, d[:], der) {
		t.Fatal("converted signature does not verify")
	}
	// Leading zero bytes in r must not break the encoding.
	small := make([]byte, 64)
	big.NewInt(1).FillBytes(small[:32])
	big.NewInt(2).FillBytes(small[32:])
	if der, err := ECDSARawToASN1(small); err != nil || len(der) != 8 {
		t.Fatalf("small r,s: %x %v", der, err)
	}
	if der, err := ECDSARawToASN1(make([]byte, 64)); err != nil || !bytes.Equal(der, []byte{0x30, 6, 2, 1, 0, 2, 1, 0}) {
		t.Fatalf("small r,s: %x %v", der, err)
	}
	// Every length of r and s, and top bits set, round-trip through
	// encoding/asn1 exactly as crypto/ecdsa would encode them.
	for i := 0; i < 2000; i++ {
		raw := make([]byte, 64)
		rand.Read(raw)
		raw[0] &= byte(0xff >> (i % 9))
		if i%7 == 0 {
			clear(raw[32 : 32+i%33])
		}
		der, err := ECDSARawToASN1(raw)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &got); err != nil || len(rest) != 0 {
			t.Fatalf("%x: %v", der, err)
		}
		want, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
		if !bytes.Equal(der, want) {
			t.Fatalf("raw %x: got %x, want %x", raw, der, want)
		}
	}
	for _, n := range []int{0, 1, 63} {
		if _, err := ECDSARawToASN1(make([]byte, n)); err == nil {
			t.Errorf("%d-byte signature accepted", n)
		}
	}
}

func TestCheckLabelAndAlgorithm(t *testing.T) {
	for _, ok := range []string{"a", "ca-root", "citizen_001.v2", strings.Repeat("x", 64)} {
		if err := CheckLabel(ok); err != nil {
			t.Errorf("CheckLabel(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", "../x", "a b", "ký", strings.Repeat("x", 65), "a\x00"} {
		if err := CheckLabel(bad); err == nil {
			t.Errorf("CheckLabel(%q) accepted", bad)
		}
	}
	for _, a := range Algorithms {
		if got, err := ParseAlgorithm(string(a)); err != nil || got != a {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", a, got, err)
		}
	}
	if _, err := ParseAlgorithm("rsa-1024"); err == nil || !strings.Contains(err.Error(), "rsa-2048") {
		t.Errorf("ParseAlgorithm(rsa-1024): %v", err)
	}
}

// FuzzParseURI: key URIs come from configuration files and command lines;
// whatever they hold, parsing must not panic, and what parses must
// round-trip through String.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=kyso;object=ca-root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/kyso/pin",
		"vault:mount=transit;name=k?address=https://127.0.0.1:8200",
		"softkey:?dir=./k&passphrase-source=env:P",
		"pkcs11:token=%41%42",
		"x:;;&&??==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		if len(u.String()) > maxURILength {
			return // percent-encoding made it longer than ParseURI reads
		}
		again, err := ParseURI(u.String())
		if err != nil {
			t.Fatalf("String() of a parsed URI does not parse: %q → %q: %v", s, u.String(), err)
		}
		if !equal(again.Path, u.Path) || !equal(again.Query, u.Query) || again.Scheme != u.Scheme {
			t.Fatalf("round trip changed %q: %+v → %+v", s, u, again)
		}
		_ = u.Redacted()
	})
}

func TestCheckKept(t *testing.T) {
	for _, c := range []struct {
		name, uri string
		want      string // "" when kept fine; else what the error says
	}{
		{"pin-source file", "pkcs11:token=kyso?module-path=/m.so&pin-source=file:/etc/kyso/pin", ""},
		{"pin-source env", "pkcs11:token=kyso?pin-source=env:KYSO_PIN", ""},
		{"token is a label in pkcs11", "pkcs11:token=kyso;object=ca?pin-source=env:P", ""},
		{"softkey passphrase-source", "softkey:?dir=/d&passphrase-source=file:/d/pass", ""},
		{"vault token-source", "vault:mount=transit?address=https://v:8200&token-source=env:VAULT_TOKEN", ""},
		{"pin-value", "pkcs11:token=kyso?module-path=/m.so&pin-value=1234", "pin-source=file:PATH or pin-source=env:NAME"},
		{"pin-value in the path", "pkcs11:token=kyso;pin-value=1234", "pin-source=file:PATH"},
		{"so-pin-value", "pkcs11:token=kyso?pin-source=env:P&so-pin-value=1234", "leave it out"},
		{"softkey passphrase", "softkey:?dir=/d&passphrase=hunter2hunter2", "passphrase-source=file:PATH or passphrase-source=env:NAME"},
		{"vault token", "vault:mount=transit?address=https://v:8200&token=s.abc", "token-source=file:PATH or token-source=env:NAME"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckKeptURI(c.uri)
			if c.want == "" {
				if err != nil {
					t.Errorf("CheckKeptURI(%q) = %v", c.uri, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CheckKeptURI(%q) = %v, want an error saying %q", c.uri, err, c.want)
			}
			for _, secret := range []string{"1234", "hunter2hunter2", "s.abc"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the secret: %v", err)
				}
			}
		})
	}
}
