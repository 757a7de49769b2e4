package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// testStaff: a staff member comes back as stored, with the audit event
// written in the same transaction; an ID is registered once; a list
// carries no photos; out-of-bounds records are refused; a revocation is
// recorded once, of eight at once one wins, and an unknown ID is not
// found.
func testStaff(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	m := &store.Staff{ID: newID(t, "staff"), FullName: "Trần Văn Đức", BirthYear: 1990, Position: "Cán bộ đăng ký",
		Provider: "Kyso Việt Nam", Wards: []string{"26734", "26737"}, Photo: randomBytes(t, 900), PhotoType: "image/png",
		AuthorisedFrom: now.Add(-time.Hour), AuthorisedUntil: now.Add(24 * time.Hour), CreatedAt: now}
	ev := &store.AuditEvent{Time: now, Actor: "officer-1", Action: "staff.add", Subject: m.ID, Outcome: "ok", Details: []byte(`{}`)}
	noErr(t, "PutStaff", s.PutStaff(ctx, m, ev))
	if ev.ID == 0 {
		t.Fatal("PutStaff did not record its audit event")
	}
	wantErr(t, "PutStaff again", s.PutStaff(ctx, m), store.ErrExists)
	for name, mutate := range map[string]func(b *store.Staff){
		"a big photo":      func(b *store.Staff) { b.Photo = make([]byte, store.MaxStaffPhoto+1) },
		"no photo":         func(b *store.Staff) { b.Photo = nil },
		"a GIF":            func(b *store.Staff) { b.PhotoType = "image/gif" },
		"no name":          func(b *store.Staff) { b.FullName = "" },
		"a NUL in a name":  func(b *store.Staff) { b.FullName = "A\x00B" },
		"a comma in ward":  func(b *store.Staff) { b.Wards = []string{"1,2"} },
		"birth year 1800":  func(b *store.Staff) { b.BirthYear = 1800 },
		"an empty period":  func(b *store.Staff) { b.AuthorisedUntil = b.AuthorisedFrom },
		"no period at all": func(b *store.Staff) { b.AuthorisedFrom, b.AuthorisedUntil = time.Time{}, time.Time{} },
	} {
		b := *m
		b.ID = newID(t, "staff")
		mutate(&b)
		wantErr(t, "PutStaff with "+name, s.PutStaff(ctx, &b), store.ErrInvalid)
	}

	got, err := s.GetStaff(ctx, m.ID)
	noErr(t, "GetStaff", err)
	if got.FullName != m.FullName || got.BirthYear != 1990 || got.Position != m.Position || got.Provider != m.Provider ||
		fmt.Sprint(got.Wards) != "[26734 26737]" || !bytes.Equal(got.Photo, m.Photo) || got.PhotoType != "image/png" || !got.RevokedAt.IsZero() {
		t.Fatalf("GetStaff = %+v, want %+v", got, m)
	}
	sameTime(t, "AuthorisedFrom", got.AuthorisedFrom, m.AuthorisedFrom)
	sameTime(t, "AuthorisedUntil", got.AuthorisedUntil, m.AuthorisedUntil)
	sameTime(t, "CreatedAt", got.CreatedAt, now)
	wantErr(t, "GetStaff of nobody", func() error { _, err := s.GetStaff(ctx, "staff-nobody"); return err }(), store.ErrNotFound)

	any := *m
	any.ID, any.Wards, any.CreatedAt = newID(t, "staff"), nil, now.Add(time.Second)
	noErr(t, "PutStaff without wards", s.PutStaff(ctx, &any))
	list, err := s.ListStaff(ctx)
	noErr(t, "ListStaff", err)
	if len(list) != 2 || list[0].ID != m.ID || list[1].ID != any.ID || list[0].Photo != nil || list[1].Wards != nil {
		t.Fatalf("ListStaff = %+v, want %s then %s without photos", list, m.ID, any.ID)
	}

	wantErr(t, "RevokeStaff of nobody", s.RevokeStaff(ctx, "staff-nobody", now), store.ErrNotFound)
	at := now.Add(time.Minute)
	errs := race(8, func(i int) error {
		return s.RevokeStaff(ctx, m.ID, at, &store.AuditEvent{Time: at, Actor: "officer-1", Action: "staff.revoke",
			Subject: m.ID, Outcome: "ok", Details: []byte(`{}`)})
	})
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("concurrent RevokeStaff: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of 8 concurrent RevokeStaff won, want 1", won)
	}
	got, err = s.GetStaff(ctx, m.ID)
	noErr(t, "GetStaff after revocation", err)
	sameTime(t, "RevokedAt", got.RevokedAt, at)
	events, err := s.ListAudit(ctx, 0, 100)
	noErr(t, "ListAudit", err)
	revocations := 0
	for _, e := range events {
		if e.Action == "staff.revoke" {
			revocations++
		}
	}
	if revocations != 1 {
		t.Fatalf("%d staff.revoke audit events, want 1 (the losers' events are not written)", revocations)
	}
}
