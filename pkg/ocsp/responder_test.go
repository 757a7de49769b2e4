package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// fixture is a Responder over a testPKI with a map source, a counting signer
// and a fake clock.
type fixture struct {
	pki    *testPKI
	src    *mapSource
	signer *countingSigner
	clock  *fakeClock
	r      *Responder
}

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	p := newTestPKI(t)
	f := &fixture{
		pki:    p,
		src:    newMapSource(p.good, p.revoked),
		signer: &countingSigner{Signer: p.ocspKey},
		clock:  &fakeClock{t: time.Now().Truncate(time.Second)},
	}
	cfg := Config{
		Issuer: p.root, Signer: f.signer, SignerCert: p.ocsp, Source: f.src,
		Validity: 24 * time.Hour, Now: f.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	return f
}

// reqFor makes an OCSP request for cert with Go's x/crypto/ocsp.
func reqFor(t testing.TB, cert, issuer *x509.Certificate, h crypto.Hash) []byte {
	t.Helper()
	der, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// buildRequest assembles an OCSPRequest by hand, with optional
// requestExtensions (each a complete DER Extension).
func buildRequest(hashOID asn1.ObjectIdentifier, nameHash, keyHash []byte, serial *big.Int, exts ...[]byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(hashOID)
							b.AddASN1NULL()
						})
						b.AddASN1OctetString(nameHash)
						b.AddASN1OctetString(keyHash)
						b.AddASN1BigInt(serial)
					})
				})
			})
			if len(exts) > 0 {
				b.AddASN1(casn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for _, e := range exts {
							b.AddBytes(e)
						}
					})
				})
			}
		})
	})
	return b.BytesOrPanic()
}

// extension encodes an Extension (RFC 5280 section 4.1).
func extension(oid asn1.ObjectIdentifier, critical bool, value []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1OctetString(value)
	})
	return b.BytesOrPanic()
}

// nonceExt is an RFC 8954 nonce extension with n octets of nonce.
func nonceExt(n int) []byte {
	nonce := bytes.Repeat([]byte{0xa5}, n)
	v, _ := asn1.Marshal(nonce)
	return extension(oidNonce, false, v)
}

// reqWithNonce asks about cert with a SHA-1 CertID and the given request
// extensions.
func (f *fixture) reqWith(cert *x509.Certificate, exts ...[]byte) []byte {
	ih := f.r.issuerHashes[crypto.SHA1]
	return buildRequest(algid.SHA1, ih[0], ih[1], cert.SerialNumber, exts...)
}

func post(t testing.TB, h http.Handler, der []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(der))
	req.Header.Set("Content-Type", "application/ocsp-request")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func get(t testing.TB, h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://ocsp.test/", nil)
	req.URL.Path = path
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// parsed checks a successful response with x/crypto/ocsp, which verifies the
// signature, the embedded certificate's signature by the issuer, and matches
// the serial.
func (f *fixture) parsed(t testing.TB, w *httptest.ResponseRecorder, cert *x509.Certificate) *ocsp.Response {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/ocsp-response" {
		t.Errorf("Content-Type = %q", ct)
	}
	resp, err := ocsp.ParseResponseForCert(w.Body.Bytes(), cert, f.pki.root)
	if err != nil {
		t.Fatalf("ParseResponseForCert: %v", err)
	}
	return resp
}

// ocspStatus returns the OCSPResponseStatus of a DER response.
func ocspStatus(t testing.TB, der []byte) int {
	t.Helper()
	var resp struct {
		Status asn1.Enumerated
		Rest   asn1.RawValue `asn1:"optional,explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &resp); err != nil {
		t.Fatalf("response is not an OCSPResponse: %v (%x)", err, der)
	}
	return int(resp.Status)
}

// basicOf decodes the BasicOCSPResponse in a successful response, including
// the responseExtensions x/crypto/ocsp does not expose.
type tbsData struct {
	Raw         asn1.RawContent
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []asn1.RawValue
	Extensions  []pkix.Extension `asn1:"optional,explicit,tag:1"`
}

func basicOf(t testing.TB, der []byte) (tbs tbsData, certs []asn1.RawValue) {
	t.Helper()
	var resp struct {
		Status asn1.Enumerated
		Bytes  struct {
			Type asn1.ObjectIdentifier
			Resp []byte
		} `asn1:"explicit,tag:0"`
	}
	if rest, err := asn1.Unmarshal(der, &resp); err != nil || len(rest) > 0 {
		t.Fatalf("OCSPResponse: %v", err)
	}
	var basic struct {
		TBS   tbsData
		Alg   pkix.AlgorithmIdentifier
		Sig   asn1.BitString
		Certs []asn1.RawValue `asn1:"optional,explicit,tag:0"`
	}
	if rest, err := asn1.Unmarshal(resp.Bytes.Resp, &basic); err != nil || len(rest) > 0 {
		t.Fatalf("BasicOCSPResponse: %v", err)
	}
	return basic.TBS, basic.Certs
}

func responseNonce(t testing.TB, der []byte) []byte {
	t.Helper()
	tbs, _ := basicOf(t, der)
	for _, e := range tbs.Extensions {
		if e.Id.Equal(oidNonce) {
			return e.Value
		}
	}
	return nil
}

func TestStatuses(t *testing.T) {
	f := newFixture(t, nil)
	p := f.pki
	revokedAt := f.clock.Now().Add(-time.Hour).Truncate(time.Second)
	never := mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(0x7777), NotBefore: p.notBefore, NotAfter: p.ocspUntil,
	}, p.root, p.ocspKey.Public(), p.rootKey)

	tests := []struct {
		name       string
		cert       *x509.Certificate
		status     *Status
		wantStatus int
		wantReason int
	}{
		{"good", p.good, nil, ocsp.Good, 0},
		{"keyCompromise", p.revoked, &Status{Known: true, Revoked: true, RevokedAt: revokedAt, Reason: ocsp.KeyCompromise}, ocsp.Revoked, ocsp.KeyCompromise},
		{"unspecified", p.revoked, &Status{Known: true, Revoked: true, RevokedAt: revokedAt}, ocsp.Revoked, ocsp.Unspecified},
		{"hold", p.revoked, &Status{Known: true, OnHold: true, RevokedAt: revokedAt, Reason: ocsp.Superseded}, ocsp.Revoked, ocsp.CertificateHold},
		{"never issued", never, nil, ocsp.Unknown, 0},
		{"unknown wins", p.revoked, &Status{Known: false, Revoked: true, RevokedAt: revokedAt}, ocsp.Unknown, 0},
	}
	for _, tc := range tests {
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384} {
			t.Run(fmt.Sprintf("%s/%v", tc.name, h), func(t *testing.T) {
				if tc.status != nil {
					f.src.set(tc.cert.SerialNumber, *tc.status)
					f.r.Invalidate(tc.cert.SerialNumber)
				}
				resp := f.parsed(t, post(t, f.r, reqFor(t, tc.cert, p.root, h)), tc.cert)
				if resp.Status != tc.wantStatus {
					t.Fatalf("status %d, want %d", resp.Status, tc.wantStatus)
				}
				if resp.IssuerHash != h {
					t.Errorf("CertID hash %v, want the request's %v", resp.IssuerHash, h)
				}
				if tc.wantStatus == ocsp.Revoked {
					if resp.RevocationReason != tc.wantReason || !resp.RevokedAt.Equal(revokedAt) {
						t.Errorf("revoked at %v for %d, want %v for %d", resp.RevokedAt, resp.RevocationReason, revokedAt, tc.wantReason)
					}
				}
				now := f.clock.Now()
				if !resp.ThisUpdate.Equal(now) || !resp.ProducedAt.Equal(now) || !resp.NextUpdate.Equal(now.Add(24*time.Hour)) {
					t.Errorf("producedAt %v thisUpdate %v nextUpdate %v; now %v", resp.ProducedAt, resp.ThisUpdate, resp.NextUpdate, now)
				}
				if resp.Certificate == nil || !resp.Certificate.Equal(p.ocsp) {
					t.Error("response does not carry the delegated responder certificate")
				}
				if want := spkiHash(t, p.ocsp); !bytes.Equal(resp.ResponderKeyHash, want) || resp.RawResponderName != nil {
					t.Errorf("responderID: byKey %x, byName %x; want byKey %x", resp.ResponderKeyHash, resp.RawResponderName, want)
				}
			})
		}
	}
}

// spkiHash is the SHA-1 hash of cert's subjectPublicKey BIT STRING contents,
// the KeyHash of RFC 6960 section 4.2.1.
func spkiHash(t testing.TB, cert *x509.Certificate) []byte {
	t.Helper()
	var spki struct {
		Alg pkix.AlgorithmIdentifier
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	h := sha1.Sum(spki.Key.RightAlign())
	return h[:]
}

func TestHTTP(t *testing.T) {
	f := newFixture(t, nil)
	der := reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)
	b64 := base64.StdEncoding.EncodeToString(der)

	// A request whose base64 has "/" and "+" in it, to test path handling.
	var awkward []byte
	var awkB64 string
	for i := int64(0x1000); ; i++ {
		ih := f.r.issuerHashes[crypto.SHA1]
		awkward = buildRequest(algid.SHA1, ih[0], ih[1], big.NewInt(i))
		awkB64 = base64.StdEncoding.EncodeToString(awkward)
		if strings.Contains(awkB64, "/") && strings.Contains(awkB64, "+") {
			break
		}
	}

	t.Run("POST", func(t *testing.T) {
		w := post(t, f.r, der)
		f.parsed(t, w, f.pki.good)
		h := w.Header()
		cc := h.Get("Cache-Control")
		for _, want := range []string{"max-age=43200", "public", "no-transform"} {
			if !strings.Contains(cc, want) {
				t.Errorf("Cache-Control %q lacks %q", cc, want)
			}
		}
		now := f.clock.Now().UTC()
		if got := h.Get("Last-Modified"); got != now.Format(http.TimeFormat) {
			t.Errorf("Last-Modified %q", got)
		}
		if got := h.Get("Expires"); got != now.Add(24*time.Hour).Format(http.TimeFormat) {
			t.Errorf("Expires %q", got)
		}
		if h.Get("ETag") == "" {
			t.Error("no ETag")
		}
	})
	for name, path := range map[string]string{
		"GET":                "/" + b64,
		"GET url-encoded":    "/" + url.PathEscape(b64),
		"GET prefix":         "/ocsp/v1/" + b64,
		"GET unpadded":       "/" + strings.TrimRight(b64, "="),
		"GET slash and plus": "/ocsp/" + awkB64,
	} {
		t.Run(name, func(t *testing.T) {
			// req.URL.Path is what net/http hands over after
			// percent-decoding, so decode as it would.
			p, err := url.PathUnescape(path)
			if err != nil {
				t.Fatal(err)
			}
			w := get(t, f.r, p)
			if w.Code != http.StatusOK || ocspStatus(t, w.Body.Bytes()) != 0 {
				t.Fatalf("HTTP %d, body %x", w.Code, w.Body.Bytes())
			}
		})
	}
	t.Run("GET through a real server", func(t *testing.T) {
		srv := httptest.NewServer(f.r)
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/ocsp/" + url.PathEscape(awkB64))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		r, err := ocsp.ParseResponse(buf.Bytes(), f.pki.root)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != ocsp.Unknown {
			t.Errorf("status %d, want unknown", r.Status)
		}
	})
	t.Run("If-None-Match", func(t *testing.T) {
		etag := get(t, f.r, "/"+b64).Header().Get("ETag")
		if w := get(t, f.r, "/"+b64, "If-None-Match", etag); w.Code != http.StatusNotModified {
			t.Errorf("HTTP %d, want 304", w.Code)
		}
	})
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodPatch} {
		t.Run(m, func(t *testing.T) {
			w := httptest.NewRecorder()
			f.r.ServeHTTP(w, httptest.NewRequest(m, "/"+b64, bytes.NewReader(der)))
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" {
				t.Errorf("HTTP %d, Allow %q", w.Code, w.Header().Get("Allow"))
			}
		})
	}
	t.Run("oversized POST", func(t *testing.T) {
		w := post(t, f.r, bytes.Repeat([]byte{0x30}, DefaultMaxRequestBytes+1))
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("HTTP %d, want 413", w.Code)
		}
	})
	t.Run("oversized GET", func(t *testing.T) {
		w := get(t, f.r, "/"+strings.Repeat("MIIB", DefaultMaxRequestBytes))
		if w.Code != http.StatusOK || ocspStatus(t, w.Body.Bytes()) != int(statusMalformedRequest) {
			t.Errorf("HTTP %d, body %x", w.Code, w.Body.Bytes())
		}
	})
	t.Run("empty GET", func(t *testing.T) {
		w := get(t, f.r, "/")
		if ocspStatus(t, w.Body.Bytes()) != int(statusMalformedRequest) {
			t.Errorf("body %x", w.Body.Bytes())
		}
	})
}

func TestRefusals(t *testing.T) {
	f := newFixture(t, nil)
	p := f.pki
	ih := f.r.issuerHashes[crypto.SHA1]
	other := newTestPKI(t)
	twoReqs := func() []byte {
		// requestList with two Requests.
		one := buildRequest(algid.SHA1, ih[0], ih[1], big.NewInt(1))
		s := cryptobyte.String(one)
		var outer, tbs, list, r cryptobyte.String
		s.ReadASN1(&outer, casn1.SEQUENCE)
		outer.ReadASN1(&tbs, casn1.SEQUENCE)
		tbs.ReadASN1(&list, casn1.SEQUENCE)
		list.ReadASN1Element(&r, casn1.SEQUENCE)
		var b cryptobyte.Builder
		b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(r); b.AddBytes(r) })
			})
		})
		return b.BytesOrPanic()
	}

	tests := []struct {
		name string
		der  []byte
		want responseStatus
	}{
		{"garbage", []byte("not an OCSP request"), statusMalformedRequest},
		{"empty", []byte{}, statusMalformedRequest},
		{"trailing data", append(reqFor(t, p.good, p.root, crypto.SHA1), 0), statusMalformedRequest},
		{"truncated", reqFor(t, p.good, p.root, crypto.SHA1)[:40], statusMalformedRequest},
		{"two requests", twoReqs(), statusMalformedRequest},
		{"MD5 CertID", buildRequest(asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}, ih[0][:16], ih[1][:16], big.NewInt(1)), statusMalformedRequest},
		{"nonce too long", f.reqWith(p.good, nonceExt(33)), statusMalformedRequest},
		{"nonce empty", f.reqWith(p.good, nonceExt(0)), statusMalformedRequest},
		{"two nonces", f.reqWith(p.good, nonceExt(8), nonceExt(8)), statusMalformedRequest},
		{"unknown critical extension", f.reqWith(p.good, extension(asn1.ObjectIdentifier{1, 2, 3, 4}, true, []byte{5, 0})), statusMalformedRequest},
		{"other issuer SHA-1", reqFor(t, other.good, other.root, crypto.SHA1), statusUnauthorized},
		{"other issuer SHA-256", reqFor(t, other.good, other.root, crypto.SHA256), statusUnauthorized},
		{"same name other key", buildRequest(algid.SHA1, ih[0], make([]byte, 20), big.NewInt(1)), statusUnauthorized},
		{"same key other name", buildRequest(algid.SHA1, make([]byte, 20), ih[1], big.NewInt(1)), statusUnauthorized},
		// An unknown non-critical extension is ignored (RFC 6960 section 4.4).
		{"unknown non-critical extension", f.reqWith(p.good, extension(asn1.ObjectIdentifier{1, 2, 3, 4}, false, []byte{5, 0})), statusSuccessful},
		{"nonce 32", f.reqWith(p.good, nonceExt(32)), statusSuccessful},
		{"nonce 1", f.reqWith(p.good, nonceExt(1)), statusSuccessful},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := post(t, f.r, tc.der)
			if w.Code != http.StatusOK {
				t.Fatalf("HTTP %d", w.Code)
			}
			if got := ocspStatus(t, w.Body.Bytes()); got != int(tc.want) {
				t.Errorf("OCSP status %d, want %d", got, tc.want)
			}
			if tc.want != statusSuccessful && w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q on an error", w.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestSourceFailures(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	f := newFixture(t, func(c *Config) {
		c.Logger = slogTo(&mu, &logs)
	})
	der := reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)

	f.src.fail(errDatabaseDown)
	for _, d := range [][]byte{der, f.reqWith(f.pki.good, nonceExt(16))} {
		if got := ocspStatus(t, post(t, f.r, d).Body.Bytes()); got != int(statusTryLater) {
			t.Errorf("OCSP status %d, want tryLater", got)
		}
	}
	mu.Lock()
	if !strings.Contains(logs.String(), errDatabaseDown.Error()) {
		t.Errorf("source error not logged: %q", logs.String())
	}
	mu.Unlock()

	// The failure is not cached: the next request asks again.
	f.src.fail(nil)
	f.parsed(t, post(t, f.r, der), f.pki.good)

	// A status the responder cannot express is an internal error.
	f.src.set(f.pki.revoked.SerialNumber, Status{Known: true, Revoked: true})
	if got := ocspStatus(t, post(t, f.r, reqFor(t, f.pki.revoked, f.pki.root, crypto.SHA1)).Body.Bytes()); got != int(statusInternalError) {
		t.Errorf("revoked without time: OCSP status %d, want internalError", got)
	}
	f.src.set(f.pki.revoked.SerialNumber, Status{Known: true, Revoked: true, RevokedAt: time.Now(), Reason: 7})
	if got := ocspStatus(t, post(t, f.r, reqFor(t, f.pki.revoked, f.pki.root, crypto.SHA1)).Body.Bytes()); got != int(statusInternalError) {
		t.Errorf("reason 7: OCSP status %d, want internalError", got)
	}
}

// TestSignerFailures: a key store that cannot sign now (down, or the key
// gone while a token is re-initialised) is tryLater, so relying parties
// ask again; any other signing failure is internalError. Neither is
// cached.
func TestSignerFailures(t *testing.T) {
	f := newFixture(t, nil)
	der := reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)
	for _, c := range []struct {
		err  error
		want responseStatus
	}{
		{fmt.Errorf("pkcs11: %w: CKR_SESSION_HANDLE_INVALID", hsm.ErrUnavailable), statusTryLater},
		{fmt.Errorf("pkcs11: %w: no object labelled ocsp-1", hsm.ErrKeyNotFound), statusTryLater},
		{errors.New("pkcs11: CKR_FUNCTION_FAILED"), statusInternalError},
	} {
		f.signer.err.Store(&c.err)
		if got := ocspStatus(t, post(t, f.r, der).Body.Bytes()); got != int(c.want) {
			t.Errorf("signer failing with %v: OCSP status %d, want %d", c.err, got, c.want)
		}
	}
	f.signer.err.Store(nil)
	f.parsed(t, post(t, f.r, der), f.pki.good)
}

type panicSource struct{}

func (panicSource) Status(context.Context, *big.Int) (Status, error) { panic("driver bug") }

func TestSourcePanic(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Source = panicSource{} })
	if got := ocspStatus(t, post(t, f.r, reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)).Body.Bytes()); got != int(statusTryLater) {
		t.Errorf("OCSP status %d, want tryLater", got)
	}
	if len(f.r.inflight) != 0 {
		t.Error("panicking lookup left behind in flight")
	}
}

func TestNonce(t *testing.T) {
	f := newFixture(t, nil)
	plain := reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)
	cached := post(t, f.r, plain).Body.Bytes()
	signs := f.signer.n.Load()

	for _, n := range []int{1, 16, 32} {
		w := post(t, f.r, f.reqWith(f.pki.good, nonceExt(n)))
		resp := f.parsed(t, w, f.pki.good)
		if resp.Status != ocsp.Good {
			t.Errorf("status %d", resp.Status)
		}
		want, _ := asn1.Marshal(bytes.Repeat([]byte{0xa5}, n))
		if got := responseNonce(t, w.Body.Bytes()); !bytes.Equal(got, want) {
			t.Errorf("nonce %x, want %x", got, want)
		}
		if bytes.Equal(w.Body.Bytes(), cached) {
			t.Error("nonce request got the cached response")
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q for a nonce response", cc)
		}
	}
	if got := f.signer.n.Load() - signs; got != 3 {
		t.Errorf("%d signatures for 3 nonce requests", got)
	}
	if responseNonce(t, cached) != nil {
		t.Error("plain response has a nonce")
	}
	// A legacy nonce: bare octets in extnValue, echoed verbatim.
	w := post(t, f.r, f.reqWith(f.pki.good, extension(oidNonce, false, []byte("0123456789abcdef"))))
	if got := responseNonce(t, w.Body.Bytes()); string(got) != "0123456789abcdef" {
		t.Errorf("legacy nonce %q", got)
	}
	// The nonce response did not replace the cached one.
	if got := post(t, f.r, plain).Body.Bytes(); !bytes.Equal(got, cached) {
		t.Error("cached response changed after nonce requests")
	}
}

func TestCache(t *testing.T) {
	f := newFixture(t, nil)
	der := reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)

	first := f.parsed(t, post(t, f.r, der), f.pki.good)
	f.clock.Advance(12*time.Hour - time.Second)
	again := f.parsed(t, post(t, f.r, der), f.pki.good)
	if !again.ProducedAt.Equal(first.ProducedAt) || f.signer.n.Load() != 1 || f.src.calls.Load() != 1 {
		t.Errorf("within half validity: producedAt %v then %v, %d signs, %d lookups", first.ProducedAt, again.ProducedAt, f.signer.n.Load(), f.src.calls.Load())
	}
	if w := post(t, f.r, der); !strings.Contains(w.Header().Get("Cache-Control"), "max-age=1,") {
		t.Errorf("Cache-Control %q one second before refresh", w.Header().Get("Cache-Control"))
	}
	f.clock.Advance(time.Second)
	later := f.parsed(t, post(t, f.r, der), f.pki.good)
	if !later.ProducedAt.Equal(f.clock.Now()) || f.signer.n.Load() != 2 {
		t.Errorf("after half validity: producedAt %v, now %v, %d signs", later.ProducedAt, f.clock.Now(), f.signer.n.Load())
	}

	// SHA-256 CertIDs are cached separately: the CertID must echo the request.
	f.parsed(t, post(t, f.r, reqFor(t, f.pki.good, f.pki.root, crypto.SHA256)), f.pki.good)
	if f.signer.n.Load() != 3 {
		t.Errorf("%d signs", f.signer.n.Load())
	}

	// Revoke, and Invalidate drops both cached forms.
	revokedAt := f.clock.Now().Truncate(time.Second)
	f.src.set(f.pki.good.SerialNumber, Status{Known: true, Revoked: true, RevokedAt: revokedAt, Reason: ocsp.KeyCompromise})
	if r := f.parsed(t, post(t, f.r, der), f.pki.good); r.Status != ocsp.Good {
		t.Error("cached response should still say good before Invalidate")
	}
	f.r.Invalidate(f.pki.good.SerialNumber)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		r := f.parsed(t, post(t, f.r, reqFor(t, f.pki.good, f.pki.root, h)), f.pki.good)
		if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise {
			t.Errorf("%v: status %d reason %d after Invalidate", h, r.Status, r.RevocationReason)
		}
	}
}

func TestCacheBound(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.CacheSize = 3 })
	ih := f.r.issuerHashes[crypto.SHA1]
	for i := range 10 {
		post(t, f.r, buildRequest(algid.SHA1, ih[0], ih[1], big.NewInt(int64(100+i))))
	}
	if n := f.r.cache.len(); n != 3 {
		t.Errorf("cache holds %d, want 3", n)
	}
	// The most recent survive.
	signs := f.signer.n.Load()
	post(t, f.r, buildRequest(algid.SHA1, ih[0], ih[1], big.NewInt(109)))
	if f.signer.n.Load() != signs {
		t.Error("most recent entry was evicted")
	}

	f = newFixture(t, func(c *Config) { c.CacheSize = -1 })
	der := reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)
	post(t, f.r, der)
	post(t, f.r, der)
	if f.signer.n.Load() != 2 {
		t.Errorf("caching disabled: %d signs for 2 requests", f.signer.n.Load())
	}
}

// TestCacheBytesBound: 100,000 distinct serials, each asked once, keep
// the cache within its bound in bytes (nearly full, the most recent
// kept); an answer evicted meanwhile is looked up and signed again when
// asked, and x/crypto/ocsp verifies it and reads the right status.
func TestCacheBytesBound(t *testing.T) {
	const bound = 1 << 20
	f := newFixture(t, func(c *Config) { c.CacheBytes = bound })
	f.src.set(f.pki.revoked.SerialNumber, Status{Known: true, Revoked: true, RevokedAt: time.Now().Add(-time.Hour), Reason: 1})
	good := reqFor(t, f.pki.good, f.pki.root, crypto.SHA256)
	revoked := reqFor(t, f.pki.revoked, f.pki.root, crypto.SHA256)
	f.parsed(t, post(t, f.r, good), f.pki.good)
	f.parsed(t, post(t, f.r, revoked), f.pki.revoked)
	ih := f.r.issuerHashes[crypto.SHA1]
	unknown := func(i int) []byte { return buildRequest(algid.SHA1, ih[0], ih[1], big.NewInt(int64(1_000_000+i))) }
	const serials = 100_000
	for i := range serials {
		if w := post(t, f.r, unknown(i)); w.Code != http.StatusOK {
			t.Fatalf("serial %d: HTTP %d", i, w.Code)
		}
		if i%997 == 0 {
			if _, b := f.r.CacheUse(); b > bound {
				t.Fatalf("after %d serials the cache holds %d bytes, over its bound %d", i+1, b, bound)
			}
		}
	}
	n, b := f.r.CacheUse()
	t.Logf("after %d serials: %d responses, %d bytes (bound %d)", serials, n, b, bound)
	if b > bound || b < bound*9/10 || n < 500 || n >= serials {
		t.Fatalf("cache holds %d responses in %d bytes; want it nearly full within %d", n, b, bound)
	}
	// The most recent answer is still served from the cache.
	signs := f.signer.n.Load()
	post(t, f.r, unknown(serials-1))
	if f.signer.n.Load() != signs {
		t.Error("the most recently used answer was evicted")
	}
	// Evicted answers are signed again, and right.
	for _, tc := range []struct {
		der    []byte
		cert   *x509.Certificate
		status int
	}{{good, f.pki.good, ocsp.Good}, {revoked, f.pki.revoked, ocsp.Revoked}} {
		signs := f.signer.n.Load()
		r := f.parsed(t, post(t, f.r, tc.der), tc.cert)
		if r.Status != tc.status || r.SerialNumber.Cmp(tc.cert.SerialNumber) != 0 {
			t.Errorf("evicted answer for %v: status %d serial %v, want %d", tc.cert.SerialNumber, r.Status, r.SerialNumber, tc.status)
		}
		if f.signer.n.Load() != signs+1 {
			t.Errorf("evicted answer for %v served without being signed again", tc.cert.SerialNumber)
		}
	}
	w := post(t, f.r, unknown(0))
	r, err := ocsp.ParseResponse(w.Body.Bytes(), f.pki.root)
	if err != nil || r.Status != ocsp.Unknown || r.SerialNumber.Int64() != 1_000_000 {
		t.Errorf("evicted unknown serial: %v, %+v", err, r)
	}
	if _, b := f.r.CacheUse(); b > bound {
		t.Errorf("cache holds %d bytes, over its bound %d", b, bound)
	}
}

func TestSingleflight(t *testing.T) {
	f := newFixture(t, nil)
	gate := make(chan struct{})
	f.src.gate = gate
	der := reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)

	const n = 50
	results := make(chan []byte, n)
	for range n {
		go func() { results <- post(t, f.r, der).Body.Bytes() }()
	}
	// Wait until one request leads the lookup and the rest wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.r.mu.Lock()
		var waiters int
		for _, c := range f.r.inflight {
			waiters = c.waiters
		}
		f.r.mu.Unlock()
		if waiters == n-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d waiters", waiters)
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	var first []byte
	for range n {
		got := <-results
		if first == nil {
			first = got
		}
		if !bytes.Equal(got, first) {
			t.Fatal("concurrent requests got different responses")
		}
	}
	if f.signer.n.Load() != 1 || f.src.calls.Load() != 1 {
		t.Errorf("%d requests: %d signatures, %d lookups; want 1 and 1", n, f.signer.n.Load(), f.src.calls.Load())
	}
	if ocspStatus(t, first) != 0 {
		t.Errorf("status %d", ocspStatus(t, first))
	}
}

func TestInvalidateDuringLookup(t *testing.T) {
	f := newFixture(t, nil)
	gate := make(chan struct{})
	f.src.mu.Lock()
	f.src.gate = gate
	f.src.mu.Unlock()
	der := reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)
	done := make(chan struct{})
	go func() { post(t, f.r, der); close(done) }()
	for f.src.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// The lookup under way read "good"; revocation lands now.
	f.src.set(f.pki.good.SerialNumber, Status{Known: true, Revoked: true, RevokedAt: f.clock.Now(), Reason: ocsp.KeyCompromise})
	f.r.Invalidate(f.pki.good.SerialNumber)
	close(gate)
	<-done
	if r := f.parsed(t, post(t, f.r, der), f.pki.good); r.Status != ocsp.Revoked {
		t.Error("a lookup that began before Invalidate was cached")
	}
}

func TestSetSigner(t *testing.T) {
	f := newFixture(t, nil)
	p := f.pki
	der := reqFor(t, p.good, p.root, crypto.SHA1)
	old := f.parsed(t, post(t, f.r, der), p.good)

	newKey := mustKey(t, ellipticP256())
	newCert := mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "kyso test OCSP responder 2"},
		NotBefore: p.notBefore, NotAfter: p.ocspUntil,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
	}, p.root, newKey.Public(), p.rootKey)
	if err := f.r.SetSigner(p.ocspKey, newCert); err == nil {
		t.Error("SetSigner accepted a key that is not the certificate's")
	}
	if err := f.r.SetSigner(newKey, newCert); err != nil {
		t.Fatal(err)
	}
	got := f.parsed(t, post(t, f.r, der), p.good)
	if !got.Certificate.Equal(newCert) || !bytes.Equal(got.ResponderKeyHash, spkiHash(t, newCert)) {
		t.Error("response after SetSigner is not from the new responder")
	}
	if !old.Certificate.Equal(p.ocsp) {
		t.Error("first response not from the first responder")
	}
	// Back to the CA key itself: no certificate in the response, signed by
	// the issuer.
	if err := f.r.SetSigner(p.rootKey, nil); err != nil {
		t.Fatal(err)
	}
	w := post(t, f.r, der)
	got = f.parsed(t, w, p.good)
	if got.Certificate != nil || !bytes.Equal(got.ResponderKeyHash, spkiHash(t, p.root)) {
		t.Error("CA-signed response carries a certificate or the wrong responderID")
	}
	if _, certs := basicOf(t, w.Body.Bytes()); len(certs) != 0 {
		t.Error("certs present")
	}
}

func TestNew(t *testing.T) {
	p := newTestPKI(t)
	src := newMapSource()
	noEKU := mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(9), NotBefore: p.notBefore, NotAfter: p.ocspUntil,
	}, p.root, p.ocspKey.Public(), p.rootKey)
	other := newTestPKI(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no issuer", Config{Signer: p.ocspKey, SignerCert: p.ocsp, Source: src}},
		{"no source", Config{Issuer: p.root, Signer: p.ocspKey, SignerCert: p.ocsp}},
		{"no signer", Config{Issuer: p.root, SignerCert: p.ocsp, Source: src}},
		{"key mismatch", Config{Issuer: p.root, Signer: p.rootKey, SignerCert: p.ocsp, Source: src}},
		{"leaf key as CA", Config{Issuer: p.root, Signer: p.ocspKey, Source: src}},
		{"no OCSPSigning EKU", Config{Issuer: p.root, Signer: p.ocspKey, SignerCert: noEKU, Source: src}},
		{"other issuer's responder", Config{Issuer: p.root, Signer: other.ocspKey, SignerCert: other.ocsp, Source: src}},
		{"validity too long", Config{Issuer: p.root, Signer: p.ocspKey, SignerCert: p.ocsp, Source: src, Validity: 8 * 24 * time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !strings.HasPrefix(err.Error(), "ocsp: ") {
				t.Errorf("error %q lacks the ocsp: prefix", err)
			}
		})
	}
}

func TestNextUpdateCapped(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Validity = 7 * 24 * time.Hour })
	f.clock.Advance(time.Until(f.pki.ocspUntil) - 24*time.Hour)
	r := f.parsed(t, post(t, f.r, reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)), f.pki.good)
	if !r.NextUpdate.Equal(f.pki.ocspUntil.UTC()) {
		t.Errorf("nextUpdate %v, want the responder certificate's notAfter %v", r.NextUpdate, f.pki.ocspUntil)
	}
	f.clock.Advance(48 * time.Hour)
	f.r.Invalidate(f.pki.good.SerialNumber)
	if got := ocspStatus(t, post(t, f.r, reqFor(t, f.pki.good, f.pki.root, crypto.SHA1)).Body.Bytes()); got != int(statusInternalError) {
		t.Errorf("expired responder certificate: status %d", got)
	}
}
