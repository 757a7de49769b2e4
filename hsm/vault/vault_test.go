package vault

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/hsmtest"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// open opens a store on u and closes it when t ends.
func open(t testing.TB, u *hsm.URI) *Store {
	t.Helper()
	s, err := Open(context.Background(), u, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", u.Redacted(), err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite every key backend runs, against a real
// OpenBao server, with all six algorithms and 32 goroutines × 200 signatures.
func TestConformance(t *testing.T) {
	t.Parallel()
	v := testenv.NewVault(t)
	hsmtest.Run(t, open(t, v.URI()), hsmtest.Config{Algorithms: hsm.Algorithms})
}

// TestNotExportable checks Vault will not hand out the private key: the
// export and backup endpoints refuse, and the key says exportable=false.
func TestNotExportable(t *testing.T) {
	t.Parallel()
	v := testenv.NewVault(t)
	s := open(t, v.URI())
	ctx := context.Background()
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048, hsm.Ed25519} {
		t.Run(string(alg), func(t *testing.T) {
			label := "noexport-" + string(alg)
			if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: alg}); err != nil {
				t.Fatal(err)
			}
			k, err := s.readKey(ctx, label)
			if err != nil {
				t.Fatal(err)
			}
			if k.exportable {
				t.Error("key is exportable")
			}
			for _, c := range []struct{ path, want string }{
				{"/export/signing-key/" + label, "not exportable"},
				{"/export/signing-key/" + label + "/1", "not exportable"},
				{"/backup/" + label, "exporting is disallowed"},
			} {
				sec, err := s.client.Logical().Read(v.Mount + c.path)
				if err == nil {
					t.Errorf("reading %s succeeded: %v", c.path, sec)
				} else if !strings.Contains(err.Error(), c.want) {
					t.Errorf("reading %s: error %v, want %q", c.path, err, c.want)
				}
			}
			// The public half may be exported, and is the one kyso holds.
			sec, err := s.client.Logical().Read(v.Mount + "/export/public-key/" + label + "/1")
			if err != nil || sec == nil {
				t.Fatalf("exporting the public key: %v", err)
			}
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func writeToken(t *testing.T, token string) string {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	addr := "http://" + closedPort(t)
	u := &hsm.URI{Scheme: "vault", Path: map[string]string{}, Query: map[string]string{
		"address": addr, "token-source": "file:" + writeToken(t, "s.secret-token-value"),
	}}
	start := time.Now()
	_, err := Open(context.Background(), u, nil)
	if !errors.Is(err, hsm.ErrUnavailable) {
		t.Fatalf("Open(closed port): err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open(closed port) took %v", d)
	}
	if !strings.HasPrefix(err.Error(), "vault: cannot reach "+addr+": ") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q does not say which address is unreachable and why", err)
	}
	if strings.Contains(err.Error(), "secret-token-value") {
		t.Errorf("error %q shows the token", err)
	}
	t.Log(err)
}

func TestBadToken(t *testing.T) {
	t.Parallel()
	v := testenv.NewVault(t)
	u := v.URI()
	u.Query["token-source"] = "file:" + writeToken(t, "s.wrong-token-value")
	_, err := Open(context.Background(), u, nil)
	if !errors.Is(err, hsm.ErrAuthentication) {
		t.Fatalf("Open(bad token): err = %v, want ErrAuthentication", err)
	}
	if strings.Contains(err.Error(), "wrong-token-value") {
		t.Errorf("error %q shows the token", err)
	}
	t.Log(err)

	u.Query["token-source"] = "env:KYSO_TEST_NO_SUCH_VARIABLE"
	if _, err := Open(context.Background(), u, nil); !errors.Is(err, hsm.ErrAuthentication) {
		t.Errorf("Open(missing token): err = %v, want ErrAuthentication", err)
	}
}

func TestUnknownKey(t *testing.T) {
	t.Parallel()
	v := testenv.NewVault(t)
	s := open(t, v.URI())
	ctx := context.Background()
	if _, err := s.PublicKey(ctx, &hsm.PublicKeyRequest{Label: "nope"}); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Errorf("PublicKey: err = %v, want ErrKeyNotFound", err)
	}
	if _, err := s.Signer(ctx, &hsm.SignerRequest{Label: "nope"}); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Errorf("Signer: err = %v, want ErrKeyNotFound", err)
	}
	if err := s.DeleteKey(ctx, &hsm.DeleteKeyRequest{Label: "nope"}); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Errorf("DeleteKey: err = %v, want ErrKeyNotFound", err)
	}
	keys, err := s.ListKeys(ctx, &hsm.ListKeysRequest{})
	if err != nil || len(keys) != 0 {
		t.Errorf("ListKeys on an empty mount = %v, %v", keys, err)
	}
}

// TestTLS proves the store talks to Vault over TLS, trusting only the CA in
// ca-file, and says why when it is not given.
func TestTLS(t *testing.T) {
	t.Parallel()
	v := testenv.NewVaultTLS(t)
	if !strings.HasPrefix(v.Addr, "https://") {
		t.Fatalf("TLS server address %s", v.Addr)
	}
	ctx := context.Background()

	t.Run("ca-file", func(t *testing.T) {
		s := open(t, v.URI())
		info, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "tls", Algorithm: hsm.ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(info.URI, "ca-file=") || !strings.Contains(info.URI, "address=https://") {
			t.Errorf("KeyInfo.URI %q does not keep the TLS settings", info.URI)
		}
		signer, err := s.Signer(ctx, &hsm.SignerRequest{Label: "tls"})
		if err != nil {
			t.Fatal(err)
		}
		hsmtest.CheckSigner(t, signer, hsm.ECDSAP256)
	})
	t.Run("no-ca-file", func(t *testing.T) {
		u := v.URI()
		delete(u.Query, "ca-file")
		_, err := Open(ctx, u, nil)
		if !errors.Is(err, hsm.ErrUnavailable) {
			t.Fatalf("Open without ca-file: err = %v, want ErrUnavailable", err)
		}
		if !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "ca-file") {
			t.Errorf("error %q does not say the certificate is not trusted", err)
		}
		t.Log(err)
	})
	t.Run("wrong-server-name", func(t *testing.T) {
		u := v.URI()
		u.Query["tls-server-name"] = "vault.example"
		if _, err := Open(ctx, u, nil); !errors.Is(err, hsm.ErrUnavailable) || !strings.Contains(err.Error(), "vault.example") {
			t.Fatalf("Open with the wrong tls-server-name: err = %v", err)
		}
	})
	t.Run("plain-http-to-tls", func(t *testing.T) {
		u := v.URI()
		u.Query["address"] = "http://" + strings.TrimPrefix(v.Addr, "https://")
		if _, err := Open(ctx, u, nil); err == nil {
			t.Fatal("plain HTTP to a TLS-only server succeeded")
		}
	})
}

// TestURI checks what Open refuses before it talks to Vault, and that the
// URI of a key opens the same store again.
func TestURI(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, uri, want string }{
		{"token-in-uri", "vault:mount=transit?address=http://127.0.0.1:1&token=s.abc", "token-source"},
		{"unknown-attr", "vault:mount=transit?address=http://127.0.0.1:1&ca_file=/x", `"ca_file"`},
		{"unknown-path-attr", "vault:object=x?address=http://127.0.0.1:1", `"object"`},
		{"bad-scheme", "pkcs11:token=x", "scheme"},
		{"bad-address", "vault:?address=127.0.0.1:8200", "not an http"},
		{"bad-mount", "vault:mount=a/../b?address=http://127.0.0.1:1", "mount"},
		{"bad-name", "vault:name=a%20b?address=http://127.0.0.1:1", "key name"},
		{"missing-ca-file", "vault:?address=https://127.0.0.1:1&token-source=env:PATH&ca-file=/nonexistent/ca.pem", "ca-file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := hsm.ParseURI(c.uri)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(context.Background(), u, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "vault: ") {
				t.Fatalf("Open(%s): err = %v, want a \"vault: \" error mentioning %s", c.uri, err, c.want)
			}
			if strings.Contains(err.Error(), "s.abc") {
				t.Errorf("error %q shows the token", err)
			}
		})
	}

	t.Run("key-uri-reopens", func(t *testing.T) {
		v := testenv.NewVault(t)
		s := open(t, v.URI())
		info, err := s.CreateKey(context.Background(), &hsm.CreateKeyRequest{Label: "again", Algorithm: hsm.Ed25519})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(info.URI, v.Token) {
			t.Fatalf("KeyInfo.URI %q holds the token", info.URI)
		}
		u, err := hsm.ParseURI(info.URI)
		if err != nil {
			t.Fatal(err)
		}
		if u.Path["name"] != "again" || u.Path["mount"] != v.Mount {
			t.Errorf("KeyInfo.URI %q", info.URI)
		}
		s2 := open(t, u)
		pub, err := s2.PublicKey(context.Background(), &hsm.PublicKeyRequest{Label: u.Path["name"]})
		if err != nil || !hsm.SamePublicKey(pub, info.PublicKey) {
			t.Fatalf("reopened store gives %v, %v", pub, err)
		}
	})
}

// TestRotationKeepsPinnedVersion checks a Signer keeps signing with the
// version it was made for after the key is rotated, and a new Signer takes
// the new version.
func TestRotationKeepsPinnedVersion(t *testing.T) {
	t.Parallel()
	v := testenv.NewVault(t)
	s := open(t, v.URI())
	ctx := context.Background()
	info, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "rotating", Algorithm: hsm.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.Signer(ctx, &hsm.SignerRequest{Label: "rotating"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.Logical().Write(v.Mount+"/keys/rotating/rotate", nil); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("rotation"))
	sig, err := old.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("old signer after rotation: %v", err)
	}
	if !ecdsa.VerifyASN1(info.PublicKey.(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("old signer did not sign with version 1")
	}
	cur, err := s.Signer(ctx, &hsm.SignerRequest{Label: "rotating"})
	if err != nil {
		t.Fatal(err)
	}
	if hsm.SamePublicKey(cur.Public(), info.PublicKey) {
		t.Fatal("new signer still has version 1's public key")
	}
	hsmtest.CheckSigner(t, cur, hsm.ECDSAP256)
}

func TestParseSignature(t *testing.T) {
	good := []struct {
		in      string
		version int
	}{{"vault:v1:AQID", 1}, {"vault:v12:AQID", 12}}
	for _, c := range good {
		sig, v, err := parseSignature(c.in)
		if err != nil || v != c.version || string(sig) != "\x01\x02\x03" {
			t.Errorf("parseSignature(%q) = %x, %d, %v", c.in, sig, v, err)
		}
	}
	for _, in := range []string{"", "vault:v0:AQID", "vault:vx:AQID", "vault:v1", "vault:v1:", "vault:v1:***", "bao:v1:AQID", "vault:v-1:AQID", "vault:v" + strconv.Itoa(1<<62) + "0:AQID"} {
		if _, _, err := parseSignature(in); err == nil {
			t.Errorf("parseSignature(%q) succeeded", in)
		}
	}
}

// TestOtherKeyTypes checks a Transit key kyso cannot sign with is left out
// of ListKeys, still holds its name against CreateKey, and is refused by
// Signer.
func TestOtherKeyTypes(t *testing.T) {
	t.Parallel()
	v := testenv.NewVault(t)
	s := open(t, v.URI())
	ctx := context.Background()
	if _, err := s.client.Logical().Write(v.Mount+"/keys/aes", map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "ec", Algorithm: hsm.ECDSAP384}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.ListKeys(ctx, &hsm.ListKeysRequest{})
	if err != nil || len(keys) != 1 || keys[0].Label != "ec" || keys[0].Algorithm != hsm.ECDSAP384 {
		t.Fatalf("ListKeys = %v, %v; want only ec", keys, err)
	}
	if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "aes", Algorithm: hsm.ECDSAP256}); !errors.Is(err, hsm.ErrKeyExists) {
		t.Errorf("CreateKey over an AES key: err = %v, want ErrKeyExists", err)
	}
	if _, err := s.Signer(ctx, &hsm.SignerRequest{Label: "aes"}); !errors.Is(err, hsm.ErrUnsupportedAlgorithm) {
		t.Errorf("Signer(AES key): err = %v, want ErrUnsupportedAlgorithm", err)
	}
}

// TestClosed checks signers stop working when their store is closed.
func TestClosed(t *testing.T) {
	t.Parallel()
	v := testenv.NewVault(t)
	s := open(t, v.URI())
	ctx := context.Background()
	if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "k", Algorithm: hsm.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	signer, err := s.Signer(ctx, &hsm.SignerRequest{Label: "k"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	d := sha256.Sum256([]byte("closed"))
	if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, hsm.ErrUnavailable) {
		t.Errorf("Sign after Close: err = %v, want ErrUnavailable", err)
	}
}

// TestOptions checks a caller's HTTP client is used (and not changed) with
// ca-file, and that the logger hears of key events but never the token.
func TestOptions(t *testing.T) {
	t.Parallel()
	v := testenv.NewVaultTLS(t)
	var logs strings.Builder
	given := &http.Client{Timeout: 7 * time.Second, Transport: &http.Transport{}}
	opts := &Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), HTTPClient: given}
	ctx := context.Background()
	s, err := Open(ctx, v.URI(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// (Transport.Clone itself gives the original an empty TLSClientConfig,
	// for HTTP/2; it must not get the CA.)
	if tc := given.Transport.(*http.Transport).TLSClientConfig; tc != nil && tc.RootCAs != nil || given.CheckRedirect != nil {
		t.Error("Open changed the caller's HTTP client")
	}
	if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "logged", Algorithm: hsm.Ed25519}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, &hsm.DeleteKeyRequest{Label: "logged"}); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"opened", "created key", "deleted key", "label=logged"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, v.Token) {
		t.Errorf("log holds the token:\n%s", out)
	}

	given.Transport = roundTripper(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") })
	if _, err := Open(ctx, v.URI(), &Options{HTTPClient: given}); err == nil || !strings.Contains(err.Error(), "*http.Transport") {
		t.Errorf("Open with ca-file and a non-*http.Transport: err = %v", err)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRecreatedKeyRefused checks the local verification is what stops a
// signer whose key was deleted and re-created under its name: Transit
// signs happily with the new key's version 1.
func TestRecreatedKeyRefused(t *testing.T) {
	t.Parallel()
	v := testenv.NewVault(t)
	s := open(t, v.URI())
	ctx := context.Background()
	if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "k", Algorithm: hsm.RSA2048}); err != nil {
		t.Fatal(err)
	}
	old, err := s.Signer(ctx, &hsm.SignerRequest{Label: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, &hsm.DeleteKeyRequest{Label: "k"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "k", Algorithm: hsm.RSA2048}); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("recreated"))
	for _, opts := range []crypto.SignerOpts{crypto.SHA256, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}} {
		_, err := old.Sign(rand.Reader, d[:], opts)
		if err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("old signer after re-create: err = %v, want a verification failure", err)
		}
	}
}
