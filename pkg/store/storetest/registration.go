package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// testRegistration: one open registration per national ID (of eight at
// once, one is stored); each move is taken by one of many concurrent
// callers; an approval's lease that ended may be taken over; a claim
// needs the claim hash and is made once; a refused registration cannot be
// approved; leaving the open states clears the PIN hash; every move is
// audited in its write.
func testRegistration(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	claim := sha256.Sum256([]byte("claim secret"))
	reg := func(id, nid string) *store.Registration {
		return &store.Registration{ID: id, NationalID: nid, Name: "Nguyễn Văn A", Province: "Hà Nội", Ward: "00001",
			PINHash: "$argon2id$x", ClaimHash: claim[:], ConsentText: "Tôi đồng ý", ConsentAt: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if won := winners(t, 8, store.ErrConflict, func() error {
		return s.PutRegistration(ctx, reg(fmt.Sprintf("reg-%d", time.Now().UnixNano()), "CCCD:001200000001"))
	}); won != 1 {
		t.Fatalf("%d of 8 registrations of one national ID stored, want 1", won)
	}
	list, err := s.ListRegistrations(ctx, store.RegistrationPending, 10)
	noErr(t, "ListRegistrations", err)
	if len(list) != 1 || list[0].Name != "Nguyễn Văn A" || !list[0].ConsentAt.Equal(now) || !bytes.Equal(list[0].ClaimHash, claim[:]) {
		t.Fatalf("pending registrations = %+v", list)
	}
	id := list[0].ID
	wantErr(t, "GetRegistration of an unknown ID", func() error { _, err := s.GetRegistration(ctx, "reg-none"); return err }(), store.ErrNotFound)
	wantErr(t, "moving an unknown registration", s.MoveRegistration(ctx, &store.RegistrationMove{ID: "reg-none",
		From: store.RegistrationPending, To: store.RegistrationRefused, At: now}), store.ErrNotFound)
	wantErr(t, "an undefined move", s.MoveRegistration(ctx, &store.RegistrationMove{ID: id,
		From: store.RegistrationRefused, To: store.RegistrationApproved, At: now}), store.ErrInvalid)

	lease := func(at time.Time) error {
		return s.MoveRegistration(ctx, &store.RegistrationMove{ID: id, From: store.RegistrationPending, To: store.RegistrationApproving,
			At: at, LeaseUntil: at.Add(time.Minute)}, &store.AuditEvent{Actor: "officer:x", Action: "registration.approve", Outcome: "intent"})
	}
	if won := winners(t, 8, store.ErrConflict, func() error { return lease(now) }); won != 1 {
		t.Fatalf("%d of 8 concurrent approvals took the lease, want 1", won)
	}
	wantErr(t, "a refusal while approving", s.MoveRegistration(ctx, &store.RegistrationMove{ID: id,
		From: store.RegistrationPending, To: store.RegistrationRefused, At: now}), store.ErrConflict)
	// The approver died: after its lease another takes it.
	noErr(t, "taking over an ended lease", lease(now.Add(2*time.Minute)))
	done := &store.RegistrationMove{ID: id, From: store.RegistrationApproving, To: store.RegistrationApproved, At: now,
		By: "officer:x", EvidenceKind: "cccd-card", EvidenceRef: "video 42", OwnerID: "own-1", CredentialID: "cred-1"}
	if won := winners(t, 4, store.ErrConflict, func() error { return s.MoveRegistration(ctx, done) }); won != 1 {
		t.Fatalf("%d of 4 concurrent approvals recorded, want 1", won)
	}
	got, err := s.GetRegistration(ctx, id)
	noErr(t, "GetRegistration", err)
	if got.Status != store.RegistrationApproved || got.PINHash != "" || got.OwnerID != "own-1" || got.CredentialID != "cred-1" ||
		got.EvidenceRef != "video 42" || got.DecidedBy != "officer:x" || !got.LeaseUntil.IsZero() {
		t.Fatalf("approved registration = %+v", got)
	}
	// A new registration of the same national ID may wait now.
	noErr(t, "a registration after the approval", s.PutRegistration(ctx, reg("reg-second", "CCCD:001200000001")))

	claimMove := func(h []byte) error {
		return s.MoveRegistration(ctx, &store.RegistrationMove{ID: id, From: store.RegistrationApproved, To: store.RegistrationClaimed, At: now, ClaimHash: h})
	}
	other := sha256.Sum256([]byte("another secret"))
	wantErr(t, "a claim with another hash", claimMove(other[:]), store.ErrConflict)
	if won := winners(t, 8, store.ErrConflict, func() error { return claimMove(claim[:]) }); won != 1 {
		t.Fatalf("%d of 8 concurrent claims won, want 1", won)
	}

	// Refused: never approved after.
	noErr(t, "refusing", s.MoveRegistration(ctx, &store.RegistrationMove{ID: "reg-second", From: store.RegistrationPending,
		To: store.RegistrationRefused, At: now, By: "officer:y", Reason: "<b>ảnh không khớp</b>"}))
	wantErr(t, "approving a refused registration", s.MoveRegistration(ctx, &store.RegistrationMove{ID: "reg-second",
		From: store.RegistrationPending, To: store.RegistrationApproving, At: now, LeaseUntil: now.Add(time.Minute)}), store.ErrConflict)
	got, err = s.GetRegistration(ctx, "reg-second")
	noErr(t, "GetRegistration", err)
	if got.Status != store.RegistrationRefused || got.Reason != "<b>ảnh không khớp</b>" || got.PINHash != "" {
		t.Fatalf("refused registration = %+v", got)
	}
	// A household visit's: approved at once, its second factor waiting
	// for the claim; one kept pending needs its PIN hash.
	visit := reg("reg-visit", "CCCD:001200000002")
	visit.Status, visit.PINHash, visit.OwnerID, visit.CredentialID, visit.DecidedBy = store.RegistrationApproved, "", "own-2", "cred-2", "officer:field"
	noErr(t, "PutRegistration approved", s.PutRegistration(ctx, visit))
	noErr(t, "claiming a visit's", s.MoveRegistration(ctx, &store.RegistrationMove{ID: "reg-visit", From: store.RegistrationApproved,
		To: store.RegistrationClaimed, At: now, ClaimHash: claim[:]}))
	nopin := reg("reg-nopin", "CCCD:001200000003")
	nopin.PINHash = ""
	wantErr(t, "a pending registration without a PIN hash", s.PutRegistration(ctx, nopin), store.ErrInvalid)

	// An officer's client bound to a staff member.
	c := &store.Client{ID: "field-1", Name: "Điện thoại cán bộ", Role: store.RoleOfficer, StaffID: "staff-7"}
	noErr(t, "PutClient bound to staff", s.PutClient(ctx, c))
	if got, err := s.GetClient(ctx, "field-1"); err != nil || got.StaffID != "staff-7" {
		t.Errorf("client bound to staff = %+v, %v", got, err)
	}
	wantErr(t, "a portal bound to staff", s.PutClient(ctx, &store.Client{ID: "portal-x", Name: "x", StaffID: "staff-7"}), store.ErrInvalid)

	if n := countActions(t, s, "registration.approve"); n != 2 {
		t.Errorf("%d registration.approve events, want the 2 leases taken", n)
	}
}

// testRegistrationRecovery: an enrolment names the registration it
// approves, found by RegistrationEnrolment; of eight enrolments naming
// one registration at once, one is stored. A reissue replaces the claim
// hash (the old one kept as replaced, claiming nothing) and, approved,
// the link's end; a claim after that end is refused.
func testRegistrationRecovery(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	_, err := s.RegistrationEnrolment(ctx, "reg-none")
	wantErr(t, "RegistrationEnrolment of none", err, store.ErrNotFound)
	_, err = s.RegistrationEnrolment(ctx, "")
	wantErr(t, "RegistrationEnrolment of no registration", err, store.ErrNotFound)
	var mu sync.Mutex
	var stored string
	if won := winners(t, 8, store.ErrExists, func() error {
		o := newOwner(t)
		c := newCredential(t, o.ID)
		err := s.PutEnrolment(ctx, o, c, &store.EnrolmentRecord{CredentialID: c.ID, Channel: store.ChannelOnline, Province: "Huế",
			EvidenceKind: "cccd-chip", EvidenceRef: "chip", ConsentAt: now, RegistrationID: "reg-rec"})
		if err == nil {
			mu.Lock()
			stored = c.ID
			mu.Unlock()
		}
		return err
	}); won != 1 {
		t.Fatalf("%d of 8 enrolments naming one registration stored, want 1", won)
	}
	if rec, err := s.RegistrationEnrolment(ctx, "reg-rec"); err != nil || rec.CredentialID != stored || rec.RegistrationID != "reg-rec" {
		t.Fatalf("RegistrationEnrolment = %+v, %v; want credential %s", rec, err, stored)
	}

	first, second := sha256.Sum256([]byte("first")), sha256.Sum256([]byte("second"))
	r := &store.Registration{ID: "reg-link", NationalID: "CCCD:001200000009", Name: "Nguyễn Văn B", Province: "Hà Nội",
		ClaimHash: first[:], ConsentText: "x", ConsentAt: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Status: store.RegistrationApproved,
		OwnerID: "own-9", CredentialID: "cred-9", ClaimUntil: now.Add(time.Hour)}
	noErr(t, "PutRegistration with a claim link's end", s.PutRegistration(ctx, r))
	reissue := func(h []byte, until time.Time) error {
		return s.MoveRegistration(ctx, &store.RegistrationMove{ID: r.ID, From: store.RegistrationApproved, To: store.RegistrationApproved,
			At: now, NewClaimHash: h, ClaimUntil: until})
	}
	wantErr(t, "a reissue without a hash", reissue(nil, now), store.ErrInvalid)
	wantErr(t, "a reissue of a pending registration that is approved", s.MoveRegistration(ctx, &store.RegistrationMove{ID: r.ID,
		From: store.RegistrationPending, To: store.RegistrationPending, At: now, NewClaimHash: second[:]}), store.ErrConflict)
	noErr(t, "reissuing", reissue(second[:], now.Add(2*time.Hour)))
	got, err := s.GetRegistration(ctx, r.ID)
	noErr(t, "GetRegistration", err)
	if !bytes.Equal(got.ClaimHash, second[:]) || !bytes.Equal(got.ReplacedClaimHash, first[:]) || !got.ClaimUntil.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("reissued registration = %+v", got)
	}
	claim := func(h []byte, at time.Time) error {
		return s.MoveRegistration(ctx, &store.RegistrationMove{ID: r.ID, From: store.RegistrationApproved, To: store.RegistrationClaimed, At: at, ClaimHash: h})
	}
	wantErr(t, "a claim with the replaced hash", claim(first[:], now), store.ErrConflict)
	wantErr(t, "a claim after the link's end", claim(second[:], now.Add(3*time.Hour)), store.ErrConflict)
	noErr(t, "a claim within the link's time", claim(second[:], now.Add(time.Hour)))
	wantErr(t, "a reissue of a claimed registration", reissue(first[:], now), store.ErrConflict)
}

// countActions counts the audit events of an action.
func countActions(t *testing.T, s store.Store, action string) int {
	t.Helper()
	es, err := s.ListAudit(context.Background(), 0, 10000)
	noErr(t, "ListAudit", err)
	n := 0
	for _, e := range es {
		if e.Action == action {
			n++
		}
	}
	return n
}
