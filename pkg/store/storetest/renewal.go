package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// testRenewal: a renewed campaign certificate takes its predecessor's
// place as the holder (no second campaign signature is refused for it,
// and a stranger's certificate cannot claim to renew the holder's); one
// of many concurrent claims of a renewal wins; a claim whose claimer died
// may be taken over; finishing moves the credential only from the
// certificate it renews; renewals are counted free or metered; expiry
// notices are listed once and recorded once, with their webhooks.
func testRenewal(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	o := putOwner(t, s)
	nid := o.NationalID
	old := NewCertificate(t, "issuing")
	old.Campaign, old.NationalID = true, nid
	old.NotBefore, old.NotAfter = now.Add(-340*24*time.Hour), now.Add(25*24*time.Hour)
	mustIssue(t, s, old)
	cred := newCredential(t, o.ID)
	cred.CertSerial = old.Serial
	noErr(t, "PutCredential", s.PutCredential(ctx, cred))

	// A second campaign certificate is refused; one renewing another's
	// certificate is too; the renewal of the holder is not.
	stranger := NewCertificate(t, "issuing")
	stranger.Campaign, stranger.NationalID, stranger.Renews = true, nid, NewSerial(t)
	wantErr(t, "a campaign certificate renewing a stranger", issue(ctx, s, stranger), store.ErrCampaignHolder)
	next := NewCertificate(t, "issuing")
	next.Campaign, next.NationalID, next.Renews, next.CampaignFrom = true, nid, old.Serial, old.NotBefore
	mustIssue(t, s, next)
	got, err := s.GetCertificate(ctx, "issuing", next.Serial)
	noErr(t, "GetCertificate", err)
	if !bytes.Equal(got.Renews, old.Serial) || !got.CampaignFrom.Equal(old.NotBefore) || !got.PeriodStart().Equal(old.NotBefore) {
		t.Errorf("renewal stored as renews=%x campaign_from=%v, want %x %v", got.Renews, got.CampaignFrom, old.Serial, old.NotBefore)
	}
	if p, _ := s.GetCertificate(ctx, "issuing", old.Serial); !p.PeriodStart().Equal(old.NotBefore) || p.Status != store.StatusGood {
		t.Errorf("the renewed certificate = %+v", p)
	}
	// The holder is the new one now: renewing the old again is a second
	// campaign certificate.
	again := NewCertificate(t, "issuing")
	again.Campaign, again.NationalID, again.Renews = true, nid, old.Serial
	wantErr(t, "a second renewal of the old certificate", issue(ctx, s, again), store.ErrCampaignHolder)

	// Claims: of eight at once, one wins.
	claim := func(from []byte, until time.Time) *store.Renewal {
		return &store.Renewal{CredentialID: cred.ID, FromSerial: from, OwnerID: o.ID, RequestedBy: "owner:" + o.ID, RequestedAt: now, ClaimedUntil: until}
	}
	if won := winners(t, 8, store.ErrConflict, func() error { return s.ClaimRenewal(ctx, claim(old.Serial, now.Add(time.Minute)), now) }); won != 1 {
		t.Fatalf("%d of 8 concurrent claims won, want 1", won)
	}
	wantErr(t, "a request while issuing", s.RequestRenewal(ctx, claim(old.Serial, time.Time{})), store.ErrExists)
	// The claimer died: after its claim ends another takes it.
	later := now.Add(2 * time.Minute)
	noErr(t, "ClaimRenewal after the claim ended", s.ClaimRenewal(ctx, claim(old.Serial, later.Add(time.Minute)), later))
	r := claim(old.Serial, time.Time{})
	r.NewSerial, r.Metered, r.DoneAt = next.Serial, true, later
	moved := *cred
	moved.KeyURI, moved.WrappedKey, moved.CertSerial = "softkey:cred-x.y", nil, next.Serial
	// Only from the certificate the credential names.
	wrong := *r
	wrong.FromSerial = NewSerial(t)
	wantErr(t, "FinishRenewal of an unclaimed certificate", s.FinishRenewal(ctx, &wrong, &moved), store.ErrConflict)
	noErr(t, "FinishRenewal", s.FinishRenewal(ctx, r, &moved, &store.AuditEvent{Actor: "owner:" + o.ID, Action: "credential.renew", Outcome: "ok"}))
	c, err := s.GetCredential(ctx, cred.ID)
	noErr(t, "GetCredential", err)
	if !bytes.Equal(c.CertSerial, next.Serial) || c.KeyURI != moved.KeyURI || c.WrappedKey != nil {
		t.Errorf("credential after renewal = %+v", c)
	}
	wantErr(t, "FinishRenewal twice", s.FinishRenewal(ctx, r, &moved), store.ErrConflict)
	wantErr(t, "ClaimRenewal of a done renewal", s.ClaimRenewal(ctx, claim(old.Serial, later.Add(time.Hour)), later.Add(30*time.Minute)), store.ErrConflict)
	d, err := s.GetRenewal(ctx, cred.ID, old.Serial)
	noErr(t, "GetRenewal", err)
	if d.Status != store.RenewalDone || !d.Metered || !bytes.Equal(d.NewSerial, next.Serial) {
		t.Errorf("renewal row = %+v", d)
	}
	// An operator's request, then the owner's claim of it.
	noErr(t, "RequestRenewal", s.RequestRenewal(ctx, claim(next.Serial, time.Time{})))
	wantErr(t, "RequestRenewal twice", s.RequestRenewal(ctx, claim(next.Serial, time.Time{})), store.ErrExists)
	noErr(t, "ClaimRenewal of a request", s.ClaimRenewal(ctx, claim(next.Serial, later.Add(time.Minute)), later))
	counts, err := s.CountRenewals(ctx, now.Add(-time.Hour), now.Add(time.Hour), "")
	noErr(t, "CountRenewals", err)
	if len(counts) != 1 || counts[0].OwnerID != o.ID || counts[0].NationalID != nid || counts[0].Metered != 1 || counts[0].Free != 0 {
		t.Errorf("CountRenewals = %+v", counts)
	}

	// Expiry: next ends in a year, so nothing; a credential whose
	// certificate ends in 5 days is listed for 7, not for 30.
	o2 := putOwner(t, s)
	soon := NewCertificate(t, "issuing")
	soon.NationalID, soon.NotAfter = o2.NationalID, now.Add(5*24*time.Hour)
	mustIssue(t, s, soon)
	cred2 := newCredential(t, o2.ID)
	cred2.CertSerial = soon.Serial
	noErr(t, "PutCredential", s.PutCredential(ctx, cred2))
	week, month := now.Add(7*24*time.Hour), now.Add(30*24*time.Hour)
	list, err := s.ListExpiring(ctx, now, week, 7, 100)
	noErr(t, "ListExpiring 7", err)
	if len(list) != 1 || list[0].CredentialID != cred2.ID || !bytes.Equal(list[0].Serial, soon.Serial) {
		t.Fatalf("ListExpiring 7 = %+v", list)
	}
	if list, _ := s.ListExpiring(ctx, week, month, 30, 100); len(list) != 0 {
		t.Errorf("ListExpiring 30 = %+v, want none", list)
	}
	portal := putClient(t, s)
	hook := func() *store.Webhook {
		return &store.Webhook{ClientID: portal.ID, URL: portal.WebhookURL, Body: []byte(`{}`), IdempotencyKey: "credential.expiring:x:7", NextAttempt: now}
	}
	n := &store.ExpiryNotice{CredentialID: cred2.ID, Serial: soon.Serial, Days: 7, SentAt: now}
	if won := winners(t, 4, store.ErrExists, func() error { return s.PutExpiryNotice(ctx, n, []*store.Webhook{hook()}) }); won != 1 {
		t.Errorf("%d of 4 concurrent notices recorded, want 1", won)
	}
	hooks, err := s.ClaimWebhooks(ctx, now.Add(time.Second), time.Minute, 100)
	noErr(t, "ClaimWebhooks", err)
	if len(hooks) != 1 {
		t.Errorf("%d webhooks queued by 4 notices, want 1", len(hooks))
	}
	if list, _ := s.ListExpiring(ctx, now, week, 7, 100); len(list) != 0 {
		t.Errorf("ListExpiring after the notice = %+v", list)
	}
	wantErr(t, "a notice of 14 days", s.PutExpiryNotice(ctx, &store.ExpiryNotice{CredentialID: cred2.ID, Serial: soon.Serial, Days: 14}, nil), store.ErrInvalid)
}

// winners runs fn n times at once and returns how many succeeded; every
// other must fail with lost.
func winners(t *testing.T, n int, lost error, fn func() error) int {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- fn() })
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, lost):
			t.Errorf("a concurrent loser: %v, want %v", err, lost)
		}
	}
	return won
}
