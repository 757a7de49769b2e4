package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/audit"
)

// auditVerify checks the audit chain and its checkpoints; a break is
// exit status 1.
func auditVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "audit verify", "audit verify [--data DIR] [--db DSN] [--keystore URI] [--key PEM]")
	d := addDataFlags(fs)
	keyFile := fs.String("key", "", "trust this audit public key (PEM, from `kyso audit key`) instead of the key store's")
	if _, err := parseArgs(fs, args, 0, "no argument"); err != nil {
		return err
	}
	keys := audit.KeyFunc(nil)
	if *keyFile != "" {
		pub, err := readPublicKey(*keyFile)
		if err != nil {
			return usagef("--key %s: %v", *keyFile, err)
		}
		keys = func(context.Context, string) (crypto.PublicKey, error) { return pub, nil }
	}
	_, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	if keys == nil {
		keys = audit.KeyStoreKeys(o.Keys)
	}
	r, err := audit.Verify(ctx, o.Store, keys)
	if err != nil {
		return err
	}
	r.Print(e.stdout)
	if !r.OK() {
		return fmt.Errorf("the audit log is broken: %d break(s), the first: %s", len(r.Breaks), r.Breaks[0])
	}
	return nil
}

// readPublicKey reads a PEM public key.
func readPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("no PEM PUBLIC KEY block")
	}
	return x509.ParsePKIXPublicKey(blk.Bytes)
}

// auditKey prints the audit key's public key, PEM, for auditors.
func auditKey(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "audit key", "audit key [--data DIR] [--keystore URI]")
	d := addDataFlags(fs)
	if _, err := parseArgs(fs, args, 0, "no argument"); err != nil {
		return err
	}
	_, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	pub, err := o.Keys.PublicKey(ctx, &hsm.PublicKeyRequest{Label: audit.KeyLabel})
	if err != nil {
		return fmt.Errorf("the audit key %q (made by kysod's first start): %w", audit.KeyLabel, err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	return pem.Encode(e.stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// auditExport writes the events of a span, and its checkpoints, as JSON
// lines.
func auditExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "audit export", "audit export [--data DIR] [--db DSN] [--from TIME] [--to TIME] [--out FILE]")
	d := addDataFlags(fs)
	fromS := fs.String("from", "", "first time included: RFC 3339 (2026-12-07T08:00:00+07:00) or a UTC date (2026-12-07); default: the first event")
	toS := fs.String("to", "", "time excluded, as --from; default: no end")
	outPath := fs.String("out", "", "write to FILE (mode 0600) instead of standard output")
	if _, err := parseArgs(fs, args, 0, "no argument"); err != nil {
		return err
	}
	from, err := parseWhen("--from", *fromS)
	if err != nil {
		return err
	}
	to, err := parseWhen("--to", *toS)
	if err != nil {
		return err
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return usagef("--to %s is not after --from %s", *toS, *fromS)
	}
	_, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	w := e.stdout
	if *outPath != "" {
		f, err := os.OpenFile(*outPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := audit.Export(ctx, o.Store, w, from, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "exported %d audit events\n", n)
	return nil
}

// parseWhen parses a time flag: RFC 3339, or a date taken as UTC midnight;
// empty is the zero time.
func parseWhen(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("%s %q: want RFC 3339 (2026-12-07T08:00:00+07:00) or a date (2026-12-07)", name, s)
}
