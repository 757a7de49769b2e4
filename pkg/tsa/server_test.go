package tsa

import (
	"context"
	"crypto"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/algid"
)

// wantRefused checks a TimeStampResp is a rejection with failure f.
func wantRefused(t testing.TB, reply []byte, f FailureInfo) {
	t.Helper()
	_, err := ParseReply(reply)
	re, ok := errors.AsType[*RefusedError](err)
	if !ok || re.Status != StatusRejection || re.FailInfo != f {
		t.Errorf("reply: %v; want rejection with %v", err, f)
	}
}

func TestRefusals(t *testing.T) {
	p := newPKI(t, hsm.ECDSAP256)
	_, hs := p.server(t, Config{})
	sha1Req, err := os.ReadFile(filepath.Join("testdata", "openssl-sha1.tsq"))
	if err != nil {
		t.Fatal(err)
	}
	good := &Query{HashAlgorithm: crypto.SHA256, HashedMessage: testDigest[:], Nonce: big.NewInt(42), CertReq: true}
	with := func(edit func(q *Query)) []byte {
		q := *good
		edit(&q)
		return mustMarshal(t, &q)
	}
	v2 := mustMarshal(t, good)
	v2 = append([]byte(nil), v2...)
	v2[4] = 2 // SEQUENCE, len, INTEGER, 1, value

	for _, tc := range []struct {
		name string
		der  []byte
		want FailureInfo
	}{
		{"sha1-openssl", sha1Req, BadAlg},
		{"md5", with(func(q *Query) { q.HashAlgorithm, q.HashedMessage = crypto.MD5, testDigest[:16] }), BadAlg},
		{"sha224-not-allowed", with(func(q *Query) { q.HashAlgorithm, q.HashedMessage = crypto.SHA224, testDigest[:28] }), BadAlg},
		{"unknown-oid", with(func(q *Query) { q.HashOID = []int{1, 2, 3, 4} }), BadAlg},
		{"short-digest", with(func(q *Query) { q.HashedMessage = testDigest[:31] }), BadDataFormat},
		{"unknown-policy", with(func(q *Query) { q.Policy = []int{1, 3, 6, 1, 4, 1, 99999, 1} }), UnacceptedPolicy},
		{"critical-extension", with(func(q *Query) {
			q.Extensions = []pkix.Extension{{Id: []int{1, 2, 3}, Critical: true, Value: []byte{5, 0}}}
		}), UnacceptedExtension},
		{"non-critical-extension", with(func(q *Query) { q.Extensions = []pkix.Extension{{Id: []int{1, 2, 3}, Value: []byte{5, 0}}} }), UnacceptedExtension},
		{"version-2", v2, BadRequest},
		{"garbage", []byte("this is not DER"), BadDataFormat},
		{"empty", nil, BadDataFormat},
		{"trailing", append(mustMarshal(t, good), 0), BadDataFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := postQuery(t, hs.URL, ContentTypeQuery, tc.der)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ContentTypeReply {
				t.Fatalf("HTTP %s %q", resp.Status, resp.Header.Get("Content-Type"))
			}
			wantRefused(t, body, tc.want)
		})
	}

	t.Run("oversized", func(t *testing.T) {
		resp, body := postQuery(t, hs.URL, ContentTypeQuery, make([]byte, DefaultMaxRequestBytes+1))
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("HTTP %s, want 413", resp.Status)
		}
		wantRefused(t, body, BadDataFormat)
		if _, err := post(context.Background(), nil, hs.URL, make([]byte, DefaultMaxRequestBytes+1)); err == nil {
			t.Error("client took an HTTP 413 for an answer")
		}
	})
	t.Run("method", func(t *testing.T) {
		resp, err := http.Get(hs.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
		}
	})
	t.Run("content-type", func(t *testing.T) {
		resp, _ := postQuery(t, hs.URL, "application/octet-stream", mustMarshal(t, good))
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("wrong content type: %s, want 415", resp.Status)
		}
		resp, body := postQuery(t, hs.URL, ContentTypeQuery+"; charset=binary", mustMarshal(t, good))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("content type with parameter: %s", resp.Status)
		}
		if _, err := ParseReply(body); err != nil {
			t.Error(err)
		}
	})
}

// failingSigner is a key whose backend is down.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("pkcs11: CKR_DEVICE_REMOVED")
}

type failingSerials struct{}

func (failingSerials) Next(context.Context) (*big.Int, error) {
	return nil, errors.New("database down")
}

func TestSystemFailure(t *testing.T) {
	p := newPKI(t, hsm.ECDSAP256)
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	q := &Query{HashAlgorithm: crypto.SHA256, HashedMessage: testDigest[:]}
	for name, cfg := range map[string]Config{
		"signer":  {Certificate: p.tsa, Signer: failingSigner{p.signer}, Policy: PlaceholderPolicy, Logger: logger},
		"serials": {Certificate: p.tsa, Signer: p.signer, Policy: PlaceholderPolicy, Logger: logger, Serials: failingSerials{}},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := s.Timestamp(context.Background(), q)
			if re, ok := errors.AsType[*RefusedError](err); !ok || re.FailInfo != SystemFailure || resp.Token != nil {
				t.Fatalf("got %v, want systemFailure", err)
			}
			wantRefused(t, resp.DER, SystemFailure)
			if strings.Contains(resp.FailInfo.String()+string(resp.DER), "CKR_") || strings.Contains(string(resp.DER), "database") {
				t.Error("internal detail leaked to the requester")
			}
		})
	}
	if !strings.Contains(logs.String(), "CKR_DEVICE_REMOVED") || !strings.Contains(logs.String(), "database down") {
		t.Errorf("system failures not logged:\n%s", logs.String())
	}
}

func TestNewRefuses(t *testing.T) {
	p := newPKI(t, hsm.ECDSAP256)
	other := newPKI(t, hsm.ECDSAP256)
	for name, cfg := range map[string]Config{
		"no-policy":         {Certificate: p.tsa, Signer: p.signer},
		"no-signer":         {Certificate: p.tsa, Policy: PlaceholderPolicy},
		"not-a-tsa-cert":    {Certificate: p.issuing, Signer: p.signer, Policy: PlaceholderPolicy},
		"key-mismatch":      {Certificate: p.tsa, Signer: other.signer, Policy: PlaceholderPolicy},
		"sha1-allowed":      {Certificate: p.tsa, Signer: p.signer, Policy: PlaceholderPolicy, Hashes: []crypto.Hash{crypto.SHA1}},
		"accuracy-too-fine": {Certificate: p.tsa, Signer: p.signer, Policy: PlaceholderPolicy, Accuracy: time.Nanosecond},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}

// genTimeOf returns the raw genTime of a token.
func genTimeOf(t testing.TB, token []byte) string {
	t.Helper()
	tok, err := ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	s := cryptobyte.String(tok.tstInfo)
	var seq, skip cryptobyte.String
	s.ReadASN1(&seq, 0x30)
	for range 4 { // version, policy, messageImprint, serialNumber
		seq.ReadAnyASN1Element(&skip, nil)
	}
	var gt cryptobyte.String
	seq.ReadASN1(&gt, 0x18)
	return string(gt)
}

func TestGenTime(t *testing.T) {
	p := newPKI(t, hsm.ECDSAP256)
	at := time.Date(2026, 11, 23, 3, 15, 7, 120_450_000, time.FixedZone("ICT", 7*3600))
	for _, tc := range []struct {
		acc  time.Duration
		at   time.Time
		want string
	}{
		{0, at, "20261122201507Z"},
		{2 * time.Second, at, "20261122201507Z"},
		{100 * time.Millisecond, at, "20261122201507.12Z"},
		{500 * time.Microsecond, at, "20261122201507.12045Z"},
		{time.Millisecond, at.Truncate(time.Second), "20261122201507Z"},
	} {
		s, err := New(Config{Certificate: p.tsa, Chain: p.chain, Signer: p.signer, Policy: PlaceholderPolicy, Accuracy: tc.acc, Now: func() time.Time { return tc.at }})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.Timestamp(context.Background(), &Query{HashAlgorithm: crypto.SHA256, HashedMessage: testDigest[:]})
		if err != nil {
			t.Fatal(err)
		}
		if got := genTimeOf(t, resp.Token); got != tc.want {
			t.Errorf("accuracy %v: genTime %q, want %q", tc.acc, got, tc.want)
		}
		tok, _ := ParseToken(resp.Token)
		if want, _ := time.Parse("20060102150405Z", tc.want); !tok.GenTime.Equal(want) || tok.GenTime.Location() != time.UTC {
			t.Errorf("accuracy %v: parsed GenTime %v, want %v", tc.acc, tok.GenTime, want)
		}
	}
}

// TestSerials: unique serials across 32 goroutines × 50 requests over HTTP,
// increasing within each goroutine.
func TestSerials(t *testing.T) {
	p := newPKI(t, hsm.ECDSAP256)
	_, hs := p.server(t, Config{})
	opts := p.clientOptions()
	opts.HTTPClient = hs.Client()
	const workers, each = 32, 50
	var mu sync.Mutex
	seen := make(map[string]bool, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var last *big.Int
			for i := range each {
				tok, err := Request(context.Background(), hs.URL, testDigest[:], crypto.SHA256, opts)
				if err != nil {
					t.Errorf("worker %d request %d: %v", w, i, err)
					return
				}
				if last != nil && tok.Serial.Cmp(last) <= 0 {
					t.Errorf("worker %d: serial %v after %v", w, tok.Serial, last)
				}
				last = tok.Serial
				mu.Lock()
				if seen[tok.Serial.String()] {
					t.Errorf("serial %v issued twice", tok.Serial)
				}
				seen[tok.Serial.String()] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Errorf("%d serials, want %d", len(seen), workers*each)
	}
}

func TestMemorySerials(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	m, err := NewMemorySerials(now, nil)
	if err != nil {
		t.Fatal(err)
	}
	var last *big.Int
	for i := range 1000 {
		if i == 500 {
			clock = clock.Add(-time.Hour) // the clock steps back: still increasing
		}
		n, _ := m.Next(context.Background())
		if last != nil && n.Cmp(last) <= 0 {
			t.Fatalf("serial %v after %v", n, last)
		}
		last = n
	}
	// A restart an hour later continues above.
	clock = clock.Add(2 * time.Hour)
	m2, _ := NewMemorySerials(now, nil)
	n, _ := m2.Next(context.Background())
	if n.Cmp(last) <= 0 || n.BitLen() > 160 {
		t.Errorf("after restart: %v (%d bits), last %v", n, n.BitLen(), last)
	}
}

func TestRSAPSSClient(t *testing.T) {
	p := newPKI(t, hsm.RSA2048)
	_, hs := p.server(t, Config{SignatureHash: crypto.SHA384}) // PSS by default
	opts := p.clientOptions()
	opts.HTTPClient = hs.Client()
	tok, err := Request(context.Background(), hs.URL, testDigest[:], crypto.SHA256, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.sigAlgOID.Equal(algid.RSASSAPSS) || tok.digestHash != crypto.SHA384 {
		t.Errorf("signature algorithm %v with %v, want RSASSA-PSS with SHA-384", tok.sigAlgOID, tok.digestHash)
	}
}
