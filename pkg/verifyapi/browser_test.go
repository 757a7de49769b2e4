package verifyapi_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/verifyapi"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopBrowser()
	os.Exit(code)
}

// TestReportInBrowser posts signed PDFs to a real handler from a headless
// Chromium, the way a page's form would, and checks the validation report
// the browser shows, in both languages, on a phone and on a desktop: a
// screenshot of each, no serious axe-core violation, the Nu HTML Checker
// silent, every request to the handler's own origin, no text overflowing
// its box.
func TestReportInBrowser(t *testing.T) {
	doc, roots := signedPDF(t)
	// A byte of the signed revision changed (its trailer's /ID): the
	// report lists why the signature fails.
	tampered := bytes.Replace(doc, []byte("00112233"), []byte("00112234"), 1)
	if bytes.Equal(tampered, doc) {
		t.Fatal("the signed PDF has no /ID to change")
	}
	h, err := verifyapi.NewHandler(&verifyapi.Options{Roots: func(context.Context) (*x509.CertPool, error) { return roots, nil }, MaxBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := testenv.StartBrowser(t)
	var html []string
	for _, c := range []struct {
		name, query, lang string
		pdf               []byte
	}{
		{"signed-vi", "", "vi", doc},
		{"signed-en", "?lang=en", "en", doc},
		{"tampered-vi", "", "vi", tampered},
	} {
		for _, vp := range []testenv.Viewport{testenv.Phone, testenv.Desktop} {
			t.Run(c.name+"/"+vp.Name, func(t *testing.T) {
				p := b.Open(t, vp, srv.URL+"/verify/v1"+c.query, &testenv.Post{ContentType: "application/pdf", Body: c.pdf})
				if lang := testenv.Act(p, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != c.lang {
					t.Errorf("the report is in %q, want %q", lang, c.lang)
				}
				html = append(html, p.Check(c.name))
			})
		}
	}
	testenv.CheckHTML(t, html...)
}
