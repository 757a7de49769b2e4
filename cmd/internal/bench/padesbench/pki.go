package padesbench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
)

// Keys the bench signs with.
const (
	KeyP256    = "p256"
	KeyRSA2048 = "rsa2048"
)

// nssNick is the signer's nickname in the NSS database pdfsig signs with.
const nssNick = "kyso-bench-signer"

// PKI is the throwaway signer every row signs with: a citizen certificate
// from a CA made by pkg/ca/catest (pkg/ca on SQLite and softkey), for a
// key kept as a PEM file — which the floor, kyso in-process and the peers
// use — and, for `kyso sign pdf`, a second certificate from the same CA, of
// the same profile and key type, for a key in the CA's softkey store:
// softkey cannot import a key, and the CLI signs only with keys in a key
// store.
type PKI struct {
	// Dir holds every file below.
	Dir string
	// Alg is the signer's key type.
	Alg hsm.Algorithm
	// Key is the signer's key; KeyFile the same, PKCS#8 PEM.
	Key     crypto.Signer
	KeyFile string
	// Cert is the signer's certificate; CertFile the same, PEM.
	Cert     *x509.Certificate
	CertFile string
	// Chain is the issuing CA, what goes into the CMS; ChainFile the same,
	// PEM. RootFile is the root, PEM.
	Chain     []*x509.Certificate
	ChainFile string
	RootFile  string
	// Keystore is the softkey URI of the CA's key store, KysoLabel the
	// label of the CLI's signing key in it and KysoCertFile its
	// certificate, PEM.
	Keystore     string
	KysoLabel    string
	KysoCertFile string

	nss string // "sql:DIR", or "" until NSS is made
}

// NewPKI makes the CA and the signer, key type "p256" or "rsa2048", in dir.
// Close it when done.
func NewPKI(ctx context.Context, dir, keyType string) (*PKI, error) {
	p := &PKI{Dir: dir, KysoLabel: "bench-signer"}
	var key crypto.Signer
	var err error
	switch keyType {
	case KeyP256:
		p.Alg = hsm.ECDSAP256
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyRSA2048:
		p.Alg = hsm.RSA2048
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("padesbench: key %q is not %s or %s", keyType, KeyP256, KeyRSA2048)
	}
	if err != nil {
		return nil, fmt.Errorf("padesbench: generating the signer's key: %w", err)
	}
	p.Key = key
	caDir := filepath.Join(dir, "ca")
	tp, err := catest.NewInit(ctx, caDir, &ca.InitRequest{Name: "Kyso Bench"})
	if err != nil {
		return nil, fmt.Errorf("padesbench: making the CA: %w", err)
	}
	defer tp.Close()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bench"}}, key)
	if err != nil {
		return nil, fmt.Errorf("padesbench: %w", err)
	}
	if p.Cert, err = tp.CA.IssueCitizen(ctx, &ca.CitizenRequest{Name: "Nguyễn Văn Đức", CCCD: "079203001238", Province: "Hồ Chí Minh",
		Key: ca.KeySource{CSR: csr}}); err != nil {
		return nil, fmt.Errorf("padesbench: issuing the signer's certificate: %w", err)
	}
	kysoCert, _, err := tp.Citizen(ctx, p.KysoLabel, p.Alg, "079203001239")
	if err != nil {
		return nil, err
	}
	h := tp.Hierarchy
	p.Chain = []*x509.Certificate{h.Issuing}

	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("padesbench: %w", err)
	}
	pass := filepath.Join(dir, "passphrase")
	p.KeyFile, p.CertFile, p.ChainFile, p.RootFile, p.KysoCertFile = filepath.Join(dir, "signer-key.pem"), filepath.Join(dir, "signer.pem"),
		filepath.Join(dir, "chain.pem"), filepath.Join(dir, "root.pem"), filepath.Join(dir, "kyso-signer.pem")
	for _, f := range []struct {
		path string
		data []byte
	}{
		{p.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8})},
		{p.CertFile, pemCert(p.Cert)},
		{p.ChainFile, pemCert(h.Issuing)},
		{p.RootFile, pemCert(h.Root)},
		{p.KysoCertFile, pemCert(kysoCert)},
		// catest's softkey passphrase, so the CLI reads it from a file
		// rather than its command line.
		{pass, []byte("test-passphrase")},
	} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return nil, fmt.Errorf("padesbench: %w", err)
		}
	}
	p.Keystore = "softkey:?dir=" + filepath.Join(caDir, "keys") + "&passphrase-source=file:" + pass
	return p, nil
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// LoadKey reads a PKCS#8 PEM private key, as NewPKI writes KeyFile.
func LoadKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("padesbench: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("padesbench: %s holds no PKCS#8 PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("padesbench: %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("padesbench: %s: %T is not a signer", path, k)
	}
	return s, nil
}

// Tools are the outside programs the bench runs. Empty paths are looked up
// in PATH by Run; one that is missing fails the rows that need it.
type Tools struct {
	// Kyso is the kyso binary, for the floor-cli and kyso-cli rows.
	Kyso string
	// Pyhanko is pyHanko's CLI (PyPI pyhanko with pyhanko-cli).
	Pyhanko string
	// Pdfsig is poppler's pdfsig: a peer, and the checker of every
	// signed output.
	Pdfsig string
	// Certutil and Pk12util (libnss3-tools) make pdfsig's NSS database;
	// OpenSSL makes the PKCS#12 file pk12util imports.
	Certutil, Pk12util, OpenSSL string
}

func (t *Tools) lookPath() {
	for _, p := range []struct {
		path *string
		name string
	}{{&t.Pyhanko, "pyhanko"}, {&t.Pdfsig, "pdfsig"}, {&t.Certutil, "certutil"}, {&t.Pk12util, "pk12util"}, {&t.OpenSSL, "openssl"}} {
		if *p.path == "" {
			*p.path, _ = exec.LookPath(p.name)
		}
	}
}

// NSS makes, once, the NSS database pdfsig signs with and checks against:
// the signer's key and certificate (imported from a PKCS#12 file made by
// openssl), the issuing CA, and the root trusted for e-mail and object
// signing. It returns it as pdfsig's -nssdir wants it, "sql:DIR".
func (p *PKI) NSS(t *Tools) (string, error) {
	if p.nss != "" {
		return p.nss, nil
	}
	for name, path := range map[string]string{"certutil": t.Certutil, "pk12util": t.Pk12util} {
		if path == "" {
			return "", fmt.Errorf("padesbench: %s not found (apt-get install libnss3-tools)", name)
		}
	}
	if t.OpenSSL == "" {
		return "", errors.New("padesbench: openssl not found (apt-get install openssl)")
	}
	db := filepath.Join(p.Dir, "nss")
	if err := os.MkdirAll(db, 0o700); err != nil {
		return "", fmt.Errorf("padesbench: %w", err)
	}
	p12 := filepath.Join(p.Dir, "signer.p12")
	const p12Pass = "kyso-bench" // a throwaway file's, in the same directory as the key
	for _, c := range [][]string{
		{t.OpenSSL, "pkcs12", "-export", "-inkey", p.KeyFile, "-in", p.CertFile, "-certfile", p.ChainFile, "-name", nssNick, "-passout", "pass:" + p12Pass, "-out", p12},
		{t.Certutil, "-N", "-d", "sql:" + db, "--empty-password"},
		{t.Pk12util, "-i", p12, "-d", "sql:" + db, "-W", p12Pass, "-K", ""},
		{t.Certutil, "-A", "-n", "kyso-bench-root", "-t", "CT,C,C", "-i", p.RootFile, "-d", "sql:" + db},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Stdin = strings.NewReader("")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("padesbench: %s %s: %v\n%s", filepath.Base(c[0]), c[1], err, out)
		}
	}
	p.nss = "sql:" + db
	return p.nss, nil
}
