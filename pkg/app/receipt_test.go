package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

var receiptLink = regexp.MustCompile(`href="/app/receipts/([a-z0-9]+)"`)

// TestReceiptDownload: approving in the app leads to a page linking the
// consent receipt; the owner downloads it (an attachment, never sniffed),
// openssl verifies it, and it says the pages were shown and names this
// browser; the history links it; the neighbour, a logged-out browser and
// a guessed ID get nothing; hostile text of the request is JSON data in
// the receipt, never markup in the pages.
func TestReceiptDownload(t *testing.T) {
	e := newEnv(t)
	const desc = `Hợp đồng <script>alert(1)</script>`
	tx := e.submitPDF(t, e.citizen, "r-1", desc, "hop-dong.pdf", twoPages())
	b := e.browser(t)
	b.login(e.citizen)
	b.get("/app/requests/" + tx)
	status, _, body := b.post("/app/requests/"+tx+"/approve", url.Values{"csrf": {b.csrf()}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}})
	m := receiptLink.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		t.Fatalf("after approving: HTTP %d, no receipt link:\n%s", status, body)
	}
	id := m[1]
	resp, err := b.c.Get(e.srv.URL + "/app/receipts/" + id)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pkcs7-mime; smime-type=signed-data" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="kyso-receipt-`+id+`.p7m"` || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: HTTP %d, headers %v", resp.StatusCode, resp.Header)
	}
	r, _ := signingtest.OpenReceipt(t, e.root, der)
	if r.ID != id || r.TransactionID != tx || r.Description != desc || r.Documents[0].Shown != "pages" || r.Device.UserAgent != "Go-http-client/1.1" {
		t.Errorf("receipt %+v", r)
	}
	if _, hist := b.get("/app/history"); !strings.Contains(hist, `href="/app/receipts/`+id+`"`) || strings.Contains(hist, "<script>alert") {
		t.Errorf("the history does not link the receipt, or shows markup:\n%s", hist)
	}

	n := e.browser(t)
	n.login(e.neighbor)
	for what, path := range map[string]string{"the neighbour's download": "/app/receipts/" + id, "a guessed ID": "/app/receipts/aaaaaaaaaaaaaaaaaaaa"} {
		if status, body := n.get(path); status != http.StatusNotFound || strings.Contains(body, "PKCS") {
			t.Errorf("%s: HTTP %d", what, status)
		}
	}
	if status, _ := e.browser(t).get("/app/receipts/" + id); status == http.StatusOK {
		t.Error("a browser without a session downloaded the receipt")
	}
	// The portal has it too, and the owner's copy is the same receipt.
	pf, err := e.svc.ClientTransactionReceipt(context.Background(), e.client.ID, tx)
	if err != nil || string(pf.DER) != string(der) {
		t.Errorf("the portal's receipt differs: %v", err)
	}
}
