package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/staff/stafftest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// fieldEnv is the app with the household-visit page over the officers'
// API and a staff registry whose links start at the app's URL.
type fieldEnv struct {
	*env
	staff *stafftest.Env
	srv   string
}

// newFieldEnv serves the app on localhost over HTTP (tls: over the env's
// TLS server instead) with the officers' API behind its field page.
func newFieldEnv(t *testing.T, tls bool) *fieldEnv {
	// The staff registry's links start at the app's URL, known before the
	// app is made when it is served on localhost.
	var appH, adm http.Handler
	base := "https://app.kyso.test"
	if !tls {
		base = serveLocal(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { appH.ServeHTTP(w, r) })).URL
	}
	se := stafftest.New(t, base, time.Now)
	e := newEnvWith(t, func(o *app.Options) {
		o.Staff = se.Svc
		o.Admin = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { adm.ServeHTTP(w, r) })
	})
	appH, adm = e.app, admin.NewHandler(e.svc, nil).WithStaff(se.Svc)
	f := &fieldEnv{env: e, staff: se, srv: base}
	if tls {
		f.srv = e.srv.URL
	}
	return f
}

// fieldClient registers a staff member for ward 26734 and the officer's
// client bound to them.
func (f *fieldEnv) fieldClient(t *testing.T, name string) (*store.Staff, *signing.ClientCredentials) {
	t.Helper()
	m, err := f.staff.Svc.Add(context.Background(), "test", &staff.AddRequest{FullName: name, BirthYear: 1990, Position: "Cán bộ thu thập",
		Provider: "Kyso Việt Nam", Wards: []string{"26734"}, Photo: stafftest.Photo(t, "png"), Until: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.CreateClient(context.Background(), "Điện thoại của "+name, "", "test", signing.AsStaffOfficer(m.ID))
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

func fieldForm(csrf, cccd, ward string) url.Values {
	return url.Values{"csrf": {csrf}, "cccd": {cccd}, "name": {"Trịnh Văn Bô"}, "province": {"Hà Nội"}, "ward": {ward},
		"phone": {"0901234567"}, "evidence_kind": {"cccd-chip"}, "evidence_ref": {"nfc 1"}, "pin": {"482915"}, "pin2": {"482915"}, "consent": {"1"}}
}

// TestFieldPage: a field staff member signs in with their bound client's
// credentials (an unbound officer's client, a portal and a wrong secret
// cannot), enrols a citizen at home in their ward through the officers'
// API (channel household, their staff ID), and is shown a QR code, never
// the TOTP secret; another ward is refused with the API's reason; once
// the staff member is revoked the next enrolment is refused at once; the
// sign-out ends the sign-in everywhere.
func TestFieldPage(t *testing.T) {
	ctx := context.Background()
	f := newFieldEnv(t, true)
	m, c := f.fieldClient(t, "Hồ Thị Lan")
	desk, _ := f.svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	b := f.browser(t)
	if status, body := b.get("/app/field"); status != http.StatusOK || !strings.Contains(body, `id="field-login"`) {
		t.Fatalf("the sign-in page: %d\n%s", status, body)
	}
	csrf := b.csrf()
	for name, creds := range map[string][2]string{"an unbound officer": {desk.ID, desk.Secret}, "a portal": {f.client.ID, f.client.Secret},
		"a wrong secret": {c.ID, c.Secret + "x"}} {
		if status, _, _ := b.post("/app/field/login", url.Values{"csrf": {csrf}, "client_id": {creds[0]}, "client_secret": {creds[1]}}); status != http.StatusForbidden {
			t.Errorf("%s signing in: HTTP %d", name, status)
		}
	}
	if status, _, _ := b.post("/app/field/enrol", fieldForm(csrf, "001198008001", "26734")); status != http.StatusUnauthorized {
		t.Errorf("an enrolment without signing in: HTTP %d", status)
	}
	if status, loc, body := b.post("/app/field/login", url.Values{"csrf": {csrf}, "client_id": {c.ID}, "client_secret": {c.Secret}}); status != http.StatusSeeOther || loc != app.FieldPath {
		t.Fatalf("sign-in: HTTP %d %s\n%s", status, loc, body)
	}
	b.get("/app/field")
	csrf = b.csrf()
	status, _, body := b.post("/app/field/enrol", fieldForm(csrf, "001198008001", "26734"))
	if status != http.StatusCreated || !strings.Contains(body, `id="claim-qr"`) || strings.Contains(body, "otpauth") || strings.Contains(body, "482915") {
		t.Fatalf("a household enrolment: HTTP %d\n%s", status, body)
	}
	owner, err := f.st.GetOwnerByNationalID(ctx, "CCCD:001198008001")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := f.st.ListCredentials(ctx, owner.ID)
	if err != nil || len(creds) != 1 {
		t.Fatalf("credentials: %v %v", creds, err)
	}
	if rec, err := f.svc.EnrolmentRecord(ctx, creds[0].ID); err != nil || rec.Channel != store.ChannelHousehold || rec.StaffID != m.ID {
		t.Errorf("the record: %+v %v", rec, err)
	}
	if status, _, body := b.post("/app/field/enrol", fieldForm(csrf, "001198008002", "99999")); status != http.StatusForbidden || !strings.Contains(body, "outside") {
		t.Errorf("another ward: HTTP %d\n%s", status, body)
	}
	if err := f.staff.Svc.Revoke(ctx, "test", m.ID, "left"); err != nil {
		t.Fatal(err)
	}
	if status, _, body := b.post("/app/field/enrol", fieldForm(csrf, "001198008003", "26734")); status != http.StatusForbidden || !strings.Contains(body, "revoked") {
		t.Errorf("after the revocation: HTTP %d\n%s", status, body)
	}
	if _, err := f.st.GetOwnerByNationalID(ctx, "CCCD:001198008003"); err == nil {
		t.Error("a revoked staff member enrolled a citizen")
	}
	if status, loc, _ := b.post("/app/field/logout", url.Values{"csrf": {csrf}}); status != http.StatusSeeOther || loc != app.FieldPath {
		t.Errorf("sign-out: HTTP %d %s", status, loc)
	}
	if status, _, _ := b.post("/app/field/enrol", fieldForm(csrf, "001198008004", "26734")); status != http.StatusUnauthorized {
		t.Errorf("an enrolment after signing out: HTTP %d", status)
	}
	if status, _, _ := b.post("/app/field/login", url.Values{"csrf": {csrf}, "client_id": {c.ID}, "client_secret": {c.Secret}}); status != http.StatusForbidden {
		t.Errorf("a revoked staff member signing in: HTTP %d", status)
	}
}

// TestFieldInBrowser: the household-visit page in Chromium at phone and
// desktop size: the staff member signs in and enrols; the QR code shown,
// decoded from its screenshot, is the claim link; the citizen's phone
// opens it, the script fills the secret from the link's fragment (which
// never reaches the server), and the claim hands over the TOTP factor,
// with which the citizen logs in. Every page: a screenshot, axe-core,
// same-origin requests, no overflow, and the Nu checker.
func TestFieldInBrowser(t *testing.T) {
	f := newFieldEnv(t, false)
	br := testenv.StartBrowser(t)
	var html []string
	for i, vp := range []testenv.Viewport{testenv.Phone, testenv.Desktop} {
		t.Run(vp.Name, func(t *testing.T) {
			_, c := f.fieldClient(t, []string{"Hồ Thị Lan", "Vũ Văn Minh"}[i])
			cccd := []string{"001198008101", "001198008102"}[i]
			p := br.Open(t, vp, f.srv+"/app/field", nil)
			html = append(html, p.Check("field-login"))
			testenv.Act(p, chromedp.SendKeys("#client-id", c.ID))
			testenv.Act(p, chromedp.SendKeys("#client-secret", c.Secret))
			testenv.Act(p, chromedp.Click("#field-signin"))
			testenv.Act(p, chromedp.WaitVisible("#field-form"))
			html = append(html, br.Open(t, vp, f.srv+"/app/field", nil).Check("field-form"))
			testenv.Act(p, chromedp.SendKeys("#cccd", cccd))
			testenv.Act(p, chromedp.SendKeys("#name", "Trịnh Văn Bô"))
			testenv.Act(p, chromedp.SetValue("#province", "Hà Nội"))
			testenv.Act(p, chromedp.SendKeys("#ward", "26734"))
			testenv.Act(p, chromedp.SendKeys("#evidence-ref", "nfc 7"))
			testenv.Act(p, chromedp.SendKeys("#pin", "482915"))
			testenv.Act(p, chromedp.SendKeys("#pin2", "482915"))
			testenv.Act(p, chromedp.Click("#consent"))
			testenv.Act(p, chromedp.Click("#field-enrol"))
			testenv.Act(p, chromedp.WaitVisible("#claim-qr"))
			flowTab(t, p, "field-done")
			link := stafftest.DecodeQR(t, testenv.Act(p, chromedp.Screenshot("#claim-qr")))
			if !strings.HasPrefix(link, f.srv+"/app/register/claim?ref=") || !strings.Contains(link, "#") {
				t.Fatalf("the QR code reads %q", link)
			}
			testenv.Act(p, chromedp.Click("#field-logout"))
			testenv.Act(p, chromedp.WaitVisible("#field-login"))

			cp := br.Open(t, vp, link, nil)
			testenv.Act(cp, chromedp.WaitVisible("#claim-form"))
			secret := testenv.Act(cp, chromedp.Evaluate[string](`document.querySelector("#secret").value`))
			if secret == "" || !strings.HasSuffix(link, "#"+secret) {
				t.Fatalf("the script filled the secret with %q from %q", secret, link)
			}
			if addr := testenv.Act(cp, chromedp.Evaluate[string](`location.href`)); strings.Contains(addr, "#") {
				t.Errorf("the secret stays in the address bar: %s", addr)
			}
			testenv.Act(cp, chromedp.Click("#claim"))
			testenv.Act(cp, chromedp.WaitVisible("#qr"))
			flowTab(t, cp, "field-claim")
			uri := testenv.Act(cp, chromedp.Evaluate[string](`document.querySelector("#otpauth").getAttribute("href")`))
			f.loginWithFactor(t, br, vp, f.srv, cccd, uri)
		})
	}
	// The page after the enrolment, as the server sent it, for the Nu
	// checker, in both languages.
	dir := t.TempDir()
	for i, l := range []string{"vi", "en"} {
		_, c := f.fieldClient(t, "Cán bộ "+l)
		b := f.browser(t)
		b.get("/app/field?lang=" + l)
		b.post("/app/field/login", url.Values{"csrf": {b.csrf()}, "client_id": {c.ID}, "client_secret": {c.Secret}})
		b.get("/app/field")
		if status, _, body := b.post("/app/field/enrol", fieldForm(b.csrf(), []string{"001198008201", "001198008202"}[i], "26734")); status != http.StatusCreated {
			t.Fatalf("enrolment %s: HTTP %d\n%s", l, status, body)
		}
		html = append(html, save(t, dir, "field-done-"+l, b.last))
	}
	testenv.CheckHTML(t, html...)
}
