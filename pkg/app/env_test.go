package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/verifyapi"
)

// env is a real signing.Service on a throwaway CA, with the pre-signing
// check on (so a suspension refuses the next signature), and the app
// served over TLS (its cookies are Secure) with the validation engine of
// /verify/v1.
type env struct {
	svc      *signing.Service
	st       store.Store
	app      *app.Handler
	srv      *httptest.Server
	now      atomic.Int64
	roots    *x509.CertPool
	root     *x509.Certificate
	client   *signing.ClientCredentials
	citizen  *signing.Enrolment
	neighbor *signing.Enrolment
}

const pin = "135790"

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the app's options changed by mod.
func newEnvWith(t testing.TB, mod func(*app.Options)) *env {
	t.Helper()
	return newEnvOn(t, mod, "")
}

// newEnvOn is newEnvWith with passkeys on for the app at passkeyOrigin
// (signing.Config.PasskeyOrigin), when not empty.
func newEnvOn(t testing.TB, mod func(*app.Options), passkeyOrigin string) *env {
	t.Helper()
	ctx := context.Background()
	p := signingtest.NewPKI(t)
	pkiSrv, check := signingtest.ServePKI(t, p)
	e := &env{roots: check.Roots, st: p.Store}
	e.root = p.Hierarchy.Root
	e.now.Store(time.Now().UnixNano())
	fetcher := &revocation.Fetcher{Client: pkiSrv.Client}
	var err error
	e.svc, err = signing.New(p.Store, p.Keys, p.CA, signing.Config{
		SecretsKey:        bytes.Repeat([]byte{3}, 32),
		Password:          signing.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1},
		Now:               e.clock,
		SignerCheck:       check,
		SignerCheckMaxAge: time.Hour, // a suspension must count at once even so
		PasskeyOrigin:     passkeyOrigin,
		// B-LT, the default level of one's own documents.
		Timestamp: pades.TSAServer(pkiSrv.PKI.TSA()),
		LTV:       &pades.LTVOptions{Roots: check.Roots, Revocation: fetcher},
	})
	if err != nil {
		t.Fatal(err)
	}
	checker, err := verifyapi.NewHandler(&verifyapi.Options{Roots: func(context.Context) (*x509.CertPool, error) { return e.roots, nil },
		Fetcher: fetcher, MaxBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	opts := &app.Options{SecretsKey: bytes.Repeat([]byte{9}, 32), Checker: checker, Now: e.clock}
	if mod != nil {
		mod(opts)
	}
	e.app, err = app.New(e.svc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.app.Close() })
	e.srv = httptest.NewTLSServer(e.app)
	t.Cleanup(e.srv.Close)
	if e.client, err = e.svc.CreateClient(ctx, "Cổng Dịch vụ công Quốc gia", "", "test"); err != nil {
		t.Fatal(err)
	}
	for i, en := range []**signing.Enrolment{&e.citizen, &e.neighbor} {
		*en, err = e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: []string{"079203001234", "001198004321"}[i],
			Name: "Trần Thị Mai", Province: "Hà Nội", PIN: pin, Algorithm: hsm.ECDSAP256, Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// clock is the service's and the app's clock: the test's time, moved on
// by otp and by tests, but never behind the wall clock. The CA records a
// suspension at its own (wall) time, which the pre-signing check compares
// with this clock: a test clock left behind the wall — a slow run on a
// loaded machine — would see the suspension as not yet made.
func (e *env) clock() time.Time {
	return time.Unix(0, max(e.now.Load(), time.Now().UnixNano()))
}

// otp moves to the next 30-second step and returns en's code. The clock
// never falls behind the wall clock: the CA dates a suspension by the
// wall clock, and the pre-signing check compares that date with the
// service's clock, so a clock behind it (a slow run of a long flow) would
// not see a suspension made a moment before.
func (e *env) otp(t testing.TB, en *signing.Enrolment) string {
	t.Helper()
	for {
		old := e.now.Load()
		if e.now.CompareAndSwap(old, max(old, time.Now().UnixNano())+int64(30*time.Second)) {
			break
		}
	}
	code, err := signing.TOTPCode(en.TOTPURI, e.clock())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// twoPages is a PDF of two A4 pages, each saying which it is.
func twoPages() []byte {
	return testpdf.Objects(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		testpdf.Helvetica,
		testpdf.Stream("BT /F1 24 Tf 72 720 Td (Hop dong - trang 1) Tj ET"),
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 7 0 R >>",
		testpdf.Stream("BT /F1 24 Tf 72 720 Td (Hop dong - trang 2) Tj ET"),
	)
}

// submitPDF asks en to sign a PDF kyso holds (SmartCA sign_type pdf).
func (e *env) submitPDF(t testing.TB, en *signing.Enrolment, ref, desc, name string, doc []byte) string {
	t.Helper()
	tx, _, err := e.svc.Submit(context.Background(), &signing.SubmitRequest{ClientID: e.client.ID, ClientRef: ref, NationalID: en.NationalID,
		Description: desc, Documents: []signing.Document{{DocID: name, PDF: doc}}})
	if err != nil {
		t.Fatal(err)
	}
	return tx.ID
}

// submitHash asks en to sign a hash only.
func (e *env) submitHash(t testing.TB, en *signing.Enrolment, ref, desc, name string) string {
	t.Helper()
	h := sha256.Sum256([]byte(ref))
	tx, _, err := e.svc.Submit(context.Background(), &signing.SubmitRequest{ClientID: e.client.ID, ClientRef: ref, NationalID: en.NationalID,
		Description: desc, Documents: []signing.Document{{DocID: name, Hash: h[:]}}})
	if err != nil {
		t.Fatal(err)
	}
	return tx.ID
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, as a browser's tab seen one answer at a time.
type browser struct {
	t    testing.TB
	e    *env
	c    *http.Client
	jar  http.CookieJar
	last string // the last page's body
}

func (e *env) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	// Each browser its own client: the server's is shared.
	c := &http.Client{Transport: e.srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, e: e, c: c, jar: jar}
}

// get fetches path and returns the status and body.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.e.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	b.last = string(raw)
	return resp.StatusCode, b.last
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the last page.
func (b *browser) csrf() string {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(b.last)
	if m == nil {
		b.t.Fatalf("no CSRF field in the page:\n%s", b.last)
	}
	return m[1]
}

// post sends a form as the app's own page would (Origin and
// Sec-Fetch-Site of the app); the answer's status, Location and body.
func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	return b.postFrom(path, form, b.e.srv.URL, "same-origin")
}

func (b *browser) postFrom(path string, form url.Values, origin, site string) (int, string, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if site != "" {
		req.Header.Set("Sec-Fetch-Site", site)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	b.last = string(raw)
	return resp.StatusCode, resp.Header.Get("Location"), b.last
}

// login logs en in with the right factors.
func (b *browser) login(en *signing.Enrolment) {
	b.t.Helper()
	b.get("/app/login")
	status, loc, body := b.post("/app/login", url.Values{"csrf": {b.csrf()}, "cccd": {strings.TrimPrefix(en.NationalID, "CCCD:")},
		"pin": {pin}, "otp": {b.e.otp(b.t, en)}})
	if status != http.StatusSeeOther || loc != "/app/" {
		b.t.Fatalf("login: HTTP %d to %q:\n%s", status, loc, body)
	}
}

// cookie is the value of the named cookie the jar holds for the app.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
