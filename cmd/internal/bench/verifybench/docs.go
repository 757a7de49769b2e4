// Package verifybench measures validating signed PDFs (`kyso bench
// verify`): kyso's pkg/verify in this process and `kyso verify` as a
// command, next to poppler's pdfsig and pyHanko's validate on the same
// files in the same run, offline, every signature carrying its validation
// data (PAdES B-LT, ETSI EN 319 142-1 clause 6.5).
package verifybench

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// Doc is one document the rows validate.
type Doc struct {
	// Name is "1sig" or "5sig"; Signatures how many it holds.
	Name       string
	Signatures int
	// Path is the file; Bytes its size.
	Path  string
	Bytes int64
}

// PKI is the throwaway CA the documents are signed under: its root, the
// only trust anchor of every row, as a pool and as a PEM file.
type PKI struct {
	Roots    *x509.CertPool
	RootFile string
}

// DefaultSignatures are the documents Run makes: one signature, and five.
var DefaultSignatures = []int{1, 5}

// MakeDocs makes, in dir, a CA (pkg/ca/catest, served over HTTP in this
// process for the OCSP responses and CRLs) and for each n in sigs a
// one-page form signed n times at PAdES B-T, by n citizens with P-256
// keys, one incremental update each, then extended to B-LT
// (pades.Extend): the validation data of every signature is in the
// document's DSS, so validating needs no network.
func MakeDocs(ctx context.Context, dir string, sigs []int) (*PKI, []Doc, error) {
	tp, err := catest.NewInit(ctx, filepath.Join(dir, "ca"), &ca.InitRequest{Name: "Kyso Bench"})
	if err != nil {
		return nil, nil, fmt.Errorf("verifybench: making the CA: %w", err)
	}
	defer tp.Close()
	srv, err := servertest.Serve(ctx, tp)
	if err != nil {
		return nil, nil, fmt.Errorf("verifybench: serving the CA: %w", err)
	}
	defer srv.Close()
	h := tp.Hierarchy
	chain, err := tp.CA.Chain(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("verifybench: %w", err)
	}
	tcert, tkey, err := tp.CA.TSASigner(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("verifybench: %w", err)
	}
	ts, err := tsa.New(tsa.Config{Certificate: tcert, Chain: chain, Signer: tkey, Policy: tsa.PlaceholderPolicy})
	if err != nil {
		return nil, nil, fmt.Errorf("verifybench: %w", err)
	}
	p := &PKI{Roots: x509.NewCertPool(), RootFile: filepath.Join(dir, "root.pem")}
	p.Roots.AddCert(h.Root)
	if err := os.WriteFile(p.RootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.Root.Raw}), 0o600); err != nil {
		return nil, nil, fmt.Errorf("verifybench: %w", err)
	}
	extend := &pades.ExtendOptions{LTVOptions: pades.LTVOptions{Roots: p.Roots, Revocation: &revocation.Fetcher{Client: srv.Client}}}
	var docs []Doc
	signer := 0
	for _, n := range sigs {
		doc := testpdf.Form()
		for range n {
			signer++
			cert, key, err := tp.Citizen(ctx, fmt.Sprintf("bench-verify-%d", signer), hsm.ECDSAP256, fmt.Sprintf("07920300%04d", signer))
			if err != nil {
				return nil, nil, err
			}
			var out bytes.Buffer
			opts := &pades.SignOptions{Level: pades.LevelBT, TSA: pades.TSAServer(ts), Options: pades.Options{Reason: "Phê duyệt", Location: "Hà Nội",
				// Documents for the validation benchmark, not a signing path.
				SkipSignerCheck: true}}
			if err := pades.Sign(ctx, bytes.NewReader(doc), int64(len(doc)), &out, key, cert, []*x509.Certificate{h.Issuing}, opts); err != nil {
				return nil, nil, fmt.Errorf("verifybench: signing: %w", err)
			}
			doc = out.Bytes()
		}
		var out bytes.Buffer
		if err := pades.Extend(ctx, bytes.NewReader(doc), int64(len(doc)), &out, pades.LevelBLT, extend); err != nil {
			return nil, nil, fmt.Errorf("verifybench: extending to B-LT: %w", err)
		}
		d := Doc{Name: fmt.Sprintf("%dsig", n), Signatures: n, Path: filepath.Join(dir, fmt.Sprintf("%dsig.pdf", n)), Bytes: int64(out.Len())}
		if err := os.WriteFile(d.Path, out.Bytes(), 0o600); err != nil {
			return nil, nil, fmt.Errorf("verifybench: %w", err)
		}
		docs = append(docs, d)
	}
	return p, docs, nil
}
