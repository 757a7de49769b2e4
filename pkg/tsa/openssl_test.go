package tsa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// openssl runs the openssl command in dir, bounded in time, and returns its
// stdout; a failure is logged with stderr.
func openssl(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, _ := opensslStreams(t, dir, args...)
	return out
}

// opensslStreams is openssl returning stdout and stderr apart: some
// verdicts, such as cms -verify's "Verification successful", are printed
// on stderr alone.
func opensslStreams(t testing.TB, dir string, args ...string) (string, string) {
	t.Helper()
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, errOut, err := testenv.Run(cmd)
	if err != nil {
		t.Logf("openssl %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out, errOut
}

func wantAll(t testing.TB, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("openssl output lacks %q:\n%s", w, out)
		}
	}
}

// postFile POSTs the request file to url and writes the reply to out.
func postFile(t testing.TB, url, in, out string) {
	t.Helper()
	body, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(url, ContentTypeQuery, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ContentTypeReply {
		t.Fatalf("POST %s: %s, %q", in, resp.Status, resp.Header.Get("Content-Type"))
	}
	if err := os.WriteFile(out, reply, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpenSSL is the outside checker of CHECKS.md: requests made by
// `openssl ts -query` get replies that `openssl ts -verify` accepts, for
// ECDSA and RSA (PKCS#1 v1.5 and PSS) TSA keys.
func TestOpenSSL(t *testing.T) {
	for _, tc := range []struct {
		name string
		alg  hsm.Algorithm
		pss  bool
	}{
		{"p256", hsm.ECDSAP256, false},
		{"p384", hsm.ECDSAP384, false},
		{"rsa2048-pkcs1v15", hsm.RSA2048, false},
		{"rsa2048-pss", hsm.RSA2048, true}, // the default for RSA
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKI(t, tc.alg)
			_, hs := p.server(t, Config{RSAPKCS1v15: tc.alg.IsRSA() && !tc.pss, Accuracy: 500 * time.Millisecond})
			data := filepath.Join(p.dir, "data.txt")
			if err := os.WriteFile(data, []byte("Tờ khai dịch vụ công trực tuyến\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte("Tờ khai dịch vụ công trực tuyến\n"))

			for _, q := range []struct {
				name string
				args []string
			}{
				{"sha256-cert", []string{"-sha256", "-cert"}},
				{"sha256-no-nonce", []string{"-sha256", "-cert", "-no_nonce"}},
				{"sha512-cert", []string{"-sha512", "-cert"}},
				{"sha384-policy", []string{"-sha384", "-cert", "-tspolicy", PlaceholderPolicy.String()}},
			} {
				t.Run(q.name, func(t *testing.T) {
					tsq := filepath.Join(p.dir, q.name+".tsq")
					tsr := filepath.Join(p.dir, q.name+".tsr")
					out := openssl(t, p.dir, append([]string{"ts", "-query", "-data", data, "-out", tsq}, q.args...)...)
					if _, err := os.Stat(tsq); err != nil {
						t.Fatalf("openssl ts -query: %s", out)
					}
					postFile(t, hs.URL, tsq, tsr)

					cmsVerify(t, p, tsr)
					if tc.pss {
						// openssl ts -verify (PKCS#7 code) checks only PKCS#1 v1.5
						// padding up to OpenSSL 3.0 ("RSA_padding_check_PKCS1_type_1:
						// invalid padding"); cms -verify above checked the PSS token.
						return
					}
					wantAll(t, openssl(t, p.dir, "ts", "-verify", "-data", data, "-in", tsr, "-CAfile", p.rootPEM, "-untrusted", p.issuingPEM), "Verification: OK")
					// -queryfile also checks nonce, policy and the tsa name.
					wantAll(t, openssl(t, p.dir, "ts", "-verify", "-queryfile", tsq, "-in", tsr, "-CAfile", p.rootPEM, "-untrusted", p.chainPEM), "Verification: OK")

					text := openssl(t, p.dir, "ts", "-reply", "-in", tsr, "-text")
					wantAll(t, text, "Status: Granted.", "Policy OID: "+PlaceholderPolicy.String(), "Accuracy: unspecified seconds, 0x01F4 millis, unspecified micros", "Ordering: no", "TSA: DirName:")
					if strings.Contains(q.name, "no-nonce") {
						wantAll(t, text, "Nonce: unspecified")
					} else {
						qtext := openssl(t, p.dir, "ts", "-query", "-in", tsq, "-text")
						i := strings.Index(qtext, "Nonce: ")
						if i < 0 {
							t.Fatalf("no nonce in the query:\n%s", qtext)
						}
						nonceLine := qtext[i : i+strings.IndexByte(qtext[i:], '\n')]
						wantAll(t, text, nonceLine)
					}
				})
			}

			if tc.pss {
				return
			}
			// -digest with the hex SHA-256, as CHECKS.md runs it.
			t.Run("digest", func(t *testing.T) {
				tsq := filepath.Join(p.dir, "digest.tsq")
				tsr := filepath.Join(p.dir, "digest.tsr")
				openssl(t, p.dir, "ts", "-query", "-digest", hex.EncodeToString(sum[:]), "-sha256", "-cert", "-out", tsq)
				postFile(t, hs.URL, tsq, tsr)
				wantAll(t, openssl(t, p.dir, "ts", "-verify", "-digest", hex.EncodeToString(sum[:]), "-in", tsr, "-CAfile", p.rootPEM, "-untrusted", p.issuingPEM), "Verification: OK")

				// A token for another digest is refused.
				other := sha256.Sum256([]byte("something else"))
				out := openssl(t, p.dir, "ts", "-verify", "-digest", hex.EncodeToString(other[:]), "-in", tsr, "-CAfile", p.rootPEM, "-untrusted", p.issuingPEM)
				if strings.Contains(out, "Verification: OK") {
					t.Errorf("openssl accepted a token for another digest:\n%s", out)
				}
			})

			// Without -cert the token carries no certificates; openssl
			// verifies with the TSA certificate given as untrusted.
			t.Run("no-cert", func(t *testing.T) {
				tsq := filepath.Join(p.dir, "nocert.tsq")
				tsr := filepath.Join(p.dir, "nocert.tsr")
				openssl(t, p.dir, "ts", "-query", "-data", data, "-sha256", "-out", tsq)
				postFile(t, hs.URL, tsq, tsr)
				tok := openssl(t, p.dir, "ts", "-reply", "-in", tsr, "-token_out", "-out", filepath.Join(p.dir, "nocert.tst"))
				_ = tok
				der, err := os.ReadFile(filepath.Join(p.dir, "nocert.tst"))
				if err != nil {
					t.Fatal(err)
				}
				tk, err := ParseToken(der)
				if err != nil {
					t.Fatal(err)
				}
				if len(tk.Certificates) != 0 {
					t.Errorf("token without certReq carries %d certificates", len(tk.Certificates))
				}
				untrusted := writePEM(t, p.dir, "tsa-and-issuing.pem", p.tsa, p.issuing)
				wantAll(t, openssl(t, p.dir, "ts", "-verify", "-data", data, "-in", tsr, "-CAfile", p.rootPEM, "-untrusted", untrusted), "Verification: OK")
			})
		})
	}
}

// cmsVerify checks the token in the reply file with `openssl cms -verify`,
// which, unlike openssl ts in OpenSSL 3.0, verifies RSA-PSS signatures.
func cmsVerify(t testing.TB, p *pki, tsr string) {
	t.Helper()
	tst := tsr + ".tst"
	openssl(t, p.dir, "ts", "-reply", "-in", tsr, "-token_out", "-out", tst)
	_, said := opensslStreams(t, p.dir, "cms", "-verify", "-inform", "DER", "-in", tst, "-CAfile", p.rootPEM, "-certfile", p.issuingPEM,
		"-purpose", "timestampsign", "-binary", "-out", tst+".tstinfo")
	wantAll(t, said, "Verification successful")
}

// TestOpenSSLRefusals checks how openssl reads kyso's rejections.
func TestOpenSSLRefusals(t *testing.T) {
	p := newPKI(t, hsm.ECDSAP256)
	_, hs := p.server(t, Config{})
	data := filepath.Join(p.dir, "data.txt")
	os.WriteFile(data, []byte("x"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"sha1", []string{"-sha1"}, "unrecognized or unsupported algorithm identifier"},
		{"policy", []string{"-sha256", "-tspolicy", "1.2.3.4"}, "the requested TSA policy is not supported by the TSA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tsq := filepath.Join(p.dir, tc.name+".tsq")
			tsr := filepath.Join(p.dir, tc.name+".tsr")
			openssl(t, p.dir, append([]string{"ts", "-query", "-data", data, "-out", tsq}, tc.args...)...)
			postFile(t, hs.URL, tsq, tsr)
			wantAll(t, openssl(t, p.dir, "ts", "-reply", "-in", tsr, "-text"), "Status: Rejected.", tc.want)
		})
	}
}
