package verifyapi_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/verifyapi"
)

// signedPDF signs a one-page PDF with a citizen's certificate from a
// throwaway CA, and has pdfsig confirm the signature.
func signedPDF(t *testing.T) ([]byte, *x509.CertPool) {
	t.Helper()
	ctx := context.Background()
	p, err := catest.New(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cert, key, err := p.Citizen(ctx, "api-1", hsm.ECDSAP256, "079203000077")
	if err != nil {
		t.Fatal(err)
	}
	chain, err := p.CA.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := testpdf.Minimal("")
	var out bytes.Buffer
	// The test is about validation; pkg/signercheck has its own.
	if err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, key, cert, chain, &pades.SignOptions{Options: pades.Options{SkipSignerCheck: true}}); err != nil {
		t.Fatal(err)
	}
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	path := filepath.Join(t.TempDir(), "signed.pdf")
	os.WriteFile(path, out.Bytes(), 0o600)
	if o, e, _ := testenv.Run(exec.Command(pdfsig, "-nocert", path)); !strings.Contains(o, "Signature Validation: Signature is Valid.") {
		t.Fatalf("pdfsig does not find the signature valid:\n%s\nstderr: %s", o, e)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.Hierarchy.Root)
	return out.Bytes(), roots
}

func post(t *testing.T, h http.Handler, method, target, ctype, accept string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestVerifyAPI(t *testing.T) {
	doc, roots := signedPDF(t)
	h, err := verifyapi.NewHandler(&verifyapi.Options{Roots: func(context.Context) (*x509.CertPool, error) { return roots, nil }, MaxBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("json, Vietnamese by default", func(t *testing.T) {
		w := post(t, h, "POST", "/verify/v1", "application/pdf", "", doc)
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d %s\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		var rep struct {
			Valid      bool `json:"valid"`
			Signatures []struct {
				Indication    string                `json:"indication"`
				SubIndication string                `json:"sub_indication"`
				Signer        struct{ CCCD string } `json:"signer"`
				Display       struct {
					StatusText        string `json:"status_text"`
					RevocationWarning string `json:"revocation_warning"`
				} `json:"display"`
			} `json:"signatures"`
			Display struct{ Lang string } `json:"display"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		// Offline, B-B: the revocation status cannot be checked.
		s := rep.Signatures[0]
		if rep.Display.Lang != "vi" || s.Indication != "INDETERMINATE" || s.SubIndication != "TRY_LATER" || s.Signer.CCCD != "079203000077" ||
			s.Display.StatusText != "Không xác định được tính hợp lệ của chữ ký" ||
			!strings.HasPrefix(s.Display.RevocationWarning, "Cảnh báo: không kiểm tra được trạng thái thu hồi của chứng thư số") {
			t.Errorf("report: %s", w.Body)
		}
	})
	t.Run("html in English", func(t *testing.T) {
		w := post(t, h, "POST", "/verify/v1?lang=en", "application/pdf", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", doc)
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(w.Body.String(), `<html lang="en">`) ||
			!strings.Contains(w.Body.String(), "Warning: the revocation status of the certificate could not be checked") {
			t.Errorf("%d %s\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	})
	for _, c := range []struct {
		name, method, target, ctype string
		body                        []byte
		code                        int
		want                        string
	}{
		{"GET", "GET", "/verify/v1", "", nil, 405, "POST"},
		{"not a PDF type", "POST", "/verify/v1", "application/json", doc, 415, "application/pdf"},
		{"bad lang", "POST", "/verify/v1?lang=fr", "application/pdf", doc, 400, "vi hoặc en"},
		{"empty", "POST", "/verify/v1", "application/pdf", nil, 400, "trống"},
		{"not a PDF", "POST", "/verify/v1?lang=en", "application/pdf", []byte("hello"), 400, "cannot be read"},
		{"unsigned", "POST", "/verify/v1", "application/pdf", testpdf.Minimal(""), 400, "không có chữ ký"},
		{"too big", "POST", "/verify/v1", "application/pdf", make([]byte, 1<<20+1), 413, "giới hạn"},
		{"other path", "POST", "/verify/v1/x", "application/pdf", doc, 404, "/verify/v1/x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := post(t, h, c.method, c.target, c.ctype, "", c.body)
			var e verifyapi.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != c.code || !strings.Contains(e.Description, c.want) {
				t.Errorf("%d %s, want %d with %q", w.Code, w.Body, c.code, c.want)
			}
		})
	}
}

// TestVerifyAPIBounds: a validation past the time limit, and one more than
// the concurrency limit, get 503.
func TestVerifyAPIBounds(t *testing.T) {
	doc, roots := signedPDF(t)
	release := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(1)
	h, err := verifyapi.NewHandler(&verifyapi.Options{MaxConcurrent: 1, Timeout: 50 * time.Millisecond,
		Roots: func(ctx context.Context) (*x509.CertPool, error) {
			entered.Done()
			<-release
			<-ctx.Done() // past the deadline by the time Verify starts
			return roots, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- post(t, h, "POST", "/verify/v1?lang=en", "application/pdf", "", doc) }()
	entered.Wait()
	busy := post(t, h, "POST", "/verify/v1", "application/pdf", "", doc)
	if busy.Code != 503 || busy.Header().Get("Retry-After") == "" {
		t.Errorf("second request while the first runs: %d %s", busy.Code, busy.Body)
	}
	close(release)
	w := <-first
	body, _ := io.ReadAll(w.Body)
	if w.Code != 503 || !strings.Contains(string(body), "longer than the limit") {
		t.Errorf("over time: %d %s", w.Code, body)
	}
}
