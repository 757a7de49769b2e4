package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
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
	o := &ownerClient{base: strings.TrimSuffix(*base, "/") + "/owner/v1"}
	if o.http, err = httpsClient(*caFile); err != nil {
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
	var login struct {
		Token string `json:"access_token"`
	}
	if err := o.call(ctx, http.MethodPost, "/login", map[string]string{"national_id": *nationalID, "pin": p, "otp": code}, &login); err != nil {
		return err
	}
	o.token = login.Token
	defer o.call(context.WithoutCancel(ctx), http.MethodPost, "/logout", nil, nil)
	var pending struct {
		Transactions []struct {
			ID          string `json:"id"`
			ClientName  string `json:"client_name"`
			Description string `json:"description"`
			Documents   []struct {
				DocID string `json:"doc_id"`
			} `json:"documents"`
		} `json:"transactions"`
	}
	if err := o.call(ctx, http.MethodGet, "/transactions", nil, &pending); err != nil {
		return err
	}
	if *list {
		if *out == "json" {
			return writeJSON(e.stdout, pending)
		}
		// Every field is the portal's or the server's text: escaped, so
		// that none clears the terminal or reorders what it shows, even
		// from a kysod that stored it before refusing such text.
		for _, t := range pending.Transactions {
			docs := make([]string, len(t.Documents))
			for i, d := range t.Documents {
				docs[i] = display.Escape(d.DocID)
			}
			fmt.Fprintf(e.stdout, "%s  %s: %s [%s]\n", display.Escape(t.ID), display.Escape(t.ClientName), display.Escape(t.Description), strings.Join(docs, ", "))
		}
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
	type result struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	var results []result
	for _, id := range ids {
		var r result
		if *reject {
			err = o.call(ctx, http.MethodPost, "/transactions/"+url.PathEscape(id)+"/reject", map[string]string{}, &r)
		} else {
			if code, err = codes.next(); err != nil {
				return err
			}
			err = o.call(ctx, http.MethodPost, "/transactions/"+url.PathEscape(id)+"/approve", map[string]string{"pin": p, "otp": code}, &r)
		}
		if err != nil {
			return fmt.Errorf("transaction %s: %w", display.Escape(id), err)
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

// ownerClient calls the owners' API.
type ownerClient struct {
	base, token string
	http        *http.Client
}

func (o *ownerClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	resp, err := o.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", display.Escape(e.Error), display.Escape(e.Description))
		}
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}
