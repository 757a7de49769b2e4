package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"sort"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"

	"github.com/kyso-pki/kyso/pkg/store"
)

// TestZlintEverySource runs every zlint lint, the excluded sources too, over
// each profile and asserts that the only findings are the two that belong to
// rules kyso's certificates are not under (see lintSources): the CA/Browser
// Forum TLS rule that a subordinate CA must carry a CABF policy OID, and the
// S/MIME BR rule that an e-mail certificate must carry one S/MIME BR policy.
// A new finding from any source fails here and must be judged.
func TestZlintEverySource(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)
	withEmail, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	noEmail, err := f.a.IssueOrganisation(ctx, &OrganisationRequest{Name: "Công ty Cổ phần Sen Vàng", TaxCode: "0312345678", Province: "Cần Thơ", Key: KeySource{CSR: newCSR(t, p256(t))}})
	if err != nil {
		t.Fatal(err)
	}
	receipt, _, err := f.a.RenewReceipt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"receipt":  nil,
		"root":     nil,
		"issuing":  {"e_invalid_ca_certificate_policies [CABF_BR]"},
		"ocsp":     nil,
		"tsa":      nil,
		"citizen":  {"e_exactly_one_smime_policy [CABF_SMIME_BR]"},
		"org-seal": nil,
	}
	for name, der := range map[string][]byte{
		"root": f.h.Root.Raw, "issuing": f.h.Issuing.Raw, "ocsp": f.h.OCSP.Raw, "tsa": f.h.TSA.Raw,
		"citizen": withEmail.Raw, "org-seal": noEmail.Raw, "receipt": receipt.Raw,
	} {
		zc, err := zx509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for n, r := range zlint.LintCertificateEx(zc, lint.GlobalRegistry()).Results {
			if r.Status >= lint.Warn {
				got = append(got, n+" ["+string(r.LintMetadata.Source)+"]")
				t.Logf("%s: %s %s: %s", name, n, r.Status, r.Details)
			}
		}
		sort.Strings(got)
		if len(got) != len(want[name]) || (len(got) > 0 && got[0] != want[name][0]) {
			t.Errorf("%s: zlint (all sources) found %v; want %v", name, got, want[name])
		}
		// With kyso's sources: nothing at all.
		if err := lintCertificateDER(f.a.reg, der); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	crls, err := f.a.GenerateCRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range crls {
		// The test binary links every zlint source (it imports zlint/v3).
		if err := lintCRLDER(lint.GlobalRegistry(), c.DER); err != nil {
			t.Errorf("CRL of %s: zlint (all sources): %v", c.Issuer, err)
		}
	}
}

// TestLintRefusesIssuance shows a lint finding stops issuance before the
// real key signs: a template with an over-long CN never reaches the store.
func TestLintRefusesIssuance(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)
	is, err := f.a.loadIssuer(ctx, IssuingName)
	if err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 70)
	for i := range long {
		long[i] = 'a'
	}
	subject, _ := marshalName([]nameAttr{{oidCountry, "VN"}, {oidCommonName, string(long)}})
	nb, na := f.a.validity(year)
	tmpl, _ := f.a.signingTemplate(subject, nb, na, IssuingName, "")
	before, _ := f.st.ListAudit(ctx, 0, 0)
	_, err = f.a.issue(ctx, &issueParams{issuer: is, profile: ProfileCitizen, tmpl: tmpl, pub: p256(t).Public()})
	var le *LintError
	if err == nil || !errors.As(err, &le) || len(le.Findings) == 0 {
		t.Fatalf("issue with a 70-character CN: %v; want a LintError", err)
	}
	t.Logf("refused: %v", err)
	after, _ := f.st.ListAudit(ctx, 0, 0)
	if len(after) != len(before)+1 || after[len(after)-1].Outcome != "error" {
		t.Errorf("lint refusal audited as %d new events", len(after)-len(before))
	}
	if certs, _ := f.a.List(ctx, nil); len(certs) != 2 {
		t.Errorf("%d certificates under issuing; want only OCSP and TSA", len(certs))
	}
}

// TestLintCopyLintsAsIssued: a lint copy is signed by a throwaway P-256
// key whatever the issuer's curve (newLintKey), and every lint kyso runs
// (lintSources) gives the same result, status and details, on a copy of
// each profile's certificate and of a CRL re-signed so as on a copy signed
// on the issuer's curve and on what the issuer's P-384 key signed. (Two
// lints of sources kyso does not run, Mozilla's and the CA/Browser
// Forum's ECDSA signature encoding, do tell the curves apart: they guess
// the signer's curve from the signature's length; TestZlintEverySource
// runs them on the certificates issued.)
func TestLintCopyLintsAsIssued(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)
	if k, ok := f.h.Issuing.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() {
		t.Fatalf("the issuing key is %T, want ECDSA P-384 (the case this test is about)", f.h.Issuing.PublicKey)
	}
	cit, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.a.Revoke(ctx, cit.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	crls, err := f.a.GenerateCRL(ctx)
	if err != nil || len(crls) == 0 {
		t.Fatalf("GenerateCRL: %d, %v", len(crls), err)
	}
	key, err := newLintKey(f.h.Issuing.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	results := func(der []byte, crl bool) map[string]string {
		out := map[string]string{}
		reg := f.a.reg
		if crl {
			zc, err := zx509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range reg.RevocationListLints().Lints() {
				r := l.Execute(zc, reg.GetConfiguration())
				out[l.Name] = r.Status.String() + " " + r.Details
			}
			return out
		}
		zc, err := zx509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		for n, r := range zlint.LintCertificateEx(zc, reg).Results {
			out[n] = r.Status.String() + " " + r.Details
		}
		return out
	}
	for name, real := range map[string]struct {
		der []byte
		crl bool
	}{
		"root": {der: f.h.Root.Raw}, "issuing": {der: f.h.Issuing.Raw}, "ocsp": {der: f.h.OCSP.Raw},
		"tsa": {der: f.h.TSA.Raw}, "citizen": {der: cit.Raw}, "crl": {der: crls[0].DER, crl: true},
	} {
		got := results(resign(t, real.der, key), real.crl)
		if min := map[bool]int{false: 50, true: 10}[real.crl]; len(got) < min {
			t.Errorf("%s: only %d lints ran", name, len(got))
		}
		same := func(what string, want map[string]string) {
			for n, w := range want {
				if got[n] != w {
					t.Errorf("%s: %s is %q on %s, %q on the P-256 copy", name, n, w, what, got[n])
				}
			}
		}
		// A copy signed on the issuer's curve, as lint copies were.
		same("a P-384 copy", results(resign(t, real.der, p384), real.crl))
		// A self-signed certificate's copies are not self-signed to
		// zlint, whatever the curve (a self-signed certificate is
		// checked after signing, not linted as such).
		if name != "root" {
			same("the issued one", results(real.der, real.crl))
		}
	}
}

// resign returns der (a certificate or CRL: a signed SEQUENCE of the
// to-be-signed bytes, the algorithm, the signature) with the same
// to-be-signed bytes and algorithm, signed by key.
func resign(t *testing.T, der []byte, key crypto.Signer) []byte {
	t.Helper()
	var signed struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &signed); err != nil || len(rest) > 0 {
		t.Fatalf("not a signed structure: %v", err)
	}
	h := crypto.SHA384
	if !signed.Alg.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}) {
		t.Fatalf("signed with %v, want ecdsa-with-SHA384", signed.Alg.Algorithm)
	}
	d := h.New()
	d.Write(signed.TBS.FullBytes)
	sig, err := key.Sign(rand.Reader, d.Sum(nil), h)
	if err != nil {
		t.Fatal(err)
	}
	signed.Sig = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	out, err := asn1.Marshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
