package gen_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/cmd/internal/bench/gen"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/audit"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

// TestGenerate generates a campaign of 1,000 enrolments on each database
// and checks it is sound: the campaign report counts what was generated,
// the audit chain verifies once a checkpoint seals it, the certificates
// verify under the issuing CA, and OCSP says a generated revoked serial is
// revoked.
func TestGenerate(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			var pki *catest.PKI
			var dsn string
			if db == "sqlite" {
				p, err := catest.New(ctx, dir)
				if err != nil {
					t.Fatal(err)
				}
				pki, dsn = p, "sqlite:"+filepath.Join(dir, "kyso.db")
			} else {
				dsn = testenv.NewPostgres(t)
				pki = postgresPKI(t, dsn, dir)
			}
			defer pki.Close()
			checkGenerated(t, pki, dsn)
		})
	}
}

// postgresPKI is catest's hierarchy on the PostgreSQL database dsn.
func postgresPKI(t *testing.T, dsn, dir string) *catest.PKI {
	ctx := context.Background()
	u, err := hsm.ParseURI("softkey:?dir=" + filepath.Join(dir, "keys") + "&passphrase=test-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := softkey.Open(ctx, u, &softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.New(st, ks, &ca.Options{BaseURL: "http://ca.kyso.test"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.Init(ctx, &ca.InitRequest{Name: "Kyso Thử Nghiệm"})
	if err != nil {
		t.Fatal(err)
	}
	return &catest.PKI{Keys: ks, Store: st, CA: a, Hierarchy: h}
}

func checkGenerated(t *testing.T, pki *catest.PKI, dsn string) {
	ctx := context.Background()
	is, err := gen.NewIssuer(ctx, pki.CA, pki.Store, pki.Keys)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	sum, err := gen.Generate(ctx, dsn, is, &gen.Options{Enrolments: n, Batch: 300, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Enrolments != n || sum.Revoked == 0 || sum.Superseded == 0 || sum.Signatures == 0 || sum.AuditEvents < 3*n {
		t.Fatalf("generated %+v", sum)
	}
	if sum.Last.Sub(sum.First) < 300*24*time.Hour {
		t.Errorf("enrolments from %s to %s: want about 18 months", sum.First, sum.Last)
	}

	// The report counts what was generated.
	svc, err := signing.New(pki.Store, pki.Keys, pki.CA, signingtest.Config(nil))
	if err != nil {
		t.Fatal(err)
	}
	vn, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	rep, err := svc.CampaignReport(ctx, &signing.ReportQuery{From: sum.First.In(vn).Format(time.DateOnly), To: sum.Last.In(vn).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	tot := rep.Total
	active := int64(sum.Active(rep.At))
	want := store.EnrolmentCount{Enrolments: n, Active: active, Expired: int64(sum.Good()) - active, Revoked: int64(sum.Revoked), Suspended: int64(sum.Suspended)}
	if tot.Enrolments != want.Enrolments || tot.Active != want.Active || tot.Expired != want.Expired || tot.Revoked != want.Revoked || tot.Suspended != want.Suspended {
		t.Errorf("report total %+v, want %+v", tot, want)
	}
	if tot.Expired == 0 || tot.Active == 0 {
		t.Errorf("report total %+v: want expired and active certificates in an 18-month campaign", tot)
	}
	byChannel := map[string]int{}
	for _, m := range rep.Months {
		for ch, k := range m.ByChannel {
			byChannel[ch] += int(k)
		}
	}
	for ch, k := range sum.ByChannel {
		if byChannel[ch] != k {
			t.Errorf("channel %s: report %d, generated %d", ch, byChannel[ch], k)
		}
	}
	if len(rep.Months) < 18 {
		t.Errorf("%d months in the report, want 18 or 19", len(rep.Months))
	}

	// The audit chain, sealed by a checkpoint, verifies.
	key, err := audit.OpenKey(ctx, pki.Keys)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.NewCheckpointer(pki.Store, key, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	ar, err := audit.Verify(ctx, pki.Store, audit.KeyStoreKeys(pki.Keys))
	if err != nil {
		t.Fatal(err)
	}
	if !ar.OK() || ar.Unsealed() != 0 || ar.Events < sum.AuditEvents {
		var b bytes.Buffer
		ar.Print(&b)
		t.Fatalf("audit verify after generating %d events:\n%s", sum.AuditEvents, b.String())
	}

	// A generated certificate verifies under the issuing CA, and OCSP says
	// a revoked one is revoked, a good one good.
	srv, err := servertest.Serve(ctx, pki)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	issuer := pki.Hierarchy.Issuing
	for _, c := range []struct {
		serial []byte
		status int
	}{{sum.RevokedSerial, ocsp.Revoked}, {sum.SuspendedSerial, ocsp.Revoked}, {sum.GoodSerial, ocsp.Good}} {
		rec, err := pki.Store.GetCertificate(ctx, ca.IssuingName, c.serial)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(rec.DER)
		if err != nil {
			t.Fatal(err)
		}
		if err := cert.CheckSignatureFrom(issuer); err != nil {
			t.Errorf("certificate %s: %v", ca.FormatSerial(c.serial), err)
		}
		req, err := ocsp.CreateRequest(cert, issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client.Post(cert.OCSPServer[0], "application/ocsp-request", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("OCSP: %s: %s", resp.Status, body)
		}
		or, err := ocsp.ParseResponseForCert(body, cert, issuer)
		if err != nil {
			t.Fatal(err)
		}
		if or.Status != c.status {
			t.Errorf("OCSP for generated %s (%s): status %d, want %d", ca.FormatSerial(c.serial), rec.Status, or.Status, c.status)
		}
	}
}
