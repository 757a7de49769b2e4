package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"rsc.io/qr"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/campaignreg"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// enrol enrols a citizen: key, certificate, PIN and TOTP.
func enrol(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "enroll", "enroll --cccd NUMBER --name NAME --province PROVINCE (--pin PIN | --pin-source file:PATH|env:NAME) [--phone …] [--email …] [--alg ecdsa-p256|rsa-2048|…] [--qr FILE.png] [--channel operator|desk|event|household|online] [--staff ID] [--ward WARD] [--evidence KIND[:REF]] [--switch-consent KIND:REF] [--data DIR] [--output json]")
	d := addDataFlags(fs)
	cccd := fs.String("cccd", "", "the citizen's 12-digit CCCD number")
	name := fs.String("name", "", "full name with diacritics, e.g. \"Nguyễn Văn Đức\"")
	province := fs.String("province", "", "province (one of the 34 in force)")
	phone := fs.String("phone", "", "phone number, to reach the owner")
	email := fs.String("email", "", "e-mail address (also written into the certificate)")
	pin := fs.String("pin", "", "the initial PIN, 6 to 12 digits (visible to other local users; prefer --pin-source)")
	pinSource := fs.String("pin-source", "", "where to read the PIN: file:PATH or env:NAME")
	alg := fs.String("alg", string(hsm.ECDSAP256), "key algorithm")
	qrFile := fs.String("qr", "", "also write the TOTP enrolment as a QR code PNG to this file")
	channel := fs.String("channel", "operator", "how the citizen is enrolled: operator, desk, event, household or online")
	staff := fs.String("staff", "", "the staff member enrolling (desk, event, household)")
	ward := fs.String("ward", "", "the ward (phường, xã) of the enrolment")
	evidence := fs.String("evidence", "", "the identity evidence checked, KIND[:REFERENCE]: cccd-chip, vneid-level2, cccd-card or passport (never an image)")
	switchConsent := fs.String("switch-consent", "", "the citizen asks to move their campaign signature from the provider holding it to this one: their consent, KIND:REFERENCE (e.g. signed-form:HS-2026-0042); that provider's certificate is revoked superseded and the free period here is 12 months less those used there")
	out := outputFlag(fs)
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	var consent *campaignreg.Consent
	if *switchConsent != "" {
		kind, ref, ok := strings.Cut(*switchConsent, ":")
		if !ok || kind == "" || ref == "" {
			return usagef("--switch-consent is KIND:REFERENCE, the citizen's consent to the switch")
		}
		consent = &campaignreg.Consent{Kind: kind, Ref: ref, At: time.Now()}
	}
	p, err := readPIN(*pin, *pinSource)
	if err != nil {
		return err
	}
	if *cccd == "" || *name == "" || *province == "" {
		return usagef("--cccd, --name and --province are required")
	}
	unlock, err := d.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	svc, o, err := d.enrolling(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	evKind, evRef, _ := strings.Cut(*evidence, ":")
	en, err := svc.Enrol(ctx, &signing.EnrolRequest{CCCD: *cccd, Name: *name, Province: *province, Phone: *phone, Email: *email,
		PIN: p, Algorithm: hsm.Algorithm(*alg), Actor: actor(), Channel: *channel, StaffID: *staff, Ward: *ward,
		EvidenceKind: evKind, EvidenceRef: evRef, Switch: consent})
	if errors.Is(err, signing.ErrNoMasterKey) {
		how := "--data " + d.dir
		if d.keystore != "" {
			how = "--keystore with the same key store URI"
		}
		// The token and label are the ones the command below uses.
		return fmt.Errorf("the key store holds no master wrapping key for citizens' keys yet: run `kyso key create-master %s` first, once per token", how)
	}
	if err != nil {
		return err
	}
	if *qrFile != "" {
		code, err := qr.Encode(en.TOTPURI, qr.M)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*qrFile, code.PNG(), 0o600); err != nil {
			return err
		}
	}
	var certPEM bytes.Buffer
	pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: en.Certificate.Raw})
	if *out == "json" {
		return writeJSON(e.stdout, map[string]any{
			"owner_id": en.OwnerID, "credential_id": en.CredentialID, "national_id": en.NationalID,
			"serial": ca.FormatSerialInt(en.Certificate.SerialNumber), "certificate": certPEM.String(), "otpauth_uri": en.TOTPURI,
			"key_label": en.KeyLabel, "key_uri": en.KeyURI,
			"switched_from": en.SwitchedFrom, "months_used": en.MonthsUsed, "free_months": en.FreeMonths,
		})
	}
	if en.SwitchedFrom != "" {
		fmt.Fprintf(e.stdout, "campaign signature moved from %s: %d whole months used there, %d free months here\n",
			display.Escape(en.SwitchedFrom), en.MonthsUsed, en.FreeMonths)
	}
	key := "wrapped under the PKCS#11 master key, kept in the database"
	if en.KeyLabel != "" {
		key = en.KeyLabel + " (" + en.KeyURI + ")"
	}
	fmt.Fprintf(e.stdout, "enrolled %s (%s)\ncredential: %s\nkey: %s\n"+
		"  it signs only with the owner's approval, through kysod: kyso sign pdf --remote https://HOST:8443/csc/v2 --credential %s …\n"+
		"TOTP (add to an authenticator app; shown once): %s\n%s",
		en.Certificate.Subject.CommonName, en.NationalID, en.CredentialID, key, en.CredentialID, en.TOTPURI, certPEM.String())
	return nil
}

// readPIN takes the PIN from the flag or a secret source.
func readPIN(pin, source string) (string, error) {
	switch {
	case pin != "" && source != "":
		return "", usagef("give --pin or --pin-source, not both")
	case source != "":
		b, err := hsm.ReadSecret(source)
		if err != nil {
			return "", usagef("--pin-source: %v", err)
		}
		return strings.TrimSpace(string(b)), nil
	case pin == "":
		return "", usagef("--pin or --pin-source is required")
	}
	return pin, nil
}

// clientCreate registers a relying party and prints its credentials once.
func clientCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "client create", "client create --name NAME [--webhook https://…] [--cert CLIENT.pem] [--redirect-uri https://… …] [--category public-service|commercial] [--officer [--staff ID]] [--data DIR] [--output json]")
	d := addDataFlags(fs)
	name := fs.String("name", "", "the relying party's name, e.g. \"Cổng Dịch vụ công quốc gia\"")
	webhook := fs.String("webhook", "", "URL that receives transaction results (https; http only to loopback)")
	officer := fs.Bool("officer", false, "a registration officer's system: its tokens may enrol citizens at /admin/v1/enrolments, and nothing else")
	staffID := fs.String("staff", "", "with --officer: bind the client to this staff member of the registry (a field staff member's phone): its enrolments are theirs, channel household, refused at once when the registry no longer authorises them")
	certFile := fs.String("cert", "", "the portal's TLS client certificate (PEM or DER): it may then get tokens by mutual TLS instead of its secret (RFC 8705)")
	category := fs.String("category", store.CategoryCommercial, "public-service (an e-government portal: signing is free in the citizen's free period) or commercial (metered)")
	var redirects multiFlag
	fs.Var(&redirects, "redirect-uri", "where CSC oauth2code may send the owner's browser back with a code, compared exactly (https; http only to localhost or 127.0.0.1); repeat for more")
	out := outputFlag(fs)
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if err := categoryFlag(*category); err != nil {
		return err
	}
	for _, u := range redirects {
		if err := signing.CheckRedirectURI(u); err != nil {
			return usagef("--redirect-uri: %v", err)
		}
	}
	if *name == "" {
		return usagef("--name is required")
	}
	if *staffID != "" && !*officer {
		return usagef("--staff binds an officer's client: add --officer")
	}
	svc, o, err := d.signing(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	opts := []signing.ClientOption{signing.InCategory(*category)}
	switch {
	case *staffID != "":
		if _, err := o.Store.GetStaff(ctx, *staffID); err != nil {
			return fmt.Errorf("--staff %s: %w", *staffID, err)
		}
		opts = append(opts, signing.AsStaffOfficer(*staffID))
	case *officer:
		opts = append(opts, signing.AsOfficer())
	}
	if *certFile != "" {
		ders, err := readCerts(*certFile)
		if err != nil {
			return usagef("--cert: %v", err)
		}
		opts = append(opts, signing.WithCertificate(ders[0]))
	}
	if len(redirects) > 0 {
		opts = append(opts, signing.WithRedirectURIs(redirects...))
	}
	cl, err := svc.CreateClient(ctx, *name, *webhook, actor(), opts...)
	if err != nil {
		return err
	}
	// The webhook key is 32 random bytes, printed hex-encoded: receivers
	// decode it before keying HMAC-SHA256 with it (pkg/smartca signs with
	// the bytes), which the name and the text say.
	res := map[string]string{"client_id": cl.ID, "client_secret": cl.Secret, "category": *category}
	if *webhook != "" {
		res["webhook_key_hex"] = hex.EncodeToString(cl.WebhookKey)
	}
	if *out == "json" {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "client_id: %s\nclient_secret: %s\ncategory: %s\n", cl.ID, cl.Secret, *category)
	if k := res["webhook_key_hex"]; k != "" {
		fmt.Fprintf(e.stdout, "webhook_key_hex: %s\n  the webhook HMAC-SHA256 key, hex-encoded: decode it to its %d bytes before use;\n"+
			"  each webhook carries X-Kyso-Signature: sha256=<lowercase hex HMAC-SHA256 of the raw request body under those bytes>\n", k, len(cl.WebhookKey))
	}
	fmt.Fprintln(e.stdout, "(shown once; kyso keeps only the secret's hash)")
	return nil
}

// clientSetCategory moves a portal to another category: its signatures
// from now on are free (public-service, in the citizen's free period) or
// metered (commercial); those counted before keep theirs.
func clientSetCategory(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "client set-category", "client set-category CLIENT_ID --category public-service|commercial [--data DIR]")
	d := addDataFlags(fs)
	category := fs.String("category", "", "public-service (an e-government portal) or commercial (metered)")
	pos, err := parseArgs(fs, args, 1, "the client ID")
	if err != nil {
		return err
	}
	if *category == "" {
		return usagef("--category is required")
	}
	if err := categoryFlag(*category); err != nil {
		return err
	}
	svc, o, err := d.signing(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	if err := svc.SetClientCategory(ctx, pos[0], *category, actor()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "client %s: category %s for the signatures counted from now on\n", pos[0], *category)
	return nil
}
