package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/render"
	"github.com/kyso-pki/kyso/pkg/signing"
)

var ownLocation = regexp.MustCompile(`^/app/requests/([a-z0-9]+)\?doc=0&page=(\d+)$`)

// ownTx uploads doc as b's own document and returns its transaction.
func (b *browser) ownTx(name string, doc []byte) string {
	b.t.Helper()
	b.get("/app/own")
	status, loc, body := b.uploadTo("/app/own", name, doc)
	m := ownLocation.FindStringSubmatch(loc)
	if status != http.StatusSeeOther || m == nil {
		b.t.Fatalf("upload: HTTP %d to %q\n%s", status, loc, body)
	}
	return m[1]
}

// manyPages is a PDF of n empty A4 pages.
func manyPages(n int) []byte {
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", ""}
	kids := ""
	for i := range n {
		kids += strings.Repeat(" ", min(i, 1)) + strconv.Itoa(3+i) + " 0 R"
		objs = append(objs, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
	}
	objs[1] = "<< /Type /Pages /Kids [" + kids + "] /Count " + strconv.Itoa(n) + " >>"
	return testpdf.Objects(objs...)
}

// TestOwnDocumentBounded: the upload refuses, each with its reason, a
// file that is not a PDF, one over the size limit and one of too many
// pages, and needs its CSRF token and a session.
// TestOwnLimitWithinRenderer: an upload limit over the renderer's is
// refused when the app is made — an owner could upload what they could
// not be shown — and one within it is taken.
func TestOwnLimitWithinRenderer(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		own, render int
		ok          bool
	}{{64 << 20, 0, false}, {8 << 20, 4 << 20, false}, {4 << 20, 4 << 20, true}, {0, 0, true}} {
		h, err := app.New(e.svc, &app.Options{SecretsKey: bytes.Repeat([]byte{9}, 32), MaxOwnPDF: c.own, Render: &render.Options{Workers: 1, MaxPDFBytes: c.render}})
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "MaxOwnPDF")) {
			t.Errorf("MaxOwnPDF %d with the renderer's %d: %v, want ok=%t", c.own, c.render, err, c.ok)
		}
		if h != nil {
			h.Close()
		}
	}
}

func TestOwnDocumentBounded(t *testing.T) {
	e := newEnvWith(t, func(o *app.Options) { o.MaxOwnPDF, o.MaxOwnPages = 64<<10, 3 })
	b := e.browser(t)
	b.login(e.citizen)
	for _, c := range []struct {
		name   string
		doc    []byte
		status int
		says   string
	}{
		{"not.pdf", []byte("<html>not a PDF</html>"), http.StatusBadRequest, "không phải là PDF"},
		{"broken.pdf", []byte("%PDF-1.7\n1 0 obj garbage"), http.StatusBadRequest, "không phải là PDF"},
		{"big.pdf", append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("%"), 65<<10)...), http.StatusRequestEntityTooLarge, "không quá 0 MB"},
		{"long.pdf", manyPages(4), http.StatusBadRequest, "Tài liệu có 4 trang; chỉ nhận tài liệu không quá 3 trang"},
	} {
		b.get("/app/own")
		if status, _, body := b.uploadTo("/app/own", c.name, c.doc); status != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: HTTP %d\n%s", c.name, status, body)
		}
	}
	if list, _ := e.svc.OwnerTransactions(context.Background(), e.citizen.OwnerID, false); len(list) != 0 {
		t.Errorf("%d transactions from refused uploads", len(list))
	}
	other := e.browser(t)
	other.login(e.neighbor)
	other.get("/app/own")
	b.last = other.last // another session's token
	if status, _, _ := b.uploadTo("/app/own", "a.pdf", twoPages()); status != http.StatusForbidden {
		t.Errorf("another session's token: HTTP %d", status)
	}
	anon := e.browser(t)
	anon.get("/app/check")
	if status, _, _ := anon.uploadTo("/app/own", "a.pdf", twoPages()); status != http.StatusUnauthorized {
		t.Errorf("no session: HTTP %d", status)
	}
}

// TestOwnDocument: an uploaded PDF is a request of the app's for its
// owner, with the stamp at the bottom right of its last page; a corner
// chosen moves it (a new transaction; the old one withdrawn); tampered
// stamp fields are refused and change nothing; another owner can neither
// see, draw, place, approve nor download it; the signed PDF downloads as
// an attachment, never cached, to its owner only.
func TestOwnDocument(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.browser(t)
	b.login(e.citizen)
	tx := b.ownTx("hợp đồng thuê nhà.pdf", twoPages())
	status, page := b.get("/app/requests/" + tx + "?doc=0&page=2")
	if status != http.StatusOK || !strings.Contains(page, "Ứng dụng kyso") || !strings.Contains(page, "hợp đồng thuê nhà.pdf") ||
		!strings.Contains(page, "Dấu chữ ký nằm ở trang 2.") || !strings.Contains(page, `<option value="2:br" selected>Trang 2, góc dưới bên phải</option>`) {
		t.Fatalf("the own document's page: HTTP %d\n%s", status, page)
	}
	if x, err := e.svc.OwnDocument(ctx, e.citizen.OwnerID, tx); err != nil || x.Documents[0].Stamp.Page != 2 {
		t.Fatalf("the first stamp: %+v, %v", x, err)
	}
	if _, body := b.get("/app/own/" + tx + "/signed.pdf"); !strings.Contains(body, "chưa được ký") {
		t.Errorf("downloading before the approval:\n%s", body)
	}

	// Another owner: not found, whatever they try.
	o := e.browser(t)
	o.login(e.neighbor)
	for _, p := range []string{"/app/requests/" + tx, "/app/requests/" + tx + "/docs/0/pages/1", "/app/own/" + tx + "/signed.pdf"} {
		if status, _ := o.get(p); status != http.StatusNotFound {
			t.Errorf("another owner's GET %s: HTTP %d", p, status)
		}
	}
	o.get("/app/own")
	for _, p := range []string{"/stamp", "/approve"} {
		if status, _, _ := o.post("/app/requests/"+tx+p, url.Values{"csrf": {o.csrf()}, "corner": {"1:tl"}, "pin": {pin}, "otp": {e.otp(t, e.neighbor)}}); status != http.StatusNotFound {
			t.Errorf("another owner's POST %s: HTTP %d", p, status)
		}
	}

	// Tampered stamp fields: refused, nothing changes.
	for _, f := range []url.Values{
		{"page": {"2"}, "x": {"NaN"}, "y": {"0.5"}},
		{"page": {"2"}, "x": {"1.5"}, "y": {"0.5"}},
		{"page": {"2"}, "x": {"0.5"}, "y": {"-0.01"}},
		{"page": {"2"}, "x": {"0.5"}, "y": {"Inf"}},
		{"page": {"2"}, "x": {"0x1p-1"}, "y": {""}},
		{"page": {"3"}, "x": {"0.5"}, "y": {"0.5"}},
		{"page": {"0"}, "x": {"0.5"}, "y": {"0.5"}},
		{"corner": {"3:br"}},
		{"corner": {"1:middle"}},
		{},
	} {
		b.get("/app/requests/" + tx)
		f.Set("csrf", b.csrf())
		if status, _, body := b.post("/app/requests/"+tx+"/stamp", f); status != http.StatusBadRequest ||
			!(strings.Contains(body, "nằm ngoài trang") || strings.Contains(body, "không có trang này")) {
			t.Errorf("stamp %v: HTTP %d\n%s", f, status, body)
		}
	}
	if list, _ := e.svc.OwnerTransactions(ctx, e.citizen.OwnerID, true); len(list) != 1 || list[0].ID != tx {
		t.Fatalf("after the refused stamps: %d pending", len(list))
	}

	// The corner select (no script): the top left of page 1.
	b.get("/app/requests/" + tx)
	status, loc, _ := b.post("/app/requests/"+tx+"/stamp", url.Values{"csrf": {b.csrf()}, "corner": {"1:tl"}})
	m := ownLocation.FindStringSubmatch(loc)
	if status != http.StatusSeeOther || m == nil || m[2] != "1" {
		t.Fatalf("corner: HTTP %d to %q", status, loc)
	}
	moved := m[1]
	x, err := e.svc.OwnDocument(ctx, e.citizen.OwnerID, moved)
	if st := x.Documents[0].Stamp; err != nil || st.Page != 1 || st.Rect != [4]float64{36, 842 - 36 - 80, 260, 80} {
		t.Fatalf("the stamp in the top left corner: %+v, %v", x.Documents[0].Stamp, err)
	}
	if old, _ := e.svc.OwnDocument(ctx, e.citizen.OwnerID, tx); old.Status != "rejected" {
		t.Errorf("the transaction before the move is %s", old.Status)
	}
	b.get("/app/requests/" + moved)
	if status, _, _ := b.post("/app/requests/"+tx+"/stamp", url.Values{"csrf": {b.csrf()}, "corner": {"2:br"}}); status != http.StatusConflict {
		t.Errorf("moving the stamp of the withdrawn transaction again: HTTP %d", status)
	}
	if list, _ := e.svc.OwnerTransactions(ctx, e.citizen.OwnerID, true); len(list) != 1 || list[0].ID != moved {
		t.Errorf("after the move: %d pending", len(list))
	}
	if status, _, _ := b.post("/app/requests/"+tx+"/approve", url.Values{"csrf": {b.csrf()}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}}); status != http.StatusConflict {
		t.Errorf("approving the withdrawn transaction: HTTP %d", status)
	}

	// Approve; download.
	b.get("/app/requests/" + moved)
	status, _, body := b.post("/app/requests/"+moved+"/approve", url.Values{"csrf": {b.csrf()}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}})
	link := "/app/own/" + moved + "/signed.pdf"
	if status != http.StatusOK || !strings.Contains(body, `href="`+link+`"`) || !strings.Contains(body, "Tài liệu của bạn đã được ký.") {
		t.Fatalf("approve: HTTP %d\n%s", status, body)
	}
	resp, err := b.c.Get(e.srv.URL + link)
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusOK || h.Get("Content-Type") != "application/pdf" || h.Get("Cache-Control") != "no-store" ||
		h.Get("Content-Disposition") != `attachment; filename*=utf-8''h%E1%BB%A3p%20%C4%91%E1%BB%93ng%20thu%C3%AA%20nh%C3%A0-da-ky.pdf` {
		t.Errorf("download: HTTP %d %v", resp.StatusCode, h)
	}
	if x, _ := e.svc.OwnDocument(ctx, e.citizen.OwnerID, moved); !bytes.Equal(signed, x.Signatures[0].SignedPDF) || !bytes.HasPrefix(signed, twoPages()) {
		t.Error("the download is not the signed document")
	}
	if status, _ := o.get(link); status != http.StatusNotFound {
		t.Errorf("another owner's download: HTTP %d", status)
	}
	// A portal's request is no own document.
	ptx := e.submitPDF(t, e.citizen, "portal-doc", "Hợp đồng", "hd.pdf", twoPages())
	if status, _ := b.get("/app/own/" + ptx + "/signed.pdf"); status != http.StatusNotFound {
		t.Errorf("a portal's request downloaded: HTTP %d", status)
	}
	b.get("/app/requests/" + ptx)
	if status, _, _ := b.post("/app/requests/"+ptx+"/stamp", url.Values{"csrf": {b.csrf()}, "corner": {"1:tl"}}); status != http.StatusNotFound {
		t.Errorf("a stamp placed on a portal's request: HTTP %d", status)
	}
	// The history names the app as the requester.
	if _, hist := b.get("/app/history"); !strings.Contains(hist, signing.AppClientName) || !strings.Contains(hist, "hợp đồng thuê nhà.pdf") {
		t.Errorf("the history:\n%s", hist)
	}
}
