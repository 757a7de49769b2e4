package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/owner"
)

// approve is the owner's side for scripts and tests: log in to the owners'
// API with PIN and one-time code, list pending transactions, approve or
// reject them.
func approve(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "approve", "approve --url https://HOST:8443 --national-id CCCD:… (--pin-source SRC | --pin PIN) [--otpauth-source SRC] [--transaction ID | --all | --list] [--reject] [--ca-file PEM] [--output json]")
	base := fs.String("url", envOrDefault("KYSO_URL", "https://127.0.0.1:8443"), "kysod's HTTPS base URL (env KYSO_URL)")
	nationalID := fs.String("national-id", "", "the owner's national ID, e.g. CCCD:079203001234 (12 digits alone mean a CCCD)")
	pin := fs.String("pin", "", "the owner's PIN (visible to other local users; prefer --pin-source)")
	pinSource := fs.String("pin-source", "", "where to read the PIN: file:PATH or env:NAME")
	otpauth := fs.String("otpauth-source", "", "for scripts acting as the owner's phone: file:PATH or env:NAME holding the otpauth:// URI; without it each one-time code is read from standard input")
	txID := fs.String("transaction", "", "the transaction to decide")
	all := fs.Bool("all", false, "decide every pending transaction")
	list := fs.Bool("list", false, "only list the pending transactions")
	reject := fs.Bool("reject", false, "reject instead of approving")
	caFile := fs.String("ca-file", "", "PEM roots for kysod's TLS certificate (default: the system's)")
	out := outputFlag(fs)
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	n := 0
	for _, b := range []bool{*txID != "", *all, *list} {
		if b {
			n++
		}
	}
	if n != 1 {
		return usagef("give exactly one of --transaction ID, --all or --list")
	}
	if *nationalID == "" {
		return usagef("--national-id is required")
	}
	p, err := readPIN(*pin, *pinSource)
	if err != nil {
		return err
	}
	o := &owner.Client{BaseURL: strings.TrimSuffix(*base, "/") + "/owner/v1"}
	if o.HTTPClient, err = httpsClient(*caFile); err != nil {
		return err
	}
	codes, err := newCodes(*otpauth, e)
	if err != nil {
		return err
	}
	code, err := codes.next()
	if err != nil {
		return err
	}
	if _, err := o.Login(ctx, &owner.LoginRequest{NationalID: *nationalID, PIN: p, OTP: code}); err != nil {
		return ownerError(err)
	}
	defer o.Logout(context.WithoutCancel(ctx))
	pending, err := o.Transactions(ctx)
	if err != nil {
		return ownerError(err)
	}
	if *list {
		if *out == "json" {
			return writeJSON(e.stdout, pending)
		}
		printPending(e.stdout, pending.Transactions)
		return nil
	}
	var ids []string
	for _, t := range pending.Transactions {
		if *all || t.ID == *txID {
			ids = append(ids, t.ID)
		}
	}
	if *txID != "" && len(ids) == 0 {
		return fmt.Errorf("transaction %s is not pending for %s", *txID, *nationalID)
	}
	var results []*owner.Decision
	for _, id := range ids {
		var r *owner.Decision
		if *reject {
			r, err = o.Reject(ctx, id)
		} else {
			if code, err = codes.next(); err != nil {
				return err
			}
			r, err = o.Approve(ctx, id, &owner.ApproveRequest{PIN: p, OTP: code})
		}
		if err != nil {
			return fmt.Errorf("transaction %s: %w", display.Escape(id), ownerError(err))
		}
		results = append(results, r)
	}
	if *out == "json" {
		return writeJSON(e.stdout, map[string]any{"results": results})
	}
	for _, r := range results {
		fmt.Fprintf(e.stdout, "%s %s\n", display.Escape(r.ID), display.Escape(r.Status))
	}
	return nil
}

// printPending writes one line per transaction. Every field is the
// portal's or the server's text: escaped, so that none clears the terminal
// or reorders what it shows, even from a kysod that stored it before
// refusing such text.
func printPending(w io.Writer, txs []owner.Transaction) {
	for _, t := range txs {
		docs := make([]string, len(t.Documents))
		for i, d := range t.Documents {
			docs[i] = display.Escape(d.DocID)
		}
		fmt.Fprintf(w, "%s  %s: %s [%s]\n", display.Escape(t.ID), display.Escape(t.ClientName), display.Escape(t.Description), strings.Join(docs, ", "))
	}
}

// ownerError is the owners' API's refusal as a terminal may show it:
// "error: description", escaped.
func ownerError(err error) error {
	var ae *owner.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %s", display.Escape(ae.Body.Error), display.Escape(ae.Body.Description))
	}
	return err
}

// httpsClient trusts caFile's roots, or the system's.
func httpsClient(caFile string) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		ders, err := readCerts(caFile)
		if err != nil {
			return nil, usagef("--ca-file: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		for _, d := range ders {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				return nil, usagef("--ca-file: %v", err)
			}
			cfg.RootCAs.AddCert(c)
		}
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}
