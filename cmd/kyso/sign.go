package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/datadir"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// signPDF signs a PDF with a key in a key store: PAdES B-B, or B-T with a
// time-stamp from an RFC 3161 TSA.
func signPDF(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "sign pdf", "sign pdf IN.pdf -o OUT.pdf --key LABEL --cert CERT.pem [--chain CHAIN.pem] [--keystore URI | --data DIR] [--level B-B|B-T] [--tsa URL] [--reason …] [--location …] [--contact …] [--field NAME] [--certify 1|2|3]")
	out := fs.String("o", "", "where to write the signed PDF (required; never the input)")
	ksURI := fs.String("keystore", os.Getenv("KYSO_KEYSTORE"), "key store URI holding the signing key (default: the data directory's)")
	dataDir := fs.String("data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory whose key store to use when --keystore is not given")
	key := fs.String("key", "", "label of the signing key in the key store")
	certFile := fs.String("cert", "", "the signer's certificate (PEM or DER)")
	chainFile := fs.String("chain", "", "the CA certificates above it (PEM), written into the signature")
	level := fs.String("level", "B-B", "PAdES baseline level: B-B, or B-T (needs --tsa)")
	tsaURL := fs.String("tsa", "", "RFC 3161 time-stamping URL for B-T, e.g. http://127.0.0.1:8080/tsa")
	tsaRoots := fs.String("tsa-roots", "", "PEM roots the TSA's certificate must chain to (default: the self-signed roots in --chain)")
	reason := fs.String("reason", "", "/Reason, e.g. \"Tôi đồng ý với nội dung văn bản\"")
	location := fs.String("location", "", "/Location")
	contact := fs.String("contact", "", "/ContactInfo")
	field := fs.String("field", "", "signature field to fill or create (default Signature1, or the next free)")
	certify := fs.Int("certify", 0, "make a certification signature with DocMDP permissions 1, 2 or 3 (default: approval)")
	pos, err := parseArgs(fs, args, 1, "IN.pdf")
	if err != nil {
		return err
	}
	in := pos[0]
	switch {
	case *out == "":
		return usagef("-o OUT.pdf is required")
	case *key == "" || *certFile == "":
		return usagef("--key and --cert are required")
	case *level != "B-B" && *level != "B-T":
		return usagef("--level is %q; B-B and B-T are supported (B-LT and B-LTA come with `kyso extend`)", *level)
	case *level == "B-T" && *tsaURL == "":
		return usagef("--level B-T needs --tsa URL")
	case *certify < 0 || *certify > 3:
		return usagef("--certify is %d, want 1, 2 or 3", *certify)
	}
	if same, _ := sameFile(in, *out); same {
		return usagef("-o must not be the input file: signing appends to a copy")
	}
	certs, err := readCerts(*certFile)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(certs[0])
	if err != nil {
		return fmt.Errorf("%s: %w", *certFile, err)
	}
	var chain []*x509.Certificate
	if *chainFile != "" {
		ders, err := readCerts(*chainFile)
		if err != nil {
			return err
		}
		for _, d := range ders {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				return fmt.Errorf("%s: %w", *chainFile, err)
			}
			chain = append(chain, c)
		}
	}
	if *ksURI == "" {
		dir, err := datadir.Load(*dataDir)
		if err != nil {
			return err
		}
		*ksURI = dir.Config.Keystore
	}
	ks, _, err := openKeystore(ctx, *ksURI)
	if err != nil {
		return err
	}
	defer ks.Close()
	signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: *key})
	if err != nil {
		return err
	}
	if !hsm.SamePublicKey(signer.Public(), cert.PublicKey) {
		return fmt.Errorf("key %q is not the key certified by %s", *key, *certFile)
	}
	opts := &pades.SignOptions{Options: pades.Options{Reason: *reason, Location: *location, ContactInfo: *contact, FieldName: *field, Certify: *certify}, Level: pades.Level(*level)}
	if *level == "B-T" {
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
					n++
				}
			}
		} else {
			for _, c := range chain {
				if c.CheckSignatureFrom(c) == nil {
					roots.AddCert(c)
					n++
				}
			}
		}
		if n == 0 {
			return usagef("B-T: no root to check the TSA against: give --tsa-roots, or a --chain ending in a self-signed root")
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
	if err := pades.Sign(ctx, f, fi.Size(), tmp, signer, cert, chain, opts); err != nil {
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
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "signed %s → %s (PAdES %s, %s)\n", in, *out, *level, strings.TrimSpace(cert.Subject.CommonName))
	return nil
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
