package ca

import (
	"context"
	"os"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

func newPostgres(t testing.TB) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), testenv.NewPostgres(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConcurrentIssuancePostgres(t *testing.T) {
	testConcurrentIssuance(t, newPostgres(t))
}

// TestPostgresLifecycle runs Init twice, issuance, the campaign rule and
// revocation with a CRL on PostgreSQL, as on SQLite.
func TestPostgresLifecycle(t *testing.T) {
	ctx := context.Background()
	st := newPostgres(t)
	f := newFixture(t, st, nil)
	h, err := f.a.Init(ctx, nil)
	if err != nil || !h.Issuing.Equal(f.h.Issuing) || !h.Root.Equal(f.h.Root) {
		t.Fatalf("second Init: %v", err)
	}
	c, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t)))); err == nil {
		t.Fatal("second campaign certificate issued")
	}
	if err := f.a.Revoke(ctx, c.SerialNumber.Bytes(), store.ReasonKeyCompromise, f.a.now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t)))); err != nil {
		t.Fatalf("campaign certificate after revocation: %v", err)
	}
	crl, err := st.LatestCRL(ctx, IssuingName, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := lintCRLDER(f.a.reg, crl.DER); err != nil {
		t.Error(err)
	}
	if st, err := f.a.OCSPStatus(ctx, "", c.SerialNumber); err != nil || !st.Revoked || st.Reason != store.ReasonKeyCompromise {
		t.Errorf("OCSPStatus: %+v, %v", st, err)
	}
}

func BenchmarkIssueCitizenPostgres(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, newPostgres(b), &Options{DisableCampaign: true})
	csrs := make([][]byte, b.N)
	for i := range csrs {
		csrs[i] = newCSR(b, p256(b))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.a.IssueCitizen(ctx, citizen("079203001234", csrs[i])); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}
