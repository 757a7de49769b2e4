// Command validate shows pkg/verify as a Go program uses it: it validates
// every signature and document time-stamp of a PDF against the trust
// anchors given and prints the report's headline and, for each signature,
// its verdict (ETSI EN 319 102-1 indication and sub-indication), signer,
// claimed signing time, time-stamp and the reasons it did not pass. It
// exits 0 only when the document is valid, 1 when it is not, 2 when it
// cannot tell (no such file, not a PDF).
//
//	go run ./examples/validate --trust root.pem signed.pdf
//	go run ./examples/validate --trust root.pem --offline signed.pdf   # only the validation data the PDF carries
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/verify"
)

func main() {
	trust := flag.String("trust", "", "PEM trust anchors: the CA roots whose signatures count")
	offline := flag.Bool("offline", false, "fetch no revocation data: only what the PDF carries")
	flag.Parse()
	if *trust == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: validate --trust ROOT.pem [--offline] FILE.pdf")
		os.Exit(2)
	}
	valid, err := run(context.Background(), *trust, *offline, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(2)
	}
	if !valid {
		os.Exit(1)
	}
}

func run(ctx context.Context, trust string, offline bool, file string) (bool, error) {
	pemRoots, err := os.ReadFile(trust)
	if err != nil {
		return false, err
	}
	opts := &verify.Options{Roots: x509.NewCertPool()}
	if !opts.Roots.AppendCertsFromPEM(pemRoots) {
		return false, errors.New(trust + ": no PEM certificate")
	}
	if !offline {
		opts.Fetcher = &revocation.Fetcher{}
	}
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	report, err := verify.Verify(ctx, f, fi.Size(), opts)
	if errors.Is(err, verify.ErrNoSignatures) {
		fmt.Printf("%s: no signatures\n", file)
		return false, nil
	}
	if err != nil {
		return false, err
	}

	headline := "VALID"
	if !report.Valid {
		headline = "NOT VALID"
	}
	fmt.Printf("%s: %s (%d signatures, %d revisions)\n", file, headline, len(report.Signatures), report.Revisions)
	for i, s := range report.Signatures {
		verdict := string(s.Indication)
		if s.SubIndication != "" {
			verdict += "/" + string(s.SubIndication)
		}
		fmt.Printf("#%d %s %q: %s\n", i+1, s.Kind, s.Field, verdict)
		if s.Signer != nil {
			who := s.Signer.Name
			if s.Signer.CCCD != "" {
				who += ", CCCD " + s.Signer.CCCD
			}
			if s.Signer.MST != "" {
				who += ", MST " + s.Signer.MST
			}
			fmt.Printf("   signer: %s (issued by %s)\n", who, s.Signer.IssuerName)
		}
		if s.ClaimedTime != nil {
			fmt.Printf("   signing time (claimed): %s\n", s.ClaimedTime.UTC().Format(time.RFC3339))
		}
		if s.TimestampTime != nil {
			fmt.Printf("   time-stamp: %s\n", s.TimestampTime.UTC().Format(time.RFC3339))
		}
		if s.Level != "" {
			fmt.Printf("   level: %s\n", s.Level)
		}
		for _, r := range s.Reasons {
			fmt.Printf("   why: %s\n", r)
		}
	}
	return report.Valid, nil
}
