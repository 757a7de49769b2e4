package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// testUsage: signatures carried by audit events are counted in the write
// that appends them, per UTC day, owner, client, category and free or
// metered; the query sums a period, filters by owner and client, and
// refuses unbounded or malformed periods.
func testUsage(t *testing.T, s store.Signing) {
	ctx := context.Background()
	a, ok := s.(interface {
		AppendAudit(context.Context, ...*store.AuditEvent) error
	})
	if !ok {
		t.Fatalf("%T cannot append audit events", s)
	}
	pub := &store.Client{ID: newID(t, "dvc"), Name: "Cổng dịch vụ công", Category: store.CategoryPublicService}
	noErr(t, "PutClient public-service", s.PutClient(ctx, pub))
	com := putClient(t, s) // no category: commercial
	if got, err := s.GetClient(ctx, com.ID); err != nil || got.Category != store.CategoryCommercial {
		t.Fatalf("GetClient without a category = %+v, %v; want commercial", got, err)
	}
	com.Category = store.CategoryCommercial
	if got, err := s.GetClient(ctx, pub.ID); err != nil || got.Category != store.CategoryPublicService {
		t.Fatalf("GetClient public-service = %+v, %v", got, err)
	}
	wantErr(t, "PutClient with an unknown category", s.PutClient(ctx, &store.Client{ID: newID(t, "x"), Name: "x", Category: "free"}), store.ErrInvalid)
	o1, o2 := putOwner(t, s), putOwner(t, s)
	day := time.Date(2026, 3, 10, 23, 59, 0, 0, time.UTC)
	sig := func(at time.Time, o *store.Owner, c *store.Client, free bool) *store.AuditEvent {
		return &store.AuditEvent{Time: at, Actor: c.ID, Action: "signature.create", Subject: "cred", Outcome: "ok",
			Usage: &store.Usage{OwnerID: o.ID, ClientID: c.ID, Category: c.Category, Free: free}}
	}
	noErr(t, "AppendAudit", a.AppendAudit(ctx,
		sig(day, o1, pub, true), sig(day, o1, pub, true), sig(day.Add(time.Minute), o1, pub, false), // the next UTC day
		sig(day, o1, com, false), sig(day, o2, com, false),
		&store.AuditEvent{Time: day, Actor: pub.ID, Action: "signature.refuse", Outcome: "error"}))
	// Concurrent writers of one counter add up.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- a.AppendAudit(ctx, sig(day, o2, pub, true)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, "concurrent AppendAudit", err)
	}
	// A counted event the store refuses counts nothing.
	bad := sig(day, o1, pub, true)
	bad.Usage.Category = "gratis"
	wantErr(t, "AppendAudit with a bad usage", a.AppendAudit(ctx, bad), store.ErrInvalid)

	type key struct{ owner, client string }
	read := func(f store.UsageFilter) map[key]store.UsageRow {
		t.Helper()
		rows, err := s.Usage(ctx, &f)
		noErr(t, "Usage", err)
		m := map[key]store.UsageRow{}
		for _, r := range rows {
			if r.OwnerID == o1.ID || r.OwnerID == o2.ID { // the database may be shared
				m[key{r.OwnerID, r.ClientID}] = *r
			}
		}
		return m
	}
	d := func(y int, m time.Month, dd int) time.Time { return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC) }
	got := read(store.UsageFilter{From: d(2026, 3, 10), To: d(2026, 3, 11)})
	want := map[key]store.UsageRow{
		{o1.ID, pub.ID}: {OwnerID: o1.ID, NationalID: o1.NationalID, ClientID: pub.ID, Category: store.CategoryPublicService, Free: 2, Metered: 1},
		{o1.ID, com.ID}: {OwnerID: o1.ID, NationalID: o1.NationalID, ClientID: com.ID, Category: store.CategoryCommercial, Metered: 1},
		{o2.ID, com.ID}: {OwnerID: o2.ID, NationalID: o2.NationalID, ClientID: com.ID, Category: store.CategoryCommercial, Metered: 1},
		{o2.ID, pub.ID}: {OwnerID: o2.ID, NationalID: o2.NationalID, ClientID: pub.ID, Category: store.CategoryPublicService, Free: 8},
	}
	if len(got) != len(want) {
		t.Fatalf("Usage = %+v, want %+v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("Usage[%v] = %+v, want %+v", k, got[k], w)
		}
	}
	// One day only: the metered signature a minute after midnight is not in it.
	if r := read(store.UsageFilter{From: d(2026, 3, 10), To: d(2026, 3, 10), OwnerID: o1.ID, ClientID: pub.ID}); len(r) != 1 || r[key{o1.ID, pub.ID}].Free != 2 || r[key{o1.ID, pub.ID}].Metered != 0 {
		t.Errorf("Usage of o1 through the portal on 10 March = %+v", r)
	}
	if r := read(store.UsageFilter{From: d(2026, 3, 12), To: d(2026, 4, 12), OwnerID: o1.ID}); len(r) != 0 {
		t.Errorf("Usage of a later month = %+v, want none", r)
	}
	if r := read(store.UsageFilter{From: d(2026, 1, 1), To: d(2026, 12, 31), ClientID: com.ID}); len(r) != 2 {
		t.Errorf("Usage of the commercial portal = %+v, want both owners", r)
	}
	if rows, err := s.Usage(ctx, &store.UsageFilter{From: d(2026, 3, 10), To: d(2026, 3, 11), OwnerID: o1.ID, Limit: 1}); err != nil || len(rows) != 1 {
		t.Errorf("Usage limited to 1 = %d rows, %v", len(rows), err)
	}
	for name, f := range map[string]*store.UsageFilter{
		"nil":            nil,
		"no start":       {To: d(2026, 3, 10)},
		"no end":         {From: d(2026, 3, 10)},
		"reversed":       {From: d(2026, 3, 10), To: d(2026, 3, 9)},
		"over 366 days":  {From: d(2024, 1, 1), To: d(2026, 1, 1)},
		"negative limit": {From: d(2026, 3, 10), To: d(2026, 3, 10), Limit: -1},
		"huge limit":     {From: d(2026, 3, 10), To: d(2026, 3, 10), Limit: 1 << 30},
		"long owner ID":  {From: d(2026, 3, 10), To: d(2026, 3, 10), OwnerID: string(make([]byte, 5000))},
	} {
		if _, err := s.Usage(ctx, f); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Usage(%s) = %v, want ErrInvalid", name, err)
		}
	}
}
