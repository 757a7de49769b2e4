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

// testPasskey: a passkey comes back as stored; a credential ID is
// registered once, to one owner; another owner can neither use nor remove
// it; the counter only moves up, and of two uses with one count one wins;
// a counter-less authenticator (zero) may be used again.
func testPasskey(t *testing.T, s store.Signing) {
	ctx := context.Background()
	o, other := putOwner(t, s), putOwner(t, s)
	now := time.Now()
	p := &store.Passkey{ID: randomBytes(t, 20), OwnerID: o.ID, PublicKey: randomBytes(t, 77), SignCount: 3, AAGUID: randomBytes(t, 16),
		Flags: 0x45, Transports: []string{"internal", "hybrid"}, Name: "Điện thoại của Mai", CreatedAt: now}
	noErr(t, "PutPasskey", s.PutPasskey(ctx, p))
	wantErr(t, "PutPasskey again", s.PutPasskey(ctx, p), store.ErrExists)
	taken := *p
	taken.OwnerID = other.ID
	wantErr(t, "PutPasskey of another owner with the same ID", s.PutPasskey(ctx, &taken), store.ErrExists)
	orphan := *p
	orphan.ID, orphan.OwnerID = randomBytes(t, 20), "nobody"
	wantErr(t, "PutPasskey of an unknown owner", s.PutPasskey(ctx, &orphan), store.ErrNotFound)
	bad := *p
	bad.ID, bad.AAGUID = randomBytes(t, 20), []byte{1}
	wantErr(t, "PutPasskey with a short AAGUID", s.PutPasskey(ctx, &bad), store.ErrInvalid)
	bad.AAGUID, bad.Transports = p.AAGUID, []string{"usb,nfc"}
	wantErr(t, "PutPasskey with a comma in a transport", s.PutPasskey(ctx, &bad), store.ErrInvalid)
	bad.Transports, bad.ID = nil, make([]byte, 1024)
	wantErr(t, "PutPasskey with a long ID", s.PutPasskey(ctx, &bad), store.ErrInvalid)

	list, err := s.ListPasskeys(ctx, o.ID)
	noErr(t, "ListPasskeys", err)
	if len(list) != 1 {
		t.Fatalf("ListPasskeys = %d passkeys, want 1", len(list))
	}
	got := list[0]
	if !bytes.Equal(got.ID, p.ID) || !bytes.Equal(got.PublicKey, p.PublicKey) || got.SignCount != 3 || !bytes.Equal(got.AAGUID, p.AAGUID) ||
		got.Flags != 0x45 || fmt.Sprint(got.Transports) != "[internal hybrid]" || got.Name != p.Name || !got.LastUsedAt.IsZero() {
		t.Fatalf("ListPasskeys = %+v, want %+v", got, p)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, now)
	if l, err := s.ListPasskeys(ctx, other.ID); err != nil || len(l) != 0 {
		t.Fatalf("another owner's ListPasskeys = %v, %v; want none", l, err)
	}

	wantErr(t, "UsePasskey by another owner", s.UsePasskey(ctx, other.ID, p.ID, 9, now), store.ErrNotFound)
	wantErr(t, "UsePasskey with the same count", s.UsePasskey(ctx, o.ID, p.ID, 3, now), store.ErrReplay)
	wantErr(t, "UsePasskey with a lower count", s.UsePasskey(ctx, o.ID, p.ID, 2, now), store.ErrReplay)
	wantErr(t, "UsePasskey with zero after a count", s.UsePasskey(ctx, o.ID, p.ID, 0, now), store.ErrReplay)
	errs := race(8, func(int) error { return s.UsePasskey(ctx, o.ID, p.ID, 4, now.Add(time.Second)) })
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrReplay):
			t.Fatalf("concurrent UsePasskey: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of 8 concurrent UsePasskey with one count won, want 1", won)
	}
	list, _ = s.ListPasskeys(ctx, o.ID)
	if list[0].SignCount != 4 {
		t.Fatalf("SignCount = %d after a use with 4", list[0].SignCount)
	}
	sameTime(t, "LastUsedAt", list[0].LastUsedAt, now.Add(time.Second))

	zero := &store.Passkey{ID: randomBytes(t, 16), OwnerID: o.ID, PublicKey: randomBytes(t, 77), AAGUID: make([]byte, 16), Name: "khoá"}
	noErr(t, "PutPasskey without a counter", s.PutPasskey(ctx, zero))
	noErr(t, "UsePasskey without a counter", s.UsePasskey(ctx, o.ID, zero.ID, 0, now))
	noErr(t, "UsePasskey without a counter again", s.UsePasskey(ctx, o.ID, zero.ID, 0, now))

	wantErr(t, "DeletePasskey by another owner", s.DeletePasskey(ctx, other.ID, p.ID), store.ErrNotFound)
	noErr(t, "DeletePasskey", s.DeletePasskey(ctx, o.ID, p.ID))
	wantErr(t, "DeletePasskey again", s.DeletePasskey(ctx, o.ID, p.ID), store.ErrNotFound)
	wantErr(t, "UsePasskey after its removal", s.UsePasskey(ctx, o.ID, p.ID, 9, now), store.ErrNotFound)
	if l, _ := s.ListPasskeys(ctx, o.ID); len(l) != 1 || !bytes.Equal(l[0].ID, zero.ID) {
		t.Fatalf("after removal ListPasskeys = %v", l)
	}
}

// testPasskeyChallenge: a challenge is taken once, whoever asks at the
// same time; an expired one by nobody; a put removes expired ones.
func testPasskeyChallenge(t *testing.T, s store.Signing) {
	ctx := context.Background()
	now := time.Now()
	c := &store.PasskeyChallenge{Nonce: randomBytes(t, 32), OwnerID: "owner-1", Purpose: "approve", Binding: randomBytes(t, 32),
		ExpiresAt: now.Add(time.Minute), CreatedAt: now}
	noErr(t, "PutPasskeyChallenge", s.PutPasskeyChallenge(ctx, c))
	wantErr(t, "PutPasskeyChallenge again", s.PutPasskeyChallenge(ctx, c), store.ErrExists)
	wantErr(t, "PutPasskeyChallenge short nonce", s.PutPasskeyChallenge(ctx, &store.PasskeyChallenge{Nonce: []byte("x"), Purpose: "login",
		Binding: randomBytes(t, 32), ExpiresAt: now.Add(time.Minute)}), store.ErrInvalid)
	errs := race(8, func(int) error { _, err := s.TakePasskeyChallenge(ctx, c.Nonce, now); return err })
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("concurrent TakePasskeyChallenge: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of 8 concurrent TakePasskeyChallenge took the challenge, want 1", won)
	}
	d := &store.PasskeyChallenge{Nonce: randomBytes(t, 32), Purpose: "login", Binding: randomBytes(t, 32), ExpiresAt: now.Add(time.Minute), CreatedAt: now}
	noErr(t, "PutPasskeyChallenge", s.PutPasskeyChallenge(ctx, d))
	got, err := s.TakePasskeyChallenge(ctx, d.Nonce, now)
	noErr(t, "TakePasskeyChallenge", err)
	if !bytes.Equal(got.Nonce, d.Nonce) || got.OwnerID != "" || got.Purpose != "login" || !bytes.Equal(got.Binding, d.Binding) {
		t.Fatalf("TakePasskeyChallenge = %+v, want %+v", got, d)
	}
	sameTime(t, "ExpiresAt", got.ExpiresAt, d.ExpiresAt)

	old := &store.PasskeyChallenge{Nonce: randomBytes(t, 32), Purpose: "login", Binding: randomBytes(t, 32), ExpiresAt: now.Add(time.Second), CreatedAt: now}
	noErr(t, "PutPasskeyChallenge", s.PutPasskeyChallenge(ctx, old))
	_, err = s.TakePasskeyChallenge(ctx, old.Nonce, now.Add(2*time.Second))
	wantErr(t, "TakePasskeyChallenge expired", err, store.ErrNotFound)
	_, err = s.TakePasskeyChallenge(ctx, old.Nonce, now)
	wantErr(t, "TakePasskeyChallenge after expiry", err, store.ErrNotFound)
	stale := &store.PasskeyChallenge{Nonce: randomBytes(t, 32), Purpose: "login", Binding: randomBytes(t, 32), ExpiresAt: now.Add(time.Second), CreatedAt: now}
	noErr(t, "PutPasskeyChallenge", s.PutPasskeyChallenge(ctx, stale))
	later := &store.PasskeyChallenge{Nonce: randomBytes(t, 32), Purpose: "login", Binding: randomBytes(t, 32), ExpiresAt: now.Add(time.Hour), CreatedAt: now.Add(time.Minute)}
	noErr(t, "PutPasskeyChallenge later", s.PutPasskeyChallenge(ctx, later))
	_, err = s.TakePasskeyChallenge(ctx, stale.Nonce, now)
	wantErr(t, "TakePasskeyChallenge of one a later put swept", err, store.ErrNotFound)
	_, err = s.TakePasskeyChallenge(ctx, []byte("short"), now)
	wantErr(t, "TakePasskeyChallenge short nonce", err, store.ErrInvalid)
}
