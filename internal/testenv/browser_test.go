package testenv_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopBrowser()
	os.Exit(code)
}

const goodPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A good page</title>
<link rel="icon" href="data:,">
</head>
<body>
<main>
<h1>A good page</h1>
<p>Short lines that fit a phone.</p>
</main>
</body>
</html>
`

// badPage breaks each rule Check asserts: an image with no text
// alternative (axe-core's critical image-alt), a request to another
// origin (127.0.0.2, loopback, where nothing listens), a line of text
// wider than its box, and an element HTML does not have.
const badPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>A bad page</title>
<link rel="icon" href="data:,">
</head>
<body>
<main>
<h1>A bad page</h1>
<img src="http://127.0.0.2:9/elsewhere.png">
<p id="wide" style="width: 60px; white-space: nowrap">A line far too long for its narrow box</p>
<blink>x</blink>
</main>
</body>
</html>
`

func server(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, body)
		}
	}
	mux.HandleFunc("GET /good", page(goodPage))
	mux.HandleFunc("GET /bad", page(badPage))
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html><html lang=en><title>echo</title><p id=echo>%s %s %s</p>", r.Method, r.Header.Get("Content-Type"), b)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestCheckPassesAGoodPage(t *testing.T) {
	srv := server(t)
	b := testenv.StartBrowser(t)
	var html []string
	for _, vp := range []testenv.Viewport{testenv.Phone, testenv.Desktop} {
		t.Run(vp.Name, func(t *testing.T) {
			p := b.Open(t, vp, srv.URL+"/good", nil)
			html = append(html, p.Check("good"))
			f, err := os.Open(p.Screenshot("again"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cfg, err := png.DecodeConfig(f)
			if err != nil || int64(cfg.Width) != vp.Width || int64(cfg.Height) < vp.Height {
				t.Errorf("screenshot: %v, %d × %d, want %d wide and at least %d tall", err, cfg.Width, cfg.Height, vp.Width, vp.Height)
			}
		})
	}
	testenv.CheckHTML(t, html...)
}

// TestCheckFindsFaults opens a page with a fault of every kind Check
// looks for and asserts each finder finds its own: the harness's silence
// on good pages means something.
func TestCheckFindsFaults(t *testing.T) {
	srv := server(t)
	p := testenv.StartBrowser(t).Open(t, testenv.Phone, srv.URL+"/bad", nil)
	var ids []string
	for _, v := range p.Axe() {
		ids = append(ids, v.ID)
	}
	if !slices.Contains(ids, "image-alt") {
		t.Errorf("axe did not find the image without alt: %v", ids)
	}
	if f := p.ForeignRequests(); !slices.Contains(f, "http://127.0.0.2:9/elsewhere.png") {
		t.Errorf("foreign requests %v; want the image at 127.0.0.2 (all: %v)", f, p.Requests())
	}
	o := p.Overflows()
	if len(o) != 1 || o[0].Element != "p#wide" || o[0].ScrollWidth <= o[0].Client {
		t.Errorf("overflows: %v; want p#wide alone", o)
	}
	if !bytes.Equal(p.HTML(), []byte(badPage)) {
		t.Errorf("HTML() is not the bytes served:\n%s", p.HTML())
	}
}

func TestOpenPost(t *testing.T) {
	srv := server(t)
	p := testenv.StartBrowser(t).Open(t, testenv.Desktop, srv.URL+"/echo?x=1", &testenv.Post{ContentType: "application/pdf", Body: []byte("%PDF-body")})
	if got := testenv.Act(p, chromedp.Text(chromedp.ID("echo"))); got != "POST application/pdf %PDF-body" {
		t.Errorf("the server saw %q", got)
	}
}

// TestVirtualAuthenticator registers a passkey with user verification
// required and signs in with it, through the page's own WebAuthn API, on
// the virtual authenticator; the authenticator data of both say the user
// was verified (flag UV, bit 2: WebAuthn Level 3 §6.1).
func TestVirtualAuthenticator(t *testing.T) {
	srv := server(t)
	// WebAuthn needs a domain for the relying party's ID; localhost is
	// one, and a secure context over plain HTTP.
	local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	p := testenv.StartBrowser(t).Open(t, testenv.Phone, local+"/good", nil)
	id := p.VirtualAuthenticator()
	flags := testenv.Act(p, chromedp.Evaluate[[]int](`(async () => {
		const c = await navigator.credentials.create({publicKey: {
			challenge: new Uint8Array(32), rp: {id: "localhost", name: "kyso"},
			user: {id: new Uint8Array([1, 2, 3]), name: "079203000077", displayName: "Nguyễn Văn Đức"},
			pubKeyCredParams: [{type: "public-key", alg: -7}],
			authenticatorSelection: {residentKey: "required", userVerification: "required"}}});
		const a = await navigator.credentials.get({publicKey: {
			challenge: new Uint8Array(32), rpId: "localhost", userVerification: "required",
			allowCredentials: [{type: "public-key", id: c.rawId}]}});
		return [new Uint8Array(c.response.getAuthenticatorData())[32], new Uint8Array(a.response.authenticatorData)[32]];
	})()`, chromedp.EvalAwaitPromise))
	if len(flags) != 2 || flags[0]&4 == 0 || flags[1]&4 == 0 {
		t.Errorf("flags of the registration and the assertion: %v, want UV (4) set in both", flags)
	}
	creds := p.Credentials(id)
	if len(creds) != 1 || creds[0].RpID != "localhost" || !creds[0].IsResidentCredential {
		t.Errorf("the authenticator holds %d credentials: %+v", len(creds), creds)
	} else {
		t.Logf("passkey %s", base64.RawURLEncoding.EncodeToString(creds[0].CredentialID))
	}
}
