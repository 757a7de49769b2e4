package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
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
	fs := newFlags(e, "sign pdf", "sign pdf IN.pdf -o OUT.pdf (--key LABEL --cert CERT.pem [--chain CHAIN.pem] [--keystore URI | --data DIR] | --remote URL --credential ID --client-id ID (--pin-source SRC | --pin PIN) (--otp CODE | --otpauth-source SRC) [--ca-file PEM]) [--level B-B|B-T|B-LT|B-LTA] [--tsa URL] [--reason …] [--location …] [--contact …] [--field NAME] [--certify 1|2|3] [--visible [--page N] [--rect x,y,w,h] [--image FILE] [--qr URL] [--tz ZONE]] [--trust PEM|DIR]... [--skip-signer-check]")
	out := fs.String("o", "", "where to write the signed PDF (required; never the input)")
	ksURI := fs.String("keystore", os.Getenv("KYSO_KEYSTORE"), "key store URI holding the signing key (default: the data directory's)")
	dataDir := fs.String("data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory whose key store to use when --keystore is not given")
	key := fs.String("key", "", "label of the signing key in the key store (not an enrolled citizen's cred-… key: those sign only with --remote, with the owner's approval)")
	certFile := fs.String("cert", "", "the signer's certificate (PEM or DER)")
	chainFile := fs.String("chain", "", "the CA certificates above it (PEM), written into the signature")
	level := fs.String("level", "B-B", "PAdES baseline level: B-B; B-T, B-LT or B-LTA (need --tsa; B-LT and B-LTA fetch OCSP/CRL for the validation data)")
	tsaURL := fs.String("tsa", "", "RFC 3161 time-stamping URL for B-T, e.g. http://127.0.0.1:8080/tsa")
	tsaRoots := fs.String("tsa-roots", "", "PEM roots the TSA's certificate must chain to (default: the self-signed roots in --chain)")
	reason := fs.String("reason", "", "/Reason, e.g. \"Tôi đồng ý với nội dung văn bản\"")
	location := fs.String("location", "", "/Location")
	contact := fs.String("contact", "", "/ContactInfo")
	field := fs.String("field", "", "signature field to fill or create (default Signature1, or the next free)")
	certify := fs.Int("certify", 0, "make a certification signature with DocMDP permissions 1, 2 or 3 (default: approval)")
	visible := fs.Bool("visible", false, "draw a stamp: \"Ký bởi: <the certificate's name>\", the date, --reason and --location (default: invisible)")
	page := fs.Int("page", 0, "page for the stamp, counted from 1 (default 1, or the page of the field being filled)")
	rectText := fs.String("rect", "", "stamp rectangle x,y,width,height in points from the page's lower-left corner, e.g. 300,40,260,80 (default: the field's own, or 260×80 at the bottom right)")
	imageFile := fs.String("image", "", "JPEG or PNG drawn on the left of the stamp (a handwritten signature, a seal)")
	qrURL := fs.String("qr", "", "URL drawn as a QR code on the right of the stamp, e.g. where to verify the document")
	tz := tzFlag(fs, "the stamp shows the signing time in")
	var trustFiles multiFlag
	fs.Var(&trustFiles, "trust", "trust anchors the signer's certificate must chain to: a PEM or DER file, or a folder of them (repeatable; default: the --data directory's trust store, see kyso trust list)")
	checkTimeout := fs.Duration("check-timeout", 10*time.Second, "bound on each OCSP or CRL fetch of the pre-signing check")
	skipCheck := fs.Bool("skip-signer-check", false, "WARNING: sign without first checking the signer's certificate (validity, revocation, suspension, trust path, key strength; Circular 15/2025 Art. 5) — for offline tests only")
	rf := addRemoteFlags(fs)
	pos, err := parseArgs(fs, args, 1, "IN.pdf")
	if err != nil {
		return err
	}
	var stampFlags []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "page", "rect", "image", "qr", "tz":
			stampFlags = append(stampFlags, "--"+f.Name)
		}
	})
	var vis *pades.Visible
	if *visible {
		if vis, err = visibleOptions(*page, *rectText, *imageFile, *qrURL, *tz); err != nil {
			return err
		}
	} else if len(stampFlags) > 0 {
		return usagef("%s only place or fill a visible stamp: add --visible", strings.Join(stampFlags, ", "))
	}
	in := pos[0]
	switch {
	case *out == "":
		return usagef("-o OUT.pdf is required")
	case rf.url == "" && (*key == "" || *certFile == ""):
		return usagef("--key and --cert are required (or --remote URL --credential ID)")
	case rf.url != "" && (*key != "" || *certFile != ""):
		return usagef("--remote signs with the credential's key and certificate: leave out --key and --cert")
	case signing.IsCredentialKey(*key):
		// The approval rule: a citizen's key signs only through the one
		// path that checks its owner's approval of the exact document.
		return usagef("--key %s is an enrolled citizen's key: it signs only with its owner's approval, through kysod: kyso sign pdf --remote https://HOST:8443/csc/v2 --credential %s, with the portal's client and the owner's PIN and one-time code",
			*key, strings.TrimPrefix(*key, signing.CredentialKeyPrefix))
	case *level != "B-B" && *level != "B-T" && *level != "B-LT" && *level != "B-LTA":
		return usagef("--level is %q; want B-B, B-T, B-LT or B-LTA", *level)
	case *level != "B-B" && *tsaURL == "":
		return usagef("--level %s needs --tsa URL", *level)
	case *certify < 0 || *certify > 3:
		return usagef("--certify is %d, want 1, 2 or 3", *certify)
	}
	if same, _ := sameFile(in, *out); same {
		return usagef("-o must not be the input file: signing appends to a copy")
	}
	var (
		signer  crypto.Signer
		cert    *x509.Certificate
		chain   []*x509.Certificate
		checked *signercheck.Result
		fetcher = &revocation.Fetcher{Client: tlsmin.Client(15 * time.Second)}
	)
	// The pre-signing check (Circular 15/2025 Art. 5): before the local
	// key is opened, or the remote one asked for anything.
	check := func() error {
		if *skipCheck {
			fmt.Fprintln(e.stderr, "WARNING: --skip-signer-check: the signer's certificate is not checked before signing")
			return nil
		}
		roots, err := trustAnchors(ctx, trustFiles, *dataDir)
		if err != nil {
			return err
		}
		checked, err = signercheck.Check(ctx, cert, chain, &signercheck.Config{Roots: roots, Revocation: fetcher, Timeout: *checkTimeout})
		return err
	}
	if rf.url != "" {
		rs, err := rf.signer(ctx)
		if err != nil {
			return err
		}
		signer, cert, chain = rs, rs.Certificate, rs.Chain
		*certFile = "credential " + rf.credential
		if err := check(); err != nil {
			return err
		}
	} else {
		if cert, chain, err = readSignerCerts(*certFile, *chainFile); err != nil {
			return err
		}
		if err := check(); err != nil {
			return err
		}
		if signer, err = localSigner(ctx, *ksURI, *dataDir, *key, *certFile, cert); err != nil {
			return err
		}
	}
	if vis != nil {
		vis.Signer = strings.TrimSpace(cert.Subject.CommonName)
		if vis.Signer == "" {
			return usagef("--visible: the certificate %s has no subject common name to show", *certFile)
		}
	}
	opts := &pades.SignOptions{Options: pades.Options{Reason: *reason, Location: *location, ContactInfo: *contact, FieldName: *field, Certify: *certify, Visible: vis,
		SkipSignerCheck: *skipCheck}, Level: pades.LevelBB, Checked: checked}
	ltvRoots := x509.NewCertPool()
	if *level != "B-B" {
		opts.Level = pades.Level(*level)
		roots := x509.NewCertPool()
		n := 0
		if *tsaRoots != "" {
			ders, err := readCerts(*tsaRoots)
			if err != nil {
				return err
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
				if *tsaRoots == "" {
					roots.AddCert(c)
					n++
				}
			}
		}
		if n == 0 {
			return usagef("%s: no root to check the TSA against: give --tsa-roots, or a --chain ending in a self-signed root", *level)
		}
		opts.TSA = pades.TSAClient(*tsaURL, &tsa.ClientOptions{Roots: roots})
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".kyso-sign-*.pdf")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if checked != nil {
		// The check's own OCSP responses and CRLs go into the DSS (Sign
		// asks Checked first), and its anchor validates them.
		ltvRoots.AddCert(checked.Chain[len(checked.Chain)-1])
	}
	opts.LTV = &pades.LTVOptions{Roots: ltvRoots, Revocation: fetcher}
	if err := pades.Sign(ctx, f, fi.Size(), tmp, signer, cert, chain, opts); err != nil {
		tmp.Close()
		var ve *pades.VisibleError
		if errors.As(err, &ve) {
			return usagef("%v", err)
		}
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	how := "invisible"
	if vis != nil {
		how = "visible"
	}
	fmt.Fprintf(e.stderr, "signed %s → %s (PAdES %s, %s, %s)\n", in, *out, *level, how, strings.TrimSpace(cert.Subject.CommonName))
	return nil
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
