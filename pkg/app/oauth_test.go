package app_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// redirectURI is the test portal's registered redirect URI, with a query
// of its own that the code must be added to, not replace.
const redirectURI = "https://portal.example/kyso/callback?from=kyso"

// oauthEnv is env with the CSC API beside the app, as kysod serves them,
// and a portal registered for oauth2code.
type oauthEnv struct {
	*env
	portal *csc.Client
	other  *csc.Client
}

func newOAuthEnv(t testing.TB) *oauthEnv {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.Handle("/csc/v2/", csc.NewHandler(e.svc, &csc.Options{ConsentURL: app.ConsentPath, OAuth2URL: "https://kyso.example/csc/v2"}))
	mux.Handle(app.Path, e.app)
	e.srv.Close()
	e.srv = httptest.NewTLSServer(mux)
	t.Cleanup(e.srv.Close)
	o := &oauthEnv{env: e}
	for i, c := range []**csc.Client{&o.portal, &o.other} {
		cred, err := e.svc.CreateClient(ctx, []string{"Cổng Thuế điện tử", "Another portal"}[i], "", "test",
			signing.WithRedirectURIs(redirectURI, "http://localhost:8080/cb"))
		if err != nil {
			t.Fatal(err)
		}
		*c = &csc.Client{BaseURL: e.srv.URL + "/csc/v2", ClientID: cred.ID, ClientSecret: cred.Secret, HTTPClient: e.srv.Client()}
	}
	return o
}

// consent runs the owner's side in b: open the authorize URL, follow to
// the consent page (logging in on the way when b has no session), read
// it, and decide; it returns the page shown and the redirect's URL.
func (o *oauthEnv) consent(t *testing.T, b *browser, authorize string, en *signing.Enrolment, approve bool) (string, *url.URL) {
	t.Helper()
	loc := strings.TrimPrefix(authorize, o.srv.URL)
	var status int
	for range 5 {
		resp, err := b.c.Get(o.srv.URL + loc)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b.last, status = string(raw), resp.StatusCode
		if status != http.StatusSeeOther {
			break
		}
		loc = resp.Header.Get("Location")
		if strings.HasPrefix(loc, "/app/login?") {
			b.get(loc)
			next := regexpNext(t, b.last)
			st, to, body := b.post("/app/login", url.Values{"csrf": {b.csrf()}, "cccd": {strings.TrimPrefix(en.NationalID, "CCCD:")},
				"pin": {pin}, "otp": {o.otp(t, en)}, "next": {next}})
			if st != http.StatusSeeOther || to != next {
				t.Fatalf("login on the way: HTTP %d to %q:\n%s", st, to, body)
			}
			loc = to
		}
	}
	if status != http.StatusOK || !strings.Contains(b.last, `action="/app/oauth2/consent"`) {
		t.Fatalf("the consent page: HTTP %d:\n%s", status, b.last)
	}
	page := b.last
	q := regexpField(t, page, "q")
	form := url.Values{"csrf": {b.csrf()}, "q": {q}, "decision": {"reject"}}
	if approve {
		form.Set("decision", "approve")
		form.Set("pin", pin)
		form.Set("otp", o.otp(t, en))
	}
	st, to, body := b.post(app.ConsentPath, form)
	if st != http.StatusSeeOther {
		t.Fatalf("the decision: HTTP %d:\n%s", st, body)
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	return page, u
}

func regexpField(t *testing.T, page, name string) string {
	t.Helper()
	i := strings.Index(page, `name="`+name+`" value="`)
	if i < 0 {
		t.Fatalf("no field %s in:\n%s", name, page)
	}
	v := page[i+len(`name="`+name+`" value="`):]
	v = v[:strings.IndexByte(v, '"')]
	return htmlUnescape(v)
}

func regexpNext(t *testing.T, page string) string { return regexpField(t, page, "next") }

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#39;", "'", "&#34;", `"`, "&lt;", "<", "&gt;", ">").Replace(s)
}

// TestOAuth2CodeDance: a portal sends the owner's browser to
// oauth2/authorize with scope credential and two hashes; the owner logs
// in on the way, reads the consent page (the portal's registered name,
// the hostile description inert, each hash's fingerprint, the number of
// signatures) and approves with PIN and code; the browser returns to the
// registered redirect URI with a code and the state untouched; the
// portal exchanges the code with its PKCE verifier for a token that is
// the SAD for exactly those hashes; signHash with it signs, and the
// signatures verify with the owner's certificate.
func TestOAuth2CodeDance(t *testing.T) {
	o := newOAuthEnv(t)
	ctx := context.Background()
	d1, d2 := sha256.Sum256([]byte("tờ khai thuế 1")), sha256.Sum256([]byte("tờ khai thuế 2"))
	hashes := [][]byte{d1[:], d2[:]}
	verifier, challenge := csc.NewPKCE()
	const state = "xyz/ä+&=?<b>"
	const desc = `Tờ khai <script>alert(1)</script> & "thuế" <img src=x onerror=alert(2)>`
	authorize := o.portal.AuthorizeURL(&csc.OAuthRequest{RedirectURI: redirectURI, State: state, Challenge: challenge,
		CredentialID: o.citizen.CredentialID, Hashes: hashes, Description: desc})
	b := o.browser(t)
	page, back := o.consent(t, b, authorize, o.citizen, true)
	for _, want := range []string{"Cổng Thuế điện tử", "Tờ khai &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;thuế&#34; &lt;img src=x onerror=alert(2)&gt;",
		fingerprintOf(d1[:]), fingerprintOf(d2[:]), `<dd class="count">2</dd>`, "https://portal.example"} {
		if !strings.Contains(page, want) {
			t.Errorf("the consent page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
		t.Errorf("the description is not inert:\n%s", page)
	}
	if back.Scheme+"://"+back.Host+back.Path != "https://portal.example/kyso/callback" || back.Query().Get("from") != "kyso" {
		t.Fatalf("redirected to %v, want the registered URI with its own query kept", back)
	}
	if got := back.Query().Get("state"); got != state {
		t.Fatalf("state = %q, want %q untouched", got, state)
	}
	code := back.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %v", back)
	}
	tr, err := o.portal.ExchangeCode(ctx, code, verifier, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Scope != "credential" || tr.CredentialID != o.citizen.CredentialID || tr.ExpiresIn <= 0 {
		t.Fatalf("token response %+v", tr)
	}
	// Another client may not spend the SAD, nor may other hashes.
	if _, err := o.other.SignHash(ctx, o.citizen.CredentialID, tr.AccessToken, hashes, crypto.SHA256, ""); err == nil {
		t.Fatal("another client signed with the SAD")
	}
	if _, err := o.portal.SignHash(ctx, o.citizen.CredentialID, tr.AccessToken, [][]byte{d2[:], d1[:]}, crypto.SHA256, ""); err == nil {
		t.Fatal("the SAD signed the hashes in another order")
	}
	// The token is the bearer and the SAD at once (CSC section 8.3.3):
	// no SAD in the body.
	sigs := signHashBearer(t, o, tr.AccessToken, hashes)
	pub := o.citizen.Certificate.PublicKey.(*ecdsa.PublicKey)
	for i, s := range sigs {
		if !ecdsa.VerifyASN1(pub, hashes[i], s) {
			t.Errorf("signature %d does not verify", i+1)
		}
	}
	// Spent: the SAD signs no more.
	if _, err := o.portal.SignHash(ctx, o.citizen.CredentialID, tr.AccessToken, hashes, crypto.SHA256, ""); err == nil {
		t.Fatal("the SAD signed twice")
	}
}

// signHashBearer calls signHash with tok as the bearer token and no SAD.
func signHashBearer(t *testing.T, o *oauthEnv, tok string, hashes [][]byte) [][]byte {
	t.Helper()
	var in csc.SignHashRequest
	in.CredentialID = o.citizen.CredentialID
	for _, h := range hashes {
		in.Hashes = append(in.Hashes, b64(h))
	}
	in.SignAlgo = "1.2.840.10045.4.3.2"
	body, _ := json.Marshal(&in)
	req, _ := http.NewRequest(http.MethodPost, o.srv.URL+"/csc/v2/signatures/signHash", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := o.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signHash with the oauth2code token: HTTP %d %s", resp.StatusCode, raw)
	}
	var out csc.SignHashResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	var sigs [][]byte
	for _, s := range out.Signatures {
		sigs = append(sigs, unb64(t, s))
	}
	return sigs
}

// TestOAuth2CodeAttacks: the code is good once, for its client, its
// redirect URI, its verifier, within a minute; a request is checked
// before anything is shown and an unregistered redirect URI is never
// followed; the consent form needs the page's CSRF token; a refusal
// returns access_denied with the state.
func TestOAuth2CodeAttacks(t *testing.T) {
	o := newOAuthEnv(t)
	ctx := context.Background()
	d := sha256.Sum256([]byte("hoá đơn"))
	newCode := func(t *testing.T) (code, verifier string) {
		t.Helper()
		verifier, challenge := csc.NewPKCE()
		_, back := o.consent(t, o.browser(t), o.portal.AuthorizeURL(&csc.OAuthRequest{RedirectURI: redirectURI, State: "s",
			Challenge: challenge, CredentialID: o.citizen.CredentialID, Hashes: [][]byte{d[:]}}), o.citizen, true)
		if code = back.Query().Get("code"); code == "" {
			t.Fatalf("no code: %v", back)
		}
		return code, verifier
	}
	// ask is the authorize URL of a request to sign d with the
	// citizen's credential, and its query alone.
	ask := func(uri, state string) (authorize, query string) {
		_, challenge := csc.NewPKCE()
		authorize = o.portal.AuthorizeURL(&csc.OAuthRequest{RedirectURI: uri, State: state, Challenge: challenge,
			CredentialID: o.citizen.CredentialID, Hashes: [][]byte{d[:]}})
		return authorize, strings.SplitN(authorize, "?", 2)[1]
	}
	invalidGrant := func(t *testing.T, what string, err error) {
		t.Helper()
		var ae *csc.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Body.Error != "invalid_grant" {
			t.Fatalf("%s: %v, want 400 invalid_grant", what, err)
		}
	}
	t.Run("replayed", func(t *testing.T) {
		code, v := newCode(t)
		if _, err := o.portal.ExchangeCode(ctx, code, v, redirectURI); err != nil {
			t.Fatal(err)
		}
		_, err := o.portal.ExchangeCode(ctx, code, v, redirectURI)
		invalidGrant(t, "the code again", err)
	})
	for _, c := range []struct {
		name      string
		exchange  func(code, v string) error
		burnsCode bool
	}{
		{"another client", func(code, v string) error { _, err := o.other.ExchangeCode(ctx, code, v, redirectURI); return err }, true},
		{"wrong verifier", func(code, v string) error {
			w, _ := csc.NewPKCE()
			_, err := o.portal.ExchangeCode(ctx, code, w, redirectURI)
			return err
		}, true},
		{"no verifier", func(code, v string) error { _, err := o.portal.ExchangeCode(ctx, code, "", redirectURI); return err }, true},
		{"another redirect URI", func(code, v string) error {
			_, err := o.portal.ExchangeCode(ctx, code, v, "http://localhost:8080/cb")
			return err
		}, true},
		{"expired", func(code, v string) error {
			o.now.Add(int64(signing.CodeLifetime + time.Second))
			_, err := o.portal.ExchangeCode(ctx, code, v, redirectURI)
			return err
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, v := newCode(t)
			invalidGrant(t, c.name, c.exchange(code, v))
			// A code refused once is gone: the right exchange fails too.
			_, err := o.portal.ExchangeCode(ctx, code, v, redirectURI)
			invalidGrant(t, "the right exchange after "+c.name, err)
		})
	}
	t.Run("wrong client secret", func(t *testing.T) {
		code, v := newCode(t)
		bad := &csc.Client{BaseURL: o.portal.BaseURL, ClientID: o.portal.ClientID, ClientSecret: "not-the-secret", HTTPClient: o.portal.HTTPClient}
		var ae *csc.APIError
		if _, err := bad.ExchangeCode(ctx, code, v, redirectURI); !errors.As(err, &ae) || ae.Body.Error != "invalid_client" {
			t.Fatalf("wrong secret: %v", err)
		}
		if _, err := o.portal.ExchangeCode(ctx, code, v, redirectURI); err != nil {
			t.Fatalf("the client's own exchange after an unauthenticated attempt: %v", err)
		}
	})
	t.Run("open redirect", func(t *testing.T) {
		for _, uri := range []string{"https://evil.example/cb", "https://portal.example/kyso/callback", redirectURI + "&x=1",
			"https://portal.example/kyso/callback?from=kyso#frag", "//evil.example"} {
			authorize, query := ask(uri, "s")
			resp, err := o.srv.Client().Get(authorize)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Request.URL.Path != "/csc/v2/oauth2/authorize" ||
				!strings.Contains(string(body), "redirect_uri") {
				t.Errorf("redirect_uri %q: HTTP %d at %s: %s", uri, resp.StatusCode, resp.Request.URL, body)
			}
			// The consent page checks it again, whoever links to it.
			b := o.browser(t)
			b.login(o.citizen)
			if st, _ := b.get(app.ConsentPath + "?" + query); st != http.StatusBadRequest {
				t.Errorf("the consent page with redirect_uri %q: HTTP %d", uri, st)
			}
		}
	})
	t.Run("checked before shown", func(t *testing.T) {
		base, _ := ask(redirectURI, "s")
		for name, edit := range map[string]func(url.Values){
			"no PKCE":            func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") },
			"plain PKCE":         func(q url.Values) { q.Set("code_challenge_method", "plain") },
			"unknown client":     func(q url.Values) { q.Set("client_id", "nobody") },
			"unknown credential": func(q url.Values) { q.Set("credentialID", "cred-none") },
			"wrong count":        func(q url.Values) { q.Set("numSignatures", "2") },
			"short hash":         func(q url.Values) { q.Set("hashes", "AAAA") },
			"bidi description":   func(q url.Values) { q.Set("description", "abc\u202Egpj.exe") },
			"token response":     func(q url.Values) { q.Set("response_type", "token") },
			"two redirect URIs":  func(q url.Values) { q.Add("redirect_uri", "https://evil.example/") },
		} {
			u, _ := url.Parse(base)
			q := u.Query()
			edit(q)
			u.RawQuery = q.Encode()
			resp, err := o.srv.Client().Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Request.URL.Path != "/csc/v2/oauth2/authorize" {
				t.Errorf("%s: HTTP %d at %s, want 400 at oauth2/authorize", name, resp.StatusCode, resp.Request.URL)
			}
		}
	})
	t.Run("another owner's credential", func(t *testing.T) {
		_, q := ask(redirectURI, "s")
		b := o.browser(t)
		b.login(o.neighbor)
		if st, body := b.get(app.ConsentPath + "?" + q); st != http.StatusNotFound {
			t.Fatalf("the neighbour sees the citizen's request: HTTP %d\n%s", st, body)
		}
	})
	t.Run("consent CSRF", func(t *testing.T) {
		_, q := ask(redirectURI, "s")
		b := o.browser(t)
		b.login(o.citizen)
		b.get(app.ConsentPath + "?" + q)
		token := b.csrf()
		form := url.Values{"q": {q}, "decision": {"approve"}, "pin": {pin}, "otp": {o.otp(t, o.citizen)}}
		for name, post := range map[string]func() (int, string, string){
			"no token": func() (int, string, string) { return b.post(app.ConsentPath, form) },
			"wrong token": func() (int, string, string) {
				f := url.Values{"csrf": {strings.Repeat("A", 43)}}
				for k, v := range form {
					f[k] = v
				}
				return b.post(app.ConsentPath, f)
			},
			"another site": func() (int, string, string) {
				f := url.Values{"csrf": {token}}
				for k, v := range form {
					f[k] = v
				}
				return b.postFrom(app.ConsentPath, f, "https://portal.example", "cross-site")
			},
		} {
			if st, loc, _ := post(); st != http.StatusForbidden || loc != "" {
				t.Errorf("%s: HTTP %d to %q, want 403", name, st, loc)
			}
		}
	})
	t.Run("rejected", func(t *testing.T) {
		authorize, _ := ask(redirectURI, "st&ate=1")
		_, back := o.consent(t, o.browser(t), authorize, o.citizen, false)
		if back.Query().Get("error") != "access_denied" || back.Query().Get("state") != "st&ate=1" || back.Query().Get("code") != "" {
			t.Fatalf("after a refusal: %v", back)
		}
	})
	t.Run("wrong factors", func(t *testing.T) {
		_, q := ask(redirectURI, "")
		b := o.browser(t)
		b.login(o.citizen)
		b.get(app.ConsentPath + "?" + q)
		st, loc, _ := b.post(app.ConsentPath, url.Values{"csrf": {b.csrf()}, "q": {q}, "decision": {"approve"}, "pin": {"000000"},
			"otp": {o.otp(t, o.citizen)}})
		if st != http.StatusForbidden || loc != "" {
			t.Fatalf("wrong PIN: HTTP %d to %q", st, loc)
		}
	})
}

// TestOAuth2CodeService: scope service gives a service token, and info
// and credentials/info say what oauth2code is offered to whom.
func TestOAuth2CodeService(t *testing.T) {
	o := newOAuthEnv(t)
	ctx := context.Background()
	verifier, challenge := csc.NewPKCE()
	page, back := o.consent(t, o.browser(t), o.portal.AuthorizeURL(&csc.OAuthRequest{RedirectURI: "http://localhost:8080/cb", State: "1",
		Challenge: challenge}), o.citizen, true)
	if !strings.Contains(page, `class="scope"`) {
		t.Errorf("the consent page does not say what scope service allows:\n%s", page)
	}
	tr, err := o.portal.ExchangeCode(ctx, back.Query().Get("code"), verifier, "http://localhost:8080/cb")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Scope != "service" || tr.AccessToken == "" {
		t.Fatalf("token response %+v", tr)
	}
	// The token acts for the owner who consented (a user-specific
	// service authorization): credentials/list without userID lists
	// theirs, and a userID is refused.
	list := func(tok, body string) (int, csc.ListResponse) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, o.srv.URL+"/csc/v2/credentials/list", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := o.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var lr csc.ListResponse
		json.NewDecoder(resp.Body).Decode(&lr)
		return resp.StatusCode, lr
	}
	if st, lr := list(tr.AccessToken, `{}`); st != http.StatusOK || len(lr.CredentialIDs) != 1 || lr.CredentialIDs[0] != o.citizen.CredentialID {
		t.Errorf("credentials/list with the consent's token: HTTP %d, %v; want the citizen's one credential", st, lr.CredentialIDs)
	}
	if st, _ := list(tr.AccessToken, `{"userID":"`+o.citizen.NationalID+`"}`); st != http.StatusBadRequest {
		t.Errorf("credentials/list with the consent's token and a userID: HTTP %d, want 400", st)
	}
	own, err := o.portal.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, lr := list(own, `{}`); st != http.StatusOK || len(lr.CredentialIDs) != 0 {
		t.Errorf("credentials/list with the portal's own token: HTTP %d, %v; want none", st, lr.CredentialIDs)
	}
	var info csc.InfoResponse
	resp, err := o.srv.Client().Get(o.srv.URL + "/csc/v2/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(info.AuthType, " "), "oauth2code") || info.OAuth2 != "https://kyso.example/csc/v2" ||
		!strings.Contains(strings.Join(info.Methods, " "), "oauth2/authorize") {
		t.Errorf("info = %+v", info)
	}
	ci, err := o.portal.CredentialInfo(ctx, o.citizen.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	if ci.Auth == nil || ci.Auth.Mode != "oauth2code" {
		t.Errorf("credentials/info for a client with redirect URIs: auth %+v, want mode oauth2code", ci.Auth)
	}
	plain := &csc.Client{BaseURL: o.portal.BaseURL, ClientID: o.client.ID, ClientSecret: o.client.Secret, HTTPClient: o.portal.HTTPClient}
	if ci, err := plain.CredentialInfo(ctx, o.citizen.CredentialID); err != nil || ci.Auth == nil || ci.Auth.Mode != "explicit" {
		t.Errorf("credentials/info for a client without: %+v, %v; want mode explicit", ci, err)
	}
}

func fingerprintOf(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%2 == 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02X", c)
	}
	return sb.String()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
