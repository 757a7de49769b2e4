package verifyapi_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/verifyapi"
)

// FuzzVerify posts arbitrary PDFs, seeded with one signed PDF whose reason
// and location hold an ESC sequence, a newline and a right-to-left
// override, in either language and asking for JSON or HTML. The API
// never answers 500; an error is a JSON object with nothing display.Text
// refuses; a report's presentation ("display", the HTML page) carries
// none of the PDF's control, bidirectional or invisible characters,
// whatever the PDF holds.
func FuzzVerify(f *testing.F) {
	ctx := context.Background()
	p, err := catest.New(ctx, f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })
	cert, key, err := p.Citizen(ctx, "fuzz-1", hsm.ECDSAP256, "079203000078")
	if err != nil {
		f.Fatal(err)
	}
	chain, err := p.CA.Chain(ctx)
	if err != nil {
		f.Fatal(err)
	}
	in := testpdf.Minimal("")
	var signed bytes.Buffer
	if err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &signed, key, cert, chain, &pades.SignOptions{Options: pades.Options{
		SkipSignerCheck: true, Reason: "Đồng ý\x1b[2J\nChữ ký hợp lệ", Location: "Hà Nội\u202efdp.exe"}}); err != nil {
		f.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.Hierarchy.Root)
	h, err := verifyapi.NewHandler(&verifyapi.Options{Roots: func(context.Context) (*x509.CertPool, error) { return roots, nil }, MaxBody: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range [][]byte{signed.Bytes(), in, []byte("%PDF-1.7\n"), nil} {
		for lang := range uint8(3) {
			f.Add(b, lang, false)
			f.Add(b, lang, true)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, lang uint8, html bool) {
		target := verifyapi.Path + []string{"", "?lang=vi", "?lang=en", "?lang=xx"}[lang%4]
		accept := "application/json"
		if html {
			accept = "text/html"
		}
		w := post(t, h, http.MethodPost, target, "application/pdf", accept, body)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("HTTP %d: %s", w.Code, w.Body.Bytes())
		}
		if w.Code != http.StatusOK {
			httpedgetest.Answer(t, w.Code, w.Body.Bytes())
			return
		}
		if html {
			if i := strings.IndexFunc(w.Body.String(), func(r rune) bool {
				return r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r >= 0x200b && r <= 0x200f
			}); i >= 0 {
				t.Fatalf("the HTML report holds %q at %d", w.Body.String()[i:min(i+8, w.Body.Len())], i)
			}
			return
		}
		var rep struct {
			Display    json.RawMessage `json:"display"`
			Signatures []struct {
				Display json.RawMessage `json:"display"`
			} `json:"signatures"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
			t.Fatalf("not a JSON report: %v", err)
		}
		shown := []json.RawMessage{rep.Display}
		for _, s := range rep.Signatures {
			shown = append(shown, s.Display)
		}
		b, _ := json.Marshal(map[string]any{"display": shown})
		httpedgetest.Answer(t, w.Code, b)
	})
}
