package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// crlOnly is a relying party whose OCSP responder is down: every status
// comes from the certificate's CRL distribution point.
type crlOnly struct{ f *revocation.Fetcher }

func (c crlOnly) OCSP(context.Context, *x509.Certificate, *x509.Certificate) (*revocation.OCSPResult, error) {
	return nil, errors.New("the OCSP responder is down")
}

func (c crlOnly) CRL(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.CRLResult, error) {
	return c.f.CRL(ctx, cert, issuer)
}

// TestShardedCRLCheckers: a citizen (and the TSA) of a CA whose CRL is
// partitioned (ca.Options.CRLShards) signs a PDF at B-T; it is extended to
// B-LT with CRLs only, so the document's DSS carries the citizen's shard
// CRL, with its critical issuing distribution point. kyso, EU DSS (from
// the document alone) and pyHanko (handed the same CRLs) find it valid.
// Handed another shard's CRL instead of the citizen's, pyHanko does not
// take it for the citizen's status: no VALID.
func TestShardedCRLCheckers(t *testing.T) {
	dss := testenv.DSS(t)
	testenv.PyHankoPython(t)
	ctx := context.Background()
	dir := t.TempDir()
	p, err := catest.NewOptions(ctx, t.TempDir(), nil, &ca.Options{CRLShards: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv, err := servertest.ServeOptions(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	chain, err := p.CA.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := p.Citizen(ctx, "citizen-shard", hsm.ECDSAP256, "079203088001")
	if err != nil {
		t.Fatal(err)
	}
	dp := cert.CRLDistributionPoints[0]
	if !strings.Contains(dp, "/crl/issuing-") || !strings.Contains(p.Hierarchy.TSA.CRLDistributionPoints[0], "/crl/issuing-") {
		t.Fatalf("the citizen names %s and the TSA %v: not shards", dp, p.Hierarchy.TSA.CRLDistributionPoints)
	}
	// Another citizen in another shard, so that shard has a CRL too.
	var other *x509.Certificate
	for i := 2; other == nil; i++ {
		if i > 40 {
			t.Fatal("forty certificates fell in one shard")
		}
		c, _, err := p.Citizen(ctx, "other-"+string(rune('a'+i)), hsm.ECDSAP256, "0792030880"+string(rune('0'+i/10))+string(rune('0'+i%10)))
		if err != nil {
			t.Fatal(err)
		}
		if c.CRLDistributionPoints[0] != dp {
			other = c
		}
	}

	opts := &pades.SignOptions{Level: pades.LevelBT, TSA: pades.TSAServer(srv.PKI.TSA()),
		Options: pades.Options{Reason: "Nộp hồ sơ trực tuyến", Location: "Hà Nội", SkipSignerCheck: true}}
	in := formPDF()
	var bt bytes.Buffer
	if err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &bt, key, cert, chain, opts); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.Hierarchy.Root)
	fetch := &revocation.Fetcher{Client: srv.Client}
	var blt bytes.Buffer
	if err := pades.Extend(ctx, bytes.NewReader(bt.Bytes()), int64(bt.Len()), &blt, pades.LevelBLT, &pades.ExtendOptions{
		LTVOptions: pades.LTVOptions{Roots: roots, Revocation: crlOnly{fetch}}}); err != nil {
		t.Fatalf("extending to B-LT with CRLs: %v", err)
	}
	path := filepath.Join(dir, "sharded-B-LT.pdf")
	if err := os.WriteFile(path, blt.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	// kyso, offline: the document's own CRLs.
	rep, err := verify.Verify(ctx, bytes.NewReader(blt.Bytes()), int64(blt.Len()), &verify.Options{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if s := want(t, rep, 0, verify.TotalPassed, ""); s.Level != verify.LevelBLT {
		t.Errorf("kyso: level %q, want %s", s.Level, verify.LevelBLT)
	}

	// EU DSS, from the document alone: passed at B-LT, with the shard CRL
	// found in it.
	trust := []string{writePEM(t, dir, "root.pem", p.Hierarchy.Root)}
	reps := dss.Validate(t, trust, nil, nil, path)
	for _, r := range reps {
		for _, rv := range r.Revocation {
			t.Logf("DSS revocation data: %s from %s by %q", rv.Type, rv.Origin, rv.ProducedBy)
		}
		testenv.AssertDSSPassed(t, r, verify.LevelBLT)
		if !slices.ContainsFunc(r.Revocation, func(rv testenv.DSSRevocation) bool { return rv.Type == "CRL" && rv.Origin != "EXTERNAL" }) {
			t.Errorf("DSS found no CRL in the document: %+v", r.Revocation)
		}
	}

	// pyHanko, handed the CRLs: the citizen's shard, the TSA's shard and
	// the root's.
	crlFor := func(c *x509.Certificate, issuer *x509.Certificate) []byte {
		t.Helper()
		res, err := fetch.CRL(ctx, c, issuer)
		if err != nil {
			t.Fatal(err)
		}
		return res.Raw
	}
	rootCRL := writeFile(t, dir, "root.crl", crlFor(p.Hierarchy.Issuing, p.Hierarchy.Root))
	tsaCRL := writeFile(t, dir, "tsa.crl", crlFor(p.Hierarchy.TSA, p.Hierarchy.Issuing))
	citizenCRL := writeFile(t, dir, "citizen.crl", crlFor(cert, p.Hierarchy.Issuing))
	otherCRL := writeFile(t, dir, "other.crl", crlFor(other, p.Hierarchy.Issuing))
	py := runPyhanko(t, trust, []string{rootCRL, tsaCRL, citizenCRL}, []string{}, []string{path})
	if len(py) != 1 || py[0].Error != "" || len(py[0].Signatures) != 1 {
		t.Fatalf("pyHanko: %+v", py)
	}
	if v, why := pyhankoVerdict(py[0].Signatures[0]); v != vPass || !py[0].Signatures[0].Trusted {
		t.Errorf("pyHanko with the citizen's shard CRL says %s (%s); want VALID and trusted: %+v", v, why, py[0].Signatures[0])
	}
	// The TSA's CRL stays (unless the TSA shares the other citizen's
	// shard, in which case it is that CRL): the citizen's is swapped for
	// another shard's.
	crls := []string{rootCRL, otherCRL}
	if p.Hierarchy.TSA.CRLDistributionPoints[0] != other.CRLDistributionPoints[0] {
		crls = append(crls, tsaCRL)
	}
	if p.Hierarchy.TSA.CRLDistributionPoints[0] == dp {
		crls = crls[:2] // the TSA's is the citizen's shard: leave it out too
	}
	py = runPyhanko(t, trust, crls, []string{}, []string{path})
	if len(py) != 1 || len(py[0].Signatures) != 1 {
		t.Fatalf("pyHanko: %+v", py)
	}
	if v, why := pyhankoVerdict(py[0].Signatures[0]); v == vPass {
		t.Errorf("pyHanko took another shard's CRL for the citizen's status: %s (%s)", v, why)
	} else {
		t.Logf("pyHanko with another shard's CRL: %s (%s)", v, why)
	}
}
