package cms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
)

// signerKey is a citizen certificate whose key is in the softkey store.
type signerKey struct {
	name   string
	alg    hsm.Algorithm
	cert   *x509.Certificate
	signer crypto.Signer
}

// fixture is one throwaway hierarchy — a CA on SQLite and softkey with a
// fast KDF — shared by every test and benchmark of the package, because
// issuing four certificates with zlint costs more than all the CMS tests.
type fixture struct {
	h     *ca.Hierarchy
	keys  map[string]*signerKey
	order []string
}

// shared is the package's fixture.
var shared = testenv.Shared[*fixture]{Prefix: "kyso-cms-test-", Build: newFixture}

func TestMain(m *testing.M) { shared.Main(m) }

func getFixture(tb testing.TB) *fixture {
	tb.Helper()
	return shared.Get(tb)
}

func newFixture(dir string) (*fixture, error) {
	ctx := context.Background()
	p, err := catest.New(ctx, dir)
	if err != nil {
		return nil, err
	}
	h := p.Hierarchy
	f := &fixture{h: h, keys: map[string]*signerKey{}}
	for i, k := range []struct {
		name string
		alg  hsm.Algorithm
	}{{"p256", hsm.ECDSAP256}, {"p384", hsm.ECDSAP384}, {"rsa2048", hsm.RSA2048}, {"rsa3072", hsm.RSA3072}} {
		cert, s, err := p.Citizen(ctx, "cms-test-"+k.name, k.alg, fmt.Sprintf("07920300123%d", i))
		if err != nil {
			return nil, err
		}
		f.keys[k.name] = &signerKey{name: k.name, alg: k.alg, cert: cert, signer: s}
		f.order = append(f.order, k.name)
	}
	return f, nil
}

func (f *fixture) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.h.Root)
	return p
}

// writePEM writes certificates as PEM under dir.
func writePEM(t testing.TB, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openssl runs the openssl command in dir and returns its stdout and
// stderr, apart, and whether it exited 0.
func openssl(t testing.TB, dir string, args ...string) (string, string, bool) {
	t.Helper()
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, errOut, err := testenv.Run(cmd)
	return out, errOut, err == nil
}

// mustOpenSSL runs openssl in dir and returns its stdout; it fails t if
// openssl fails.
func mustOpenSSL(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, errOut, ok := openssl(t, dir, args...)
	if !ok {
		t.Fatalf("openssl %s failed:\n%s\nstderr: %s", strings.Join(args, " "), out, errOut)
	}
	return out
}

// opensslVerify asks openssl cms -verify about a detached signature over
// data, with the test root as the only trust anchor. -purpose any, because
// OpenSSL 3.0 knows no purpose for id-kp-documentSigning (RFC 9336) and the
// default smimesign purpose is not what a PDF signature is for. It returns
// what openssl said on stderr, where alone cms -verify prints its verdict
// ("Verification successful"; the content, on stdout, goes to /dev/null).
func opensslVerify(t testing.TB, dir string, f *fixture, sig, data []byte) (string, bool) {
	t.Helper()
	writePEM(t, dir, "root.pem", f.h.Root)
	writePEM(t, dir, "issuing.pem", f.h.Issuing)
	writeFile(t, dir, "sig.der", sig)
	writeFile(t, dir, "data.bin", data)
	_, said, ok := openssl(t, dir, "cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.der", "-content", "data.bin",
		"-CAfile", "root.pem", "-certfile", "issuing.pem", "-purpose", "any", "-out", os.DevNull)
	return said, ok
}

// selfSigned makes a throwaway P-256 key and self-signed certificate, for
// tests that need a key outside the hierarchy.
func selfSigned(t testing.TB, cn string, tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl == nil {
		tmpl = &x509.Certificate{KeyUsage: x509.KeyUsageDigitalSignature}
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.Subject = pkix.Name{CommonName: cn}
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}
