package ca

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// noListStore refuses ListRevoked once listing is off, to show a caller
// does not read every revocation.
type noListStore struct {
	store.Store
	off atomic.Bool
}

func (s *noListStore) ListRevoked(ctx context.Context, issuer string, shard int, expiredBefore time.Time) ([]*store.Revocation, error) {
	if s.off.Load() {
		return nil, errors.New("ListRevoked called: O(revocations) on the OCSP path")
	}
	return s.Store.ListRevoked(ctx, issuer, shard, expiredBefore)
}

// TestOCSPStatusLooksUpOneRevocation checks OCSPStatus reads the one
// revocation it needs (store.GetRevocation), not the CA's whole list, which
// with millions of certificates would be every OCSP cache miss's cost.
func TestOCSPStatusLooksUpOneRevocation(t *testing.T) {
	ctx := context.Background()
	st := &noListStore{Store: newSQLite(t)}
	f := newFixture(t, st, &Options{DisableCampaign: true})
	var certs []*store.Certificate
	for i := 0; i < 3; i++ {
		c, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := f.a.Certificate(ctx, c.SerialNumber.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, rec)
	}
	at := f.a.now().Add(-time.Hour).UTC().Truncate(time.Second)
	if err := f.a.Revoke(ctx, certs[0].Serial, store.ReasonKeyCompromise, at); err != nil {
		t.Fatal(err)
	}
	if err := f.a.Revoke(ctx, certs[1].Serial, store.ReasonCertificateHold, at); err != nil {
		t.Fatal(err)
	}
	st.off.Store(true)
	for _, tc := range []struct {
		name            string
		cert            *store.Certificate
		revoked, onHold bool
		reason          int
	}{
		{"revoked", certs[0], true, false, store.ReasonKeyCompromise},
		{"hold", certs[1], true, true, store.ReasonCertificateHold},
		{"good", certs[2], false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.a.OCSPStatus(ctx, "", newInt(tc.cert.Serial))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Known || got.Revoked != tc.revoked || got.OnHold != tc.onHold || got.Reason != tc.reason ||
				(tc.revoked && !got.RevokedAt.Equal(at)) || !got.NotAfter.Equal(tc.cert.NotAfter) {
				t.Errorf("OCSPStatus = %+v", got)
			}
		})
	}
}
