package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	xocsp "golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// presignEnv is a CA on one of the databases with a pre-signing PKI, all
// on the clock *now, and its PKI routes served.
type presignEnv struct {
	a    *ca.Authority
	st   store.Store
	keys hsm.KeyStore
	p    *PKI
	srv  *httptest.Server
	h    *ca.Hierarchy
	now  *time.Time
	dir  string
	// sql runs a statement on the database behind the store's back.
	sql func(q string, args ...any) error
	// responder is ca.Options.OCSPValidity.
	responder time.Duration
}

// newPresignEnv makes a presignEnv on driver ("sqlite" or "postgres"),
// its clock now.
func newPresignEnv(t *testing.T, driver string) *presignEnv {
	return newPresignEnvAt(t, driver, time.Now(), 0)
}

// newPresignEnvAt makes a presignEnv on driver whose clock starts at
// start, its responder certificates valid for responder (0: the default).
func newPresignEnvAt(t *testing.T, driver string, start time.Time, responder time.Duration) *presignEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	now := start
	e := &presignEnv{now: &now, dir: dir, responder: responder}
	u, err := hsm.ParseURI("softkey:?dir=" + filepath.Join(dir, "keys") + "&passphrase=test-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if e.keys, err = softkey.Open(ctx, u, &softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}}); err != nil {
		t.Fatal(err)
	}
	switch driver {
	case "sqlite":
		path := filepath.Join(dir, "kyso.db")
		e.st, err = sqlite.Open(ctx, path, nil)
		e.sql = func(q string, args ...any) error {
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
			if err != nil {
				return err
			}
			defer db.Close()
			_, err = db.Exec(q, args...)
			return err
		}
	case "postgres":
		dsn := testenv.NewPostgres(t)
		e.st, err = postgres.Open(ctx, dsn, nil)
		e.sql = func(q string, args ...any) error {
			db, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return err
			}
			defer db.Close(ctx)
			_, err = db.Exec(ctx, strings.ReplaceAll(q, "?", "$1"), args...)
			return err
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	clock := func() time.Time { return *e.now }
	if e.a, err = ca.New(e.st, e.keys, &ca.Options{BaseURL: "http://ca.kyso.test", Now: clock, OCSPValidity: responder}); err != nil {
		t.Fatal(err)
	}
	if e.h, err = e.a.Init(ctx, &ca.InitRequest{Name: "Kyso Thử Nghiệm"}); err != nil {
		t.Fatal(err)
	}
	e.p = e.replica(t)
	// kysod's first tick, which makes the consent receipts' certificate.
	if err := e.p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.p)
	t.Cleanup(e.srv.Close)
	return e
}

// replica is another kysod's PKI on the same database and key store.
func (e *presignEnv) replica(t *testing.T) *PKI {
	t.Helper()
	clock := func() time.Time { return *e.now }
	a, err := ca.New(e.st, e.keys, &ca.Options{BaseURL: "http://ca.kyso.test", Now: clock, OCSPValidity: e.responder})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPKI(context.Background(), a, e.st, &PKIOptions{Now: clock, OCSPPresign: true, OCSPPresignInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pass runs one pre-signing pass of p, which must hold the lease.
func (e *presignEnv) pass(t *testing.T, p *PKI) *PresignResult {
	t.Helper()
	res, err := p.PresignPass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Leased {
		t.Fatal("the pass did not hold the upkeep lease")
	}
	return res
}

// served asks the PKI about leaf (SHA-1 CertID, no nonce) and returns the
// answer's DER and x/crypto/ocsp's reading of it.
func (e *presignEnv) served(t *testing.T, leaf *x509.Certificate) ([]byte, *xocsp.Response) {
	t.Helper()
	req, err := xocsp.CreateRequest(leaf, e.h.Issuing, &xocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	resp := ocspGET(t, e.srv.URL, req)
	defer resp.Body.Close()
	der, _ := io.ReadAll(resp.Body)
	r, err := xocsp.ParseResponseForCert(der, leaf, e.h.Issuing)
	if err != nil {
		t.Fatal(err)
	}
	return der, r
}

// stored is the answer stored for leaf, nil when none is current.
func (e *presignEnv) stored(t *testing.T, leaf *x509.Certificate) *store.OCSPAnswer {
	t.Helper()
	a, err := e.st.GetOCSPAnswer(context.Background(), ca.IssuingName, leaf.SerialNumber.Bytes())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	return a
}

// opensslSays has openssl check the answer der about leaf (signature,
// the responder certificate's chain to the root, CertID) and returns what
// it printed.
func (e *presignEnv) opensslSays(t *testing.T, der []byte, leaf *x509.Certificate) string {
	t.Helper()
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	write := func(name string, data []byte) string {
		f := filepath.Join(e.dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	pemOf := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	out, errOut, err := testenv.Run(exec.Command(bin, "ocsp", "-respin", write("answer.der", der),
		"-issuer", write("issuing.pem", pemOf(e.h.Issuing)), "-CAfile", write("root.pem", pemOf(e.h.Root)),
		"-cert", write("leaf.pem", pemOf(leaf)), "-no_nonce"))
	if err != nil {
		t.Logf("openssl: %v\n%s", err, errOut)
	}
	return out + errOut
}

// TestPresign: the pass signs an answer for every certificate without
// one, then only what changed — a revocation, a hold, its release,
// answers past half their validity — and the responder serves the stored
// answers (thisUpdate the pass's, not the request's), which openssl
// verifies: good, and revoked after a revocation. A stored answer never
// outlives its status: between a revocation and the next pass the
// responder signs the revocation live.
func TestPresign(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			e := newPresignEnv(t, driver)
			good, revoked, held := issue(t, e.a, "079203001234"), issue(t, e.a, "079203001235"), issue(t, e.a, "079203001236")
			if err := e.a.Revoke(ctx, revoked.SerialNumber.Bytes(), 1, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if err := e.a.Suspend(ctx, held.SerialNumber.Bytes(), time.Time{}); err != nil {
				t.Fatal(err)
			}
			res := e.pass(t, e.p)
			if res.New < 3 || res.Refreshed != 0 || res.Failed != 0 || res.Skipped != 0 {
				t.Fatalf("first pass %+v, want the 3 citizens' and the service certificates' answers new", res)
			}
			for leaf, want := range map[*x509.Certificate]string{good: store.StatusGood, revoked: store.StatusRevoked, held: store.StatusHold} {
				if a := e.stored(t, leaf); a == nil || a.Status != want {
					t.Fatalf("stored answer of %v: %+v, want %s", leaf.SerialNumber, a, want)
				}
			}
			if res := e.pass(t, e.p); res.New+res.Refreshed != 0 {
				t.Fatalf("a second pass with nothing changed signed %+v", res)
			}

			// Served from the table: a minute later, the answer's
			// thisUpdate is still the pass's.
			signedAt := *e.now
			*e.now = e.now.Add(time.Minute)
			for leaf, want := range map[*x509.Certificate]int{good: xocsp.Good, revoked: xocsp.Revoked, held: xocsp.Revoked} {
				der, r := e.served(t, leaf)
				if r.Status != want || !r.ThisUpdate.Equal(signedAt.UTC().Truncate(time.Second)) {
					t.Fatalf("served %v: status %d thisUpdate %v, want %d from the pass at %v", leaf.SerialNumber, r.Status, r.ThisUpdate, want, signedAt)
				}
				if st := e.stored(t, leaf); !bytes.Contains(der, st.DER[len(st.DER)-72:]) {
					t.Errorf("served answer of %v is not the stored one", leaf.SerialNumber)
				}
			}
			der, _ := e.served(t, good)
			if out := e.opensslSays(t, der, good); !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "leaf.pem: good") {
				t.Fatalf("openssl on the pre-signed good answer:\n%s", out)
			}

			// A revocation: the stored good answer is out of date at
			// once (not even read back), the responder signs the
			// revocation live, and the next pass stores it.
			if err := e.a.Revoke(ctx, good.SerialNumber.Bytes(), 1, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if a := e.stored(t, good); a != nil {
				t.Fatalf("after the revocation the stored %s answer is still current", a.Status)
			}
			if err := e.p.Tick(ctx); err != nil { // the audit tail drops the cached good answer
				t.Fatal(err)
			}
			if _, r := e.served(t, good); r.Status != xocsp.Revoked {
				t.Fatalf("after the revocation, before a pass: served status %d, want revoked", r.Status)
			}
			if res := e.pass(t, e.p); res.Refreshed != 1 || res.New != 0 {
				t.Fatalf("pass after one revocation: %+v, want 1 refreshed", res)
			}
			if a := e.stored(t, good); a == nil || a.Status != store.StatusRevoked {
				t.Fatalf("stored answer after the revocation's pass: %+v", a)
			}
			e.p.ocsp.Invalidate(good.SerialNumber) // read it from the table, not the cache
			der, r := e.served(t, good)
			if r.Status != xocsp.Revoked || !r.ThisUpdate.Equal(e.now.UTC().Truncate(time.Second)) {
				t.Fatalf("served after the pass: status %d thisUpdate %v", r.Status, r.ThisUpdate)
			}
			if out := e.opensslSays(t, der, good); !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "leaf.pem: revoked") {
				t.Fatalf("openssl on the pre-signed revoked answer:\n%s", out)
			}

			// Releasing the hold: good again at the next pass.
			if err := e.a.Resume(ctx, held.SerialNumber.Bytes()); err != nil {
				t.Fatal(err)
			}
			if a := e.stored(t, held); a != nil {
				t.Fatalf("after the release the stored %s answer is still current", a.Status)
			}
			if res := e.pass(t, e.p); res.Refreshed != 1 {
				t.Fatalf("pass after one release: %+v", res)
			}
			if a := e.stored(t, held); a == nil || a.Status != store.StatusGood {
				t.Fatalf("stored answer after the release's pass: %+v", a)
			}

			// Half the validity later every answer is due; before it,
			// none is served past its refresh time.
			*e.now = signedAt.Add(ocspValidity(e.p) / 2)
			if res := e.pass(t, e.p); res.Refreshed < 3 || res.New != 0 {
				t.Fatalf("pass at half the validity: %+v, want every answer refreshed", res)
			}
			if res := e.pass(t, e.p); res.Refreshed+res.New != 0 {
				t.Fatalf("a pass right after the refresh signed %+v", res)
			}
		})
	}
}

// ocspValidity is the validity of p's answers.
func ocspValidity(p *PKI) time.Duration { return p.ocsp.Validity() }

// TestPresignRevokedWhileSigning: the pass reads a certificate good and
// signs it; before it stores the answer the certificate is revoked. The
// stale good answer is not stored (over nothing, nor over the stored
// answer the revocation made due), the store refuses an answer for a
// serial it never issued, and the next pass stores the revocation.
func TestPresignRevokedWhileSigning(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			e := newPresignEnv(t, driver)
			first, second := issue(t, e.a, "079203001234"), issue(t, e.a, "079203001235")
			rows, err := e.st.OCSPUnanswered(ctx, ca.IssuingName, *e.now, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			answers := signAll(t, e.p, rows)
			if err := e.a.Revoke(ctx, first.SerialNumber.Bytes(), 1, time.Time{}); err != nil {
				t.Fatal(err)
			}
			stored, err := e.st.PutOCSPAnswers(ctx, ca.IssuingName, answers)
			if err != nil || stored != len(answers)-1 {
				t.Fatalf("stored %d of %d answers (%v), want all but the revoked one", stored, len(answers), err)
			}
			if a := e.stored(t, first); a != nil {
				t.Fatalf("a %s answer stored for the certificate revoked while it was signed", a.Status)
			}

			// Due again (half the validity): read good, revoked before
			// the answers are stored; the due good answer stays out.
			*e.now = e.now.Add(ocspValidity(e.p) / 2)
			rows, err = e.st.OCSPStale(ctx, ca.IssuingName, *e.now, *e.now, time.Unix(-1, 0), nil, 100)
			if err != nil {
				t.Fatal(err)
			}
			answers = signAll(t, e.p, rows)
			if err := e.a.Revoke(ctx, second.SerialNumber.Bytes(), 4, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if stored, err := e.st.PutOCSPAnswers(ctx, ca.IssuingName, answers); err != nil || stored != len(answers)-1 {
				t.Fatalf("refreshed %d of %d answers (%v), want all but the revoked one", stored, len(answers), err)
			}
			if a := e.stored(t, second); a != nil {
				t.Fatalf("the answer signed good before the revocation is served: %+v", a)
			}
			if _, r := e.served(t, second); r.Status != xocsp.Revoked {
				t.Fatalf("served status %d after the revocation, want revoked", r.Status)
			}
			e.pass(t, e.p)
			for _, leaf := range []*x509.Certificate{first, second} {
				if a := e.stored(t, leaf); a == nil || a.Status != store.StatusRevoked {
					t.Fatalf("after the next pass %v's stored answer is %+v, want revoked", leaf.SerialNumber, a)
				}
			}

			// An answer for a serial the CA never issued is not stored,
			// and a request for it gets "unknown", signed live.
			bogus := *answers[0]
			bogus.Serial = []byte{0x7a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77}
			if n, err := e.st.PutOCSPAnswers(ctx, ca.IssuingName, []*store.OCSPAnswer{&bogus}); err != nil || n != 0 {
				t.Fatalf("an answer for an unknown serial: stored %d (%v), want 0", n, err)
			}
			unknown := *first
			unknown.SerialNumber = new(big.Int).SetBytes(bogus.Serial)
			if _, r := e.served(t, &unknown); r.Status != xocsp.Unknown {
				t.Fatalf("an unknown serial answered %d, want unknown", r.Status)
			}
			if _, err := e.st.GetOCSPAnswer(ctx, ca.IssuingName, bogus.Serial); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("an unknown serial's stored answer: %v, want not found", err)
			}
			// Hostile batches are refused whole.
			twice := []*store.OCSPAnswer{answers[0], answers[0]}
			huge := *answers[0]
			huge.DER = make([]byte, 1<<20)
			for name, batch := range map[string][]*store.OCSPAnswer{"a serial twice": twice, "an oversized answer": {&huge}} {
				if _, err := e.st.PutOCSPAnswers(ctx, ca.IssuingName, batch); err == nil {
					t.Errorf("%s: stored", name)
				}
			}
		})
	}
}

// TestPresignStatusChangedElsewhere: a status changed by a writer other
// than this store's Revoke — an older kysod or kyso during a rolling
// upgrade, an operator's SQL — makes the stored answer stale all the
// same (migration 0028's trigger): it is not served, and it is the first
// the next pass signs again, with the new status.
func TestPresignStatusChangedElsewhere(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			e := newPresignEnv(t, driver)
			leaf := issue(t, e.a, "079203001234")
			e.pass(t, e.p)
			if a := e.stored(t, leaf); a == nil || a.Status != store.StatusGood {
				t.Fatalf("stored answer %+v, want good", a)
			}
			if err := e.sql(`UPDATE certificates SET status = 'hold' WHERE serial = ?`, leaf.SerialNumber.Bytes()); err != nil {
				t.Fatal(err)
			}
			if a := e.stored(t, leaf); a != nil {
				t.Fatalf("after a status change in SQL the stored %s answer is still current", a.Status)
			}
			if rows, err := e.st.OCSPStale(context.Background(), ca.IssuingName, *e.now, *e.now, time.Unix(-1, 0), nil, 10); err != nil || len(rows) != 1 || rows[0].Status != store.StatusHold {
				t.Fatalf("the next pass would sign %v (%v), want the held certificate", rows, err)
			}
		})
	}
}

// signAll signs rows' answers with p's responder.
func signAll(t *testing.T, p *PKI, rows []*store.OCSPDue) []*store.OCSPAnswer {
	t.Helper()
	out := make([]*store.OCSPAnswer, len(rows))
	for i, d := range rows {
		a, err := p.presignOne(d)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = a
	}
	return out
}

// TestPresignRaceWithRevocations (PostgreSQL: writers side by side):
// passes run while certificates are revoked. When the revocations are
// done, no revoked certificate has a current answer other than revoked,
// whatever the interleaving; after one more pass every one has it.
func TestPresignRaceWithRevocations(t *testing.T) {
	ctx := context.Background()
	e := newPresignEnv(t, "postgres")
	var leaves []*x509.Certificate
	for i := range 24 {
		leaves = append(leaves, issue(t, e.a, fmt.Sprintf("079203%06d", 1000+i)))
	}
	e.pass(t, e.p)
	*e.now = e.now.Add(ocspValidity(e.p) / 2) // every answer due: passes rewrite them all
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var passErr error
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := e.p.PresignPass(ctx); err != nil {
				passErr = err
				return
			}
		}
	})
	for _, leaf := range leaves[:16] {
		if err := e.a.Revoke(ctx, leaf.SerialNumber.Bytes(), 1, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if passErr != nil {
		t.Fatal(passErr)
	}
	for _, leaf := range leaves[:16] {
		if a := e.stored(t, leaf); a != nil && a.Status != store.StatusRevoked {
			t.Fatalf("revoked %v has a current %s answer", leaf.SerialNumber, a.Status)
		}
	}
	e.pass(t, e.p)
	for i, leaf := range leaves {
		want := store.StatusGood
		if i < 16 {
			want = store.StatusRevoked
		}
		if a := e.stored(t, leaf); a == nil || a.Status != want {
			t.Fatalf("%v after the last pass: %+v, want %s", leaf.SerialNumber, a, want)
		}
	}
}

// TestPresignNeedsLease: a replica that does not hold the `pki` upkeep
// lease signs nothing; once the holder's lease ends, it takes over.
func TestPresignNeedsLease(t *testing.T) {
	ctx := context.Background()
	e := newPresignEnv(t, "sqlite")
	other := e.replica(t)
	e.pass(t, e.p)
	leaf := issue(t, e.a, "079203001234")
	res, err := other.PresignPass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Leased || res.New+res.Refreshed != 0 || e.stored(t, leaf) != nil {
		t.Fatalf("a replica without the lease: %+v, answer %+v", res, e.stored(t, leaf))
	}
	*e.now = e.now.Add(DefaultUpkeepLease + time.Second)
	if res := e.pass(t, other); res.New != 1 || e.stored(t, leaf) == nil {
		t.Fatalf("after the holder's lease ended the other replica's pass: %+v", res)
	}
	if res, err := e.p.PresignPass(ctx); err != nil || res.Leased {
		t.Fatalf("the former holder's pass: %+v %v, want no lease", res, err)
	}
}

// TestPresignResponderRenewal: answers signed by a responder certificate
// that was replaced are not served, fresh as they are — the replica signs
// with the new certificate — and the next pass signs them all again with
// it.
func TestPresignResponderRenewal(t *testing.T) {
	ctx := context.Background()
	// Responder certificates of an hour, the first made 40 minutes ago,
	// so that openssl, on the wall clock, judges the answers at the end.
	e := newPresignEnvAt(t, "sqlite", time.Now().Add(-40*time.Minute), time.Hour)
	leaf := issue(t, e.a, "079203001234")
	old, _, err := e.a.OCSPSigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Just before the responder's half life, then just after it: the
	// answers are two minutes old, fresh (their nextUpdate is the
	// responder's notAfter), and signed by the old certificate.
	*e.now = old.NotBefore.Add(old.NotAfter.Sub(old.NotBefore)/2 - time.Minute)
	e.pass(t, e.p)
	before := e.stored(t, leaf)
	*e.now = e.now.Add(2 * time.Minute)
	if !e.now.Before(before.RefreshAt) {
		t.Fatalf("the answers are due already (%v), the test shows nothing", before.RefreshAt)
	}
	if err := e.p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	renewed, _, err := e.a.OCSPSigner(ctx)
	if err != nil || renewed.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Fatalf("the tick did not renew the responder certificate (%v)", err)
	}
	if _, r := e.served(t, leaf); r.Certificate == nil || r.Certificate.SerialNumber.Cmp(renewed.SerialNumber) != 0 || r.ThisUpdate.Equal(before.ThisUpdate) {
		t.Fatalf("after the renewal the answer served is the old responder's (thisUpdate %v)", r.ThisUpdate)
	}
	res := e.pass(t, e.p)
	if res.Retired < 2 || res.Refreshed < 2 {
		t.Fatalf("pass after the renewal: %+v, want every answer retired and signed again", res)
	}
	after := e.stored(t, leaf)
	if bytes.Equal(after.Responder, before.Responder) {
		t.Fatal("the stored answer is still the old responder's")
	}
	e.p.ocsp.Invalidate(leaf.SerialNumber)
	der, r := e.served(t, leaf)
	if r.Certificate.SerialNumber.Cmp(renewed.SerialNumber) != 0 || !r.ThisUpdate.Equal(after.ThisUpdate) {
		t.Fatalf("served after the pass: responder %v thisUpdate %v, want the stored answer by %v", r.Certificate.SerialNumber, r.ThisUpdate, renewed.SerialNumber)
	}
	if out := e.opensslSays(t, der, leaf); !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "leaf.pem: good") {
		t.Fatalf("openssl on the answer pre-signed by the renewed responder:\n%s", out)
	}
}
