package ca

import (
	"context"
	"errors"
	"sort"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
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
