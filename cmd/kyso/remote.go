package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/csc"
)

// remoteFlags say how to sign through a CSC service instead of a local key
// store: the relying party's credentials, and the owner's factors.
type remoteFlags struct {
	url, credential, clientID, clientSecretSource string
	pin, pinSource, otp, otpauthSource, caFile    string
}

func addRemoteFlags(fs *flag.FlagSet) *remoteFlags {
	r := &remoteFlags{}
	fs.StringVar(&r.url, "remote", "", "sign through this CSC API v2 base URL instead of a local key, e.g. https://kyso.example:8443/csc/v2 (hash-only: the PDF stays here)")
	fs.StringVar(&r.credential, "credential", "", "--remote: the credential ID")
	fs.StringVar(&r.clientID, "client-id", os.Getenv("KYSO_CLIENT_ID"), "--remote: the relying party's client_id (env KYSO_CLIENT_ID)")
	fs.StringVar(&r.clientSecretSource, "client-secret-source", "env:KYSO_CLIENT_SECRET", "--remote: where to read the client_secret: file:PATH or env:NAME")
	fs.StringVar(&r.pin, "pin", "", "--remote: the owner's PIN (visible to other local users; prefer --pin-source)")
	fs.StringVar(&r.pinSource, "pin-source", "", "--remote: where to read the owner's PIN: file:PATH or env:NAME")
	fs.StringVar(&r.otp, "otp", "", "--remote: the one-time code from the owner's authenticator app")
	fs.StringVar(&r.otpauthSource, "otpauth-source", "", "--remote, for scripts and tests acting as the owner's phone: file:PATH or env:NAME holding the otpauth:// URI")
	fs.StringVar(&r.caFile, "ca-file", "", "--remote: PEM roots to trust for the service's TLS certificate (default: the system's)")
	return r
}

// signer connects to the service and returns a Signer for the credential.
func (r *remoteFlags) signer(ctx context.Context) (*csc.Signer, error) {
	switch {
	case r.credential == "":
		return nil, usagef("--remote needs --credential ID")
	case r.clientID == "":
		return nil, usagef("--remote needs --client-id (or KYSO_CLIENT_ID)")
	case r.otp == "" && r.otpauthSource == "":
		return nil, usagef("--remote needs the owner's one-time code: --otp CODE")
	}
	pin, err := readPIN(r.pin, r.pinSource)
	if err != nil {
		return nil, err
	}
	secret, err := hsm.ReadSecret(r.clientSecretSource)
	if err != nil {
		return nil, usagef("--client-secret-source: %v", err)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if r.caFile != "" {
		ders, err := readCerts(r.caFile)
		if err != nil {
			return nil, usagef("--ca-file: %v", err)
		}
		tlsCfg.RootCAs = x509.NewCertPool()
		for _, d := range ders {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				return nil, usagef("--ca-file: %v", err)
			}
			tlsCfg.RootCAs.AddCert(c)
		}
	}
	client := &csc.Client{BaseURL: r.url, ClientID: r.clientID, ClientSecret: strings.TrimSpace(string(secret)),
		HTTPClient: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}}
	var phone *codes
	if r.otpauthSource != "" {
		if phone, err = newCodes(r.otpauthSource, nil); err != nil {
			return nil, err
		}
	}
	used := false
	factors := func(ctx context.Context) (string, string, error) {
		if r.otpauthSource == "" {
			if used {
				return "", "", fmt.Errorf("a one-time code is accepted once; this signature needs another")
			}
			used = true
			return pin, r.otp, nil
		}
		code, err := phone.next()
		return pin, code, err
	}
	return csc.NewSigner(ctx, client, r.credential, factors)
}
