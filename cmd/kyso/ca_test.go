package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/display"
)

// TestCAWorkflow drives the CA commands as an operator would, on SQLite
// (embedded default) and on PostgreSQL (--db).
func TestCAWorkflow(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { caWorkflow(t, nil) })
	t.Run("postgres", func(t *testing.T) { caWorkflow(t, []string{"--db", testenv.NewPostgres(t)}) })
}

func caWorkflow(t *testing.T, dbArgs []string) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("KYSO_DATA", data)
	t.Setenv("KYSO_KEYSTORE", "")
	ok := func(args ...string) string { t.Helper(); return kysoOK(t, args...) }

	var first map[string]certJSON
	json.Unmarshal([]byte(ok(append([]string{"ca", "init", "--name", "Nhà cung cấp Thử nghiệm", "--base-url", "http://pki.example.vn", "--output", "json"}, dbArgs...)...)), &first)
	if first["root"].Serial == "" || first["issuing"].Serial == "" || first["ocsp"].Serial == "" || first["tsa"].Serial == "" {
		t.Fatalf("ca init printed %+v", first)
	}
	if !strings.Contains(first["issuing"].Subject, "Nhà cung cấp Thử nghiệm") {
		t.Errorf("issuing CA subject %q lacks the provider name", first["issuing"].Subject)
	}
	// kyso.json now remembers the database: later commands need no --db.
	var again map[string]certJSON
	json.Unmarshal([]byte(ok("ca", "init", "--output", "json")), &again)
	if again["root"].Serial != first["root"].Serial || again["issuing"].Serial != first["issuing"].Serial {
		t.Fatalf("second ca init made another hierarchy: %s/%s vs %s/%s", again["root"].Serial, again["issuing"].Serial, first["root"].Serial, first["issuing"].Serial)
	}
	chain := ok("ca", "chain")
	var chainCerts []*x509.Certificate
	for rest := []byte(chain); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chainCerts = append(chainCerts, c)
	}
	if len(chainCerts) != 2 || chainCerts[0].Subject.String() == chainCerts[1].Subject.String() || chainCerts[0].CheckSignatureFrom(chainCerts[1]) != nil {
		t.Fatalf("ca chain: want the issuing CA then the root that signed it, got %d certificates", len(chainCerts))
	}

	// A citizen applies with a CSR: the applicant holds the key.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	csr := filepath.Join(dir, "req.pem")
	os.WriteFile(csr, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}), 0o600)
	var issued certJSON
	json.Unmarshal([]byte(ok("cert", "issue", "--profile", "citizen", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--csr", csr, "--output", "json")), &issued)
	if issued.NationalID != "CCCD:079203001234" || issued.Profile != "citizen" || issued.Status != "good" || !strings.Contains(issued.Subject, "CN=Nguyễn Văn Đức") {
		t.Fatalf("cert issue printed %+v", issued)
	}
	c := parsePEM(t, issued.PEM)
	if len(c.OCSPServer) != 1 || !strings.HasPrefix(c.OCSPServer[0], "http://pki.example.vn/") {
		t.Errorf("OCSP URL %v does not come from --base-url", c.OCSPServer)
	}

	// The campaign rule: one active campaign certificate per CCCD.
	_, errOut, code := kyso(t, "cert", "issue", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--keygen", "ecdsa-p256", "--label", "second")
	if code != 1 || !strings.Contains(errOut, "campaign") {
		t.Fatalf("second campaign certificate: exit %d %q", code, errOut)
	}
	// Bad input is refused with the reason.
	for _, bad := range [][]string{
		{"--cccd", "12345", "--name", "A B", "--province", "Hà Nội"},
		{"--cccd", "999203001234", "--name", "A B", "--province", "Hà Nội"},
		{"--cccd", "001203001234", "--name", "A B", "--province", "Atlantis"},
	} {
		args := append([]string{"cert", "issue", "--keygen", "ecdsa-p256", "--label", "bad"}, bad...)
		if _, errOut, code := kyso(t, args...); code == 0 || errOut == "" {
			t.Errorf("kyso %v: exit %d %q", bad, code, errOut)
		}
	}
	// The same CSR (the same public key) is certified only once.
	if _, errOut, code := kyso(t, "cert", "issue", "--cccd", "001203001234", "--name", "Trần Thị Bình", "--province", "Hà Nội", "--csr", csr); code != 1 || !strings.Contains(errOut, "already certified") {
		t.Errorf("same public key twice: exit %d %q", code, errOut)
	}
	// An organisation e-seal with a key made in the key store.
	var org certJSON
	json.Unmarshal([]byte(ok("cert", "issue", "--profile", "organisation", "--mst", "0101234567", "--name", "Công ty TNHH Ký Số", "--province", "Hà Nội", "--keygen", "ecdsa-p256", "--label", "org-0101234567", "--output", "json")), &org)
	if org.NationalID != "MST:0101234567" || !strings.Contains(org.KeyURI, "org-0101234567") {
		t.Fatalf("organisation: %+v", org)
	}

	var list []certJSON
	json.Unmarshal([]byte(ok("cert", "list", "--cccd", "079203001234", "--output", "json")), &list)
	if len(list) != 1 || list[0].Serial != issued.Serial {
		t.Fatalf("cert list --cccd: %+v", list)
	}
	var shown certJSON
	json.Unmarshal([]byte(ok("cert", "show", strings.ToLower(issued.Serial), "--output", "json")), &shown)
	if shown.Serial != issued.Serial || shown.SHA256 != issued.SHA256 {
		t.Fatalf("cert show (lower-case hex): %+v", shown)
	}

	// Suspension (Decree 23/2025) and its end.
	var changed statusChange
	if _, errOut, code := kyso(t, "cert", "resume", org.Serial); code != 1 || !strings.Contains(errOut, "not suspended") {
		t.Errorf("resume a good certificate: exit %d %q", code, errOut)
	}
	json.Unmarshal([]byte(ok("cert", "suspend", org.Serial, "--output", "json")), &changed)
	if changed.Serial != org.Serial || changed.Status != "hold" {
		t.Errorf("cert suspend --output json: %+v", changed)
	}
	if _, errOut, code := kyso(t, "cert", "suspend", org.Serial); code != 1 || !strings.Contains(errOut, "is suspended") {
		t.Errorf("suspend twice: exit %d %q", code, errOut)
	}
	var held []certJSON
	json.Unmarshal([]byte(ok("cert", "list", "--status", "hold", "--output", "json")), &held)
	if len(held) != 1 || held[0].Serial != org.Serial {
		t.Errorf("cert list --status hold: %+v", held)
	}
	if out := ok("cert", "resume", org.Serial); !strings.Contains(out, "resumed "+org.Serial) {
		t.Errorf("cert resume: %q", out)
	}
	json.Unmarshal([]byte(ok("cert", "show", org.Serial, "--output", "json")), &shown)
	if shown.Status != "good" {
		t.Errorf("status after resume: %q", shown.Status)
	}
	if _, errOut, code := kyso(t, "cert", "suspend", "zz"); code != 2 || errOut == "" {
		t.Errorf("suspend a bad serial: exit %d %q", code, errOut)
	}

	if _, errOut, code := kyso(t, "cert", "revoke", issued.Serial, "--reason", "compromised"); code != 2 || !strings.Contains(errOut, "keyCompromise") {
		t.Errorf("bad reason: exit %d %q", code, errOut)
	}
	// Serials are printed with their leading zero (01…) and accepted
	// with or without it, as openssl and other tools write them.
	ok("cert", "revoke", strings.TrimPrefix(issued.Serial, "0"), "--reason", "keyCompromise")
	if _, errOut, code := kyso(t, "cert", "revoke", issued.Serial, "--reason", "superseded"); code != 1 || !strings.Contains(errOut, "already revoked") {
		t.Errorf("second revoke: exit %d %q", code, errOut)
	}
	json.Unmarshal([]byte(ok("cert", "show", strings.TrimPrefix(issued.Serial, "0"), "--output", "json")), &shown)
	if shown.Status != "revoked" || shown.Serial != issued.Serial || !strings.HasPrefix(shown.Serial, "01") {
		t.Errorf("status after revoke: %q", shown.Status)
	}
	if _, errOut, code := kyso(t, "cert", "resume", issued.Serial); code != 1 || !strings.Contains(errOut, "revoked for good") {
		t.Errorf("resume a revoked certificate: exit %d %q", code, errOut)
	}
	// Revocation frees the national ID for a new campaign certificate.
	ok("cert", "issue", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--keygen", "ecdsa-p256", "--label", "third")

	crlFile := filepath.Join(dir, "issuing.crl")
	out := ok("crl", "generate", "-o", crlFile)
	if !strings.Contains(out, "issuing\tCRL number") {
		t.Errorf("crl generate: %q", out)
	}
	der, _ := os.ReadFile(crlFile)
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := rl.CheckSignatureFrom(chainCerts[0]); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	found := false
	for _, e := range rl.RevokedCertificateEntries {
		if display.FormatSerialInt(e.SerialNumber) == issued.Serial {
			found = e.ReasonCode == 1
		}
	}
	if !found {
		t.Fatalf("CRL does not list %s as keyCompromise", issued.Serial)
	}
	for _, e := range rl.RevokedCertificateEntries {
		if display.FormatSerialInt(e.SerialNumber) == org.Serial {
			t.Errorf("CRL lists %s after its suspension was lifted", org.Serial)
		}
	}
}

func parsePEM(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatal("no PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCAImportSubordinate is how a licensed provider starts: its issuing CA
// key is made in its key store, the national root (NEAC) certifies it, and
// the certificate is imported; kyso then adds the OCSP and TSA certificates
// and issues under it. openssl checks the resulting chain.
func TestCAImportSubordinate(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("KYSO_DATA", data)
	t.Setenv("KYSO_TEST_PASS", "a long test passphrase")
	ks := "softkey:?dir=" + filepath.Join(dir, "keys") + "&passphrase-source=env:KYSO_TEST_PASS"
	ok := func(args ...string) string { t.Helper(); return kysoOK(t, args...) }
	var kj keyJSON
	json.Unmarshal([]byte(ok("key", "create", "--keystore", ks, "--label", "provider-issuing", "--alg", "ecdsa-p384", "--output", "json")), &kj)
	blk, _ := pem.Decode([]byte(kj.PublicKeyPEM))
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	// The national root, played by the test.
	rootKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	now := time.Now()
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test National Root CA", Country: []string{"VN"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(20, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER, _ := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	root, _ := x509.ParseCertificate(rootDER)
	subTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Nhà cung cấp Thử nghiệm CA", Organization: []string{"Nhà cung cấp Thử nghiệm"}, Country: []string{"VN"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(9, 0, 0), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	subDER, err := x509.CreateCertificate(rand.Reader, subTmpl, root, pub, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, subPEM := filepath.Join(dir, "root.pem"), filepath.Join(dir, "sub.pem")
	os.WriteFile(rootPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), 0o644)
	os.WriteFile(subPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: subDER}), 0o644)

	if _, errOut, code := kyso(t, "ca", "import", "--keystore", ks, "--cert", subPEM, "--chain", rootPEM, "--label", "no-such-key"); code != 1 || !strings.Contains(errOut, "key not found") {
		t.Fatalf("import with a missing key: exit %d %q", code, errOut)
	}
	ok("key", "create", "--keystore", ks, "--label", "other-key", "--alg", "ecdsa-p384")
	if _, errOut, code := kyso(t, "ca", "import", "--keystore", ks, "--cert", subPEM, "--chain", rootPEM, "--label", "other-key"); code != 1 || !strings.Contains(errOut, "not the key certified") {
		t.Fatalf("import with another key: exit %d %q", code, errOut)
	}
	ok("ca", "import", "--keystore", ks, "--cert", subPEM, "--chain", rootPEM, "--label", "provider-issuing")
	var h map[string]certJSON
	json.Unmarshal([]byte(ok("ca", "init", "--output", "json")), &h)
	if h["issuing"].Serial != "02" || h["ocsp"].Serial == "" || h["tsa"].Serial == "" {
		t.Fatalf("ca init after import: %+v", h)
	}
	if _, isRoot := h["root"]; isRoot {
		t.Fatal("ca init made its own root although a subordinate CA was imported")
	}
	chain := ok("ca", "chain")
	if strings.Count(chain, "BEGIN CERTIFICATE") != 2 || !strings.Contains(chain, strings.TrimSpace(strings.Split(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})), "\n")[1])) {
		t.Fatalf("ca chain does not end with the national root:\n%s", chain)
	}
	leaf := filepath.Join(dir, "leaf.pem")
	ok("cert", "issue", "--cccd", "001099012345", "--name", "Phạm Minh Châu", "--province", "Hà Nội", "--keygen", "ecdsa-p256", "--label", "citizen-001099012345", "-o", leaf)
	out, errOut, err := testenv.Run(exec.Command(openssl, "verify", "-CAfile", rootPEM, "-untrusted", subPEM, "-purpose", "any", leaf))
	if err != nil || strings.TrimSpace(out) != leaf+": OK" {
		t.Fatalf("openssl verify under the imported CA: %v\n%s\nstderr: %s", err, out, errOut)
	}
}

// TestCAInitRSA checks ca init with RSA CA keys signs with RSASSA-PSS by
// default and with PKCS#1 v1.5 under --rsa-pkcs1v15, which kyso.json keeps,
// and has openssl verify the issuing CA against the root.
func TestCAInitRSA(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	for _, tc := range []struct {
		name  string
		flags []string
		want  x509.SignatureAlgorithm
	}{
		{"pss", nil, x509.SHA256WithRSAPSS},
		{"pkcs1v15", []string{"--rsa-pkcs1v15"}, x509.SHA256WithRSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			t.Setenv("KYSO_DATA", data)
			t.Setenv("KYSO_KEYSTORE", "")
			args := append([]string{"ca", "init", "--ca-alg", "rsa-2048", "--alg", "rsa-2048", "--output", "json"}, tc.flags...)
			out, errOut, code := kyso(t, args...)
			if code != 0 {
				t.Fatalf("kyso ca init: exit %d %s", code, errOut)
			}
			var h map[string]certJSON
			json.Unmarshal([]byte(out), &h)
			root, issuing := parsePEM(t, h["root"].PEM), parsePEM(t, h["issuing"].PEM)
			if root.SignatureAlgorithm != tc.want || issuing.SignatureAlgorithm != tc.want {
				t.Errorf("root %v, issuing %v; want %v", root.SignatureAlgorithm, issuing.SignatureAlgorithm, tc.want)
			}
			// --alg: the OCSP responder's and the TSA's keys are RSA too.
			for _, k := range []string{"ocsp", "tsa"} {
				c := parsePEM(t, h[k].PEM)
				if c.PublicKeyAlgorithm != x509.RSA || c.SignatureAlgorithm != tc.want {
					t.Errorf("%s certificate: %v key signed with %v; want an RSA key signed with %v", k, c.PublicKeyAlgorithm, c.SignatureAlgorithm, tc.want)
				}
			}
			cfg, _ := os.ReadFile(filepath.Join(data, "kyso.json"))
			if got := strings.Contains(string(cfg), `"rsa_pkcs1v15": true`); got != (tc.flags != nil) {
				t.Errorf("kyso.json keeps rsa_pkcs1v15: %v\n%s", got, cfg)
			}
			os.WriteFile(filepath.Join(dir, "root.pem"), []byte(h["root"].PEM), 0o600)
			os.WriteFile(filepath.Join(dir, "issuing.pem"), []byte(h["issuing"].PEM), 0o600)
			cmd := exec.Command(openssl, "verify", "-CAfile", "root.pem", "issuing.pem")
			cmd.Dir = dir
			if vout, verr, err := testenv.Run(cmd); err != nil || strings.TrimSpace(vout) != "issuing.pem: OK" {
				t.Errorf("openssl verify: %v %s\nstderr: %s", err, vout, verr)
			}
		})
	}
}

// TestCAInitRefusesInlineSecret: kyso ca init keeps its --keystore in
// kyso.json, so a URI holding its PIN or passphrase is a usage error that
// says to use pin-source (or passphrase-source): nothing is created or
// written, and the secret is not echoed. Other CA commands take the same
// --keystore and refuse it too.
func TestCAInitRefusesInlineSecret(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		uri  string
		want string
	}{
		{"ca init, pin-value", []string{"ca", "init"}, "pkcs11:token=kyso?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234", "pin-source=file:PATH or pin-source=env:NAME"},
		{"ca init, passphrase", []string{"ca", "init"}, "softkey:?dir=KEYS&passphrase=secret-1234", "passphrase-source=file:PATH or passphrase-source=env:NAME"},
		{"cert list, passphrase", []string{"cert", "list"}, "softkey:?dir=KEYS&passphrase=secret-1234", "passphrase-source=file:PATH"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			uri := strings.ReplaceAll(c.uri, "KEYS", filepath.Join(dir, "keys"))
			_, errOut, code := kyso(t, append(c.args, "--data", data, "--keystore", uri)...)
			if code != 2 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "1234") {
				t.Errorf("exit %d %q; want 2 and a message saying %q, without the secret", code, errOut, c.want)
			}
			for _, p := range []string{filepath.Join(data, "kyso.json"), filepath.Join(dir, "keys")} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}
