package ocsp

import (
	"bytes"
	"crypto"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// TestParseSeeds checks the parser on the real openssl requests the fuzzer
// starts from.
func TestParseSeeds(t *testing.T) {
	for name, want := range map[string]error{
		"openssl-nonce.der":     nil,
		"openssl-no-nonce.der":  nil,
		"openssl-sha256.der":    nil,
		"openssl-signed.der":    nil, // the signature is ignored (RFC 6960 section 4.1.2)
		"openssl-two-certs.der": errMultiple,
	} {
		der, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		req, err := parseRequest(der)
		if err != want {
			t.Errorf("%s: error %v, want %v", name, err, want)
			continue
		}
		if err != nil {
			continue
		}
		if req.serial().Int64() != 0x1001 {
			t.Errorf("%s: serial %x", name, req.serial())
		}
		if (name == "openssl-no-nonce.der") != (req.nonce == nil) {
			t.Errorf("%s: nonce %x", name, req.nonce)
		}
		if name == "openssl-sha256.der" && req.hash != crypto.SHA256 {
			t.Errorf("%s: hash %v", name, req.hash)
		}
	}
}

// FuzzParseRequest feeds the request parser arbitrary bytes, seeded with
// openssl's and Go's requests. It must not panic, must bound the nonce, and
// whatever it accepts must re-encode to the serial it read.
func FuzzParseRequest(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.der"))
	for _, s := range seeds {
		der, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	p := newTestPKI(f)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA512} {
		f.Add(reqFor(f, p.good, p.root, h))
	}
	fx := &fixture{pki: p}
	r, err := New(Config{Issuer: p.root, Signer: p.ocspKey, SignerCert: p.ocsp, Source: newMapSource()})
	if err != nil {
		f.Fatal(err)
	}
	fx.r = r
	f.Add(fx.reqWith(p.good, nonceExt(16)))
	f.Add(fx.reqWith(p.good, nonceExt(33)))

	f.Fuzz(func(t *testing.T, der []byte) {
		req, err := parseRequest(der)
		if err != nil {
			return
		}
		if req.nonce != nil && checkNonce(req.nonce) != nil {
			t.Fatalf("accepted nonce %x", req.nonce)
		}
		var b cryptobyte.Builder
		b.AddASN1BigInt(req.serial())
		if !bytes.Equal(b.BytesOrPanic(), req.serialDER) {
			t.Fatalf("serial %x re-encodes differently from %x", req.serial(), req.serialDER)
		}
		if req.hash == 0 {
			t.Fatal("accepted without a hash algorithm")
		}
	})
}
