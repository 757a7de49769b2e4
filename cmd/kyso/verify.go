package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/verify"
	"github.com/kyso-pki/kyso/pkg/verify/report"

	"github.com/kyso-pki/kyso/internal/tlsmin"
)

// maxVerifyFile bounds the PDF kyso verify reads.
const maxVerifyFile = 512 << 20

// verifyPDF validates every signature of a PDF and exits 0 only when all
// pass.
func verifyPDF(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "verify", "verify FILE.pdf [--trust PEM|DIR]... [--data DIR] [--offline] [--lang vi|en] [--tz ZONE] [--output text|json|html]")
	var trust multiFlag
	fs.Var(&trust, "trust", "trust anchors: a PEM or DER certificate file, or a folder of them (repeatable; default: the data directory's trust store, see kyso trust list)")
	dataDir := fs.String("data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory whose trust store is used when --trust is not given")
	offline := fs.Bool("offline", false, "use only the validation data in the document; never fetch OCSP responses or CRLs")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on each OCSP or CRL fetch")
	out := fs.String("output", "text", "output format: text, json or html (a self-contained page)")
	langFlag := fs.String("lang", "vi", "language of the report: vi (Vietnamese) or en (English)")
	tz := tzFlag(fs, "the report shows times in")
	pos, err := parseArgs(fs, args, 1, "FILE.pdf")
	if err != nil {
		return err
	}
	format, err := report.ParseFormat(*out)
	if err != nil {
		return usagef("--output is %q, want text, json or html", *out)
	}
	lang, err := report.ParseLang(*langFlag)
	if err != nil {
		return usagef("--lang is %q, want vi or en", *langFlag)
	}
	zone, err := parseTZ(*tz)
	if err != nil {
		return err
	}
	roots, err := trustAnchors(ctx, e.stderr, trust, *dataDir)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > maxVerifyFile {
		return fmt.Errorf("%s is %d bytes, more than the limit of %d", pos[0], st.Size(), maxVerifyFile)
	}
	opts := &verify.Options{Roots: roots}
	if !*offline {
		opts.Fetcher = &revocation.Fetcher{Client: tlsmin.Client(*timeout)}
	}
	rep, err := verify.Verify(ctx, f, st.Size(), opts)
	if err != nil {
		return err
	}
	if err := report.Write(e.stdout, rep, filepath.Base(pos[0]), format, &report.Options{Lang: lang, Zone: zone}); err != nil {
		return err
	}
	if !rep.Valid {
		failed := 0
		for _, s := range rep.Signatures {
			if s.Indication != verify.TotalPassed {
				failed++
			}
		}
		if lang == report.English {
			return fmt.Errorf("%d of %d signatures did not pass", failed, len(rep.Signatures))
		}
		return fmt.Errorf("%d/%d chữ ký không hợp lệ hoặc không xác định được tính hợp lệ", failed, len(rep.Signatures))
	}
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

var _ flag.Value = (*multiFlag)(nil)

// trustAnchors reads the --trust files and folders, or the data
// directory's trust store (kyso trust list) when there are none. A
// certificate crypto/x509 cannot read, or a file of a folder that holds
// none, is skipped with a warning on warn: one such file among a
// country's trust list must not stop the validation.
func trustAnchors(ctx context.Context, warn io.Writer, trust []string, dataDir string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for _, p := range trust {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, usagef("--trust %s: %v", p, err)
		}
		files := []string{p}
		if fi.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			files = files[:0]
			for _, en := range entries {
				ext := strings.ToLower(filepath.Ext(en.Name()))
				if !en.IsDir() && (ext == ".pem" || ext == ".crt" || ext == ".cer" || ext == ".der") {
					files = append(files, filepath.Join(p, en.Name()))
				}
			}
		}
		for _, f := range files {
			ders, err := readCerts(f)
			if err != nil && fi.IsDir() {
				fmt.Fprintf(warn, "kyso: --trust: skipping %v\n", err)
				continue
			}
			if err != nil {
				return nil, usagef("--trust: %v", err)
			}
			for i, der := range ders {
				c, err := x509.ParseCertificate(der)
				if err != nil {
					fmt.Fprintf(warn, "kyso: --trust %s: skipping certificate %d, which kyso cannot read (unsupported): %v\n", f, i+1, err)
					continue
				}
				pool.AddCert(c)
				n++
			}
		}
	}
	if len(trust) > 0 {
		if n == 0 {
			return nil, usagef("--trust gave no certificates")
		}
		return pool, nil
	}
	roots, err := dataDirRoots(ctx, dataDir)
	if err != nil {
		return nil, usagef("no --trust given, and the data directory %s has no trust anchor (kyso ca init, kyso trust add): %v", dataDir, err)
	}
	for _, c := range roots {
		pool.AddCert(c)
	}
	return pool, nil
}

// dataDirRoots reads a data directory's trust store — the provider's
// root and the anchors `kyso trust add` added — without opening its key
// store.
func dataDirRoots(ctx context.Context, dir string) ([]*x509.Certificate, error) {
	ts, st, err := openTrust(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return ts.Certificates(ctx)
}
