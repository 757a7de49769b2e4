package csc_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/signercheck"
)

// A portal signs a PDF hash-only through a CSC API v2 service: the Signer
// is a crypto.Signer whose key stays at the service; each Sign asks the
// owner's factors (PIN and a fresh one-time code) for a SAD over that one
// digest (credentials/authorize) and spends it (signatures/signHash). The
// document never leaves the portal. examples/csc-portal makes the same
// calls one by one, and runs against a real kysod in make test; this
// example needs a service, so it is compiled, not run.
func ExampleNewSigner() {
	roots := x509.NewCertPool()
	rootPEM, err := os.ReadFile("root.pem") // the service's CA
	if err != nil {
		log.Fatal(err)
	}
	roots.AppendCertsFromPEM(rootPEM)
	client := &csc.Client{
		BaseURL:  "https://localhost:8443/csc/v2",
		ClientID: "portal-client-id", ClientSecret: os.Getenv("KYSO_CLIENT_SECRET"),
		HTTPClient: &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}},
	}
	ctx := context.Background()
	// The owner's factors, asked at the moment of signing (here typed on
	// the terminal; a portal asks the owner on its page).
	factors := func(context.Context) (pin, otp string, err error) {
		_, err = fmt.Scanln(&pin, &otp)
		return pin, otp, err
	}
	signer, err := csc.NewSigner(ctx, client, "the-credential-id", factors) // reads credentials/info
	if err != nil {
		log.Fatal(err)
	}

	form, err := os.ReadFile("form.pdf")
	if err != nil {
		log.Fatal(err)
	}
	var signed bytes.Buffer
	err = pades.Sign(ctx, bytes.NewReader(form), int64(len(form)), &signed, signer, signer.Certificate, signer.Chain,
		&pades.SignOptions{Options: pades.Options{Reason: "Tôi đồng ý"}, Check: &signercheck.Config{Roots: roots, Revocation: &revocation.Fetcher{}}})
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("signed.pdf", signed.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
