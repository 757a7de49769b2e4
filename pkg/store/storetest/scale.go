package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Scale names what a driver's grow function puts in a store for
// BenchScale, so that the benchmark can ask for it: owner i (1…Owners) is
// ScaleOwner(i) with national ID ScaleNationalID(i) and credential
// "cred-i", holding one citizen certificate from "issuing" (every 20th
// revoked; every 10000th, from the first, an OCSP responder's instead),
// and the audit log holds about two events an owner: the issuance and one
// signature.create intent naming the owner. Each owner has a transaction
// with one of 50 portals (1% pending, 1% approved with an ended lease)
// and its webhook (1% due).
type Scale struct {
	Owners int
}

// ScaleFromEnv is the Scale a benchmark grows its store to: KYSO_SCALE
// owners, or 100000.
func ScaleFromEnv(b *testing.B) Scale {
	n := 100000
	if v := os.Getenv("KYSO_SCALE"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("KYSO_SCALE=%q: want a positive number", v)
		}
	}
	return Scale{Owners: n}
}

// ScaleOwner is the ID of BenchScale's owner i.
func ScaleOwner(i int) string { return fmt.Sprintf("own-%d", i) }

// ScaleNationalID is the national ID of BenchScale's owner i.
func ScaleNationalID(i int) string { return fmt.Sprintf("CCCD:%012d", i) }

// BenchScale measures the store's hot reads on a store a driver grew to
// sc (see Scale): the certificate list, the current OCSP certificate, an
// owner's certificates, credentials and transactions, the expiry sweep,
// the certificates' count by status, the audit chain's head, an owner's
// signatures (KeyHistory) and a read of the whole audit log (what kysod's
// start-up and KeyHistory did before issue 19). It reports each as ns/op;
// run it at two sizes to see which stay flat.
func BenchScale(b *testing.B, s store.Store, sc Scale) {
	ctx := context.Background()
	owner := func() int { return 1 + rand.IntN(sc.Owners) }
	run := func(name string, fn func() error) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("cert-list", func() error {
		_, err := s.ListCertificates(ctx, &store.CertificateFilter{Issuer: "issuing", Limit: 1000})
		return err
	})
	run("current-ocsp", func() error {
		cs, err := s.ListCertificates(ctx, &store.CertificateFilter{Issuer: "issuing", Profile: "ocsp", Status: store.StatusGood})
		if err == nil && len(cs) == 0 && sc.Owners >= 10000 {
			err = fmt.Errorf("no OCSP certificate in the grown store")
		}
		return err
	})
	run("certs-by-owner", func() error {
		cs, err := s.ListCertificates(ctx, &store.CertificateFilter{Issuer: "issuing", NationalID: ScaleNationalID(owner())})
		if err == nil && len(cs) != 1 {
			err = fmt.Errorf("%d certificates, want 1", len(cs))
		}
		return err
	})
	run("credentials-by-owner", func() error {
		cs, err := s.ListCredentials(ctx, ScaleOwner(owner()))
		if err == nil && len(cs) != 1 {
			err = fmt.Errorf("%d credentials, want 1", len(cs))
		}
		return err
	})
	run("owner-transactions", func() error {
		_, err := s.ListTransactions(ctx, &store.TransactionFilter{OwnerID: ScaleOwner(owner())})
		return err
	})
	run("overdue-sweep", func() error {
		ts, err := s.ListOverdue(ctx, time.Now(), 100)
		if err == nil && len(ts) != min(100, sc.Owners/100) {
			err = fmt.Errorf("%d overdue transactions, want %d", len(ts), min(100, sc.Owners/100))
		}
		return err
	})
	run("count-certificates", func() error {
		n, err := s.CountCertificates(ctx)
		if err == nil && n[store.StatusGood]+n[store.StatusRevoked] != int64(sc.Owners) {
			err = fmt.Errorf("counted %v, want %d certificates", n, sc.Owners)
		}
		return err
	})
	run("audit-head", func() error {
		_, _, err := s.AuditHead(ctx)
		return err
	})
	run("owner-signatures", func() error {
		es, err := s.ListOwnerSignatures(ctx, ScaleOwner(owner()), 0, 1000)
		if err == nil && len(es) != 1 {
			err = fmt.Errorf("%d signature events, want 1", len(es))
		}
		return err
	})
	run("audit-read-all", func() error {
		n := 0
		for after := int64(0); ; {
			es, err := s.ListAudit(ctx, after, 1000)
			if err != nil {
				return err
			}
			n += len(es)
			if len(es) < 1000 {
				break
			}
			after = es[len(es)-1].ID
		}
		if n < sc.Owners {
			return fmt.Errorf("read %d audit events, want at least %d", n, sc.Owners)
		}
		return nil
	})
}
