package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmap/zlint/v3/lint"
	"golang.org/x/text/unicode/norm"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// fixture is an Authority over a fresh database and key store.
type fixture struct {
	a  *Authority
	st store.Store
	ks hsm.KeyStore
	h  *Hierarchy
}

func newKeyStore(t testing.TB) hsm.KeyStore {
	t.Helper()
	u, err := hsm.ParseURI("softkey:?dir=" + filepath.Join(t.TempDir(), "keys") + "&passphrase=test-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := softkey.Open(context.Background(), u, &softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

func newSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kyso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newFixture(t testing.TB, st store.Store, opts *Options) *fixture {
	t.Helper()
	ks := newKeyStore(t)
	if opts == nil {
		opts = &Options{}
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "http://ca.kyso.test"
	}
	a, err := New(st, ks, opts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.Init(context.Background(), &InitRequest{Name: "Kyso Thử Nghiệm"})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return &fixture{a: a, st: st, ks: ks, h: h}
}

func newCSR(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func p256(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const name = "Nguyễn Văn Đức"

func citizen(cccd string, csr []byte) *CitizenRequest {
	return &CitizenRequest{Name: norm.NFD.String(name), CCCD: cccd, Province: "hồ chí minh", Locality: "Phường Bến Thành", Email: "duc@example.vn", Key: KeySource{CSR: csr}}
}

func TestHierarchyAndIssuance(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)

	// Init twice: the same hierarchy.
	h2, err := f.a.Init(ctx, &InitRequest{Name: "Kyso Thử Nghiệm"})
	if err != nil {
		t.Fatalf("second Init: %v", err)
	}
	for _, p := range [][2]*x509.Certificate{{f.h.Root, h2.Root}, {f.h.Issuing, h2.Issuing}, {f.h.OCSP, h2.OCSP}, {f.h.TSA, h2.TSA}} {
		if p[0] == nil || p[1] == nil || !p[0].Equal(p[1]) {
			t.Fatalf("second Init returned a different hierarchy")
		}
	}
	cas, err := f.st.ListCAs(ctx)
	if err != nil || len(cas) != 2 {
		t.Fatalf("ListCAs = %d, %v; want 2", len(cas), err)
	}
	// A second Authority over the same store and keys sees the same.
	a2, err := New(f.st, f.ks, &Options{BaseURL: "http://ca.kyso.test"})
	if err != nil {
		t.Fatal(err)
	}
	if h3, err := a2.Init(ctx, nil); err != nil || !h3.Issuing.Equal(f.h.Issuing) {
		t.Fatalf("Init from another Authority: %v", err)
	}
	chain, err := f.a.Chain(ctx)
	if err != nil || len(chain) != 2 || !chain[0].Equal(f.h.Issuing) || !chain[1].Equal(f.h.Root) {
		t.Fatalf("Chain = %d certs, %v", len(chain), err)
	}

	// Profiles of the hierarchy.
	if f.h.Issuing.MaxPathLen != 0 || !f.h.Issuing.MaxPathLenZero || !f.h.Issuing.IsCA {
		t.Errorf("issuing CA path length: %d %v", f.h.Issuing.MaxPathLen, f.h.Issuing.MaxPathLenZero)
	}
	if len(f.h.OCSP.ExtKeyUsage) != 1 || f.h.OCSP.ExtKeyUsage[0] != x509.ExtKeyUsageOCSPSigning || !hasExt(f.h.OCSP, OIDOCSPNoCheck, false) {
		t.Errorf("OCSP certificate lacks id-kp-OCSPSigning or ocsp-nocheck")
	}
	if d := f.h.OCSP.NotAfter.Sub(f.h.OCSP.NotBefore); d > 31*24*time.Hour {
		t.Errorf("OCSP certificate lives %v", d)
	}
	if !hasExt(f.h.TSA, oidExtKeyUsage, true) || len(f.h.TSA.ExtKeyUsage) != 1 || f.h.TSA.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		t.Errorf("TSA certificate: EKU not critical id-kp-timeStamping only")
	}

	// Citizen, CSR path; the name arrives in NFD.
	key := p256(t)
	cert, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, key)))
	if err != nil {
		t.Fatalf("IssueCitizen (CSR): %v", err)
	}
	checkCitizen(t, f, cert, "079203001234")
	if !hsm.SamePublicKey(cert.PublicKey, key.Public()) {
		t.Error("certificate is not for the CSR's key")
	}

	// Citizen, key made in the key store.
	cert2, err := f.a.IssueCitizen(ctx, &CitizenRequest{Name: "Trần Thị Mai", CCCD: "001301000042", Province: "Hà Nội", Key: KeySource{KeyLabel: "cred-001301000042", KeyAlgorithm: hsm.ECDSAP256}})
	if err != nil {
		t.Fatalf("IssueCitizen (key store): %v", err)
	}
	rec, err := f.a.Certificate(ctx, cert2.SerialNumber.Bytes())
	if err != nil || !strings.Contains(rec.KeyURI, "cred-001301000042") || rec.NationalID != "CCCD:001301000042" || !rec.Campaign {
		t.Fatalf("record of key-store certificate: %+v, %v", rec, err)
	}
	if len(cert2.EmailAddresses) != 0 {
		t.Error("email SAN without an email")
	}

	// Organisation.
	org, err := f.a.IssueOrganisation(ctx, &OrganisationRequest{Name: "Công ty TNHH Ký Số Việt", TaxCode: "0101234567-001", Province: "Đà Nẵng", Key: KeySource{CSR: newCSR(t, p256(t))}})
	if err != nil {
		t.Fatalf("IssueOrganisation: %v", err)
	}
	if got := org.Subject.Organization; len(got) != 1 || got[0] != "Công ty TNHH Ký Số Việt" {
		t.Errorf("O = %v", got)
	}
	if uid := uidOf(org); uid != "MST:0101234567-001" {
		t.Errorf("UID = %q", uid)
	}
	if tags := rdnTags(t, org.RawSubject); len(tags) != 5 || tags[0] != 19 || tags[1] != 12 || tags[2] != 12 || tags[3] != 12 || tags[4] != 12 {
		t.Errorf("organisation subject tags %v", tags)
	}

	// zlint, with kyso's sources, on every certificate produced.
	for _, c := range []*x509.Certificate{f.h.Root, f.h.Issuing, f.h.OCSP, f.h.TSA, cert, cert2, org} {
		if err := lintCertificateDER(f.a.reg, c.Raw); err != nil {
			t.Errorf("zlint %s: %v", c.Subject.CommonName, err)
		}
		opts := x509.VerifyOptions{Roots: pool(f.h.Root), Intermediates: pool(f.h.Issuing), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
		if _, err := c.Verify(opts); err != nil {
			t.Errorf("Go verify %s: %v", c.Subject.CommonName, err)
		}
	}

	// Audit: intent then ok for each issuance.
	events, err := f.st.ListAudit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	intents, oks := 0, 0
	for _, e := range events {
		if e.Action == "cert.issue" {
			switch e.Outcome {
			case "intent":
				intents++
			case "ok":
				oks++
			}
		}
	}
	if intents != 7 || oks != 7 {
		t.Errorf("audit: %d intents, %d ok; want 7 and 7", intents, oks)
	}
}

func checkCitizen(t *testing.T, f *fixture, cert *x509.Certificate, cccd string) {
	t.Helper()
	if cert.Subject.CommonName != name || !norm.NFC.IsNormalString(cert.Subject.CommonName) {
		t.Errorf("CN = %q, want NFC %q", cert.Subject.CommonName, name)
	}
	if got := cert.Subject.Province; len(got) != 1 || got[0] != "Hồ Chí Minh" {
		t.Errorf("ST = %v", got)
	}
	if uid := uidOf(cert); uid != "CCCD:"+cccd {
		t.Errorf("UID = %q", uid)
	}
	tags := rdnTags(t, cert.RawSubject)
	want := []int{19, 12, 12, 12, 12} // C PrintableString; ST, L, CN, UID UTF8String
	if len(tags) != len(want) {
		t.Fatalf("subject tags %v, want %v", tags, want)
	}
	for i := range want {
		if tags[i] != want[i] {
			t.Errorf("subject attribute %d tag %d, want %d", i, tags[i], want[i])
		}
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment || !hasExt(cert, asn1KeyUsage, true) {
		t.Errorf("key usage %v", cert.KeyUsage)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageEmailProtection || len(cert.UnknownExtKeyUsage) != 1 || !cert.UnknownExtKeyUsage[0].Equal(OIDDocumentSigning) {
		t.Errorf("EKU %v %v", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
	}
	if len(cert.EmailAddresses) != 1 || cert.EmailAddresses[0] != "duc@example.vn" {
		t.Errorf("email SAN %v", cert.EmailAddresses)
	}
	if len(cert.OCSPServer) != 1 || cert.OCSPServer[0] != "http://ca.kyso.test/ocsp" ||
		len(cert.IssuingCertificateURL) != 1 || cert.IssuingCertificateURL[0] != "http://ca.kyso.test/ca/issuing.crt" ||
		len(cert.CRLDistributionPoints) != 1 || cert.CRLDistributionPoints[0] != "http://ca.kyso.test/crl/issuing.crl" {
		t.Errorf("AIA/CRLDP %v %v %v", cert.OCSPServer, cert.IssuingCertificateURL, cert.CRLDistributionPoints)
	}
	if len(cert.Policies) != 1 || cert.Policies[0].String() != DefaultPolicyOID.String() {
		t.Errorf("policies %v", cert.Policies)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d != DefaultLeafValidity {
		t.Errorf("validity %v", d)
	}
	if n := len(cert.SerialNumber.Bytes()); n != 17 || cert.SerialNumber.BitLen() < 128 {
		t.Errorf("serial %d octets", n)
	}
	if string(cert.AuthorityKeyId) != string(f.h.Issuing.SubjectKeyId) || len(cert.SubjectKeyId) == 0 {
		t.Error("AKI does not match the issuing CA's SKI, or SKI missing")
	}
}

var asn1KeyUsage = []int{2, 5, 29, 15}

func hasExt(c *x509.Certificate, oid []int, critical bool) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Critical == critical
		}
	}
	return false
}

func uidOf(c *x509.Certificate) string {
	for _, a := range c.Subject.Names {
		if a.Type.Equal(OIDUID) {
			s, _ := a.Value.(string)
			return s
		}
	}
	return ""
}

func pool(cs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c)
	}
	return p
}

func TestIssuanceRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)

	// Duplicate public key: the same CSR twice.
	csr := newCSR(t, p256(t))
	if _, err := f.a.IssueOrganisation(ctx, &OrganisationRequest{Name: "Hợp tác xã A", TaxCode: "0101234567", Province: "Huế", Key: KeySource{CSR: csr}}); err != nil {
		t.Fatal(err)
	}
	_, err := f.a.IssueOrganisation(ctx, &OrganisationRequest{Name: "Hợp tác xã B", TaxCode: "0101234568", Province: "Huế", Key: KeySource{CSR: csr}})
	if !errors.Is(err, ErrKeyAlreadyCertified) || !strings.Contains(err.Error(), "Decree 23/2025") {
		t.Errorf("same key twice: %v; want ErrKeyAlreadyCertified", err)
	}

	// A CSR whose signature is broken.
	bad := newCSR(t, p256(t))
	bad[len(bad)-5] ^= 0x40
	_, err = f.a.IssueCitizen(ctx, citizen("079203009999", bad))
	if !errors.Is(err, ErrProofOfPossession) && !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("bad CSR signature: %v", err)
	}
	if err == nil {
		t.Fatal("bad CSR accepted")
	}

	// Ed25519 keys are not among Circular 15/2025 Annex I's algorithms.
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := f.a.IssueCitizen(ctx, citizen("079203008888", newCSR(t, edKey))); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("Ed25519 CSR: %v; want ErrInvalidRequest", err)
	}

	// Bad input.
	for _, req := range []*CitizenRequest{
		{Name: name, CCCD: "003203001234", Province: "Huế", Key: KeySource{CSR: newCSR(t, p256(t))}},
		{Name: name, CCCD: "079203001234", Province: "Bình Dương", Key: KeySource{CSR: newCSR(t, p256(t))}},
		{Name: "", CCCD: "079203001234", Province: "Huế", Key: KeySource{CSR: newCSR(t, p256(t))}},
		{Name: name, CCCD: "079203001234", Province: "Huế", Validity: 4 * year, Key: KeySource{CSR: newCSR(t, p256(t))}},
		{Name: name, CCCD: "079203001234", Province: "Huế"},
	} {
		if _, err := f.a.IssueCitizen(ctx, req); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("IssueCitizen(%+v) = %v; want ErrInvalidRequest", req, err)
		}
	}

	// Campaign rule: one active campaign certificate per CCCD.
	first, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if !errors.Is(err, ErrCampaignHolder) || !strings.Contains(err.Error(), FormatSerial(first.SerialNumber.Bytes())) {
		t.Fatalf("second campaign certificate: %v; want ErrCampaignHolder naming %s", err, FormatSerial(first.SerialNumber.Bytes()))
	}
	if err := f.a.Revoke(ctx, first.SerialNumber.Bytes(), store.ReasonSuperseded, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t)))); err != nil {
		t.Fatalf("campaign certificate after revocation: %v", err)
	}
	if err := f.a.Revoke(ctx, first.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); !errors.Is(err, ErrAlreadyRevoked) {
		t.Errorf("revoking twice: %v", err)
	}
	if err := f.a.Revoke(ctx, []byte{1, 2, 3}, store.ReasonKeyCompromise, time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking an unknown serial: %v", err)
	}

	// Campaign rule off: a second certificate is allowed.
	a2, err := New(f.st, f.ks, &Options{BaseURL: "http://ca.kyso.test", DisableCampaign: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a2.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t)))); err != nil {
		t.Errorf("campaign rule off: %v", err)
	}
}

func TestConcurrentIssuanceSQLite(t *testing.T) {
	testConcurrentIssuance(t, newSQLite(t))
}

func testConcurrentIssuance(t *testing.T, st store.Store) {
	ctx := context.Background()
	f := newFixture(t, st, nil)
	const n = 32
	csrs := make([][]byte, n)
	for i := range csrs {
		csrs[i] = newCSR(t, p256(t))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	serials := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cccd := "0792030" + strings.Repeat("0", 5-len(itoa(i))) + itoa(i)
			c, err := f.a.IssueCitizen(ctx, citizen(cccd, csrs[i]))
			errs[i] = err
			if err == nil {
				serials[i] = FormatSerial(c.SerialNumber.Bytes())
			}
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", i, err)
		}
		if seen[serials[i]] {
			t.Fatalf("duplicate serial %s", serials[i])
		}
		seen[serials[i]] = true
	}
	certs, err := f.a.List(ctx, &store.CertificateFilter{Profile: ProfileCitizen})
	if err != nil || len(certs) != n {
		t.Fatalf("store holds %d citizen certificates, %v; want %d", len(certs), err, n)
	}
	for _, c := range certs {
		if !seen[FormatSerial(c.Serial)] {
			t.Errorf("stored serial %s was not returned", FormatSerial(c.Serial))
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func mustRegistry(t testing.TB) lint.Registry {
	t.Helper()
	r, err := newLintRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return r
}
