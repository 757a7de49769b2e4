package csc_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/verify"
)

type env struct {
	p      *catest.PKI
	svc    *signing.Service
	ts     *httptest.Server
	pki    *servertest.Served
	client *csc.Client
	cred   *signing.Enrolment
	clock  *signingtest.Clock
}

// newEnv serves the CSC API over TLS for a throwaway CA with one enrolled
// citizen and one relying party. realClock uses time.Now (for pyHanko,
// which computes codes itself); otherwise the service's clock moves 30
// seconds for each code asked for, so every code is fresh.
func newEnv(t testing.TB, alg hsm.Algorithm, realClock bool) *env {
	t.Helper()
	ctx := context.Background()
	p := signingtest.NewPKI(t)
	e := &env{p: p, clock: signingtest.NewClock(time.Now())}
	cfg := signingtest.Config(nil)
	if !realClock {
		cfg.Now = e.clock.Now
	}
	// The pre-signing check, for real: OCSP from the served CA.
	e.pki, cfg.SignerCheck = signingtest.ServePKI(t, p)
	cfg.SkipSignerCheck = false
	cfg.Timestamp = pades.TSAServer(e.pki.PKI.TSA())
	cfg.LTV = &pades.LTVOptions{Roots: cfg.SignerCheck.Roots, Revocation: &revocation.Fetcher{Client: e.pki.Client}}
	e.svc = signingtest.NewService(t, p, cfg)
	e.ts = httptest.NewTLSServer(csc.NewHandler(e.svc, nil))
	t.Cleanup(e.ts.Close)
	var err error
	if e.cred, err = e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "079203001234", Name: "Nguyễn Văn Đức", Province: "Hà Nội", PIN: "246810", Algorithm: alg}); err != nil {
		t.Fatal(err)
	}
	cl, err := e.svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	e.client = &csc.Client{BaseURL: e.ts.URL + "/csc/v2", ClientID: cl.ID, ClientSecret: cl.Secret, HTTPClient: e.ts.Client()}
	return e
}

// factors answers as the owner's phone does: the PIN and a fresh code.
func (e *env) factors(ctx context.Context) (string, string, error) {
	e.clock.Advance(30 * time.Second)
	code, err := signing.TOTPCode(e.cred.TOTPURI, e.clock.Now())
	return "246810", code, err
}

// TestRemoteSigner signs a PDF with pades.Sign through the CSC API —
// hash-only, the document stays here — and validates it.
func TestRemoteSigner(t *testing.T) {
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			e := newEnv(t, alg, false)
			ctx := context.Background()
			s, err := csc.NewSigner(ctx, e.client, e.cred.CredentialID, e.factors)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Chain) != 2 || !s.Certificate.Equal(e.cred.Certificate) {
				t.Fatalf("credential chain: %d CA certificates", len(s.Chain))
			}
			in := testpdf.Minimal("To khai")
			var out bytes.Buffer
			if err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, s, s.Certificate, s.Chain, &pades.SignOptions{Options: pades.Options{SkipSignerCheck: true}}); err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(e.p.Hierarchy.Root)
			rep, err := verify.Verify(ctx, bytes.NewReader(out.Bytes()), int64(out.Len()), &verify.Options{Roots: roots, Fetcher: &revocation.Fetcher{Client: e.pki.Client}})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Valid || rep.Signatures[0].Signer.CCCD != "079203001234" {
				var b strings.Builder
				rep.WriteText(&b, "signed.pdf")
				t.Fatalf("the remotely signed PDF does not validate:\n%s", b.String())
			}
			pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
			path := filepath.Join(t.TempDir(), "signed.pdf")
			os.WriteFile(path, out.Bytes(), 0o644)
			if o, e, _ := testenv.Run(exec.Command(pdfsig, "-no-ocsp", path)); !strings.Contains(o, "Signature is Valid.") {
				t.Errorf("pdfsig:\n%s\nstderr: %s", o, e)
			}
		})
	}
}

// TestSignDoc: the owner authorises the digests of two PDFs; kyso signs
// them at B-B and B-LTA; another document under the same SAD is refused.
func TestSignDoc(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	ctx := context.Background()
	roots := x509.NewCertPool()
	roots.AddCert(e.p.Hierarchy.Root)
	for _, level := range []string{"AdES-B-B", "AdES-B-LTA"} {
		a, b := testpdf.Minimal("To khai"), append(testpdf.Minimal("To khai"), []byte("% a second form\n")...)
		da, db := sha256.Sum256(a), sha256.Sum256(b)
		pin, otp, _ := e.factors(ctx)
		sad, err := e.client.Authorize(ctx, e.cred.CredentialID, [][]byte{da[:], db[:]}, crypto.SHA256, pin, otp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.SignDoc(ctx, e.cred.CredentialID, sad, [][]byte{a, append(bytes.Clone(b), ' ')}, level); err == nil {
			t.Fatal("a document other than the ones authorised was signed")
		}
		signed, err := e.client.SignDoc(ctx, e.cred.CredentialID, sad, [][]byte{a, b}, level)
		if err != nil {
			t.Fatalf("%s: %v", level, err)
		}
		want := map[string]string{"AdES-B-B": verify.LevelBB, "AdES-B-LTA": verify.LevelLTA}[level]
		for i, doc := range signed {
			opts := &verify.Options{Roots: roots}
			if level == "AdES-B-B" {
				opts.Fetcher = &revocation.Fetcher{Client: e.pki.Client}
			}
			rep, err := verify.Verify(ctx, bytes.NewReader(doc), int64(len(doc)), opts)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Valid || rep.Signatures[0].Level != want {
				var w strings.Builder
				rep.WriteText(&w, "signed.pdf")
				t.Fatalf("%s document %d: want valid at %s:\n%s", level, i+1, want, w.String())
			}
		}
		if _, err := e.client.SignDoc(ctx, e.cred.CredentialID, sad, [][]byte{a, b}, level); err == nil || !strings.Contains(err.Error(), "already used") {
			t.Fatalf("the SAD signed twice: %v", err)
		}
	}
}

// TestMutualTLS: a relying party registered with a TLS client certificate
// gets a token by presenting it, without a secret (RFC 8705); another
// certificate gets none.
func TestMutualTLS(t *testing.T) {
	m := newMTLS(t)
	token := func(c tls.Certificate) (int, string) {
		resp, err := m.http(c).Post(m.ts.URL+"/csc/v2/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials&client_id="+m.clientID))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if st, body := token(m.good); st != 200 || !strings.Contains(body, "access_token") {
		t.Fatalf("with the bound certificate: %d %s", st, body)
	}
	if st, body := token(m.other); st != 401 || !strings.Contains(body, "invalid_client") {
		t.Fatalf("with another certificate: %d %s", st, body)
	}
}

// TestMutualTLSCodeExchange: a relying party that authenticates by its
// TLS certificate exchanges an oauth2code code with it (no secret), and
// the SAD token it gets is bound to that certificate (cnf x5t#S256): it
// signs on a connection presenting the certificate, not on one with
// another; another certificate cannot exchange the client's code.
func TestMutualTLSCodeExchange(t *testing.T) {
	ctx := context.Background()
	m := newMTLS(t)
	// A certificate of its own: newMTLS bound good to another client.
	m.good = newClientCert(t, "portal")
	const redirect = "https://portal.example/cb"
	cl, err := m.svc.CreateClient(ctx, "Cổng mTLS oauth2code", "", "test", signing.WithCertificate(m.good.Certificate[0]), signing.WithRedirectURIs(redirect))
	if err != nil {
		t.Fatal(err)
	}
	m.ts.Config.Handler = csc.NewHandler(m.svc, &csc.Options{ConsentURL: "/app/oauth2/consent"})
	digest := sha256.Sum256([]byte("tờ khai"))
	code := func() (string, string) {
		t.Helper()
		verifier, challenge := csc.NewPKCE()
		pin, otp, err := m.factors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := m.svc.ApproveOAuth(ctx, m.cred.OwnerID, &signing.OAuthRequest{ClientID: cl.ID, RedirectURI: redirect, CodeChallenge: challenge,
			Scope: signing.ScopeCredential, CredentialID: m.cred.CredentialID, NumSignatures: 1, Hashes: [][]byte{digest[:]},
			HashAlgorithm: crypto.SHA256, Description: "Tờ khai"}, pin, otp)
		if err != nil {
			t.Fatal(err)
		}
		return c, verifier
	}
	exchange := func(cert tls.Certificate, c, verifier string) (int, csc.TokenResponse) {
		t.Helper()
		form := url.Values{"grant_type": {"authorization_code"}, "client_id": {cl.ID}, "code": {c}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
		resp, err := m.http(cert).PostForm(m.ts.URL+"/csc/v2/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tr csc.TokenResponse
		json.NewDecoder(resp.Body).Decode(&tr)
		return resp.StatusCode, tr
	}
	signHash := func(cert tls.Certificate, tok string) int {
		t.Helper()
		body, _ := json.Marshal(&csc.SignHashRequest{CredentialID: m.cred.CredentialID, Hashes: []string{base64.StdEncoding.EncodeToString(digest[:])},
			HashAlgorithmOID: "2.16.840.1.101.3.4.2.1", SignAlgo: "1.2.840.10045.4.3.2"})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.ts.URL+"/csc/v2/signatures/signHash", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := m.http(cert).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	c, verifier := code()
	st, tr := exchange(m.good, c, verifier)
	if st != http.StatusOK || tr.Scope != "credential" || tr.Cnf == nil || tr.Cnf.X5tS256 != signing.CertThumbprint(m.good.Certificate[0]) {
		t.Fatalf("exchange with the bound certificate: HTTP %d, %+v", st, tr)
	}
	if st := signHash(m.other, tr.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("signHash with the SAD token on another certificate's connection: HTTP %d, want 401", st)
	}
	if st := signHash(m.good, tr.AccessToken); st != http.StatusOK {
		t.Errorf("signHash with the SAD token on the bound certificate's connection: HTTP %d, want 200", st)
	}
	c, verifier = code()
	if st, tr := exchange(m.other, c, verifier); st != http.StatusUnauthorized || tr.AccessToken != "" {
		t.Errorf("exchange with another certificate: HTTP %d, %+v; want 401", st, tr)
	}
}

// mtls is the CSC API served over TLS that asks for a client certificate,
// with a relying party bound to the certificate good; other is another.
type mtls struct {
	*env
	ts          *httptest.Server
	clientID    string
	good, other tls.Certificate
}

func newMTLS(t *testing.T) *mtls {
	t.Helper()
	m := &mtls{env: newEnv(t, hsm.ECDSAP256, false), good: newClientCert(t, "portal"), other: newClientCert(t, "portal")}
	cl, err := m.svc.CreateClient(context.Background(), "Cổng mTLS", "", "test", signing.WithCertificate(m.good.Certificate[0]))
	if err != nil {
		t.Fatal(err)
	}
	m.clientID = cl.ID
	m.ts = httptest.NewUnstartedServer(csc.NewHandler(m.svc, nil))
	m.ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	m.ts.StartTLS()
	t.Cleanup(m.ts.Close)
	return m
}

// http returns a client that presents certs; each has connections of its
// own, so none is reused across certificates.
func (m *mtls) http(certs ...tls.Certificate) *http.Client {
	tr := m.ts.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = certs
	return &http.Client{Transport: tr}
}

// TestWireErrors: bad requests get a clear 4xx in CSC form and the service
// keeps serving.
func TestWireErrors(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	ctx := context.Background()
	tok, err := e.client.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, ctype, body, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	for _, c := range []struct {
		name, path, ctype, body, token string
		status                         int
		want                           string
	}{
		{"no token", "/csc/v2/credentials/list", "application/json", `{}`, "", 401, `"invalid_token"`},
		{"bad token", "/csc/v2/credentials/list", "application/json", `{}`, "nope", 401, `"invalid_token"`},
		{"not JSON", "/csc/v2/credentials/info", "text/plain", `{}`, tok, 415, "application/json"},
		{"malformed", "/csc/v2/credentials/info", "application/json", `{"credentialID":`, tok, 400, "malformed JSON"},
		{"trailing data", "/csc/v2/credentials/info", "application/json", `{} {}`, tok, 400, "after the JSON"},
		{"too large", "/csc/v2/signatures/signHash", "application/json", `{"hashes":["` + strings.Repeat("A", 2<<20) + `"]}`, tok, 413, "larger than"},
		{"unknown credential", "/csc/v2/credentials/info", "application/json", `{"credentialID":"nope"}`, tok, 400, "unknown credentialID"},
		{"no hashes", "/csc/v2/credentials/authorize", "application/json", `{"credentialID":"` + e.cred.CredentialID + `","numSignatures":1,"authData":[{"id":"PIN","value":"246810"},{"id":"OTP","value":"123456"}]}`, tok, 400, "SCAL2"},
		{"bad hash OID", "/csc/v2/signatures/signHash", "application/json", `{"credentialID":"x","SAD":"y","hashes":["AA=="],"hashAlgorithmOID":"1.3.14.3.2.26"}`, tok, 400, "hashAlgorithmOID"},
		{"forged SAD", "/csc/v2/signatures/signHash", "application/json", `{"credentialID":"` + e.cred.CredentialID + `","SAD":"forged","hashes":["` + strings.Repeat("A", 43) + `="]}`, tok, 400, "invalid SAD"},
		// Schemathesis found these answered 200 when credInfo was off.
		{"bad certificates, list", "/csc/v2/credentials/list", "application/json", `{"userID":"079203001234","certificates":"3,\uda8e\udfdf"}`, tok, 400, "certificates must be"},
		{"empty certificates, list", "/csc/v2/credentials/list", "application/json", `{"userID":"nobody","certificates":""}`, tok, 400, "certificates must be"},
		{"bad certificates, info", "/csc/v2/credentials/info", "application/json", `{"credentialID":"` + e.cred.CredentialID + `","certificates":"all"}`, tok, 400, "certificates must be"},
		{"unknown method", "/csc/v2/signatures/signPolling", "application/json", `{}`, tok, 404, "no such method"},
		{"wrong grant", "/csc/v2/oauth2/token", "application/x-www-form-urlencoded", "grant_type=password", "", 400, "unsupported_grant_type"},
		{"wrong secret", "/csc/v2/oauth2/token", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=" + e.client.ClientID + "&client_secret=x", "", 401, "invalid_client"},
	} {
		status, body := post(c.path, c.ctype, c.body, c.token)
		if status != c.status || !strings.Contains(body, c.want) || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s, want %d and %q", c.name, status, body, c.status, c.want)
		}
	}
	// Still serving.
	if _, err := e.client.CredentialInfo(ctx, e.cred.CredentialID); err != nil {
		t.Fatalf("after the bad requests: %v", err)
	}
	var ae *csc.APIError
	if _, err := e.client.Authorize(ctx, e.cred.CredentialID, [][]byte{make([]byte, 32)}, 5, "000000", "000000"); !errors.As(err, &ae) || ae.Body.Error != "access_denied" {
		t.Errorf("wrong PIN through the client: %v", err)
	}
}

// TestPyHankoCSC: pyHanko's own CSC signer signs a PDF through kyso, then
// pyHanko validates it against the test root.
func TestPyHankoCSC(t *testing.T) {
	python := testenv.PyHankoPython(t)
	e := newEnv(t, hsm.ECDSAP256, true)
	dir := t.TempDir()
	ca := filepath.Join(dir, "server.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.ts.Certificate().Raw}), 0o644)
	root := filepath.Join(dir, "root.pem")
	os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.p.Hierarchy.Root.Raw}), 0o644)
	in := filepath.Join(dir, "in.pdf")
	os.WriteFile(in, testpdf.Minimal("To khai"), 0o644)
	out := filepath.Join(dir, "out.pdf")
	tok, err := e.client.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cmd := testenv.Command(t, python, "testdata/pyhanko_csc.py", e.ts.URL, tok, e.cred.CredentialID, "246810", e.cred.TOTPURI, ca, in, out)
	if o, errOut, err := testenv.Run(cmd); err != nil {
		t.Fatalf("pyHanko's CSC signer: %v\n%s\nstderr: %s", err, o, errOut)
	}
	r := testenv.RunPyHanko(t, "sign", "validate", "--pretty-print", "--no-revocation-check", "--trust", root, out)
	if r.Err != nil || !strings.Contains(r.Report, "The signer's certificate is trusted.") || !strings.Contains(r.Report, "The signature is judged VALID.") {
		t.Fatalf("pyHanko validate: %v\n%s\nlog: %s\nstderr: %s", r.Err, r.Report, r.Log, r.Stderr)
	}
	t.Logf("pyHanko:\n%s", r.Report)
}
