// Command csc-portal shows a portal signing a PDF hash-only over the Cloud
// Signature Consortium API v2: the PDF never leaves the portal. It prepares
// the signature locally (pkg/pades: the byte range's digest, then the CAdES
// signed attributes of pkg/cms), checks the signer's certificate before
// anything is signed (Circular 15/2025 Art. 5), asks kysod for a SAD over
// the one digest with the owner's PIN and one-time code
// (credentials/authorize), has it signed (signatures/signHash), and embeds
// the signature locally.
//
// A real portal gets the PIN and the code from the owner, at the moment of
// signing; here they come on flags, standing in for the owner. With a
// kysod, a citizen enrolled with `kyso enroll` and a portal registered with
// `kyso client create` (see README.md):
//
//	export KYSO_CLIENT_SECRET="$(jq -r .client_secret portal.json)"
//	go run ./examples/csc-portal --url https://localhost:8443/csc/v2 --ca-file root.pem \
//	    --client-id "$(jq -r .client_id portal.json)" --credential "$(jq -r .credential_id citizen.json)" \
//	    --pin 271828 --otp 123456 --in form.pdf --out signed.pdf
//
// It prints the digest the owner approves and the signer's name.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/signing"
)

func main() {
	url := flag.String("url", "https://localhost:8443/csc/v2", "the CSC API v2 base URL")
	caFile := flag.String("ca-file", "", "PEM roots: the service's TLS certificate and the signer's certificate chain to them")
	clientID := flag.String("client-id", "", "the portal's client_id (its secret: $KYSO_CLIENT_SECRET)")
	credential := flag.String("credential", "", "the owner's credential ID")
	pin := flag.String("pin", "", "the owner's PIN (stands in for the owner)")
	otp := flag.String("otp", "", "a fresh one-time code from the owner's authenticator app (stands in for the owner)")
	in := flag.String("in", "", "the PDF to sign")
	out := flag.String("out", "", "where to write the signed PDF")
	flag.Parse()
	if *caFile == "" || *clientID == "" || *credential == "" || *pin == "" || *otp == "" || *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: csc-portal --url URL --ca-file root.pem --client-id ID --credential ID --pin PIN --otp CODE --in IN.pdf --out OUT.pdf")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, *url, *caFile, *clientID, os.Getenv("KYSO_CLIENT_SECRET"), *credential, *pin, *otp, *in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "csc-portal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, caFile, clientID, secret, credential, pin, otp, in, out string) error {
	roots, err := loadRoots(caFile)
	if err != nil {
		return err
	}
	client := &csc.Client{BaseURL: url, ClientID: clientID, ClientSecret: secret,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}}

	// The credential's certificate and chain (credentials/info). The
	// Signer NewSigner returns would also authorise and sign in one
	// crypto.Signer call; this portal makes the two calls itself.
	remote, err := csc.NewSigner(ctx, client, credential, nil)
	if err != nil {
		return err
	}
	cert, chain := remote.Certificate, remote.Chain

	// Phase one, here: lay the PDF out for signing and hash its byte range.
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	p, err := pades.Prepare(f, fi.Size(), &pades.Options{Reason: "Tôi đồng ý", Location: "Cổng Dịch vụ công"})
	if err != nil {
		return err
	}
	// The pre-signing check of the signer's certificate: validity, trust
	// path, revocation (the OCSP responder its certificate names).
	if _, err := p.CheckSigner(ctx, cert, chain, &signercheck.Config{Roots: roots, Revocation: &revocation.Fetcher{}}); err != nil {
		return err
	}
	signed, err := cms.Prepare(&cms.SignerInfoRequest{Certificate: cert, Chain: chain, ContentDigest: p.Digest, Hash: p.Hash})
	if err != nil {
		return err
	}
	fmt.Printf("digest to approve (%s of the signed attributes): %s\n", signed.Hash, hex.EncodeToString(signed.Digest))

	// Phase two, at kysod: the owner's factors authorise exactly this
	// digest, and the SAD signs it once.
	digests := [][]byte{signed.Digest}
	sad, err := client.Authorize(ctx, credential, digests, signed.Hash, pin, otp)
	if err != nil {
		return err
	}
	sigs, err := client.SignHash(ctx, credential, sad, digests, signed.Hash, signing.DefaultSignAlgo(cert.PublicKey, signed.Hash))
	if err != nil {
		return err
	}

	// Phase three, here: the CMS around the signature value, embedded in
	// the PDF's /Contents.
	der, err := signed.Finish(sigs[0])
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".csc-portal-*.pdf")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := pades.Embed(f, p, der, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	fmt.Printf("signed by %s: %s\n", cert.Subject.CommonName, out)
	return nil
}

// loadRoots reads the PEM certificates of file into a pool.
func loadRoots(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New(file + ": no PEM certificate")
	}
	return pool, nil
}
