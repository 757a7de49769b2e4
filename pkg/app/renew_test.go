package app_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// TestRenewPage: 20 days before the end the requests page shows the
// banner, and the renewal page the certificate with its form. A POST
// without the CSRF token, or from another origin, changes nothing;
// another owner cannot renew this owner's credential (not found) nor see
// it; wrong factors are refused and counted; the right ones renew it.
// The operator's name, hostile, is shown escaped. A PDF signed after the
// renewal carries the new certificate and pyHanko judges it valid.
func TestRenewPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cred := e.citizen.CredentialID
	e.now.Store(e.citizen.Certificate.NotAfter.Add(-20 * 24 * time.Hour).UnixNano())
	hostile := "officer:<img src=x onerror=alert(1)>"
	if _, err := e.svc.RequestRenewal(ctx, cred, hostile); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.login(e.citizen)
	_, home := b.get("/app/")
	if !strings.Contains(home, `class="alert renew-banner"`) || !strings.Contains(home, "Nhà cung cấp đề nghị bạn gia hạn") {
		t.Errorf("the requests page shows no renewal banner:\n%s", home)
	}
	status, page := b.get("/app/renew")
	if status != http.StatusOK || !strings.Contains(page, ca.FormatSerialInt(e.citizen.Certificate.SerialNumber)) ||
		!strings.Contains(page, `action="/app/renew/`+cred+`"`) || !strings.Contains(page, "Miễn phí") {
		t.Fatalf("the renewal page: HTTP %d\n%s", status, page)
	}
	if strings.Contains(page, "<img src=x") || !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the operator's name is not escaped:\n%s", page)
	}
	if strings.Contains(page, `name="revoke_old"`) || !strings.Contains(page, `href="/app/renew?credential=`+cred+`&amp;revoke_old=1"`) {
		t.Errorf("the renewal page's default: the old certificate should expire, with a link to revoke it instead:\n%s", page)
	}
	if _, p := b.get("/app/renew?credential=" + cred + "&revoke_old=1"); strings.Count(p, `<input type="hidden" name="revoke_old" value="1">`) != 1 ||
		!strings.Contains(p, "thu hồi ngay") {
		t.Errorf("the renewal page choosing to revoke the old certificate: the form does not carry it:\n%s", p)
	}
	token := b.csrf()
	serialNow := func() []byte {
		t.Helper()
		c, err := e.svc.Credential(ctx, cred)
		if err != nil {
			t.Fatal(err)
		}
		return c.CertSerial
	}
	before := serialNow()
	// CSRF: no token; another origin.
	if status, _, _ := b.post("/app/renew/"+cred, url.Values{"pin": {pin}, "otp": {e.otp(t, e.citizen)}}); status != http.StatusForbidden {
		t.Errorf("a POST without the CSRF token: HTTP %d", status)
	}
	if status, _, _ := b.postFrom("/app/renew/"+cred, url.Values{"csrf": {token}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}},
		"https://evil.example", "cross-site"); status != http.StatusForbidden {
		t.Errorf("a POST from another origin: HTTP %d", status)
	}
	// Another owner.
	n := e.browser(t)
	n.login(e.neighbor)
	if _, p := n.get("/app/renew?credential=" + cred); strings.Contains(p, `action="/app/renew/`+cred) ||
		strings.Contains(p, ca.FormatSerialInt(e.citizen.Certificate.SerialNumber)) {
		t.Errorf("the neighbour's renewal page shows the citizen's credential")
	}
	if status, _, _ := n.post("/app/renew/"+cred, url.Values{"csrf": {n.csrf()}, "pin": {pin}, "otp": {e.otp(t, e.neighbor)}}); status != http.StatusNotFound {
		t.Errorf("the neighbour renewing the citizen's credential: HTTP %d", status)
	}
	// Wrong factors: refused, counted.
	b.get("/app/renew")
	if status, _, body := b.post("/app/renew/"+cred, url.Values{"csrf": {b.csrf()}, "pin": {"999999"}, "otp": {e.otp(t, e.citizen)}}); status != http.StatusForbidden ||
		!strings.Contains(body, "Sai số CCCD, mã PIN hoặc mã xác thực") {
		t.Errorf("wrong PIN: HTTP %d", status)
	}
	if o, err := e.st.GetOwner(ctx, e.citizen.OwnerID); err != nil || o.PINFailures != 1 {
		t.Errorf("the wrong PIN was not counted: %+v %v", o, err)
	}
	if !bytes.Equal(serialNow(), before) {
		t.Fatal("a refused renewal changed the certificate")
	}
	// The right factors.
	b.get("/app/renew")
	status, _, body := b.post("/app/renew/"+cred, url.Values{"csrf": {b.csrf()}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}})
	if status != http.StatusOK || !strings.Contains(body, "đã được gia hạn") {
		t.Fatalf("renew: HTTP %d\n%s", status, body)
	}
	after := serialNow()
	if bytes.Equal(after, before) {
		t.Fatal("the renewal left the certificate")
	}
	// The request was answered (the CA's clock is the wall's, so the new
	// certificate too ends within 30 days of the test's clock).
	if _, home := b.get("/app/"); strings.Contains(home, "Nhà cung cấp đề nghị bạn gia hạn") {
		t.Error("the operator's request is still shown after the renewal")
	}
	// Sign a PDF after the renewal: the new certificate signs, and
	// pyHanko, which nobody here wrote, judges the signature valid.
	tx := e.submitPDF(t, e.citizen, "after-renewal", "Tờ khai sau khi gia hạn", "to-khai.pdf", twoPages())
	b.get("/app/requests/" + tx)
	if status, _, body := b.post("/app/requests/"+tx+"/approve", url.Values{"csrf": {b.csrf()}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}}); status != http.StatusOK {
		t.Fatalf("approve after renewal: HTTP %d\n%s", status, body)
	}
	x, err := e.svc.ClientTransaction(ctx, e.client.ID, tx)
	if err != nil || len(x.Signatures) != 1 {
		t.Fatalf("the transaction: %v", err)
	}
	signed := x.Signatures[0].SignedPDF
	rep, err := verify.Verify(ctx, bytes.NewReader(signed), int64(len(signed)), &verify.Options{Roots: e.roots})
	if err != nil || len(rep.Signatures) != 1 || !strings.EqualFold(rep.Signatures[0].Signer.Serial, ca.FormatSerial(after)) {
		t.Fatalf("the PDF signed after renewal: %v %+v", err, rep)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.root.Raw}), 0o644)
	out := filepath.Join(dir, "signed.pdf")
	os.WriteFile(out, signed, 0o644)
	r := testenv.RunPyHanko(t, "sign", "validate", "--pretty-print", "--no-revocation-check", "--trust", root, out)
	if r.Err != nil || !strings.Contains(r.Report, "The signer's certificate is trusted.") || !strings.Contains(r.Report, "The signature is judged VALID.") {
		t.Fatalf("pyHanko validate: %v\n%s\nlog: %s\nstderr: %s", r.Err, r.Report, r.Log, r.Stderr)
	}
	if _, err := e.svc.Renew(ctx, &signing.RenewRequest{OwnerID: e.neighbor.OwnerID, CredentialID: cred}); err == nil {
		t.Error("the service renewed another owner's credential")
	}
}
