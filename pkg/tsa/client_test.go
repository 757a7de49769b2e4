package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
)

var testDigest = sha256.Sum256([]byte("Tờ khai dịch vụ công trực tuyến"))

// postQuery POSTs der to url and returns the HTTP response and body.
func postQuery(t testing.TB, url, contentType string, der []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(url, contentType, bytes.NewReader(der))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func mustMarshal(t testing.TB, q *Query) []byte {
	t.Helper()
	der, err := q.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// rewrite is a test TSA in front of the real one: it lets edit change the
// request before the Server sees it and tamper change the reply after.
func rewrite(t testing.TB, s *Server, edit func(*Query), tamper func([]byte) []byte) *httptest.Server {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q, err := ParseQuery(body)
		if err != nil {
			t.Errorf("rewrite: %v", err)
			return
		}
		if edit != nil {
			edit(q)
		}
		resp, _ := s.Timestamp(r.Context(), q)
		der := resp.DER
		if tamper != nil {
			der = tamper(bytes.Clone(der))
		}
		w.Header().Set("Content-Type", ContentTypeReply)
		w.Write(der)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func parseReplyToken(reply []byte) (*Token, error) {
	der, err := ParseReply(reply)
	if err != nil {
		return nil, err
	}
	return ParseToken(der)
}

func TestClient(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t, hsm.ECDSAP256)
	s, hs := p.server(t, Config{Accuracy: 20 * time.Millisecond})
	opts := p.clientOptions()
	opts.HTTPClient = hs.Client()

	t.Run("good", func(t *testing.T) {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			hh := h.New()
			hh.Write([]byte("dữ liệu"))
			d := hh.Sum(nil)
			before := time.Now().Add(-time.Second)
			tok, err := Request(ctx, hs.URL, d, h, opts)
			if err != nil {
				t.Fatalf("%v: %v", h, err)
			}
			if !tok.Policy.Equal(PlaceholderPolicy) || tok.Accuracy != 20*time.Millisecond || tok.Serial.Sign() <= 0 ||
				tok.GenTime.Before(before) || tok.GenTime.After(time.Now().Add(time.Second)) || tok.GenTime.Location() != time.UTC {
				t.Errorf("%v: token %+v", h, tok)
			}
			if len(tok.Certificates) != 2 || !tok.Certificates[0].Equal(p.tsa) || !tok.Certificates[1].Equal(p.issuing) {
				t.Errorf("%v: token carries %d certificates, want the TSA's and the issuing CA's", h, len(tok.Certificates))
			}
			// ParseToken and Verify, as PAdES checks an embedded token.
			again, err := ParseToken(tok.DER)
			if err != nil {
				t.Fatal(err)
			}
			if err := again.Verify(d, h, &VerifyOptions{Roots: p.roots}); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if err := again.Verify(testDigest[:], crypto.SHA256, &VerifyOptions{Roots: p.roots}); !errors.Is(err, ErrImprintMismatch) || h != crypto.SHA256 && err == nil {
				t.Errorf("Verify of another digest: %v, want ErrImprintMismatch", err)
			}
		}
	})

	t.Run("policy", func(t *testing.T) {
		o := *opts
		o.Policy = PlaceholderPolicy
		if _, err := Request(ctx, hs.URL, testDigest[:], crypto.SHA256, &o); err != nil {
			t.Fatal(err)
		}
		o.Policy = asn1.ObjectIdentifier{1, 2, 3, 4}
		_, err := Request(ctx, hs.URL, testDigest[:], crypto.SHA256, &o)
		if re, ok := errors.AsType[*RefusedError](err); !ok || re.FailInfo != UnacceptedPolicy || re.Status != StatusRejection {
			t.Fatalf("unknown policy: %v, want unacceptedPolicy", err)
		}
	})

	t.Run("no-certreq", func(t *testing.T) {
		o := *opts
		o.NoCertReq = true
		if _, err := Request(ctx, hs.URL, testDigest[:], crypto.SHA256, &o); !errors.Is(err, ErrUntrusted) {
			t.Fatalf("token without certificates, none given: %v, want ErrUntrusted", err)
		}
		o.Certificates = []*x509.Certificate{p.tsa}
		tok, err := Request(ctx, hs.URL, testDigest[:], crypto.SHA256, &o)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok.Certificates) != 0 {
			t.Errorf("certReq false: %d certificates in the token", len(tok.Certificates))
		}
	})

	t.Run("wrong-nonce", func(t *testing.T) {
		bad := rewrite(t, s, func(q *Query) { q.Nonce = new(big.Int).Add(q.Nonce, big.NewInt(1)) }, nil)
		if _, err := Request(ctx, bad.URL, testDigest[:], crypto.SHA256, opts); !errors.Is(err, ErrNonceMismatch) {
			t.Fatalf("got %v, want ErrNonceMismatch", err)
		}
		none := rewrite(t, s, func(q *Query) { q.Nonce = nil }, nil)
		if _, err := Request(ctx, none.URL, testDigest[:], crypto.SHA256, opts); !errors.Is(err, ErrNonceMismatch) {
			t.Fatalf("nonce dropped: got %v, want ErrNonceMismatch", err)
		}
	})

	t.Run("wrong-imprint", func(t *testing.T) {
		bad := rewrite(t, s, func(q *Query) {
			q.HashedMessage = bytes.Clone(q.HashedMessage)
			q.HashedMessage[0] ^= 1
		}, nil)
		if _, err := Request(ctx, bad.URL, testDigest[:], crypto.SHA256, opts); !errors.Is(err, ErrImprintMismatch) {
			t.Fatalf("got %v, want ErrImprintMismatch", err)
		}
		other := sha512.Sum512_256(testDigest[:])
		alg := rewrite(t, s, func(q *Query) {
			q.HashAlgorithm, q.HashOID, q.HashedMessage = crypto.SHA384, nil, append(other[:], other[:16]...)
		}, nil)
		if _, err := Request(ctx, alg.URL, testDigest[:], crypto.SHA256, opts); !errors.Is(err, ErrImprintMismatch) {
			t.Fatalf("other algorithm: got %v, want ErrImprintMismatch", err)
		}
	})

	t.Run("tampered", func(t *testing.T) {
		// Flip every byte of the TSTInfo in turn, then the signature's
		// last byte: each reply must be refused.
		var tst []byte
		probe := rewrite(t, s, nil, func(der []byte) []byte {
			if tok, err := parseReplyToken(der); err == nil {
				tst = tok.tstInfo
			}
			return der
		})
		if _, err := Request(ctx, probe.URL, testDigest[:], crypto.SHA256, opts); err != nil || len(tst) == 0 {
			t.Fatalf("probe: %v, %d", err, len(tst))
		}
		for i := 0; i < len(tst)+1; i++ {
			bad := rewrite(t, s, nil, func(der []byte) []byte {
				if i == len(tst) {
					der[len(der)-1] ^= 0x01
					return der
				}
				tok, err := parseReplyToken(der)
				if err != nil {
					t.Error(err)
					return der
				}
				j := bytes.Index(der, tok.tstInfo)
				der[j+i] ^= 0x01
				return der
			})
			if tok, err := Request(ctx, bad.URL, testDigest[:], crypto.SHA256, opts); err == nil {
				t.Errorf("byte %d of %d flipped: accepted token serial %v", i, len(tst), tok.Serial)
			}
		}
	})

	t.Run("untrusted-root", func(t *testing.T) {
		other := newPKI(t, hsm.ECDSAP256)
		o := *opts
		o.Roots, o.Intermediates = other.roots, other.inter
		if _, err := Request(ctx, hs.URL, testDigest[:], crypto.SHA256, &o); !errors.Is(err, ErrUntrusted) {
			t.Fatalf("got %v, want ErrUntrusted", err)
		}
	})

	t.Run("genTime-outside-validity", func(t *testing.T) {
		// A token whose genTime lies after the TSA certificate expired
		// does not chain.
		late := p.tsa.NotAfter.Add(time.Hour)
		s2, hs2 := p.server(t, Config{Now: func() time.Time { return late }})
		_ = s2
		o := *opts
		o.Now = func() time.Time { return late }
		if _, err := Request(ctx, hs2.URL, testDigest[:], crypto.SHA256, &o); !errors.Is(err, ErrUntrusted) {
			t.Fatalf("got %v, want ErrUntrusted", err)
		}
		// The local clock far from genTime.
		if _, err := Request(ctx, hs2.URL, testDigest[:], crypto.SHA256, opts); err == nil || !strings.Contains(err.Error(), "genTime") {
			t.Fatalf("got %v, want a genTime error", err)
		}
	})

	t.Run("client-refuses", func(t *testing.T) {
		d := sha1.Sum([]byte("x"))
		if _, err := Request(ctx, hs.URL, d[:], crypto.SHA1, opts); err == nil {
			t.Error("client sent a SHA-1 request")
		}
		if _, err := Request(ctx, hs.URL, testDigest[:31], crypto.SHA256, opts); err == nil {
			t.Error("client sent a short digest")
		}
		if _, err := Request(ctx, hs.URL, testDigest[:], crypto.SHA256, &ClientOptions{}); err == nil {
			t.Error("client ran without Roots")
		}
	})
}
