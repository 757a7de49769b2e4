package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
)

// maxClock is a fixed "now" whose three-, five-, ten- and 25-year spans
// each hold a different number of leap days, so a 365-day year would be
// wrong in every one.
var maxClock = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func fixedAuthority(t *testing.T) *Authority {
	t.Helper()
	a, err := New(newSQLite(t), newKeyStore(t), &Options{BaseURL: "http://ca.kyso.test", Now: func() time.Time { return maxClock }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestMaxValidityInit checks Decree 23/2025's maxima for the hierarchy
// Init makes: root 25 years, issuing CA 10, TSA 5 — exactly the maximum is
// accepted and written, a second more is refused with the maximum named.
func TestMaxValidityInit(t *testing.T) {
	ctx := context.Background()
	nb := maxClock.Add(-backdate)
	max := func(profile string) time.Duration { return MaxValidity(profile, nb) }
	if got, want := max(ProfileCitizen), nb.AddDate(3, 0, 0).Sub(nb); got != want || got != (3*365+1)*24*time.Hour {
		t.Fatalf("MaxValidity(citizen) = %v, want 3 calendar years (1096 days from %s)", got, nb)
	}
	if got := MaxValidity(ProfileOCSP, nb); got != 0 {
		t.Errorf("MaxValidity(ocsp) = %v; the decree sets none", got)
	}

	for _, tc := range []struct {
		name  string
		req   InitRequest
		years string
	}{
		{"root", InitRequest{RootValidity: max(ProfileRoot) + time.Second}, "25 years"},
		{"issuing", InitRequest{IssuingValidity: max(ProfileIssuing) + time.Second}, "10 years"},
		{"tsa", InitRequest{TSAValidity: max(ProfileTSA) + time.Second}, "5 years"},
		{"negative", InitRequest{TSAValidity: -time.Hour}, "5 years"},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			_, err := fixedAuthority(t).Init(ctx, &tc.req)
			if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tc.years) || !strings.Contains(err.Error(), "Decree 23/2025") {
				t.Errorf("Init: %v; want a refusal naming %s", err, tc.years)
			}
		})
	}

	a := fixedAuthority(t)
	h, err := a.Init(ctx, &InitRequest{RootValidity: max(ProfileRoot), IssuingValidity: max(ProfileIssuing), TSAValidity: max(ProfileTSA)})
	if err != nil {
		t.Fatalf("Init at exactly the maxima: %v", err)
	}
	for _, c := range []struct {
		cert  *x509.Certificate
		years int
	}{{h.Root, 25}, {h.Issuing, 10}, {h.TSA, 5}} {
		if !c.cert.NotBefore.Equal(nb) || !c.cert.NotAfter.Equal(nb.AddDate(c.years, 0, 0)) {
			t.Errorf("%s valid %s to %s, want exactly %d years from %s", c.cert.Subject.CommonName, c.cert.NotBefore, c.cert.NotAfter, c.years, nb)
		}
	}
}

// TestMaxValiditySubscriber checks the subscriber maximum, 3 years, for
// both subscriber profiles.
func TestMaxValiditySubscriber(t *testing.T) {
	ctx := context.Background()
	a := fixedAuthority(t)
	if _, err := a.Init(ctx, nil); err != nil {
		t.Fatal(err)
	}
	nb := maxClock.Add(-backdate)
	max := MaxValidity(ProfileCitizen, nb)
	issue := map[string]func(d time.Duration) (*x509.Certificate, error){
		"citizen": func(d time.Duration) (*x509.Certificate, error) {
			r := citizen("079203001234", newCSR(t, p256(t)))
			r.Validity = d
			return a.IssueCitizen(ctx, r)
		},
		"organisation": func(d time.Duration) (*x509.Certificate, error) {
			return a.IssueOrganisation(ctx, &OrganisationRequest{Name: "Công ty TNHH Ký Số Việt", TaxCode: "0101234567", Province: "Hà Nội", Validity: d, Key: KeySource{CSR: newCSR(t, p256(t))}})
		},
	}
	for _, name := range []string{"citizen", "organisation"} {
		t.Run(name, func(t *testing.T) {
			_, err := issue[name](max + time.Second)
			if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "at most 3 years") {
				t.Errorf("a second over 3 years: %v; want a refusal naming the maximum", err)
			}
			c, err := issue[name](max)
			if err != nil {
				t.Fatalf("exactly 3 years: %v", err)
			}
			if !c.NotAfter.Equal(nb.AddDate(3, 0, 0)) {
				t.Errorf("notAfter %s, want %s", c.NotAfter, nb.AddDate(3, 0, 0))
			}
		})
	}
}

// TestMaxValidityImport checks an imported issuing CA is held to the 10
// years of a public CA's certificate (see ImportSubordinate for why kyso
// refuses one the national root issued longer).
func TestMaxValidityImport(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	rootKey := p256(t)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"VN"}, CommonName: "Test National Root CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(25, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	for _, tc := range []struct {
		name  string
		extra time.Duration
		ok    bool
	}{{"10 years", 0, true}, {"10 years and a second", time.Second, false}} {
		t.Run(tc.name, func(t *testing.T) {
			ks := newKeyStore(t)
			info, err := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "sub", Algorithm: hsm.ECDSAP384})
			if err != nil {
				t.Fatal(err)
			}
			nb := now.Add(-time.Hour)
			sub := &x509.Certificate{
				SerialNumber: big.NewInt(2), Subject: pkix.Name{Country: []string{"VN"}, Organization: []string{"Công ty Ký Số"}, CommonName: "Ký Số Issuing CA"},
				NotBefore: nb, NotAfter: nb.AddDate(10, 0, 0).Add(tc.extra),
				KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
			}
			subDER, err := x509.CreateCertificate(rand.Reader, sub, root, info.PublicKey, rootKey)
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(newSQLite(t), ks, &Options{BaseURL: "http://ca.kyso.test"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.ImportSubordinate(ctx, &ImportRequest{Certificate: subDER, Chain: [][]byte{rootDER}, KeyLabel: "sub"})
			switch {
			case tc.ok && err != nil:
				t.Errorf("ImportSubordinate: %v", err)
			case !tc.ok && (!errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "maximum of 10 years")):
				t.Errorf("ImportSubordinate: %v; want a refusal naming 10 years", err)
			}
		})
	}
}

// TestCAKeyStrength checks the hierarchy's keys are held to Circular
// 15/2025 Annex I like subscribers' keys.
func TestCAKeyStrength(t *testing.T) {
	ctx := context.Background()
	for _, req := range []InitRequest{{CAAlgorithm: hsm.Ed25519}, {Algorithm: hsm.Ed25519}, {CAAlgorithm: "rsa-1024"}} {
		if _, err := fixedAuthority(t).Init(ctx, &req); !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "Circular 15/2025") {
			t.Errorf("Init %+v: %v; want a refusal", req, err)
		}
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]any{"RSA-1024": &rsa1024.PublicKey, "P-224": &p224.PublicKey} {
		if err := checkCAKey(pub); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("checkCAKey(%s) = %v", name, err)
		}
	}
	if err := checkCAKey(&p256(t).PublicKey); err != nil {
		t.Errorf("checkCAKey(P-256) = %v", err)
	}
}
