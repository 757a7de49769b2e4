package revocation_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/revocation"
)

var oidIDP = asn1.ObjectIdentifier{2, 5, 29, 28}

// miniCA is a CA made here, to sign CRLs with scopes kyso never writes.
type miniCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newMiniCA(t *testing.T) *miniCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mini CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &miniCA{cert: cert, key: key}
}

func (m *miniCA) issue(t *testing.T, serial int64, isCA bool, dps ...string) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true, CRLDistributionPoints: dps}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.cert, &key.PublicKey, m.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// crl signs a CRL revoking serials, with the issuing distribution point
// value idp (nil: none).
func (m *miniCA) crl(t *testing.T, idp []byte, serials ...int64) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now().Add(-time.Minute)})
	}
	if idp != nil {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidIDP, Critical: true, Value: idp}}
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, m.cert, m.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func marshalIDP(t *testing.T, p *revocation.IssuingDistributionPoint) []byte {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	shardA = "http://ca.kyso.test/crl/issuing-1.crl"
	shardB = "http://ca.kyso.test/crl/issuing-2.crl"
)

// TestIssuingDistributionPointRoundTrip: what Marshal writes,
// ParseIssuingDistributionPoint reads back, in DER (no DEFAULT FALSE
// written), and the bytes are those RFC 5280's module gives.
func TestIssuingDistributionPointRoundTrip(t *testing.T) {
	in := &revocation.IssuingDistributionPoint{URIs: []string{"http://x/a.crl"}, OnlyUserCerts: true}
	der := marshalIDP(t, in)
	// SEQUENCE { [0] { [0] { [6] "http://x/a.crl" } } [1] TRUE }
	want := append([]byte{0x30, 0x17, 0xa0, 0x12, 0xa0, 0x10, 0x86, 0x0e}, append([]byte("http://x/a.crl"), 0x81, 0x01, 0xff)...)
	if !bytes.Equal(der, want) {
		t.Errorf("Marshal = % x\nwant      % x", der, want)
	}
	out, err := revocation.ParseIssuingDistributionPoint(der)
	if err != nil || len(out.URIs) != 1 || out.URIs[0] != "http://x/a.crl" || !out.OnlyUserCerts || out.OnlyCACerts {
		t.Errorf("round trip = %+v, %v", out, err)
	}
	for _, bad := range []*revocation.IssuingDistributionPoint{
		{OnlyUserCerts: true, OnlyCACerts: true},
		{URIs: []string{"http://hà-nội/a.crl"}},
		{URIs: []string{""}},
		{IndirectCRL: true},
	} {
		if _, err := bad.Marshal(); err == nil {
			t.Errorf("Marshal(%+v) succeeded", bad)
		}
	}
	for _, bad := range [][]byte{nil, {0x30}, append(want, 0), {0x30, 0x02, 0xa0, 0x00}, {0x30, 0x04, 0x81, 0x02, 0xff, 0xff}, {0x30, 0x04, 0xa0, 0x02, 0xa5, 0x00}} {
		if _, err := revocation.ParseIssuingDistributionPoint(bad); !errors.Is(err, revocation.ErrInvalid) {
			t.Errorf("ParseIssuingDistributionPoint(% x) = %v, want ErrInvalid", bad, err)
		}
	}
}

// TestCRLScope is the attacker's test of partitioned CRLs: a CRL of one
// partition, genuinely signed by the issuer, replayed for a certificate of
// another partition proves nothing; nor does a CRL whose scope leaves the
// certificate out by kind, or whose scope kyso cannot interpret. Each must
// fail ParseCRL, not answer "good".
func TestCRLScope(t *testing.T) {
	m := newMiniCA(t)
	inA := m.issue(t, 10, false, shardA)
	inB := m.issue(t, 20, false, shardB)
	inBoth := m.issue(t, 30, false, shardB, shardA)
	noDP := m.issue(t, 40, false)
	subCA := m.issue(t, 50, true, shardA)
	crlA := m.crl(t, marshalIDP(t, &revocation.IssuingDistributionPoint{URIs: []string{shardA}, OnlyUserCerts: true}), 11)

	// Its own shard's certificate: judged.
	if res, err := revocation.ParseCRL(crlA, inA, m.cert); err != nil || res.Status != revocation.Good {
		t.Errorf("shard A's CRL for shard A's certificate = %v, %v; want good", res, err)
	}
	if res, err := revocation.ParseCRL(crlA, inBoth, m.cert); err != nil || res.Status != revocation.Good {
		t.Errorf("shard A's CRL for a certificate naming B then A = %v, %v; want good (any of its points)", res, err)
	}
	for name, tc := range map[string]struct {
		crl  []byte
		cert *x509.Certificate
	}{
		"shard A's CRL for shard B's certificate":        {crlA, inB},
		"a shard's CRL for a certificate without DP":     {crlA, noDP},
		"a user-only CRL for a CA certificate":           {crlA, subCA},
		"a CA-only CRL for an end entity":                {m.crl(t, marshalIDP(t, &revocation.IssuingDistributionPoint{OnlyCACerts: true})), inA},
		"an attribute-only CRL":                          {m.crl(t, []byte{0x30, 0x03, 0x85, 0x01, 0xff}), inA},
		"a CRL for some reasons only":                    {m.crl(t, []byte{0x30, 0x04, 0x83, 0x02, 0x07, 0x80}), inA},
		"an indirect CRL":                                {m.crl(t, []byte{0x30, 0x03, 0x84, 0x01, 0xff}), inA},
		"a CRL named relative to the issuer":             {m.crl(t, []byte{0x30, 0x04, 0xa0, 0x02, 0xa1, 0x00}), inA},
		"a CRL naming its point by a DNS name only":      {m.crl(t, []byte{0x30, 0x0b, 0xa0, 0x09, 0xa0, 0x07, 0x82, 0x05, 'c', 'a', '.', 'v', 'n'}), inA},
		"a CRL naming the URL with another case":         {m.crl(t, marshalIDP(t, &revocation.IssuingDistributionPoint{URIs: []string{"HTTP://ca.kyso.test/crl/issuing-1.crl"}})), inA},
		"a CRL whose issuing distribution point is junk": {m.crl(t, []byte{0x30, 0x01, 0x00}), inA},
	} {
		res, err := revocation.ParseCRL(tc.crl, tc.cert, m.cert)
		if err == nil || !errors.Is(err, revocation.ErrInvalid) {
			t.Errorf("%s: %v, %v; want an error wrapping ErrInvalid", name, res, err)
		}
	}
	if _, err := revocation.ParseCRL(crlA, inB, m.cert); !errors.Is(err, revocation.ErrOutOfScope) {
		t.Errorf("replayed shard: %v, want ErrOutOfScope", err)
	}
	// A CRL with an issuing distribution point that names no point and no
	// kind covers everything (RFC 5280 section 5.2.5).
	if res, err := revocation.ParseCRL(m.crl(t, []byte{0x30, 0x00}, 20), inB, m.cert); err != nil || res.Status != revocation.Revoked {
		t.Errorf("CRL with an empty issuing distribution point = %v, %v; want revoked", res, err)
	}

	// Through the fetcher: an attacker on the path answers shard B's URL
	// with shard A's genuine, current CRL, which does not list B's
	// revoked certificate. The fetch must fail, not say good.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(crlA)
	}))
	t.Cleanup(ts.Close)
	f := &revocation.Fetcher{Client: clientFor(ts)}
	if res, err := f.CRL(context.Background(), inB, m.cert); !errors.Is(err, revocation.ErrOutOfScope) {
		t.Errorf("fetcher took shard A's CRL for shard B's certificate: %v, %v", res, err)
	}
	if res, err := f.CRL(context.Background(), inA, m.cert); err != nil || res.Status != revocation.Good {
		t.Errorf("fetcher, shard A's own certificate: %v, %v", res, err)
	}
}
