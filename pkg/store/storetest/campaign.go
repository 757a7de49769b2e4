package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// testCampaignRegistry: a holding is registered once per national ID,
// again idempotently by its provider, refused to another with the
// holder; a switch releases it with the whole months used and the
// released provider sees it until it acknowledges; nonces are used once.
func testCampaignRegistry(t *testing.T, s store.Store) {
	ctx := context.Background()
	nid := "CCCD:079203007777"
	since := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	_, err := s.GetHolding(ctx, nid)
	wantErr(t, "no holding yet", err, store.ErrNotFound)
	a := &store.Holding{NationalID: nid, ProviderID: "prov-a", ProviderName: "Nhà cung cấp A", Since: since}
	got, err := s.RegisterHolding(ctx, a)
	noErr(t, "register at A", err)
	if got.ProviderID != "prov-a" || got.Serial != "" || !got.Since.Equal(since) || got.ID == 0 {
		t.Fatalf("registered %+v", got)
	}
	again := *a
	again.Serial, again.Since = "0A1B", since.Add(time.Hour)
	got, err = s.RegisterHolding(ctx, &again)
	noErr(t, "register again at A with the serial", err)
	if got.Serial != "0A1B" || !got.Since.Equal(since) {
		t.Fatalf("again: %+v, want serial 0A1B since %v", got, since)
	}
	b := &store.Holding{NationalID: nid, ProviderID: "prov-b", ProviderName: "Nhà cung cấp B", Since: since.Add(time.Hour)}
	got, err = s.RegisterHolding(ctx, b)
	wantErr(t, "register at B", err, store.ErrCampaignHolder)
	if got == nil || got.ProviderName != "Nhà cung cấp A" {
		t.Fatalf("refusal names %+v, want A", got)
	}
	rel, err := s.ListReleased(ctx, "prov-a", 10)
	noErr(t, "list released before", err)
	if len(rel) != 0 {
		t.Fatalf("released before the switch: %+v", rel)
	}
	_, err = s.SwitchHolding(ctx, &store.Holding{NationalID: nid, ProviderID: "prov-a", ProviderName: "A", Since: since})
	wantErr(t, "switch to the holder", err, store.ErrConflict)
	_, err = s.SwitchHolding(ctx, &store.Holding{NationalID: "CCCD:079203000000", ProviderID: "prov-b", ProviderName: "B", Since: since})
	wantErr(t, "switch of no holding", err, store.ErrNotFound)
	sw := &store.Holding{NationalID: nid, ProviderID: "prov-b", ProviderName: "Nhà cung cấp B", Evidence: "cccd-chip:123",
		Since: since.AddDate(0, 3, 5)}
	old, err := s.SwitchHolding(ctx, sw)
	noErr(t, "switch to B", err)
	if old.ProviderID != "prov-a" || old.MonthsUsed != 3 || sw.MonthsUsed != 3 || old.ReleasedTo != "prov-b" {
		t.Fatalf("switch released %+v (new %d months), want A with 3 months", old, sw.MonthsUsed)
	}
	cur, err := s.GetHolding(ctx, nid)
	noErr(t, "holding after switch", err)
	if cur.ProviderID != "prov-b" || cur.Evidence != "cccd-chip:123" {
		t.Fatalf("after switch: %+v", cur)
	}
	rel, err = s.ListReleased(ctx, "prov-a", 10)
	noErr(t, "list released", err)
	if len(rel) != 1 || rel[0].ID != old.ID || rel[0].Serial != "0A1B" || rel[0].ReleaseReason != store.HoldingSwitched {
		t.Fatalf("released: %+v", rel)
	}
	noErr(t, "B acks A's row (ignored)", s.AckReleased(ctx, "prov-b", []int64{old.ID}, time.Time{}))
	if rel, _ = s.ListReleased(ctx, "prov-a", 10); len(rel) != 1 {
		t.Fatalf("B acknowledged A's release: %+v", rel)
	}
	noErr(t, "ack", s.AckReleased(ctx, "prov-a", []int64{old.ID}, time.Time{}))
	if rel, _ = s.ListReleased(ctx, "prov-a", 10); len(rel) != 0 {
		t.Fatalf("still released after ack: %+v", rel)
	}
	wantErr(t, "A releases B's holding", s.ReleaseHolding(ctx, nid, "prov-a", store.HoldingAbandoned, time.Time{}), store.ErrNotFound)
	noErr(t, "B releases its own", s.ReleaseHolding(ctx, nid, "prov-b", store.HoldingAbandoned, time.Time{}))
	_, err = s.GetHolding(ctx, nid)
	wantErr(t, "after release", err, store.ErrNotFound)

	now := time.Now()
	noErr(t, "nonce", s.UseNonce(ctx, "prov-a", "n1", now.Add(time.Minute), now))
	wantErr(t, "nonce again", s.UseNonce(ctx, "prov-a", "n1", now.Add(time.Minute), now), store.ErrReplay)
	noErr(t, "same nonce, other provider", s.UseNonce(ctx, "prov-b", "n1", now.Add(time.Minute), now))

	noErr(t, "terms", s.PutCampaignTerms(ctx, &store.CampaignTerms{CredentialID: "cred-x", FromProvider: "prov-a", MonthsUsed: 3, FreeMonths: 9}))
	wantErr(t, "terms again", s.PutCampaignTerms(ctx, &store.CampaignTerms{CredentialID: "cred-x", FreeMonths: 1}), store.ErrExists)
	terms, err := s.GetCampaignTerms(ctx, "cred-x")
	noErr(t, "get terms", err)
	if terms.FreeMonths != 9 || terms.MonthsUsed != 3 || terms.FromProvider != "prov-a" {
		t.Fatalf("terms %+v", terms)
	}

	// Providers racing to register one citizen: exactly one holds it.
	race := "CCCD:079203008888"
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.RegisterHolding(ctx, &store.Holding{NationalID: race, ProviderID: fmt.Sprintf("p%d", i), ProviderName: "P"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrCampaignHolder):
				t.Errorf("racing register: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d providers hold %s, want 1", won, race)
	}
}
