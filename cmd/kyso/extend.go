package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/tsa"

	"github.com/kyso-pki/kyso/internal/tlsmin"
)

// extendPDF raises the signatures of a signed PDF to PAdES B-LT — the
// certificates and OCSP responses or CRLs that validate them, fetched from
// the URLs in the certificates and kept in the document — or B-LTA, which
// adds a document time-stamp over it all. Run again on a B-LTA file, it
// renews the archive time-stamp.
func extendPDF(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "extend", "extend IN.pdf -o OUT.pdf --level B-LT|B-LTA [--tsa URL] [--trust PEM|DIR]... [--data DIR] [--timeout 15s]")
	out := fs.String("o", "", "where to write the extended PDF (required; never the input)")
	level := fs.String("level", "", "PAdES baseline level: B-LT (validation data), or B-LTA (and a document time-stamp; needs --tsa)")
	tsaURL := fs.String("tsa", "", "RFC 3161 time-stamping URL for B-LTA's document time-stamp, e.g. http://127.0.0.1:8080/tsa")
	var trust multiFlag
	fs.Var(&trust, "trust", "trust anchors every chain, the TSA's included, must end in: a PEM or DER certificate file, or a folder of them (repeatable; default: the data directory's trust store, see kyso trust list)")
	dataDir := fs.String("data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory whose trust store is used when --trust is not given")
	timeout := fs.Duration("timeout", 15*time.Second, "bound on each OCSP, CRL or time-stamp request")
	pos, err := parseArgs(fs, args, 1, "IN.pdf")
	if err != nil {
		return err
	}
	in := pos[0]
	lvl := pades.Level(*level)
	switch {
	case *out == "":
		return usagef("-o OUT.pdf is required")
	case lvl != pades.LevelBLT && lvl != pades.LevelBLTA:
		return usagef("--level is %q, want B-LT or B-LTA", *level)
	case lvl == pades.LevelBLTA && *tsaURL == "":
		return usagef("--level B-LTA needs --tsa URL")
	case lvl == pades.LevelBLT && *tsaURL != "":
		return usagef("--tsa is for B-LTA's document time-stamp; B-LT adds none")
	case *timeout <= 0:
		return usagef("--timeout must be positive")
	}
	if same, _ := sameFile(in, *out); same {
		return usagef("-o must not be the input file: extending appends to a copy")
	}
	roots, err := trustAnchors(ctx, trust, *dataDir)
	if err != nil {
		return err
	}
	client := tlsmin.Client(*timeout)
	opts := &pades.ExtendOptions{LTVOptions: pades.LTVOptions{Roots: roots, Revocation: &revocation.Fetcher{Client: client}}}
	if lvl == pades.LevelBLTA {
		opts.TSA = pades.TSAClient(*tsaURL, &tsa.ClientOptions{HTTPClient: client, Roots: roots})
	}
	err = rewritePDF(in, *out, ".kyso-extend-*.pdf", func(r io.ReaderAt, size int64, w io.Writer) error {
		return pades.Extend(ctx, r, size, w, lvl, opts)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "extended %s → %s (PAdES %s)\n", in, *out, lvl)
	return nil
}
