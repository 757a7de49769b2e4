package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/stamp"
	"github.com/kyso-pki/kyso/pkg/tsa"

	"github.com/kyso-pki/kyso/internal/tlsmin"
)

// signPDF signs a PDF with a key in a key store: PAdES B-B, or B-T with a
// time-stamp from an RFC 3161 TSA; invisibly, or with --visible a stamp
// on a page.
func signPDF(ctx context.Context, e *env, args []string) error {
	f, err := parseSignPDF(e, args)
	if err != nil {
		return err
	}
	fetcher := &revocation.Fetcher{Client: tlsmin.Client(15 * time.Second)}
	s, err := f.openSigner(ctx, e, fetcher)
	if err != nil {
		return err
	}
	opts, err := f.signOptions(s, fetcher)
	if err != nil {
		return err
	}
	err = rewritePDF(f.in, f.out, ".kyso-sign-*.pdf", func(r io.ReaderAt, size int64, w io.Writer) error {
		return pades.Sign(ctx, r, size, w, s.signer, s.cert, s.chain, opts)
	})
	var ve *pades.VisibleError
	if errors.As(err, &ve) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	how := "invisible"
	if f.visible != nil {
		how = "visible"
	}
	fmt.Fprintf(e.stderr, "signed %s → %s (PAdES %s, %s, %s)\n", f.in, f.out, f.level, how, strings.TrimSpace(s.cert.Subject.CommonName))
	return nil
}

// signPDFFlags is what kyso sign pdf was asked to do.
type signPDFFlags struct {
	in, out                   string
	ksURI, dataDir, key       string
	certFile, chainFile       string
	level, tsaURL, tsaRoots   string
	reason, location, contact string
	field                     string
	certify                   int
	visible                   *pades.Visible // nil: invisible
	trust                     multiFlag
	checkTimeout              time.Duration
	skipCheck                 bool
	remote                    *remoteFlags
}

// parseSignPDF reads sign pdf's flags and refuses the combinations that
// cannot sign.
func parseSignPDF(e *env, args []string) (*signPDFFlags, error) {
	fs := newFlags(e, "sign pdf", "sign pdf IN.pdf -o OUT.pdf (--key LABEL --cert CERT.pem [--chain CHAIN.pem] [--keystore URI | --data DIR] | --remote URL --credential ID --client-id ID (--pin-source SRC | --pin PIN) (--otp CODE | --otpauth-source SRC) [--ca-file PEM]) [--level B-B|B-T|B-LT|B-LTA] [--tsa URL] [--reason …] [--location …] [--contact …] [--field NAME] [--certify 1|2|3] [--visible [--page N] [--rect x,y,w,h] [--image FILE] [--qr URL] [--tz ZONE]] [--trust PEM|DIR]... [--skip-signer-check]")
	f := &signPDFFlags{}
	fs.StringVar(&f.out, "o", "", "where to write the signed PDF (required; never the input)")
	fs.StringVar(&f.ksURI, "keystore", os.Getenv("KYSO_KEYSTORE"), "key store URI holding the signing key (default: the data directory's)")
	fs.StringVar(&f.dataDir, "data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory whose key store to use when --keystore is not given")
	fs.StringVar(&f.key, "key", "", "label of the signing key in the key store (not an enrolled citizen's cred-… key: those sign only with --remote, with the owner's approval)")
	fs.StringVar(&f.certFile, "cert", "", "the signer's certificate (PEM or DER)")
	fs.StringVar(&f.chainFile, "chain", "", "the CA certificates above it (PEM), written into the signature")
	fs.StringVar(&f.level, "level", "B-B", "PAdES baseline level: B-B; B-T, B-LT or B-LTA (need --tsa; B-LT and B-LTA fetch OCSP/CRL for the validation data)")
	fs.StringVar(&f.tsaURL, "tsa", "", "RFC 3161 time-stamping URL for B-T, e.g. http://127.0.0.1:8080/tsa")
	fs.StringVar(&f.tsaRoots, "tsa-roots", "", "PEM roots the TSA's certificate must chain to (default: the self-signed roots in --chain)")
	fs.StringVar(&f.reason, "reason", "", "/Reason, e.g. \"Tôi đồng ý với nội dung văn bản\"")
	fs.StringVar(&f.location, "location", "", "/Location")
	fs.StringVar(&f.contact, "contact", "", "/ContactInfo")
	fs.StringVar(&f.field, "field", "", "signature field to fill or create (default Signature1, or the next free)")
	fs.IntVar(&f.certify, "certify", 0, "make a certification signature with DocMDP permissions 1, 2 or 3 (default: approval)")
	visible := fs.Bool("visible", false, "draw a stamp: \"Ký bởi: <the certificate's name>\", the date, --reason and --location (default: invisible)")
	page := fs.Int("page", 0, "page for the stamp, counted from 1 (default 1, or the page of the field being filled)")
	rectText := fs.String("rect", "", "stamp rectangle x,y,width,height in points from the page's lower-left corner, e.g. 300,40,260,80 (default: the field's own, or 260×80 at the bottom right)")
	imageFile := fs.String("image", "", "JPEG or PNG drawn on the left of the stamp (a handwritten signature, a seal)")
	qrURL := fs.String("qr", "", "URL drawn as a QR code on the right of the stamp, e.g. where to verify the document")
	tz := tzFlag(fs, "the stamp shows the signing time in")
	fs.Var(&f.trust, "trust", "trust anchors the signer's certificate must chain to: a PEM or DER file, or a folder of them (repeatable; default: the --data directory's trust store, see kyso trust list)")
	fs.DurationVar(&f.checkTimeout, "check-timeout", 10*time.Second, "bound on each OCSP or CRL fetch of the pre-signing check")
	fs.BoolVar(&f.skipCheck, "skip-signer-check", false, "WARNING: sign without first checking the signer's certificate (validity, revocation, suspension, trust path, key strength; Circular 15/2025 Art. 5) — for offline tests only")
	f.remote = addRemoteFlags(fs)
	pos, err := parseArgs(fs, args, 1, "IN.pdf")
	if err != nil {
		return nil, err
	}
	var stampFlags []string
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "page", "rect", "image", "qr", "tz":
			stampFlags = append(stampFlags, "--"+fl.Name)
		}
	})
	if *visible {
		if f.visible, err = visibleOptions(*page, *rectText, *imageFile, *qrURL, *tz); err != nil {
			return nil, err
		}
	} else if len(stampFlags) > 0 {
		return nil, usagef("%s only place or fill a visible stamp: add --visible", strings.Join(stampFlags, ", "))
	}
	f.in = pos[0]
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

// check refuses flags that cannot sign together.
func (f *signPDFFlags) check() error {
	remote := f.remote.url != ""
	switch {
	case f.out == "":
		return usagef("-o OUT.pdf is required")
	case !remote && (f.key == "" || f.certFile == ""):
		return usagef("--key and --cert are required (or --remote URL --credential ID)")
	case remote && (f.key != "" || f.certFile != ""):
		return usagef("--remote signs with the credential's key and certificate: leave out --key and --cert")
	case signing.IsCredentialKey(f.key):
		// The approval rule: a citizen's key signs only through the one
		// path that checks its owner's approval of the exact document.
		return usagef("--key %s is an enrolled citizen's key: it signs only with its owner's approval, through kysod: kyso sign pdf --remote https://HOST:8443/csc/v2 --credential %s, with the portal's client and the owner's PIN and one-time code",
			f.key, strings.TrimPrefix(f.key, signing.CredentialKeyPrefix))
	case f.level != "B-B" && f.level != "B-T" && f.level != "B-LT" && f.level != "B-LTA":
		return usagef("--level is %q; want B-B, B-T, B-LT or B-LTA", f.level)
	case f.level != "B-B" && f.tsaURL == "":
		return usagef("--level %s needs --tsa URL", f.level)
	case f.certify < 0 || f.certify > 3:
		return usagef("--certify is %d, want 1, 2 or 3", f.certify)
	}
	if same, _ := sameFile(f.in, f.out); same {
		return usagef("-o must not be the input file: signing appends to a copy")
	}
	return nil
}

// pdfSigner is the key that signs, its certificate and the CA certificates
// above it, and what the pre-signing check found (nil when skipped).
type pdfSigner struct {
	signer  crypto.Signer
	cert    *x509.Certificate
	chain   []*x509.Certificate
	checked *signercheck.Result
}

// openSigner finds the signer's certificate, runs the pre-signing check
// (Circular 15/2025 Art. 5) on it, and only then opens the local key;
// a remote credential is asked for nothing before the check but its
// certificates.
func (f *signPDFFlags) openSigner(ctx context.Context, e *env, fetcher *revocation.Fetcher) (*pdfSigner, error) {
	s := &pdfSigner{}
	if f.remote.url != "" {
		rs, err := f.remote.signer(ctx)
		if err != nil {
			return nil, err
		}
		s.signer, s.cert, s.chain = rs, rs.Certificate, rs.Chain
		f.certFile = "credential " + f.remote.credential
		if err := f.checkSigner(ctx, e, s, fetcher); err != nil {
			return nil, err
		}
		return s, nil
	}
	var err error
	if s.cert, s.chain, err = readSignerCerts(f.certFile, f.chainFile); err != nil {
		return nil, err
	}
	if err := f.checkSigner(ctx, e, s, fetcher); err != nil {
		return nil, err
	}
	if s.signer, err = localSigner(ctx, f.ksURI, f.dataDir, f.key, f.certFile, s.cert); err != nil {
		return nil, err
	}
	return s, nil
}

// checkSigner runs the pre-signing check on s's certificate against the
// trust anchors, unless --skip-signer-check says not to.
func (f *signPDFFlags) checkSigner(ctx context.Context, e *env, s *pdfSigner, fetcher *revocation.Fetcher) error {
	if f.skipCheck {
		fmt.Fprintln(e.stderr, "WARNING: --skip-signer-check: the signer's certificate is not checked before signing")
		return nil
	}
	roots, err := trustAnchors(ctx, e.stderr, f.trust, f.dataDir)
	if err != nil {
		return err
	}
	s.checked, err = signercheck.Check(ctx, s.cert, s.chain, &signercheck.Config{Roots: roots, Revocation: fetcher, Timeout: f.checkTimeout})
	return err
}

// signOptions are pades.Sign's options for s: the dictionary's texts, the
// stamp naming the certificate's holder, and above B-B the TSA and the
// roots that the validation data's chains end in.
func (f *signPDFFlags) signOptions(s *pdfSigner, fetcher *revocation.Fetcher) (*pades.SignOptions, error) {
	if f.visible != nil {
		f.visible.Signer = strings.TrimSpace(s.cert.Subject.CommonName)
		if f.visible.Signer == "" {
			return nil, usagef("--visible: the certificate %s has no subject common name to show", f.certFile)
		}
	}
	opts := &pades.SignOptions{Options: pades.Options{Reason: f.reason, Location: f.location, ContactInfo: f.contact, FieldName: f.field, Certify: f.certify, Visible: f.visible,
		SkipSignerCheck: f.skipCheck}, Level: pades.LevelBB, Checked: s.checked}
	ltvRoots := x509.NewCertPool()
	if f.level != "B-B" {
		opts.Level = pades.Level(f.level)
		tsaRoots, err := f.timestampRoots(s.chain, ltvRoots)
		if err != nil {
			return nil, err
		}
		opts.TSA = pades.TSAClient(f.tsaURL, &tsa.ClientOptions{Roots: tsaRoots})
	}
	if s.checked != nil {
		// The check's own OCSP responses and CRLs go into the DSS (Sign
		// asks Checked first), and its anchor validates them.
		ltvRoots.AddCert(s.checked.Chain[len(s.checked.Chain)-1])
	}
	opts.LTV = &pades.LTVOptions{Roots: ltvRoots, Revocation: fetcher}
	return opts, nil
}

// timestampRoots returns the roots the TSA's certificate must chain to:
// --tsa-roots, or else the self-signed certificates of chain. Both, and
// chain's roots in any case, are added to ltvRoots.
func (f *signPDFFlags) timestampRoots(chain []*x509.Certificate, ltvRoots *x509.CertPool) (*x509.CertPool, error) {
	roots := x509.NewCertPool()
	n := 0
	if f.tsaRoots != "" {
		ders, err := readCerts(f.tsaRoots)
		if err != nil {
			return nil, err
		}
		for _, d := range ders {
			if c, err := x509.ParseCertificate(d); err == nil {
				roots.AddCert(c)
				ltvRoots.AddCert(c)
				n++
			}
		}
	}
	for _, c := range chain {
		if c.CheckSignatureFrom(c) == nil {
			ltvRoots.AddCert(c)
			if f.tsaRoots == "" {
				roots.AddCert(c)
				n++
			}
		}
	}
	if n == 0 {
		return nil, usagef("%s: no root to check the TSA against: give --tsa-roots, or a --chain ending in a self-signed root", f.level)
	}
	return roots, nil
}

// rewritePDF runs write from the PDF in to a temporary file beside out,
// and renames it to out once write has succeeded, so that out is never a
// half-written PDF.
func rewritePDF(in, out, pattern string, write func(in io.ReaderAt, size int64, out io.Writer) error) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return replaceFile(out, pattern, func(w io.Writer) error { return write(f, fi.Size(), w) })
}

// replaceFile runs write to a temporary file (named by pattern) beside
// out, and renames it to out once write has succeeded, so that out is
// never half-written.
func replaceFile(out, pattern string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), pattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// readSignerCerts reads the signer's certificate and the CA certificates
// above it.
func readSignerCerts(certFile, chainFile string) (*x509.Certificate, []*x509.Certificate, error) {
	certs, err := readCerts(certFile)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(certs[0])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	var chain []*x509.Certificate
	if chainFile != "" {
		ders, err := readCerts(chainFile)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range ders {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", chainFile, err)
			}
			chain = append(chain, c)
		}
	}
	return cert, chain, nil
}

// localSigner opens the key store and returns the key labelled key,
// checking it is the key cert certifies.
func localSigner(ctx context.Context, ksURI, dataDir, key, certFile string, cert *x509.Certificate) (crypto.Signer, error) {
	if ksURI == "" {
		dir, err := datadir.Load(dataDir)
		if err != nil {
			return nil, err
		}
		ksURI = dir.Config.Keystore
	}
	ks, _, err := openKeystore(ctx, ksURI)
	if err != nil {
		return nil, err
	}
	// The key store stays open for the life of the command.
	signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: key})
	if err != nil {
		ks.Close()
		return nil, err
	}
	if !hsm.SamePublicKey(signer.Public(), cert.PublicKey) {
		ks.Close()
		return nil, fmt.Errorf("key %q is not the key certified by %s", key, certFile)
	}
	return signer, nil
}

// visibleOptions checks the stamp flags, loads the time zone and reads the
// image.
func visibleOptions(page int, rectText, imageFile, qrURL, tz string) (*pades.Visible, error) {
	zone, err := parseTZ(tz)
	if err != nil {
		return nil, err
	}
	v := &pades.Visible{Page: page, QRURL: qrURL, TimeZone: zone}
	if page < 0 {
		return nil, usagef("--page is %d, want a page number from 1", page)
	}
	if rectText != "" {
		parts := strings.Split(rectText, ",")
		bad := usagef("--rect is %q, want x,y,width,height in points, e.g. 300,40,260,80", rectText)
		if len(parts) != 4 {
			return nil, bad
		}
		for i, p := range parts {
			x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, bad
			}
			v.Rect[i] = x
		}
		if v.Rect[2] <= 0 || v.Rect[3] <= 0 {
			return nil, usagef("--rect %q has a width or height that is not positive", rectText)
		}
	}
	if imageFile != "" {
		fi, err := os.Stat(imageFile)
		if err != nil {
			return nil, usagef("--image: %v", err)
		}
		if fi.Size() > stamp.MaxImageBytes {
			return nil, usagef("--image %s is %d bytes, more than %d", imageFile, fi.Size(), stamp.MaxImageBytes)
		}
		if v.Image, err = os.ReadFile(imageFile); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// sameFile reports whether a and b name one existing file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
