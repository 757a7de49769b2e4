package revocation_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"reflect"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/pkg/revocation"
)

// FuzzParse feeds ParseOCSP and ParseCRL, which read bytes taken from
// documents and from the network, arbitrary input, seeded with OCSP
// responses (signed by the issuer and by a delegated responder, good and
// revoked) and a CRL made here with crypto/x509 and x/crypto/ocsp — cheap
// enough for every fuzzing worker to make. Whatever they accept must be a
// complete answer about the certificate.
//
//	go test ./pkg/revocation -run '^$' -fuzz FuzzParse -fuzztime 1m
func FuzzParse(f *testing.F) {
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		return k
	}
	make := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
		if err != nil {
			f.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	caKey, respKey := newKey(), newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Fuzz CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	issuer := make(caTmpl, caTmpl, caKey.Public(), caKey)
	leaf := make(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Fuzz leaf"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour)}, issuer, newKey().Public(), caKey)
	responder := make(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Fuzz OCSP"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}, issuer, respKey.Public(), caKey)
	for _, c := range []struct {
		status  int
		rc      *x509.Certificate
		key     crypto.Signer
		nextUpd time.Time
	}{{ocsp.Good, issuer, caKey, now.Add(time.Hour)}, {ocsp.Revoked, responder, respKey, now.Add(time.Hour)}, {ocsp.Unknown, responder, respKey, time.Time{}}} {
		tmpl := ocsp.Response{Status: c.status, SerialNumber: leaf.SerialNumber, ThisUpdate: now,
			NextUpdate: c.nextUpd, RevokedAt: now.Add(-time.Minute), RevocationReason: ocsp.KeyCompromise}
		if c.rc != issuer {
			tmpl.Certificate = c.rc // a delegated responder sends its certificate
		}
		der, err := ocsp.CreateResponse(issuer, c.rc, tmpl, c.key)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := revocation.ParseOCSP(der, leaf, issuer); err != nil {
			f.Fatalf("seed OCSP response: %v", err)
		}
		f.Add(der)
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: leaf.SerialNumber, RevocationTime: now}}}, issuer, caKey)
	if err != nil {
		f.Fatal(err)
	}
	if r, err := revocation.ParseCRL(crl, leaf, issuer); err != nil || r.Status != revocation.Revoked {
		f.Fatalf("seed CRL: %v, %v", r, err)
	}
	f.Add(crl)
	f.Add([]byte{0x30, 0x17, 0xa0, 0x12, 0xa0, 0x10, 0x86, 0x0e, 'h', 't', 't', 'p', ':', '/', '/', 'x', '/', 'a', '.', 'c', 'r', 'l', 0x81, 0x01, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := revocation.ParseOCSP(b, leaf, issuer); err == nil {
			if r.Response == nil || r.Responder == nil || r.Response.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Fatalf("ParseOCSP accepted an incomplete answer: %+v", r)
			}
		}
		if r, err := revocation.ParseCRL(b, leaf, issuer); err == nil {
			if r.List == nil || (r.Status == revocation.Revoked) != (r.Entry != nil) {
				t.Fatalf("ParseCRL accepted an incomplete answer: %+v", r)
			}
		}
		// An issuing distribution point that parses and re-encodes reads
		// back the same.
		if p, err := revocation.ParseIssuingDistributionPoint(b); err == nil {
			if again, err := p.Marshal(); err == nil {
				q, err := revocation.ParseIssuingDistributionPoint(again)
				if err != nil || !reflect.DeepEqual(q, p) {
					t.Fatalf("issuing distribution point %+v re-encodes to one read as %+v, %v", p, q, err)
				}
			}
		}
	})
}
