package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
	"github.com/kyso-pki/kyso/pkg/trust"
)

// anchorJSON is how a trust anchor is printed with --output json.
type anchorJSON struct {
	SHA256    string    `json:"sha256_fingerprint"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Provider  bool      `json:"provider"`
	Source    string    `json:"source"`
	AddedBy   string    `json:"added_by,omitempty"`
	Added     time.Time `json:"added"`
}

func newAnchorJSON(a *trust.Anchor) anchorJSON {
	return anchorJSON{SHA256: a.Fingerprint(), Subject: display.SubjectDN(a.Certificate), Issuer: display.IssuerDN(a.Certificate),
		NotBefore: a.Certificate.NotBefore.UTC(), NotAfter: a.Certificate.NotAfter.UTC(), Provider: a.Provider,
		Source: a.Source, AddedBy: a.AddedBy, Added: a.Added.UTC()}
}

func (j anchorJSON) text() string {
	kind := "added by " + j.AddedBy + " from " + j.Source
	if j.Provider {
		kind = "the provider's own root (" + j.Source + ")"
	}
	return fmt.Sprintf("%s  %s\n    valid %s to %s; %s\n", j.SHA256, j.Subject,
		j.NotBefore.Format(time.DateOnly), j.NotAfter.Format(time.DateOnly), kind)
}

// openTrust opens a data directory's database (not its key store) and
// its trust store.
func openTrust(ctx context.Context, dir string) (*trust.Store, store.Store, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, usagef("--data %s: %v", dir, err)
	}
	d, err := datadir.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	dsn := d.Config.DB
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(dir, "kyso.db")
	}
	st, err := storeopen.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	return trust.New(st), st, nil
}

// trustList prints the trust anchors.
func trustList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "trust list", "trust list [--data DIR] [--output json]")
	dataDir := fs.String("data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory")
	out := outputFlag(fs)
	if _, err := parseArgs(fs, args, 0, "no argument"); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	ts, st, err := openTrust(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	as, err := ts.List(ctx)
	if err != nil {
		return err
	}
	js := make([]anchorJSON, len(as))
	for i, a := range as {
		js[i] = newAnchorJSON(a)
	}
	if *out == "json" {
		return writeJSON(e.stdout, js)
	}
	if len(js) == 0 {
		fmt.Fprintf(e.stdout, "no trust anchors in %s: run `kyso ca init`, or `kyso trust add ROOT.pem`\n", *dataDir)
	}
	for _, j := range js {
		fmt.Fprint(e.stdout, j.text())
	}
	return nil
}

// trustAdd adds CA certificates from files to the trust store.
func trustAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "trust add", "trust add CA.pem|CA.der... [--data DIR] [--output json]")
	dataDir := fs.String("data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory")
	out := outputFlag(fs)
	files, err := parsePositional(fs, args, 1, "one or more PEM or DER files of CA certificates")
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	// Read every file before anything is added: a bad file adds nothing.
	type item struct {
		der  []byte
		file string
	}
	var items []item
	for _, f := range files {
		ders, err := readCerts(f)
		if err != nil {
			return usagef("%v", err)
		}
		for _, d := range ders {
			items = append(items, item{d, f})
		}
	}
	ts, st, err := openTrust(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	var js []anchorJSON
	for _, it := range items {
		a, err := ts.Add(ctx, it.der, filepath.Base(it.file), actor())
		if errors.Is(err, trust.ErrNotCA) || errors.Is(err, trust.ErrExists) {
			return usagef("%v", err)
		}
		if err != nil {
			return err
		}
		js = append(js, newAnchorJSON(a))
	}
	if *out == "json" {
		return writeJSON(e.stdout, js)
	}
	for _, j := range js {
		fmt.Fprint(e.stdout, "added "+j.text())
	}
	return nil
}

// trustRemove removes anchors by SHA-256 fingerprint. The provider's own
// root is refused.
func trustRemove(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "trust remove", "trust remove SHA256... [--data DIR] [--output json]")
	dataDir := fs.String("data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory")
	out := outputFlag(fs)
	fps, err := parsePositional(fs, args, 1, "one or more SHA-256 fingerprints, as `kyso trust list` prints them")
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	sums := make([][]byte, len(fps))
	for i, f := range fps {
		if sums[i], err = trust.ParseFingerprint(f); err != nil {
			return usagef("%v", err)
		}
	}
	ts, st, err := openTrust(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	var js []anchorJSON
	for _, sum := range sums {
		a, err := ts.Remove(ctx, sum, actor())
		if errors.Is(err, trust.ErrProviderRoot) || errors.Is(err, trust.ErrNotFound) {
			return usagef("%v", strings.SplitN(err.Error(), "\n", 2)[0])
		}
		if err != nil {
			return err
		}
		js = append(js, newAnchorJSON(a))
	}
	if *out == "json" {
		return writeJSON(e.stdout, js)
	}
	for _, j := range js {
		fmt.Fprint(e.stdout, "removed "+j.text())
	}
	return nil
}
