package ca

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/store"
)

func TestShardURL(t *testing.T) {
	for _, tc := range []struct {
		base  string
		shard int
		want  string
	}{
		{"http://ca.kyso.test/crl/issuing.crl", 0, "http://ca.kyso.test/crl/issuing.crl"},
		{"http://ca.kyso.test/crl/issuing.crl", 7, "http://ca.kyso.test/crl/issuing-7.crl"},
		{"http://crl.example.vn/kyso", 12, "http://crl.example.vn/kyso-12"},
	} {
		if got := ShardURL(tc.base, tc.shard); got != tc.want {
			t.Errorf("ShardURL(%q, %d) = %q, want %q", tc.base, tc.shard, got, tc.want)
		}
	}
	if _, err := New(newSQLite(t), newKeyStore(t), &Options{CRLShards: store.MaxCRLShards + 1}); err == nil {
		t.Error("New accepted more CRL shards than store.MaxCRLShards")
	}
}

// shardedCRL is one generated CRL with what it says.
type shardedCRL struct {
	rec  *store.CRL
	list *x509.RevocationList
	idp  *revocation.IssuingDistributionPoint
}

func readShardedCRL(t *testing.T, rec *store.CRL) *shardedCRL {
	t.Helper()
	l, err := x509.ParseRevocationList(rec.DER)
	if err != nil {
		t.Fatal(err)
	}
	c := &shardedCRL{rec: rec, list: l}
	for _, e := range l.Extensions {
		if e.Id.Equal(oidIssuingDistributionPoint) {
			if !e.Critical {
				t.Errorf("shard %d: the issuing distribution point is not critical", rec.Shard)
			}
			if c.idp, err = revocation.ParseIssuingDistributionPoint(e.Value); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c
}

// TestCRLShards issues certificates before sharding and into four shards,
// revokes some of each, and checks every CRL: its scope (the issuing
// distribution point naming the URL its certificates carry), that it
// lists its shard's revocations and no other's, that kyso's own checker
// takes each CRL for its certificates only, that changing the number of
// shards moves no certificate, and what openssl says of each CRL.
func TestCRLShards(t *testing.T) {
	ctx := context.Background()
	st := newSQLite(t)
	f := newFixture(t, st, nil)
	base := f.a.urls(IssuingName).CRL
	csr := func() []byte { return newCSR(t, p256(t)) }
	legacy, err := f.a.IssueCitizen(ctx, citizen("079203001234", csr()))
	if err != nil {
		t.Fatal(err)
	}
	// One shard, as before sharding: one CRL with no scope, listing all.
	crls, err := f.a.GenerateCRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range crls {
		if c := readShardedCRL(t, rec); c.idp != nil || rec.Shard != 0 {
			t.Errorf("%s's CRL before sharding: shard %d, issuing distribution point %+v; want neither", rec.Issuer, rec.Shard, c.idp)
		}
	}

	a4, err := New(st, f.ks, &Options{BaseURL: "http://ca.kyso.test", CRLShards: 4})
	if err != nil {
		t.Fatal(err)
	}
	byShard := map[int][]*x509.Certificate{0: {legacy}}
	for i := range 12 {
		c, err := a4.IssueCitizen(ctx, citizen(fmt.Sprintf("0792030013%02d", i), csr()))
		if err != nil {
			t.Fatal(err)
		}
		shard := int(new(big.Int).Mod(c.SerialNumber, big.NewInt(4)).Int64()) + 1
		if want := []string{ShardURL(base, shard)}; !slices.Equal(c.CRLDistributionPoints, want) {
			t.Errorf("certificate %d names %v, want %v", i, c.CRLDistributionPoints, want)
		}
		rec, err := st.GetCertificate(ctx, IssuingName, c.SerialNumber.Bytes())
		if err != nil || rec.CRLShard != shard {
			t.Fatalf("stored shard = %+v, %v; want %d", rec, err, shard)
		}
		byShard[shard] = append(byShard[shard], c)
	}
	if len(byShard) < 3 {
		t.Fatalf("12 random serials fell in %d shards", len(byShard)-1)
	}
	if legacy.CRLDistributionPoints[0] != base {
		t.Fatalf("the certificate issued before sharding names %v", legacy.CRLDistributionPoints)
	}
	// Revoke the first certificate of every shard, the one from before
	// sharding included.
	revoked := map[string]bool{}
	for _, cs := range byShard {
		if err := a4.Revoke(ctx, cs[0].SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
			t.Fatal(err)
		}
		revoked[cs[0].SerialNumber.String()] = true
	}
	scopes, err := a4.CRLScopes(ctx, IssuingName)
	if err != nil {
		t.Fatal(err)
	}
	if len(scopes) != len(byShard) || scopes[0] != 0 {
		t.Fatalf("CRLScopes = %v, want 0 and the %d shards used", scopes, len(byShard)-1)
	}
	before := map[int]int64{}
	for _, shard := range scopes {
		if rec, err := st.LatestCRL(ctx, IssuingName, shard); err == nil {
			before[shard] = rec.Number
		} else {
			t.Fatalf("the keyCompromise revocation in shard %d made no CRL: %v", shard, err)
		}
	}
	crls, err = a4.GenerateCRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	issuing := map[int]*shardedCRL{}
	for _, rec := range crls {
		if rec.Issuer == IssuingName {
			issuing[rec.Shard] = readShardedCRL(t, rec)
		} else if c := readShardedCRL(t, rec); c.idp != nil {
			t.Errorf("the root's CRL has an issuing distribution point: it has no shards")
		}
	}
	for _, shard := range scopes {
		c := issuing[shard]
		if c == nil {
			t.Fatalf("GenerateCRL made no CRL for shard %d", shard)
		}
		if c.rec.Number <= before[shard] {
			t.Errorf("shard %d: CRL number %d after %d", shard, c.rec.Number, before[shard])
		}
		if c.idp == nil || !slices.Equal(c.idp.URIs, []string{ShardURL(base, shard)}) || c.idp.OnlyUserCerts != (shard > 0) || c.idp.OnlyCACerts {
			t.Errorf("shard %d: issuing distribution point %+v, want %s (user certificates only: %v)", shard, c.idp, ShardURL(base, shard), shard > 0)
		}
		var listed []string
		for _, e := range c.list.RevokedCertificateEntries {
			listed = append(listed, e.SerialNumber.String())
		}
		if want := []string{byShard[shard][0].SerialNumber.String()}; !slices.Equal(listed, want) {
			t.Errorf("shard %d lists %v, want only its own revocation %v", shard, listed, want)
		}
		// kyso's checker: each CRL answers for its own certificates, and
		// for no other shard's (the replayed-CRL attack).
		for other, cs := range byShard {
			for _, cert := range cs {
				res, err := revocation.ParseCRL(c.rec.DER, cert, f.h.Issuing)
				switch {
				case other != shard && !errors.Is(err, revocation.ErrOutOfScope):
					t.Errorf("shard %d's CRL judged a certificate of shard %d: %v, %v", shard, other, res, err)
				case other == shard && err != nil:
					t.Errorf("shard %d's CRL refused for its own certificate: %v", shard, err)
				case other == shard && (res.Status == revocation.Revoked) != revoked[cert.SerialNumber.String()]:
					t.Errorf("shard %d: status %v of %s", shard, res.Status, cert.SerialNumber)
				}
			}
		}
	}
	// The issuing CA's own certificate is not any shard's to judge: the
	// shards list end-entity certificates only, and the root's CRL has it.
	if _, err := revocation.ParseCRL(issuing[scopes[1]].rec.DER, f.h.Issuing, f.h.Issuing); err == nil {
		t.Error("a shard's CRL was accepted for a CA certificate")
	}

	// Fewer shards later: no certificate moves, and every shard in use
	// keeps its CRL.
	a2, err := New(st, f.ks, &Options{BaseURL: "http://ca.kyso.test", CRLShards: 2})
	if err != nil {
		t.Fatal(err)
	}
	late, err := a2.IssueCitizen(ctx, citizen("079203001400", csr()))
	if err != nil {
		t.Fatal(err)
	}
	if u := late.CRLDistributionPoints[0]; u != ShardURL(base, 1) && u != ShardURL(base, 2) {
		t.Errorf("with 2 shards a certificate names %s", u)
	}
	for shard, cs := range byShard {
		if rec, err := st.GetCertificate(ctx, IssuingName, cs[0].SerialNumber.Bytes()); err != nil || rec.CRLShard != shard {
			t.Errorf("after changing the shards, a certificate of shard %d has %+v, %v", shard, rec, err)
		}
	}
	if again, err := a2.CRLScopes(ctx, IssuingName); err != nil || !slices.Equal(again[:len(scopes)], scopes) {
		t.Errorf("CRLScopes with 2 shards = %v, %v; want %v still", again, err, scopes)
	}

	t.Run("openssl", func(t *testing.T) {
		bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
		dir := t.TempDir()
		writePEM(t, dir, "root.pem", f.h.Root.Raw)
		writePEM(t, dir, "issuing.pem", f.h.Issuing.Raw)
		for shard, c := range issuing {
			name := fmt.Sprintf("shard%d.crl.pem", shard)
			if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: c.rec.DER}), 0o600); err != nil {
				t.Fatal(err)
			}
			text := runOpenSSL(t, bin, dir, "crl", "-in", name, "-noout", "-text")
			// (openssl 3 prints "Only User Certificates" on the URI's line.)
			want := `X509v3 Issuing Distribution Point: critical\s+Full Name:\s+URI:` + regexp.QuoteMeta(ShardURL(base, shard)) + `\s+`
			if shard > 0 {
				want += `Only User Certificates`
			} else {
				want += `\S` // and nothing else
			}
			if !regexp.MustCompile(want).MatchString(text) || shard == 0 && strings.Contains(text, "Only User") {
				t.Errorf("openssl crl -text of shard %d lacks %q:\n%s", shard, want, text)
			}
		}
		verify := func(cert *x509.Certificate, crlShard int) string {
			t.Helper()
			writePEM(t, dir, "leaf.pem", cert.Raw)
			cmd := exec.Command(bin, "verify", "-crl_check", "-CAfile", "root.pem", "-untrusted", "issuing.pem",
				"-CRLfile", fmt.Sprintf("shard%d.crl.pem", crlShard), "leaf.pem")
			cmd.Dir = dir
			out, errOut, _ := testenv.Run(cmd)
			return out + errOut
		}
		for shard, cs := range byShard {
			for _, cert := range cs {
				out := verify(cert, shard)
				if revoked[cert.SerialNumber.String()] {
					if !strings.Contains(out, "certificate revoked") {
						t.Errorf("openssl verify, shard %d, revoked certificate: %s", shard, out)
					}
				} else if strings.TrimSpace(out) != "leaf.pem: OK" {
					t.Errorf("openssl verify, shard %d, good certificate: %s", shard, out)
				}
			}
			// Another shard's CRL is out of the certificate's scope for
			// openssl too: it refuses with X509_V_ERR_DIFFERENT_CRL_SCOPE (error 44).
			other := scopes[(slices.Index(scopes, shard)+1)%len(scopes)]
			if out := verify(cs[len(cs)-1], other); !strings.Contains(out, "error 44 at 0 depth lookup: different CRL scope") {
				t.Errorf("openssl verify of a shard %d certificate with shard %d's CRL: %s", shard, other, out)
			}
		}
	})
}

// shardLookupFails is a store whose certificate lookups fail once told:
// the database answering the revocation and not the read after it.
type shardLookupFails struct {
	store.Store
	fail bool
}

func (s *shardLookupFails) GetCertificate(ctx context.Context, issuer string, serial []byte) (*store.Certificate, error) {
	if s.fail {
		return nil, errors.New("the database went away")
	}
	return s.Store.GetCertificate(ctx, issuer, serial)
}

// TestRevokeShardUnknown: when the revoked certificate's shard cannot be
// read after the revocation, the revocation is still audited and, batch
// or not, every CRL of the issuing CA is made at once, so the certificate
// is listed in its shard's.
func TestRevokeShardUnknown(t *testing.T) {
	ctx := context.Background()
	st := &shardLookupFails{Store: newSQLite(t)}
	f := newFixture(t, st, &Options{CRLShards: 2, CRLBatch: time.Hour})
	c, err := f.a.IssueCitizen(ctx, citizen("079203001501", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	st.fail = true
	if err := f.a.Revoke(ctx, c.SerialNumber.Bytes(), store.ReasonSuperseded, time.Time{}); err != nil {
		t.Fatal(err)
	}
	st.fail = false
	rec, err := st.GetCertificate(ctx, IssuingName, c.SerialNumber.Bytes())
	if err != nil || rec.CRLShard == 0 {
		t.Fatalf("certificate %+v, %v: want one in a shard", rec, err)
	}
	crl, err := st.LatestCRL(ctx, IssuingName, rec.CRLShard)
	if err != nil {
		t.Fatalf("no CRL in the certificate's shard: %v", err)
	}
	res, err := revocation.ParseCRL(crl.DER, c, f.h.Issuing)
	if err != nil || res.Status != revocation.Revoked {
		t.Errorf("the shard's CRL says %v, %v; want revoked", res, err)
	}
	evs, err := st.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	audited := false
	for _, e := range evs {
		audited = audited || e.Action == ActionRevoke && e.Outcome == "ok" && strings.HasSuffix(e.Subject, FormatSerial(c.SerialNumber.Bytes()))
	}
	if !audited {
		t.Error("the revocation was not audited")
	}
}
