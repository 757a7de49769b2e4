package campaign_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/campaign"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopBrowser()
	os.Exit(code)
}

// TestDashboardInBrowser: the operator's dashboard page, opened in
// Chromium at phone and desktop size: its own Content-Security-Policy
// lets its style sheet in (the hash matches) and nothing else; axe-core
// finds no serious violation, nothing overflows (the tables turn into
// cards on a phone), every request stays on the page's origin, the Nu
// checker finds the HTML clean, and the hostile ward is text.
func TestDashboardInBrowser(t *testing.T) {
	var b bytes.Buffer
	if err := campaign.HTML(&b, report(), &campaign.Options{Provider: "Công ty Chữ ký số Thử nghiệm"}); err != nil {
		t.Fatal(err)
	}
	page := b.Bytes()
	if bytes.Contains(page, []byte("<script")) {
		t.Fatal("the hostile ward reached the page as markup")
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	t.Cleanup(ts.Close)
	br := testenv.StartBrowser(t)
	var pages []string
	for _, vp := range []testenv.Viewport{testenv.Phone, testenv.Desktop} {
		p := br.Open(t, vp, ts.URL+"/", nil)
		pages = append(pages, p.Check("dashboard"))
		// The style sheet applied: its hash is the one the policy names.
		if got := testenv.Act(p, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("main")).maxWidth`)); got != "1100px" {
			t.Errorf("%s: main's max-width is %q: the page's own style sheet was refused", vp.Name, got)
		}
		if n := testenv.Act(p, chromedp.Evaluate[int](`document.querySelectorAll("figure svg").length`)); n != len(campaign.Charts) {
			t.Errorf("%s: %d charts drawn, want %d", vp.Name, n, len(campaign.Charts))
		}
		ward := testenv.Act(p, chromedp.Evaluate[string](`[...document.querySelectorAll("td")].map(td => td.textContent).join("\n")`))
		if !strings.Contains(ward, hostile) {
			t.Errorf("%s: the hostile ward is not shown as text", vp.Name)
		}
	}
	testenv.CheckHTML(t, pages...)
}
