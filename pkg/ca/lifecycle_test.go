package ca

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/metrics"
	"github.com/kyso-pki/kyso/pkg/store"
)

func TestRevocationCRLAndOCSPStatus(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)
	a, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.a.IssueCitizen(ctx, citizen("001203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}

	st, err := f.a.OCSPStatus(ctx, "", a.SerialNumber)
	if err != nil || !st.Known || st.Revoked {
		t.Fatalf("status of a good certificate: %+v, %v", st, err)
	}
	if st, err := f.a.OCSPStatus(ctx, "", big.NewInt(12345)); err != nil || st.Known {
		t.Fatalf("status of a never-issued serial: %+v, %v; want unknown", st, err)
	}

	at := f.a.now().Add(-time.Hour).UTC().Truncate(time.Second)
	if err := f.a.Revoke(ctx, a.SerialNumber.Bytes(), store.ReasonKeyCompromise, at); err != nil {
		t.Fatal(err)
	}
	if err := f.a.Revoke(ctx, b.SerialNumber.Bytes(), store.ReasonCertificateHold, time.Time{}); err != nil {
		t.Fatal(err)
	}
	st, err = f.a.OCSPStatus(ctx, IssuingName, a.SerialNumber)
	if err != nil || !st.Revoked || st.OnHold || st.Reason != store.ReasonKeyCompromise || !st.RevokedAt.Equal(at) {
		t.Errorf("status after keyCompromise: %+v, %v", st, err)
	}
	st, err = f.a.OCSPStatus(ctx, IssuingName, b.SerialNumber)
	if err != nil || !st.Revoked || !st.OnHold {
		t.Errorf("status on hold: %+v, %v", st, err)
	}
	if err := f.a.Revoke(ctx, b.SerialNumber.Bytes(), store.ReasonCessationOfOperation, time.Time{}); err != nil {
		t.Errorf("revoking a held certificate for good: %v", err)
	}
	for _, r := range []int{-1, 7, 8, 11} {
		if err := f.a.Revoke(ctx, a.SerialNumber.Bytes(), r, time.Time{}); err == nil {
			t.Errorf("Revoke with reason %d accepted", r)
		}
	}

	crl, err := f.st.LatestCRL(ctx, IssuingName, 0)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(crl.DER)
	if err != nil {
		t.Fatal(err)
	}
	if err := rl.CheckSignatureFrom(f.h.Issuing); err != nil {
		t.Errorf("CRL signature: %v", err)
	}
	if rl.Number.Int64() != crl.Number || crl.Number < 3 {
		t.Errorf("CRL number %v (record %d); want ≥ 3 after three revocations", rl.Number, crl.Number)
	}
	if d := rl.NextUpdate.Sub(rl.ThisUpdate); d <= 0 || d > 7*24*time.Hour {
		t.Errorf("nextUpdate − thisUpdate = %v", d)
	}
	if string(rl.AuthorityKeyId) != string(f.h.Issuing.SubjectKeyId) {
		t.Error("CRL AKI does not match the issuing CA")
	}
	reasons := map[string]int{}
	for _, e := range rl.RevokedCertificateEntries {
		reasons[FormatSerialInt(e.SerialNumber)] = e.ReasonCode
	}
	if reasons[FormatSerialInt(a.SerialNumber)] != store.ReasonKeyCompromise || reasons[FormatSerialInt(b.SerialNumber)] != store.ReasonCessationOfOperation || len(reasons) != 2 {
		t.Errorf("CRL entries %v", reasons)
	}
	if err := lintCRLDER(f.a.reg, crl.DER); err != nil {
		t.Errorf("zlint CRL: %v", err)
	}

	crls, err := f.a.GenerateCRL(ctx)
	if err != nil || len(crls) != 2 {
		t.Fatalf("GenerateCRL = %d CRLs, %v; want root and issuing", len(crls), err)
	}
	for _, c := range crls {
		if err := lintCRLDER(f.a.reg, c.DER); err != nil {
			t.Errorf("zlint CRL of %s: %v", c.Issuer, err)
		}
	}
}

func TestRenewOCSP(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	f := newFixture(t, newSQLite(t), &Options{Now: clock, OCSPValidity: 10 * 24 * time.Hour})
	c, renewed, err := f.a.RenewOCSP(ctx)
	if err != nil || renewed || !c.Equal(f.h.OCSP) {
		t.Fatalf("RenewOCSP on a fresh certificate: renewed=%v, %v", renewed, err)
	}
	now.Add(int64(6 * 24 * time.Hour))
	c2, renewed, err := f.a.RenewOCSP(ctx)
	if err != nil || !renewed || c2.Equal(c) {
		t.Fatalf("RenewOCSP past half life: renewed=%v, %v", renewed, err)
	}
	if hsm.SamePublicKey(c.PublicKey, c2.PublicKey) {
		t.Error("renewed OCSP certificate reuses the old key")
	}
	cert, signer, err := f.a.OCSPSigner(ctx)
	if err != nil || !cert.Equal(c2) || !hsm.SamePublicKey(signer.Public(), c2.PublicKey) {
		t.Errorf("OCSPSigner does not return the new certificate and key: %v", err)
	}
	if err := lintCertificateDER(f.a.reg, c2.Raw); err != nil {
		t.Error(err)
	}
	if _, _, err := f.a.TSASigner(ctx); err != nil {
		t.Errorf("TSASigner: %v", err)
	}
}

// TestRenewReceipt: the consent-receipt certificate is made on first use
// by the OCSP certificate's code path, kept until half its life, then
// replaced under a new key; ReceiptSigner hands out the current one.
func TestRenewReceipt(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	f := newFixture(t, newSQLite(t), &Options{Now: clock})
	if _, _, err := f.a.ReceiptSigner(ctx); err == nil {
		t.Fatal("ReceiptSigner before RenewReceipt made one: want an error")
	}
	c, renewed, err := f.a.RenewReceipt(ctx)
	if err != nil || !renewed {
		t.Fatalf("RenewReceipt with none: renewed=%v, %v", renewed, err)
	}
	if again, renewed, err := f.a.RenewReceipt(ctx); err != nil || renewed || !again.Equal(c) {
		t.Fatalf("RenewReceipt on a fresh certificate: renewed=%v, %v", renewed, err)
	}
	if c.Subject.CommonName != f.h.Issuing.Subject.Organization[0]+" Consent Receipts" || c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		t.Errorf("receipt certificate: CN %q, key usage %v", c.Subject.CommonName, c.KeyUsage)
	}
	now.Add(int64(DefaultReceiptValidity/2 + time.Hour))
	c2, renewed, err := f.a.RenewReceipt(ctx)
	if err != nil || !renewed || hsm.SamePublicKey(c.PublicKey, c2.PublicKey) {
		t.Fatalf("RenewReceipt past half life: renewed=%v, same key %v, %v", renewed, hsm.SamePublicKey(c.PublicKey, c2.PublicKey), err)
	}
	cert, signer, err := f.a.ReceiptSigner(ctx)
	if err != nil || !cert.Equal(c2) || !hsm.SamePublicKey(signer.Public(), c2.PublicKey) {
		t.Errorf("ReceiptSigner does not return the new certificate and key: %v", err)
	}
}

// TestRenewReceiptOnce: processes sharing the database (replicas, or a
// signing service beside the upkeep) renewing the receipt certificate at
// the same moment make one new certificate between them, whether none
// exists yet or the current one is past half its life; the others go on
// with the certificate that one made, or the current one.
func TestRenewReceiptOnce(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	f := newFixture(t, newSQLite(t), &Options{Now: clock})
	const n = 6
	as := []*Authority{f.a}
	for range n - 1 {
		a, err := New(f.st, f.ks, &Options{Now: clock, BaseURL: "http://ca.kyso.test"})
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	race := func() (made int, certs []*x509.Certificate) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, a := range as {
			wg.Go(func() {
				c, renewed, err := a.RenewReceipt(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("RenewReceipt: %v", err)
					return
				}
				if renewed {
					made++
				}
				certs = append(certs, c)
			})
		}
		wg.Wait()
		return made, certs
	}
	count := func() int {
		cs, err := f.st.ListCertificates(ctx, &store.CertificateFilter{Issuer: IssuingName, Profile: ProfileReceipt})
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	made, certs := race()
	if made != 1 || count() != 1 {
		t.Fatalf("first receipt certificate: %d made, %d stored; want 1 and 1", made, count())
	}
	for _, c := range certs {
		if !c.Equal(certs[0]) {
			t.Errorf("the racers were handed different certificates")
		}
	}
	first := certs[0]
	now.Add(int64(DefaultReceiptValidity/2 + time.Hour))
	made, certs = race()
	if made != 1 || count() != 2 {
		t.Fatalf("renewal past half life: %d made, %d stored; want 1 and 2", made, count())
	}
	for _, c := range certs {
		if !c.Equal(first) && hsm.SamePublicKey(c.PublicKey, first.PublicKey) {
			t.Errorf("a renewed certificate reuses the old key")
		}
	}
	// Once the winner's certificate is stored, every process takes it up.
	cur, _, err := as[n-1].ReceiptSigner(ctx)
	if err != nil || cur.Equal(first) {
		t.Fatalf("ReceiptSigner after the renewal: still the first certificate (%v)", err)
	}
}

// TestImportSubordinate installs a provider's subordinate CA issued by a
// stand-in national root and issues under it.
func TestImportSubordinate(t *testing.T) {
	ctx := context.Background()
	rootKey := p256(t)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"VN"}, Organization: []string{"NEAC (test)"}, CommonName: "Test National Root CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(20 * year),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)

	st := newSQLite(t)
	ks := newKeyStore(t)
	info, err := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "provider-sub", Algorithm: hsm.ECDSAP384})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "other", Algorithm: hsm.ECDSAP384})
	_ = other
	subTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{Country: []string{"VN"}, Organization: []string{"Công ty Ký Số"}, CommonName: "Ký Số Issuing CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * year),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	subDER, err := x509.CreateCertificate(rand.Reader, subTmpl, root, info.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(st, ks, &Options{BaseURL: "http://ca.kyso.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ImportSubordinate(ctx, &ImportRequest{Certificate: subDER, Chain: [][]byte{rootDER}, KeyLabel: "other"}); err == nil {
		t.Error("import with the wrong key accepted")
	}
	strangerKey := p256(t)
	rootTmpl.Subject.CommonName = "Stranger Root"
	strangerDER, _ := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, strangerKey.Public(), strangerKey)
	if _, err := a.ImportSubordinate(ctx, &ImportRequest{Certificate: subDER, Chain: [][]byte{strangerDER}, KeyLabel: "provider-sub"}); err == nil {
		t.Error("import chaining to the wrong root accepted")
	}
	if _, err := a.ImportSubordinate(ctx, &ImportRequest{Certificate: subDER, Chain: [][]byte{rootDER}, KeyLabel: "provider-sub"}); err != nil {
		t.Fatalf("ImportSubordinate: %v", err)
	}
	h, err := a.Init(ctx, nil)
	if err != nil {
		t.Fatalf("Init after import: %v", err)
	}
	if h.Root != nil || len(h.Chain) != 1 || !h.Chain[0].Equal(root) || h.OCSP == nil || h.TSA == nil {
		t.Fatalf("hierarchy after import: %+v", h)
	}
	if cas, _ := st.ListCAs(ctx); len(cas) != 1 {
		t.Errorf("%d CAs after import and Init; want 1", len(cas))
	}
	cert, err := a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*x509.Certificate{cert, h.OCSP, h.TSA} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool(root), Intermediates: pool(h.Issuing), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s does not chain to the national root: %v", c.Subject.CommonName, err)
		}
		if err := lintCertificateDER(a.reg, c.Raw); err != nil {
			t.Errorf("%s: %v", c.Subject.CommonName, err)
		}
	}
	if h.OCSP.Subject.Organization[0] != "Công ty Ký Số" {
		t.Errorf("OCSP certificate names %v, want the imported CA's organisation", h.OCSP.Subject.Organization)
	}
	if crls, err := a.GenerateCRL(ctx); err != nil || len(crls) != 1 {
		t.Errorf("GenerateCRL after import: %d, %v", len(crls), err)
	}
}

// BenchmarkIssueCitizen issues P-256 citizen certificates from CSRs on
// SQLite, the campaign rule off so one CCCD can be reused.
func BenchmarkIssueCitizen(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, newSQLite(b), &Options{DisableCampaign: true})
	csrs := make([][]byte, b.N)
	for i := range csrs {
		csrs[i] = newCSR(b, p256(b))
	}
	commits := sqliteCommits(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.a.IssueCitizen(ctx, citizen("079203001234", csrs[i])); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
	commits()
}

// sqliteCommits returns a func that reports the SQLite commits (a group
// commit counts once) since the call, per certificate, and their mean
// time from begin to durable commit (kyso_db_commit_duration_seconds).
func sqliteCommits(b *testing.B) func() {
	read := func() (uint64, float64) {
		var m dto.Metric
		if err := metrics.DBCommits.WithLabelValues("sqlite").(prometheus.Histogram).Write(&m); err != nil {
			b.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
	}
	n0, s0 := read()
	return func() {
		n, s := read()
		b.ReportMetric(float64(n-n0)/float64(b.N), "commits/cert")
		if n > n0 {
			b.ReportMetric((s-s0)/float64(n-n0)*1000, "ms/commit")
		}
	}
}

// BenchmarkIssueCitizenParallel is BenchmarkIssueCitizen from
// concurrent goroutines (b.RunParallel: GOMAXPROCS, times -cpu's
// multiplier via SetParallelism 8), as kysod's requests arrive: their
// durable commits may share an fsync (the SQLite store's group commit).
func BenchmarkIssueCitizenParallel(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, newSQLite(b), &Options{DisableCampaign: true})
	csrs := make(chan []byte, b.N)
	for range b.N {
		csrs <- newCSR(b, p256(b))
	}
	b.SetParallelism(8)
	commits := sqliteCommits(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.a.IssueCitizen(ctx, citizen("079203001234", <-csrs)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
	commits()
}

// BenchmarkIssueCitizenKeyStore is the key-made-in-the-key-store path.
func BenchmarkIssueCitizenKeyStore(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, newSQLite(b), &Options{DisableCampaign: true})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := &CitizenRequest{Name: name, CCCD: "079203001234", Province: "Huế", Key: KeySource{KeyLabel: "cred-" + itoa(i), KeyAlgorithm: hsm.ECDSAP256}}
		if _, err := f.a.IssueCitizen(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}

// TestExpiredLeaveCRL: a revoked certificate stays on the CRL until one
// CRL issued after it expired has listed it, then leaves (RFC 5280 section
// 3.3), so the CRL does not grow for ever.
func TestExpiredLeaveCRL(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	f := newFixture(t, newSQLite(t), &Options{Now: clock})
	req := citizen("079203004444", newCSR(t, p256(t)))
	req.Validity = time.Hour
	short, err := f.a.IssueCitizen(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	long, err := f.a.IssueCitizen(ctx, citizen("001203004444", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*x509.Certificate{short, long} {
		if err := f.a.Revoke(ctx, c.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	listed := func() (bool, bool) {
		t.Helper()
		crls, err := f.a.GenerateCRL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range crls {
			if c.Issuer != IssuingName {
				continue
			}
			crl, err := x509.ParseRevocationList(c.DER)
			if err != nil {
				t.Fatal(err)
			}
			var s, l bool
			for _, e := range crl.RevokedCertificateEntries {
				s = s || e.SerialNumber.Cmp(short.SerialNumber) == 0
				l = l || e.SerialNumber.Cmp(long.SerialNumber) == 0
			}
			return s, l
		}
		t.Fatal("no issuing CRL")
		return false, false
	}
	if s, l := listed(); !s || !l {
		t.Fatalf("before expiry: short listed %v, long %v", s, l)
	}
	now = short.NotAfter.Add(time.Minute) // expired; the CRL before was made before that
	if s, l := listed(); !s || !l {
		t.Fatalf("the first CRL after expiry must still list it: short %v, long %v", s, l)
	}
	now = now.Add(time.Minute)
	if s, l := listed(); s || !l {
		t.Fatalf("the next CRL: short listed %v (want not), long %v (want listed)", s, l)
	}
}
