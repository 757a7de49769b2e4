// Command officer-enrol shows a registration officer's system enrolling a
// citizen over kysod's officers' API (POST /admin/v1/enrolments): kysod
// makes the citizen's key in its key store, issues the certificate, and
// sets the PIN and a TOTP second factor. The officer's system is a client
// registered with `kyso client create --officer`; its access token, of
// scope enrol, comes from the CSC token endpoint (oauth2/token, client
// credentials) and is good for the officers' API and nothing else.
//
//	kyso client create --officer --name "Công an phường Bến Nghé" --output json > officer.json
//	export KYSO_CLIENT_SECRET="$(jq -r .client_secret officer.json)" CITIZEN_PIN=271828
//	go run ./examples/officer-enrol --url https://localhost:8443 --ca-file root.pem \
//	    --client-id "$(jq -r .client_id officer.json)" --cccd 079203001234 --name "Nguyễn Văn Đức" \
//	    --province "Hồ Chí Minh" --otpauth otpauth.txt --qr totp.png
//
// The citizen's PIN comes from $CITIZEN_PIN (in a real office, from the
// citizen's own keypad). It prints the credential ID and the certificate's
// serial; the otpauth:// URI and its QR code, shown to the citizen once,
// go to the files named.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
)

func main() {
	url := flag.String("url", "https://localhost:8443", "kysod's HTTPS base URL")
	caFile := flag.String("ca-file", "", "PEM roots for kysod's TLS certificate")
	clientID := flag.String("client-id", "", "the officer system's client_id (its secret: $KYSO_CLIENT_SECRET)")
	cccd := flag.String("cccd", "", "the citizen's CCCD, 12 digits")
	name := flag.String("name", "", "the citizen's name, as on the CCCD")
	province := flag.String("province", "", "the province (one of the 34 in force)")
	otpauth := flag.String("otpauth", "", "write the TOTP's otpauth:// URI here (for the citizen's authenticator app)")
	qrFile := flag.String("qr", "", "write its QR code here, PNG")
	flag.Parse()
	if *caFile == "" || *clientID == "" || *cccd == "" || *name == "" || *province == "" || *otpauth == "" {
		fmt.Fprintln(os.Stderr, "usage: officer-enrol --url URL --ca-file root.pem --client-id ID --cccd CCCD --name NAME --province PROVINCE --otpauth FILE [--qr FILE.png]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := &admin.EnrolRequest{CCCD: *cccd, Name: *name, Province: *province, PIN: os.Getenv("CITIZEN_PIN")}
	if err := run(ctx, *url, *caFile, *clientID, os.Getenv("KYSO_CLIENT_SECRET"), req, *otpauth, *qrFile); err != nil {
		fmt.Fprintln(os.Stderr, "officer-enrol:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, caFile, clientID, secret string, req *admin.EnrolRequest, otpauthFile, qrFile string) error {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b) {
		return errors.New(caFile + ": no PEM certificate")
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}

	// An access token of scope enrol, from the CSC token endpoint.
	officer := &csc.Client{BaseURL: url + "/csc/v2", ClientID: clientID, ClientSecret: secret, Scope: signing.ScopeEnrol, HTTPClient: hc}
	tok, err := officer.Token(ctx)
	if err != nil {
		return err
	}

	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/admin/v1/enrolments", bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(hr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		var e admin.Error
		json.Unmarshal(answer, &e)
		return fmt.Errorf("enrolment refused: %d %s: %s (request %s)", resp.StatusCode, e.Error, e.Description, e.RequestID)
	}
	var en admin.Enrolment
	if err := json.Unmarshal(answer, &en); err != nil {
		return fmt.Errorf("enrolment answer: %w", err)
	}

	blk, _ := pem.Decode([]byte(en.Certificate))
	if blk == nil {
		return errors.New("enrolment answer: no certificate")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return err
	}
	if err := os.WriteFile(otpauthFile, []byte(en.OTPAuthURI+"\n"), 0o600); err != nil {
		return err
	}
	if qrFile != "" {
		png, err := base64.StdEncoding.DecodeString(en.QRPNG)
		if err != nil {
			return fmt.Errorf("qr_png: %w", err)
		}
		if err := os.WriteFile(qrFile, png, 0o600); err != nil {
			return err
		}
	}
	fmt.Printf("enrolled %s (%s): credential %s, certificate %s for %q, valid until %s\n",
		en.NationalID, req.Name, en.CredentialID, en.Serial, cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.DateOnly))
	return nil
}
