// Command pkcs11-local shows local signing with a key inside a PKCS#11
// token (an HSM; SoftHSM on a laptop): the key is made on the token and
// never leaves it, a CA certifies it from a PKCS#10 request, and pkg/pades
// signs a PDF with the crypto.Signer the token hands out. No kysod is
// involved, except as the CA's OCSP responder, which the pre-signing check
// of the certificate asks (Circular 15/2025 Art. 5), and as the TSA when
// --tsa asks for a time-stamp (PAdES B-T).
//
// The token's PIN comes from $KYSO_PIN; the module and the token from the
// flags (or $KYSO_PKCS11_MODULE and $KYSO_TOKEN). First the key and its
// request, which a CA certifies (here kyso's, as an organisation's seal):
//
//	export KYSO_PIN=... KYSO_TOKEN=kyso
//	go run ./examples/pkcs11-local --label seal --csr req.pem
//	kyso cert issue --data kyso-data --profile organisation --mst 0101234567 --name "Công ty TNHH Ký Số" \
//	    --province "Hà Nội" --csr req.pem -o seal.pem
//	kyso ca chain --data kyso-data > chain.pem
//
// then signing, as often as needed:
//
//	go run ./examples/pkcs11-local --label seal --cert seal.pem --chain chain.pem --trust root.pem \
//	    --tsa http://127.0.0.1:8080/tsa --in form.pdf --out sealed.pdf
package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/keystore"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

func main() {
	module := flag.String("module", envOr("KYSO_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"), "the PKCS#11 module (env KYSO_PKCS11_MODULE)")
	token := flag.String("token", os.Getenv("KYSO_TOKEN"), "the token's label (env KYSO_TOKEN); its PIN: $KYSO_PIN")
	label := flag.String("label", "", "the key's label on the token")
	csr := flag.String("csr", "", "make the key (ECDSA P-256) and write its PKCS#10 request here, then stop")
	certFile := flag.String("cert", "", "the key's certificate, PEM")
	chainFile := flag.String("chain", "", "the CA certificates above it, PEM")
	trustFile := flag.String("trust", "", "the trust anchors of the pre-signing check, PEM")
	tsaURL := flag.String("tsa", "", "an RFC 3161 TSA: sign at PAdES B-T (its certificate must chain to --trust)")
	in := flag.String("in", "", "the PDF to sign")
	out := flag.String("out", "", "where to write the signed PDF")
	flag.Parse()
	if *token == "" || *label == "" || *csr == "" && (*certFile == "" || *chainFile == "" || *trustFile == "" || *in == "" || *out == "") {
		fmt.Fprintln(os.Stderr, "usage: pkcs11-local --token LABEL --label KEY --csr REQ.pem\n       pkcs11-local --token LABEL --label KEY --cert CERT.pem --chain CHAIN.pem --trust ROOT.pem [--tsa URL] --in IN.pdf --out OUT.pdf")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The PIN is named by a source, never written in the URI.
	uri := &hsm.URI{Scheme: "pkcs11", Path: map[string]string{"token": *token},
		Query: map[string]string{"module-path": *module, "pin-source": "env:KYSO_PIN"}}
	ks, _, err := keystore.Open(ctx, uri.String(), nil)
	if err == nil {
		defer ks.Close()
		if *csr != "" {
			err = request(ctx, ks, *label, *csr)
		} else {
			err = sign(ctx, ks, *label, *certFile, *chainFile, *trustFile, *tsaURL, *in, *out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pkcs11-local:", err)
		os.Exit(1)
	}
}

// request makes the key on the token and writes its certificate request,
// signed by the key itself (proof of possession).
func request(ctx context.Context, ks hsm.KeyStore, label, file string) error {
	info, err := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: hsm.ECDSAP256})
	if err != nil {
		return err
	}
	signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: label}}, signer)
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644); err != nil {
		return err
	}
	fmt.Printf("key %s made on the token (%s); request: %s\n", label, info.Algorithm, file)
	return nil
}

// sign signs in with the token's key: PAdES B-B, or B-T with a TSA.
func sign(ctx context.Context, ks hsm.KeyStore, label, certFile, chainFile, trustFile, tsaURL, in, out string) error {
	certs, err := readCerts(certFile)
	if err != nil {
		return err
	}
	chain, err := readCerts(chainFile)
	if err != nil {
		return err
	}
	anchors, err := readCerts(trustFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	for _, c := range anchors {
		roots.AddCert(c)
	}
	signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		return err
	}
	opts := &pades.SignOptions{Options: pades.Options{Reason: "Đóng dấu", Location: "Hà Nội"},
		// Before anything is signed: validity, key strength, the path to
		// roots, and revocation from the CA's OCSP responder or CRL.
		Check: &signercheck.Config{Roots: roots, Revocation: &revocation.Fetcher{}}}
	if tsaURL != "" {
		opts.Level, opts.TSA = pades.LevelBT, pades.TSAClient(tsaURL, &tsa.ClientOptions{Roots: roots})
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	// pades.Sign writes as it goes: into a temporary file, renamed on
	// success.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".pkcs11-local-*.pdf")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := pades.Sign(ctx, f, fi.Size(), tmp, signer, certs[0], chain, opts); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	level := pades.LevelBB
	if opts.Level != "" {
		level = opts.Level
	}
	fmt.Printf("signed at PAdES %s by %s with the token's key %s: %s\n", level, certs[0].Subject.CommonName, label, out)
	return nil
}

// readCerts reads the PEM certificates of file.
func readCerts(file string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New(file + ": no PEM certificate")
	}
	return certs, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
