package algid_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
)

// TestAddPSSAsX509: the RSASSA-PSS identifier AddPSS writes is byte for
// byte the one crypto/x509 writes in a certificate's signatureAlgorithm,
// and ParsePSS reads it back as exact.
func TestAddPSSAsX509(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		h   crypto.Hash
		alg x509.SignatureAlgorithm
	}{{crypto.SHA256, x509.SHA256WithRSAPSS}, {crypto.SHA384, x509.SHA384WithRSAPSS}, {crypto.SHA512, x509.SHA512WithRSAPSS}} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1e9, 0), SignatureAlgorithm: c.alg}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		var cert struct {
			TBS    asn1.RawValue
			SigAlg asn1.RawValue
			Sig    asn1.BitString
		}
		if _, err := asn1.Unmarshal(der, &cert); err != nil {
			t.Fatal(err)
		}
		var b cryptobyte.Builder
		algid.AddPSS(&b, c.h)
		got := b.BytesOrPanic()
		if string(got) != string(cert.SigAlg.FullBytes) {
			t.Errorf("%v: AddPSS wrote %x, crypto/x509 %x", c.h, got, cert.SigAlg.FullBytes)
		}
		s := cryptobyte.String(got)
		oid, params, has, err := algid.Read(&s)
		if err != nil || !oid.Equal(algid.RSASSAPSS) || !has || !s.Empty() {
			t.Fatalf("%v: Read: %v %v %v %v", c.h, oid, has, err, s)
		}
		p, err := algid.ParsePSS(params)
		if err != nil || !p.Exact(c.h) {
			t.Errorf("%v: ParsePSS: %+v %v", c.h, p, err)
		}
	}
}

// TestParsePSS: the DEFAULTs, and what is refused and why.
func TestParsePSS(t *testing.T) {
	p, err := algid.ParsePSS(cryptobyte.String{0x30, 0x00})
	if err != nil || p != (algid.PSS{Hash: crypto.SHA1, MGFHash: crypto.SHA1, SaltLength: 20}) || p.Exact(crypto.SHA256) {
		t.Errorf("empty parameters: %+v %v", p, err)
	}
	build := func(f func(b *cryptobyte.Builder)) cryptobyte.String {
		var b cryptobyte.Builder
		b.AddASN1(0x30, f)
		return b.BytesOrPanic()
	}
	hash := func(oid asn1.ObjectIdentifier, params ...byte) func(b *cryptobyte.Builder) {
		return func(b *cryptobyte.Builder) {
			b.AddASN1(0x30, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid); b.AddBytes(params) })
		}
	}
	for _, c := range []struct {
		name   string
		params cryptobyte.String
		want   error
	}{
		{"not a SEQUENCE", cryptobyte.String{0x05, 0x00}, algid.ErrMalformed},
		{"hash with INTEGER parameters", build(func(b *cryptobyte.Builder) { b.AddASN1(0xa0, hash(algid.SHA256, 0x02, 0x01, 0x00)) }), algid.ErrMalformed},
		{"unknown hash", build(func(b *cryptobyte.Builder) { b.AddASN1(0xa0, hash(asn1.ObjectIdentifier{1, 2, 3})) }), algid.ErrUnsupported},
		{"mask generation not MGF1", build(func(b *cryptobyte.Builder) {
			b.AddASN1(0xa1, func(b *cryptobyte.Builder) {
				b.AddASN1(0x30, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 3})
					hash(algid.SHA256)(b)
				})
			})
		}), algid.ErrUnsupported},
		{"trailerField 2", build(func(b *cryptobyte.Builder) { b.AddASN1(0xa3, func(b *cryptobyte.Builder) { b.AddASN1Int64(2) }) }), algid.ErrUnsupported},
		{"salt 4096", build(func(b *cryptobyte.Builder) { b.AddASN1(0xa2, func(b *cryptobyte.Builder) { b.AddASN1Int64(4096) }) }), algid.ErrUnsupported},
		{"trailing data", append(build(func(b *cryptobyte.Builder) {}), 0), algid.ErrMalformed},
	} {
		if _, err := algid.ParsePSS(c.params); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A salt other than the hash's length parses, and is not exact.
	p, err = algid.ParsePSS(build(func(b *cryptobyte.Builder) {
		b.AddASN1(0xa0, hash(algid.SHA256, 0x05, 0x00))
		b.AddASN1(0xa1, func(b *cryptobyte.Builder) {
			b.AddASN1(0x30, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(algid.MGF1); hash(algid.SHA256)(b) })
		})
		b.AddASN1(0xa2, func(b *cryptobyte.Builder) { b.AddASN1Int64(20) })
	}))
	if err != nil || p.Hash != crypto.SHA256 || p.MGFHash != crypto.SHA256 || p.SaltLength != 20 || p.Exact(crypto.SHA256) {
		t.Errorf("salt 20 with SHA-256: %+v %v", p, err)
	}
}

// TestSignature: every identifier kyso writes names its scheme and hash,
// and SignatureOID gives it back.
func TestSignature(t *testing.T) {
	for _, s := range []algid.Scheme{algid.RSAPKCS1v15, algid.RSAPSS, algid.ECDSA} {
		if got, ok := algid.ParseScheme(s.String()); !ok || got != s {
			t.Errorf("ParseScheme(%q) = %v", s, got)
		}
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			oid := algid.SignatureOID(s, h)
			gs, gh := algid.Signature(oid)
			if oid == nil || gs != s || (gh != h && !(s == algid.RSAPSS && gh == 0)) {
				t.Errorf("%v %v: %v → %v %v", s, h, oid, gs, gh)
			}
		}
	}
	if s, _ := algid.Signature(asn1.ObjectIdentifier{1, 2, 3}); s != algid.SchemeDefault {
		t.Errorf("an unknown identifier is %v", s)
	}
	if algid.SignatureOID(algid.ECDSA, crypto.SHA1) != nil || algid.HashOID(crypto.BLAKE2b_256) != nil || algid.Hash(algid.SHA384) != crypto.SHA384 {
		t.Error("hash lookups")
	}
}

// TestEdDSA: id-Ed25519 and id-Ed448 name the pure EdDSA schemes, which
// ParseScheme does not give (kyso never signs with them) and SignatureOID
// never writes; SHAKE256With512 reads RFC 8419's Ed448 digest and nothing
// else.
func TestEdDSA(t *testing.T) {
	for _, c := range []struct {
		oid asn1.ObjectIdentifier
		s   algid.Scheme
	}{{algid.Ed25519, algid.PureEd25519}, {algid.Ed448, algid.PureEd448}} {
		if s, h := algid.Signature(c.oid); s != c.s || h != 0 {
			t.Errorf("Signature(%v) = %v, %v", c.oid, s, h)
		}
		if _, ok := algid.ParseScheme(c.s.String()); ok || algid.SignatureOID(c.s, crypto.SHA512) != nil {
			t.Errorf("%v is one kyso signs with", c.s)
		}
	}
	int512 := func(n int64) cryptobyte.String {
		var b cryptobyte.Builder
		b.AddASN1Int64(n)
		return b.BytesOrPanic()
	}
	for _, c := range []struct {
		oid    asn1.ObjectIdentifier
		params cryptobyte.String
		has    bool
		want   bool
	}{
		{algid.SHAKE256Len, int512(512), true, true},
		{algid.SHAKE256, nil, false, true},
		{algid.SHAKE256Len, int512(256), true, false},
		{algid.SHAKE256Len, nil, false, false},
		{algid.SHAKE256Len, append(int512(512), 0), true, false},
		{algid.SHAKE256, cryptobyte.String{5, 0}, true, false},
		{algid.SHA512, nil, false, false},
	} {
		if got := algid.SHAKE256With512(c.oid, c.params, c.has); got != c.want {
			t.Errorf("SHAKE256With512(%v, %x, %v) = %v", c.oid, []byte(c.params), c.has, got)
		}
	}
}

// TestDotted: dotted OIDs as CSC carries them, and what is not one.
func TestDotted(t *testing.T) {
	if got := algid.Dotted("2.16.840.1.101.3.4.2.1"); !got.Equal(algid.SHA256) {
		t.Errorf("SHA-256's dotted OID parsed as %v", got)
	}
	if got := algid.Dotted(algid.RSASSAPSS.String()); !got.Equal(algid.RSASSAPSS) {
		t.Errorf("String and Dotted disagree: %v", got)
	}
	for _, bad := range []string{"", "1", "1..2", "1.2.", "+1.2", "1.-2", "1.02", " 1.2", "1.2.3456789012", "1.2.x"} {
		if got := algid.Dotted(bad); got != nil {
			t.Errorf("Dotted(%q) = %v, want nil", bad, got)
		}
	}
}
