package tsa

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
)

// FuzzParseRequest feeds untrusted bytes to the request parser, seeded with
// the openssl requests in testdata/. A request either parses and survives a
// Marshal/ParseQuery round trip unchanged, or is refused with badDataFormat
// or badRequest — never a panic.
func FuzzParseRequest(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.tsq"))
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata/")
	}
	for _, s := range seeds {
		der, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		q, err := ParseQuery(der)
		if err != nil {
			re, ok := errors.AsType[*RefusedError](err)
			if !ok || re.Status != StatusRejection || (re.FailInfo != BadDataFormat && re.FailInfo != BadRequest) {
				t.Fatalf("ParseQuery error %v is not a badDataFormat/badRequest refusal", err)
			}
			return
		}
		again, err := q.Marshal()
		if err != nil {
			return // e.g. an OID cryptobyte will not write back
		}
		q2, err := ParseQuery(again)
		if err != nil {
			t.Fatalf("re-parsing Marshal output: %v", err)
		}
		if !q2.HashOID.Equal(q.HashOID) || !bytes.Equal(q2.HashedMessage, q.HashedMessage) || !q2.Policy.Equal(q.Policy) ||
			q2.CertReq != q.CertReq || (q.Nonce == nil) != (q2.Nonce == nil) || q.Nonce != nil && q.Nonce.Cmp(q2.Nonce) != 0 ||
			len(q2.Extensions) != len(q.Extensions) {
			t.Fatalf("round trip changed the request: %+v -> %+v", q, q2)
		}
	})
}

// FuzzParseReply feeds untrusted bytes to the client's reply and token
// parsers, seeded with real replies of every kind.
func FuzzParseReply(f *testing.F) {
	p := newPKI(f, hsm.ECDSAP256)
	s, err := New(Config{Certificate: p.tsa, Chain: p.chain, Signer: p.signer, Policy: PlaceholderPolicy})
	if err != nil {
		f.Fatal(err)
	}
	for _, q := range []*Query{
		{HashAlgorithm: crypto.SHA256, HashedMessage: testDigest[:], Nonce: big.NewInt(7), CertReq: true},
		{HashAlgorithm: crypto.SHA256, HashedMessage: testDigest[:]},
		{HashAlgorithm: crypto.SHA1, HashedMessage: testDigest[:20]},
	} {
		resp, _ := s.Timestamp(context.Background(), q)
		f.Add(resp.DER)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		tokDER, err := ParseReply(der)
		if err != nil {
			return
		}
		tok, err := ParseToken(tokDER)
		if err != nil {
			return
		}
		// Verification of a mangled token must fail cleanly or succeed
		// only for the imprint it names.
		_ = tok.Verify(tok.HashedMessage, tok.HashAlgorithm, &VerifyOptions{Roots: p.roots})
	})
}
