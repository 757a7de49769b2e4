package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// RunSigning runs the suite of store.Signing: each method, each sentinel,
// ordering, expiry, input bounds, and the races the database must settle —
// a TOTP step used once, activation data used no more often than approved,
// one transaction per client reference, a transaction changing state once,
// a webhook claimed by one replica. newStore returns a new, empty store for
// each subtest and arranges (with t.Cleanup) for it to be closed.
func RunSigning(t *testing.T, newStore func(t *testing.T) store.Signing) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Signing)
	}{
		{"Client", testClient},
		{"Usage", testUsage},
		{"Owner", testOwner},
		{"Attempts", testAttempts},
		{"LoginMisses", testLoginMisses},
		{"TOTPStep", testTOTPStep},
		{"Credential", testCredential},
		{"Enrolment", testEnrolment},
		{"Transaction", testTransaction},
		{"UpdateTransaction", testUpdateTransaction},
		{"ListTransactions", testListTransactions},
		{"TransactionLookups", testTransactionLookups},
		{"ClientCert", testClientCert},
		{"Activation", testActivation},
		{"ActivationExpiry", testActivationExpiry},
		{"Token", testToken},
		{"AuthCode", testAuthCode},
		{"Passkey", testPasskey},
		{"PasskeyChallenge", testPasskeyChallenge},
		{"Webhook", testWebhook},
		{"SigningTimes", testSigningTimes},
		{"SigningBounds", testSigningBounds},
		{"ConcurrentTOTPStep", testConcurrentTOTPStep},
		{"ConcurrentUseActivation", testConcurrentUseActivation},
		{"ConcurrentCreateTransaction", testConcurrentCreateTransaction},
		{"ConcurrentUpdateTransaction", testConcurrentUpdateTransaction},
		{"ClaimApproved", testClaimApproved},
		{"ConcurrentClaimApproved", testConcurrentClaimApproved},
		{"ConcurrentClaimWebhooks", testConcurrentClaimWebhooks},
		{"ConcurrentAttempts", testConcurrentAttempts},
		{"ConcurrentPutOwner", testConcurrentPutOwner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// race runs fn(0..n-1) at once, released together, and returns their
// errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := 0; i < n; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = fn(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

// count returns how many of errs are nil, failing t if any other is not
// want.
func count(t testing.TB, what string, errs []error, want error) int {
	t.Helper()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, want):
			t.Fatalf("%s, goroutine %d: %v, want nil or %v", what, i, err, want)
		}
	}
	return ok
}

// newID returns a fresh ID with prefix.
func newID(t testing.TB, prefix string) string {
	return prefix + "-" + hex.EncodeToString(randomBytes(t, 8))
}

// sameTime fails t unless got is want in UTC, to the microsecond.
func sameTime(t testing.TB, what string, got, want time.Time) {
	t.Helper()
	if w := want.UTC().Truncate(time.Microsecond); got != w {
		t.Fatalf("%s = %v, want %v (UTC, microseconds)", what, got, w)
	}
}

func putClient(t testing.TB, s store.Signing) *store.Client {
	t.Helper()
	c := &store.Client{ID: newID(t, "portal"), Name: "Cổng dịch vụ công", SecretHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		WebhookURL: "https://portal.example/hooks", WebhookSecret: randomBytes(t, 32)}
	noErr(t, "PutClient", s.PutClient(context.Background(), c))
	return c
}

func newOwner(t testing.TB) *store.Owner {
	return &store.Owner{ID: newID(t, "owner"), NationalID: "CCCD:" + hex.EncodeToString(randomBytes(t, 6)),
		Name: "Nguyễn Thị Bích", Province: "Thừa Thiên Huế", Phone: "+84901234567", Email: "bich@example.vn",
		PINHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$cGlu", TOTPSecret: randomBytes(t, 48)}
}

func putOwner(t testing.TB, s store.Signing) *store.Owner {
	t.Helper()
	o := newOwner(t)
	noErr(t, "PutOwner", s.PutOwner(context.Background(), o))
	return o
}

func newCredential(t testing.TB, ownerID string) *store.Credential {
	return &store.Credential{ID: newID(t, "cred"), OwnerID: ownerID, KeyURI: "pkcs11:token=kyso;object=" + ownerID,
		WrappedKey: randomBytes(t, 40), Algorithm: "ECDSA-P256", CertIssuer: "issuing", CertSerial: NewSerial(t)}
}

func putCredential(t testing.TB, s store.Signing, ownerID string) *store.Credential {
	t.Helper()
	c := newCredential(t, ownerID)
	noErr(t, "PutCredential", s.PutCredential(context.Background(), c))
	return c
}

// testEnrolment: PutEnrolment records the owner, the credential and the
// audit event together, or, when any part is refused, none of them.
func testEnrolment(t *testing.T, s store.Signing) {
	ctx := context.Background()
	o := newOwner(t)
	c := newCredential(t, o.ID)
	e := &store.AuditEvent{Time: time.Now(), Actor: "test", Action: "owner.enrol", Subject: o.NationalID, Outcome: "ok", Details: []byte(`{}`)}
	rec := func(c *store.Credential) *store.EnrolmentRecord {
		return &store.EnrolmentRecord{CredentialID: c.ID, Channel: store.ChannelDesk, StaffID: "staff-7", Province: "Huế",
			Ward: "Phường Thuận Hóa", EvidenceKind: "cccd-chip", EvidenceRef: "046203001234", ConsentAt: time.Now().UTC().Truncate(time.Microsecond)}
	}
	want := rec(c)
	noErr(t, "PutEnrolment", s.PutEnrolment(ctx, o, c, want, e))
	if got, err := s.GetEnrolmentRecord(ctx, c.ID); err != nil || got.Channel != want.Channel || got.StaffID != want.StaffID ||
		got.Ward != want.Ward || got.EvidenceRef != want.EvidenceRef || !got.ConsentAt.Equal(want.ConsentAt) || got.CreatedAt.IsZero() {
		t.Errorf("GetEnrolmentRecord = %+v, %v; want %+v", got, err, want)
	}
	_, err := s.GetEnrolmentRecord(ctx, "no-such-credential")
	wantErr(t, "GetEnrolmentRecord of none", err, store.ErrNotFound)
	bad := newOwner(t)
	badCred := newCredential(t, bad.ID)
	badRec := rec(badCred)
	badRec.Channel = "telepathy"
	wantErr(t, "PutEnrolment with an unknown channel", s.PutEnrolment(ctx, bad, badCred, badRec), store.ErrInvalid)
	_, err = s.GetOwner(ctx, bad.ID)
	wantErr(t, "the owner of an enrolment with a bad record", err, store.ErrNotFound)
	// Counting: the recorded enrolment, in its area and channel. Its
	// credential's serial has no certificate in this suite's store, so
	// it counts as an enrolment of no known state.
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if counts, err := s.CountEnrolments(ctx, &store.EnrolmentFilter{From: from, To: to, Province: "Huế"}); err != nil || len(counts) != 0 {
		t.Errorf("CountEnrolments without certificates = %+v, %v; want none (the join needs a certificate)", counts, err)
	}
	_, err = s.CountEnrolments(ctx, &store.EnrolmentFilter{From: to, To: from})
	wantErr(t, "CountEnrolments over a period ending before it starts", err, store.ErrInvalid)
	// The series counts the record alone, in the period its time falls in.
	cut := []time.Time{from.Add(30 * time.Minute), to.Add(-30 * time.Minute)}
	if series, err := s.CountEnrolmentSeries(ctx, &store.EnrolmentFilter{From: from, To: to, Province: "Huế", Ward: "Phường Thuận Hóa"}, cut); err != nil ||
		len(series) != 1 || *series[0] != (store.SeriesCount{Period: 1, Channel: store.ChannelDesk, Enrolments: 1}) {
		t.Errorf("CountEnrolmentSeries = %v, %v; want one desk enrolment in period 1", series, err)
	}
	if series, err := s.CountEnrolmentSeries(ctx, &store.EnrolmentFilter{From: from, To: to, Province: "Huế", Ward: "Xã Khác"}, cut); err != nil || len(series) != 0 {
		t.Errorf("CountEnrolmentSeries of another ward = %v, %v; want none", series, err)
	}
	for _, bad := range [][]time.Time{{to}, {from}, {cut[1], cut[0]}, make([]time.Time, store.MaxSeriesBounds+1)} {
		if bad[0].IsZero() {
			for i := range bad {
				bad[i] = from.Add(time.Duration(i+1) * time.Second)
			}
		}
		_, err = s.CountEnrolmentSeries(ctx, &store.EnrolmentFilter{From: from, To: to}, bad)
		wantErr(t, fmt.Sprintf("CountEnrolmentSeries cut at %d times out of order, outside or too many", len(bad)), err, store.ErrInvalid)
	}
	if e.ID < 1 {
		t.Errorf("the audit event got ID %d", e.ID)
	}
	if got, err := s.GetOwner(ctx, o.ID); err != nil || got.NationalID != o.NationalID {
		t.Fatalf("GetOwner after PutEnrolment: %+v, %v", got, err)
	}
	if got, err := s.GetCredential(ctx, c.ID); err != nil || got.OwnerID != o.ID || got.Status != "active" {
		t.Fatalf("GetCredential after PutEnrolment: %+v, %v", got, err)
	}
	// The same national ID again: refused, and the second credential is
	// not recorded.
	o2 := newOwner(t)
	o2.NationalID = o.NationalID
	c2 := newCredential(t, o2.ID)
	wantErr(t, "PutEnrolment of an enrolled national ID", s.PutEnrolment(ctx, o2, c2, rec(c2)), store.ErrExists)
	_, err = s.GetCredential(ctx, c2.ID)
	wantErr(t, "the credential of a refused enrolment", err, store.ErrNotFound)
	// A credential ID taken: refused, and the new owner is not recorded.
	o3 := newOwner(t)
	c3 := newCredential(t, o3.ID)
	c3.ID = c.ID
	wantErr(t, "PutEnrolment with a credential ID taken", s.PutEnrolment(ctx, o3, c3, rec(c3)), store.ErrExists)
	_, err = s.GetOwner(ctx, o3.ID)
	wantErr(t, "the owner of a refused enrolment", err, store.ErrNotFound)
	testReEnrolment(t, s, o, rec)
}

// testReEnrolment: PutReEnrolment replaces the owner's details and
// factors, ends the owner's sessions and the tokens of portals acting for
// them (and no one else's), and adds the credential; for an unknown owner
// it records nothing.
func testReEnrolment(t *testing.T, s store.Signing, o *store.Owner, rec func(*store.Credential) *store.EnrolmentRecord) {
	ctx := context.Background()
	now := time.Now()
	_, err := s.ReserveAttempt(ctx, o.ID, 1, time.Hour, now)
	noErr(t, "ReserveAttempt", err)
	noErr(t, "UseTOTPStep", s.UseTOTPStep(ctx, o.ID, 99))
	tok := func(kind, subject, owner string) *store.Token {
		tk := &store.Token{Hash: randomBytes(t, 32), Kind: kind, Subject: subject, Scope: "service", ExpiresAt: now.Add(time.Hour), OwnerID: owner}
		noErr(t, "PutToken", s.PutToken(ctx, tk))
		return tk
	}
	session, consent := tok("owner", o.ID, ""), tok("client", "portal", o.ID)
	someoneElse := tok("owner", "owner-other", "")
	back := *o
	back.Name, back.Phone, back.PINHash, back.TOTPSecret = "Nguyễn Thị Bích Ngọc", "+84907654321", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$bmV3", randomBytes(t, 48)
	c := newCredential(t, o.ID)
	e := &store.AuditEvent{Time: now, Actor: "test", Action: "owner.enrol", Subject: o.NationalID, Outcome: "ok", Details: []byte(`{"returning":true}`)}
	noErr(t, "PutReEnrolment", s.PutReEnrolment(ctx, &back, c, rec(c), e))
	got, err := s.GetOwner(ctx, o.ID)
	noErr(t, "GetOwner after PutReEnrolment", err)
	if got.Name != back.Name || got.Phone != back.Phone || got.PINHash != back.PINHash || !bytes.Equal(got.TOTPSecret, back.TOTPSecret) ||
		got.PINFailures != 0 || !got.LockedUntil.IsZero() || got.TOTPLastStep != 0 {
		t.Errorf("the owner after PutReEnrolment: %+v; want %+v with failures, lock and TOTP step reset", got, back)
	}
	if cr, err := s.GetCredential(ctx, c.ID); err != nil || cr.OwnerID != o.ID {
		t.Errorf("the added credential: %+v, %v", cr, err)
	}
	if _, err := s.GetEnrolmentRecord(ctx, c.ID); err != nil {
		t.Errorf("the added credential's record: %v", err)
	}
	for _, gone := range []*store.Token{session, consent} {
		_, err := s.GetToken(ctx, gone.Hash, now)
		wantErr(t, "a token of the re-enrolled owner", err, store.ErrNotFound)
	}
	if _, err := s.GetToken(ctx, someoneElse.Hash, now); err != nil {
		t.Errorf("another owner's session after the re-enrolment: %v", err)
	}
	if e.ID < 1 {
		t.Errorf("the re-enrolment's audit event got ID %d", e.ID)
	}
	stranger := newOwner(t)
	sc := newCredential(t, stranger.ID)
	wantErr(t, "PutReEnrolment of an owner never enrolled", s.PutReEnrolment(ctx, stranger, sc, rec(sc)), store.ErrNotFound)
	_, err = s.GetCredential(ctx, sc.ID)
	wantErr(t, "the credential of a refused re-enrolment", err, store.ErrNotFound)
	other := newCredential(t, "owner-other")
	wantErr(t, "PutReEnrolment with another owner's credential", s.PutReEnrolment(ctx, &back, other, rec(other)), store.ErrInvalid)
}

// signer is a client, an owner and the owner's credential.
type signer struct {
	client *store.Client
	owner  *store.Owner
	cred   *store.Credential
}

func putSigner(t testing.TB, s store.Signing) signer {
	t.Helper()
	o := putOwner(t, s)
	return signer{putClient(t, s), o, putCredential(t, s, o.ID)}
}

func (g signer) newTx(t testing.TB) *store.Transaction {
	return &store.Transaction{ID: newID(t, "tx"), ClientID: g.client.ID, ClientRef: newID(t, "ref"),
		CredentialID: g.cred.ID, OwnerID: g.owner.ID, Description: "Hợp đồng mua bán số 12/2026",
		Documents: []byte(`[{"id":"doc-1","name":"hop-dong.pdf","hash":"` + hex.EncodeToString(randomBytes(t, 32)) + `"}]`),
		ExpiresAt: time.Now().Add(time.Hour)}
}

func (g signer) createTx(t testing.TB, s store.Signing) *store.Transaction {
	t.Helper()
	tx, created, err := s.CreateTransaction(context.Background(), g.newTx(t))
	noErr(t, "CreateTransaction", err)
	if !created {
		t.Fatalf("CreateTransaction of a fresh reference: created = false")
	}
	return tx
}

func newActivation(t testing.TB, credID string, hashes, uses int, expires time.Time) *store.Activation {
	a := &store.Activation{SADHash: randomBytes(t, 32), ID: fmt.Sprintf("act-%x", randomBytes(t, 8)), ClientID: "portal",
		CredentialID: credID, Remaining: uses, ExpiresAt: expires}
	if hashes > 0 {
		a.HashAlgorithm = "2.16.840.1.101.3.4.2.1"
	}
	for i := 0; i < hashes; i++ {
		a.Hashes = append(a.Hashes, randomBytes(t, 32))
	}
	return a
}

func equalTx(t testing.TB, got, want *store.Transaction) {
	t.Helper()
	if got.ID != want.ID || got.ClientID != want.ClientID || got.ClientRef != want.ClientRef ||
		got.CredentialID != want.CredentialID || got.OwnerID != want.OwnerID || got.Description != want.Description ||
		!bytes.Equal(got.Documents, want.Documents) || got.Status != want.Status || !bytes.Equal(got.Result, want.Result) ||
		got.Error != want.Error || got.CreatedAt != want.CreatedAt || got.UpdatedAt != want.UpdatedAt || got.ExpiresAt != want.ExpiresAt {
		t.Fatalf("transaction = %+v\nwant %+v", got, want)
	}
}

func testClient(t *testing.T, s store.Signing) {
	ctx := context.Background()
	_, err := s.GetClient(ctx, "portal")
	wantErr(t, "GetClient unknown", err, store.ErrNotFound)
	at := time.Date(2026, 2, 3, 4, 5, 6, 7008009, time.UTC)
	c := &store.Client{ID: "portal", Name: "Cổng dịch vụ công quốc gia", SecretHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		WebhookURL: "https://dichvucong.example/kyso", WebhookSecret: randomBytes(t, 32), CreatedAt: at}
	noErr(t, "PutClient", s.PutClient(ctx, c))
	got, err := s.GetClient(ctx, "portal")
	noErr(t, "GetClient", err)
	if got.ID != c.ID || got.Name != c.Name || got.SecretHash != c.SecretHash || got.WebhookURL != c.WebhookURL ||
		!bytes.Equal(got.WebhookSecret, c.WebhookSecret) || got.Disabled {
		t.Fatalf("GetClient = %+v, want %+v", got, c)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, at)
	wantErr(t, "PutClient again", s.PutClient(ctx, &store.Client{ID: "portal", Name: "other"}), store.ErrExists)
	if got, _ := s.GetClient(ctx, "portal"); got.Name != c.Name {
		t.Fatalf("refused PutClient changed the client: %+v", got)
	}
	// The secret's stored form is swapped only from the form the caller
	// read: of two replicas rehashing at once, one changes it.
	const macForm = "$hmac-sha256$v=1$bWFj"
	noErr(t, "SetClientSecretHash", s.SetClientSecretHash(ctx, "portal", c.SecretHash, macForm))
	if got, _ := s.GetClient(ctx, "portal"); got.SecretHash != macForm || got.Name != c.Name {
		t.Fatalf("after SetClientSecretHash: %+v", got)
	}
	wantErr(t, "SetClientSecretHash from a stale form", s.SetClientSecretHash(ctx, "portal", c.SecretHash, "$hmac-sha256$v=1$b3RoZXI"), store.ErrConflict)
	if got, _ := s.GetClient(ctx, "portal"); got.SecretHash != macForm {
		t.Fatalf("a refused SetClientSecretHash changed the hash: %q", got.SecretHash)
	}
	wantErr(t, "SetClientSecretHash unknown", s.SetClientSecretHash(ctx, "nobody", "", macForm), store.ErrNotFound)
	wantErr(t, "SetClientSecretHash empty", s.SetClientSecretHash(ctx, "portal", macForm, ""), store.ErrInvalid)
	var swapped atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.SetClientSecretHash(ctx, "portal", macForm, fmt.Sprintf("$hmac-sha256$v=1$%d", i))
			if err == nil {
				swapped.Add(1)
			} else if !errors.Is(err, store.ErrConflict) {
				t.Errorf("concurrent SetClientSecretHash: %v", err)
			}
		}()
	}
	wg.Wait()
	if swapped.Load() != 1 {
		t.Fatalf("%d of 8 concurrent SetClientSecretHash from one form changed it, want 1", swapped.Load())
	}
	// Polling only, no secret (mTLS), disabled, no time given.
	noErr(t, "PutClient minimal", s.PutClient(ctx, &store.Client{ID: "bank", Name: "Ngân hàng", Disabled: true}))
	got, err = s.GetClient(ctx, "bank")
	noErr(t, "GetClient minimal", err)
	if !got.Disabled || got.WebhookURL != "" || len(got.WebhookSecret) != 0 || got.SecretHash != "" ||
		got.CreatedAt.IsZero() || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("GetClient minimal = %+v", got)
	}
}

func equalOwner(t testing.TB, got, want *store.Owner) {
	t.Helper()
	if got.ID != want.ID || got.NationalID != want.NationalID || got.Name != want.Name || got.Province != want.Province ||
		got.Phone != want.Phone || got.Email != want.Email || got.PINHash != want.PINHash || got.PINFailures != want.PINFailures ||
		!got.LockedUntil.Equal(want.LockedUntil) || !bytes.Equal(got.TOTPSecret, want.TOTPSecret) || got.TOTPLastStep != want.TOTPLastStep {
		t.Fatalf("owner = %+v\nwant %+v", got, want)
	}
	if got.CreatedAt.IsZero() || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("owner CreatedAt %v not set or not UTC", got.CreatedAt)
	}
}

func testOwner(t *testing.T, s store.Signing) {
	ctx := context.Background()
	o := newOwner(t)
	_, err := s.GetOwner(ctx, o.ID)
	wantErr(t, "GetOwner unknown", err, store.ErrNotFound)
	_, err = s.GetOwnerByNationalID(ctx, o.NationalID)
	wantErr(t, "GetOwnerByNationalID unknown", err, store.ErrNotFound)
	noErr(t, "PutOwner", s.PutOwner(ctx, o))
	got, err := s.GetOwner(ctx, o.ID)
	noErr(t, "GetOwner", err)
	equalOwner(t, got, o)
	if !got.LockedUntil.IsZero() {
		t.Fatalf("LockedUntil = %v, want zero", got.LockedUntil)
	}
	got, err = s.GetOwnerByNationalID(ctx, o.NationalID)
	noErr(t, "GetOwnerByNationalID", err)
	equalOwner(t, got, o)

	// The ID and the national ID are each unique; a refused owner leaves
	// nothing behind.
	sameID := newOwner(t)
	sameID.ID = o.ID
	wantErr(t, "PutOwner same ID", s.PutOwner(ctx, sameID), store.ErrExists)
	_, err = s.GetOwnerByNationalID(ctx, sameID.NationalID)
	wantErr(t, "refused owner by national ID", err, store.ErrNotFound)
	sameNID := newOwner(t)
	sameNID.NationalID = o.NationalID
	wantErr(t, "PutOwner same national ID", s.PutOwner(ctx, sameNID), store.ErrExists)
	_, err = s.GetOwner(ctx, sameNID.ID)
	wantErr(t, "refused owner", err, store.ErrNotFound)

	// An organisation, locked, without a second factor yet.
	org := newOwner(t)
	org.NationalID, org.Name, org.TOTPSecret, org.TOTPLastStep = "MST:0101234567", "Hợp tác xã Thủy Biều", nil, 57000000
	org.PINFailures, org.LockedUntil = 2, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	noErr(t, "PutOwner organisation", s.PutOwner(ctx, org))
	got, err = s.GetOwnerByNationalID(ctx, "MST:0101234567")
	noErr(t, "GetOwnerByNationalID organisation", err)
	equalOwner(t, got, org)
}

// testAttempts: attempts are reserved before they are evaluated; the one
// that reaches the limit locks; a lock refuses and never resets the count;
// a success releases; an expired lock gives a fresh budget.
// testLoginMisses: the misses of a national ID no owner holds are
// counted and locked as an owner's attempts are (testAttempts), under
// concurrency too, and pruned only once old and unlocked.
func testLoginMisses(t *testing.T, s store.Signing) {
	ctx := context.Background()
	now := time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)
	const lockFor = 15 * time.Minute
	key := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	reserve := func(k []byte, limit int, at time.Time) *store.Attempt {
		t.Helper()
		a, err := s.ReserveMiss(ctx, k, limit, lockFor, at)
		noErr(t, "ReserveMiss", err)
		return a
	}
	k := key(1)
	for want := 1; want <= 2; want++ {
		if a := reserve(k, 3, now); !a.Granted || a.Count != want || !a.LockedUntil.IsZero() {
			t.Fatalf("miss %d: %+v, want granted, count %d, no lock", want, a, want)
		}
	}
	a := reserve(k, 3, now)
	if !a.Granted || a.Count != 3 {
		t.Fatalf("third miss: %+v, want granted with count 3", a)
	}
	sameTime(t, "LockedUntil", a.LockedUntil, now.Add(lockFor))
	for _, at := range []time.Time{now, now.Add(lockFor - time.Microsecond)} {
		if r := reserve(k, 3, at); r.Granted || r.Count != 3 || !r.LockedUntil.Equal(a.LockedUntil) {
			t.Fatalf("miss while locked, at %v: %+v, want refused with count 3 and the lock", at, r)
		}
	}
	if r := reserve(k, 3, now.Add(lockFor)); !r.Granted || r.Count != 1 || !r.LockedUntil.IsZero() {
		t.Fatalf("miss after the lock: %+v, want granted, count 1, no lock", r)
	}
	if r := reserve(key(2), 1, now); !r.Granted || r.Count != 1 || r.LockedUntil.IsZero() {
		t.Fatalf("limit 1: %+v, want granted and locking", r)
	}
	// Sixteen misses of one ID at once: five granted, whatever the race.
	k3 := key(3)
	var granted atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			a, err := s.ReserveMiss(ctx, k3, 5, lockFor, now)
			if err != nil {
				t.Errorf("ReserveMiss at once: %v", err)
				return
			}
			if a.Granted {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if granted.Load() != 5 {
		t.Fatalf("16 misses at once with a limit of 5: %d granted", granted.Load())
	}
	wantErr(t, "ReserveMiss with a short key", func() error { _, err := s.ReserveMiss(ctx, key(4)[:16], 5, lockFor, now); return err }(), store.ErrInvalid)
	wantErr(t, "ReserveMiss with limit 0", func() error { _, err := s.ReserveMiss(ctx, key(4), 0, lockFor, now); return err }(), store.ErrInvalid)
	// Pruning: key 1 (unlocked since now+lockFor) and key 3 (locked until
	// now+lockFor) were last counted at or before now+lockFor.
	n, err := s.PruneMisses(ctx, now.Add(lockFor+time.Second), now.Add(time.Minute))
	noErr(t, "PruneMisses", err)
	if n != 1 {
		t.Fatalf("PruneMisses while keys 2 and 3 are locked: %d pruned, want 1 (key 1)", n)
	}
	if r := reserve(k, 3, now.Add(lockFor)); r.Count != 1 {
		t.Fatalf("a pruned key's next miss: %+v, want count 1", r)
	}
	n, err = s.PruneMisses(ctx, now.Add(lockFor+time.Second), now.Add(lockFor))
	noErr(t, "PruneMisses after the locks", err)
	if n != 3 {
		t.Fatalf("PruneMisses after the locks ended: %d pruned, want 3", n)
	}
}

func testAttempts(t *testing.T, s store.Signing) {
	ctx := context.Background()
	o := putOwner(t, s)
	now := time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)
	const lockFor = 15 * time.Minute
	reserve := func(limit int, at time.Time) *store.Attempt {
		t.Helper()
		a, err := s.ReserveAttempt(ctx, o.ID, limit, lockFor, at)
		noErr(t, "ReserveAttempt", err)
		return a
	}
	stored := func() *store.Owner {
		t.Helper()
		got, err := s.GetOwner(ctx, o.ID)
		noErr(t, "GetOwner", err)
		return got
	}
	for want := 1; want <= 2; want++ {
		if a := reserve(3, now); !a.Granted || a.Count != want || !a.LockedUntil.IsZero() {
			t.Fatalf("attempt %d: %+v, want granted, count %d, no lock", want, a, want)
		}
	}
	// The attempt that reaches the limit is granted and locks; the count
	// stays.
	a := reserve(3, now)
	if !a.Granted || a.Count != 3 {
		t.Fatalf("third attempt: %+v, want granted with count 3", a)
	}
	sameTime(t, "LockedUntil", a.LockedUntil, now.Add(lockFor))
	if got := stored(); got.PINFailures != 3 || !got.LockedUntil.Equal(a.LockedUntil) {
		t.Fatalf("stored owner %+v differs from the reservation %+v", got, a)
	}
	// While locked, nothing is granted or counted, up to the last
	// microsecond of the lock.
	for _, at := range []time.Time{now, now.Add(time.Minute), now.Add(lockFor - time.Microsecond)} {
		if r := reserve(3, at); r.Granted || r.Count != 3 || !r.LockedUntil.Equal(a.LockedUntil) {
			t.Fatalf("attempt while locked, at %v: %+v, want refused with count 3 and the lock", at, r)
		}
	}
	if got := stored(); got.PINFailures != 3 {
		t.Fatalf("refused attempts were counted: %d", got.PINFailures)
	}
	// When the lock ends, a fresh budget: this attempt is the first.
	if r := reserve(3, now.Add(lockFor)); !r.Granted || r.Count != 1 || !r.LockedUntil.IsZero() {
		t.Fatalf("attempt after the lock: %+v, want granted, count 1, no lock", r)
	}
	reserve(3, now.Add(lockFor))
	// A success releases: count zero, and the lock its own reservation
	// set is lifted.
	if r := reserve(3, now.Add(lockFor)); !r.Granted || r.LockedUntil.IsZero() {
		t.Fatalf("third attempt after the lock: %+v, want granted and locking", r)
	}
	noErr(t, "ReleaseAttempts", s.ReleaseAttempts(ctx, o.ID))
	if got := stored(); got.PINFailures != 0 || !got.LockedUntil.IsZero() {
		t.Fatalf("after ReleaseAttempts: %+v, want no attempts and no lock", got)
	}
	if r := reserve(3, now.Add(lockFor)); !r.Granted || r.Count != 1 {
		t.Fatalf("attempt after release: %+v", r)
	}
	const newHash = "$argon2id$v=19$m=65536,t=3,p=4$bmV3$bmV3"
	noErr(t, "SetPIN", s.SetPIN(ctx, o.ID, newHash))
	if got := stored(); got.PINHash != newHash || got.PINFailures != 0 || !got.LockedUntil.IsZero() {
		t.Fatalf("after SetPIN: %+v, want the new hash, no attempts, no lock", got)
	}
	// A limit of 1 locks at the first attempt, which is still granted.
	if r := reserve(1, now); !r.Granted || r.Count != 1 || r.LockedUntil.IsZero() {
		t.Fatalf("limit 1: %+v", r)
	}
	if r := reserve(1, now); r.Granted {
		t.Fatalf("limit 1, second attempt: %+v, want refused", r)
	}
	// A lock written before reservations existed (count 0, lock set)
	// refuses too.
	legacy := newOwner(t)
	legacy.LockedUntil = now.Add(time.Hour)
	noErr(t, "PutOwner locked", s.PutOwner(ctx, legacy))
	if r, err := s.ReserveAttempt(ctx, legacy.ID, 3, lockFor, now); err != nil || r.Granted || r.Count != 0 {
		t.Fatalf("reserving for an owner locked with no count: %+v, %v", r, err)
	}

	_, err := s.ReserveAttempt(ctx, "nobody", 3, lockFor, now)
	wantErr(t, "ReserveAttempt unknown", err, store.ErrNotFound)
	wantErr(t, "ReleaseAttempts unknown", s.ReleaseAttempts(ctx, "nobody"), store.ErrNotFound)
	wantErr(t, "SetPIN unknown", s.SetPIN(ctx, "nobody", newHash), store.ErrNotFound)
	_, err = s.ReserveAttempt(ctx, o.ID, 0, lockFor, now)
	wantErr(t, "limit 0", err, store.ErrInvalid)
	_, err = s.ReserveAttempt(ctx, o.ID, 3, 0, now)
	wantErr(t, "lockFor 0", err, store.ErrInvalid)
	wantErr(t, "SetPIN empty", s.SetPIN(ctx, o.ID, ""), store.ErrInvalid)
}

func testTOTPStep(t *testing.T, s store.Signing) {
	ctx := context.Background()
	o := putOwner(t, s)
	for _, tc := range []struct {
		step int64
		err  error
	}{
		{59000000, nil},
		{59000000, store.ErrReplay}, // RFC 6238 section 5.2: once
		{58999999, store.ErrReplay}, // an earlier code, still in the window
		{0, store.ErrReplay},
		{59000001, nil},
		{59000005, nil},
		{59000003, store.ErrReplay},
	} {
		err := s.UseTOTPStep(ctx, o.ID, tc.step)
		if tc.err == nil {
			noErr(t, fmt.Sprintf("UseTOTPStep(%d)", tc.step), err)
		} else {
			wantErr(t, fmt.Sprintf("UseTOTPStep(%d)", tc.step), err, tc.err)
		}
	}
	got, err := s.GetOwner(ctx, o.ID)
	noErr(t, "GetOwner", err)
	if got.TOTPLastStep != 59000005 {
		t.Fatalf("TOTPLastStep = %d, want 59000005", got.TOTPLastStep)
	}
	// The last step stored with the owner counts.
	p := newOwner(t)
	p.TOTPLastStep = 200
	noErr(t, "PutOwner", s.PutOwner(ctx, p))
	wantErr(t, "step before the stored one", s.UseTOTPStep(ctx, p.ID, 150), store.ErrReplay)
	noErr(t, "step after the stored one", s.UseTOTPStep(ctx, p.ID, 201))
	wantErr(t, "UseTOTPStep unknown owner", s.UseTOTPStep(ctx, "nobody", 1), store.ErrNotFound)
	wantErr(t, "UseTOTPStep negative", s.UseTOTPStep(ctx, o.ID, -1), store.ErrInvalid)
}

func testCredential(t *testing.T, s store.Signing) {
	ctx := context.Background()
	a, b := putOwner(t, s), putOwner(t, s)
	if cs, err := s.ListCredentials(ctx, a.ID); err != nil || len(cs) != 0 {
		t.Fatalf("ListCredentials with none = %v, %v", cs, err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var cs []*store.Credential
	for _, at := range []time.Time{t0.Add(2 * time.Minute), t0, t0.Add(time.Minute), t0} {
		c := newCredential(t, a.ID)
		c.CreatedAt = at
		noErr(t, "PutCredential", s.PutCredential(ctx, c))
		cs = append(cs, c)
	}
	putCredential(t, s, b.ID)
	got, err := s.GetCredential(ctx, cs[0].ID)
	noErr(t, "GetCredential", err)
	want := cs[0]
	if got.ID != want.ID || got.OwnerID != a.ID || got.KeyURI != want.KeyURI || !bytes.Equal(got.WrappedKey, want.WrappedKey) ||
		got.Algorithm != want.Algorithm || got.CertIssuer != want.CertIssuer || !bytes.Equal(got.CertSerial, want.CertSerial) ||
		got.Status != "active" {
		t.Fatalf("GetCredential = %+v, want %+v with status active", got, want)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)

	list, err := s.ListCredentials(ctx, a.ID)
	noErr(t, "ListCredentials", err)
	var order []string
	for _, c := range list {
		for i := range cs {
			if c.ID == cs[i].ID {
				order = append(order, fmt.Sprint(i))
			}
		}
	}
	if strings.Join(order, ",") != "1,3,2,0" {
		t.Fatalf("ListCredentials order = %v, want oldest first, then in the order stored: 1,3,2,0", order)
	}
	if list, err := s.ListCredentials(ctx, b.ID); err != nil || len(list) != 1 || list[0].OwnerID != b.ID {
		t.Fatalf("ListCredentials(b) = %v, %v", list, err)
	}
	if list, err := s.ListCredentials(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Fatalf("ListCredentials(nobody) = %v, %v", list, err)
	}

	wantErr(t, "PutCredential again", s.PutCredential(ctx, cs[0]), store.ErrExists)
	wantErr(t, "PutCredential unknown owner", s.PutCredential(ctx, newCredential(t, "nobody")), store.ErrNotFound)
	_, err = s.GetCredential(ctx, "nobody")
	wantErr(t, "GetCredential unknown", err, store.ErrNotFound)

	// A disabled credential whose key lives in the token, before its
	// certificate is issued.
	d := &store.Credential{ID: newID(t, "cred"), OwnerID: b.ID, KeyURI: "pkcs11:token=kyso;object=d", Algorithm: "RSA-3072", Status: "disabled"}
	noErr(t, "PutCredential disabled", s.PutCredential(ctx, d))
	got, err = s.GetCredential(ctx, d.ID)
	noErr(t, "GetCredential disabled", err)
	if got.Status != "disabled" || len(got.WrappedKey) != 0 || len(got.CertSerial) != 0 || got.CertIssuer != "" {
		t.Fatalf("GetCredential disabled = %+v", got)
	}
}

func testTransaction(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g := putSigner(t, s)
	tx := g.newTx(t)
	tx.Description = strings.Repeat("ễ", 500) // 500 characters, 1500 bytes
	_, err := s.GetTransaction(ctx, tx.ID)
	wantErr(t, "GetTransaction unknown", err, store.ErrNotFound)
	created, ok, err := s.CreateTransaction(ctx, tx)
	noErr(t, "CreateTransaction", err)
	if !ok || created.ID != tx.ID || created.Status != store.TxPending || created.CreatedAt.IsZero() ||
		created.UpdatedAt != created.CreatedAt || created.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreateTransaction = %+v, %v; want created, pending, CreatedAt = UpdatedAt set", created, ok)
	}
	sameTime(t, "ExpiresAt", created.ExpiresAt, tx.ExpiresAt)
	got, err := s.GetTransaction(ctx, tx.ID)
	noErr(t, "GetTransaction", err)
	equalTx(t, got, created)

	// The same reference again, under another ID: the first transaction.
	again := g.newTx(t)
	again.ClientRef, again.Description = tx.ClientRef, "something else"
	dup, ok, err := s.CreateTransaction(ctx, again)
	noErr(t, "CreateTransaction same reference", err)
	if ok {
		t.Fatal("CreateTransaction same reference: created = true")
	}
	equalTx(t, dup, created)
	_, err = s.GetTransaction(ctx, again.ID)
	wantErr(t, "GetTransaction of the refused ID", err, store.ErrNotFound)
	// A retry of the very same submission.
	dup, ok, err = s.CreateTransaction(ctx, tx)
	noErr(t, "CreateTransaction retried", err)
	if ok || dup.ID != tx.ID {
		t.Fatalf("CreateTransaction retried = %s, %v; want %s, false", dup.ID, ok, tx.ID)
	}
	// The same ID under another reference is not the same transaction.
	clash := g.newTx(t)
	clash.ID = tx.ID
	_, _, err = s.CreateTransaction(ctx, clash)
	wantErr(t, "CreateTransaction same ID, other reference", err, store.ErrExists)
	// References are per client.
	other := putClient(t, s)
	theirs := g.newTx(t)
	theirs.ClientID, theirs.ClientRef = other.ID, tx.ClientRef
	if _, ok, err := s.CreateTransaction(ctx, theirs); err != nil || !ok {
		t.Fatalf("CreateTransaction same reference, other client = %v, %v; want created", ok, err)
	}

	// What it refers to must exist, and the owner must be the credential's.
	for _, tc := range []struct {
		name   string
		change func(tx *store.Transaction)
	}{
		{"unknown client", func(tx *store.Transaction) { tx.ClientID = "nobody" }},
		{"unknown credential", func(tx *store.Transaction) { tx.CredentialID = "nobody" }},
		{"unknown owner", func(tx *store.Transaction) { tx.OwnerID = "nobody" }},
		{"another owner's credential", func(tx *store.Transaction) { tx.OwnerID = putOwner(t, s).ID }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := g.newTx(t)
			tc.change(bad)
			_, _, err := s.CreateTransaction(ctx, bad)
			wantErr(t, "CreateTransaction", err, store.ErrNotFound)
			_, err = s.GetTransaction(ctx, bad.ID)
			wantErr(t, "refused transaction", err, store.ErrNotFound)
		})
	}
}

func testUpdateTransaction(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g := putSigner(t, s)
	tx := g.createTx(t, s)
	t1 := tx.CreatedAt.Add(time.Minute)
	up := &store.Transaction{ID: tx.ID, Status: store.TxApproved, UpdatedAt: t1}
	noErr(t, "pending → approved", s.UpdateTransaction(ctx, up, store.TxPending))
	got, err := s.GetTransaction(ctx, tx.ID)
	noErr(t, "GetTransaction", err)
	if got.Status != store.TxApproved || got.ClientRef != tx.ClientRef || !bytes.Equal(got.Documents, tx.Documents) {
		t.Fatalf("after approval: %+v", got)
	}
	sameTime(t, "UpdatedAt", got.UpdatedAt, t1)
	sameTime(t, "CreatedAt", got.CreatedAt, tx.CreatedAt)

	err = s.UpdateTransaction(ctx, &store.Transaction{ID: tx.ID, Status: store.TxRejected}, store.TxPending)
	wantErr(t, "pending → rejected after approval", err, store.ErrConflict)
	if got, _ := s.GetTransaction(ctx, tx.ID); got.Status != store.TxApproved {
		t.Fatalf("refused update changed the status to %s", got.Status)
	}
	result := []byte(`{"signatures":["MIIB"],"documents":[{"id":"doc-1"}]}`)
	t2 := t1.Add(time.Minute)
	noErr(t, "approved → signed", s.UpdateTransaction(ctx, &store.Transaction{ID: tx.ID, Status: store.TxSigned, Result: result, UpdatedAt: t2}, store.TxApproved))
	got, err = s.GetTransaction(ctx, tx.ID)
	noErr(t, "GetTransaction", err)
	if got.Status != store.TxSigned || !bytes.Equal(got.Result, result) || got.Error != "" {
		t.Fatalf("after signing: %+v", got)
	}
	sameTime(t, "UpdatedAt after signing", got.UpdatedAt, t2)
	wantErr(t, "signed → failed from approved", s.UpdateTransaction(ctx, &store.Transaction{ID: tx.ID, Status: store.TxFailed}, store.TxApproved), store.ErrConflict)

	failed := g.createTx(t, s)
	noErr(t, "pending → failed", s.UpdateTransaction(ctx, &store.Transaction{ID: failed.ID, Status: store.TxFailed, Error: "HSM unavailable"}, store.TxPending))
	if got, _ := s.GetTransaction(ctx, failed.ID); got.Status != store.TxFailed || got.Error != "HSM unavailable" || len(got.Result) != 0 {
		t.Fatalf("after failing: %+v", got)
	}

	wantErr(t, "UpdateTransaction unknown", s.UpdateTransaction(ctx, &store.Transaction{ID: "nobody", Status: store.TxApproved}, store.TxPending), store.ErrNotFound)
	wantErr(t, "bad status", s.UpdateTransaction(ctx, &store.Transaction{ID: tx.ID, Status: "done"}, store.TxSigned), store.ErrInvalid)
	wantErr(t, "bad from", s.UpdateTransaction(ctx, &store.Transaction{ID: tx.ID, Status: store.TxFailed}, ""), store.ErrInvalid)
	wantErr(t, "result not JSON", s.UpdateTransaction(ctx, &store.Transaction{ID: failed.ID, Status: store.TxSigned, Result: []byte("MIIB")}, store.TxFailed), store.ErrInvalid)
	wantErr(t, "nil", s.UpdateTransaction(ctx, nil, store.TxPending), store.ErrInvalid)
}

func testListTransactions(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g1, g2 := putSigner(t, s), putSigner(t, s)
	base := time.Now().UTC().Add(-time.Hour)
	var all []*store.Transaction
	for i := 0; i < 6; i++ {
		g := []signer{g1, g2}[i/3]
		tx := g.newTx(t)
		tx.ClientID = []string{g1.client.ID, g2.client.ID}[i%2]
		tx.CreatedAt = base.Add(time.Duration(i) * time.Minute)
		created, ok, err := s.CreateTransaction(ctx, tx)
		if err != nil || !ok {
			t.Fatalf("CreateTransaction %d: %v, %v", i, ok, err)
		}
		all = append(all, created)
	}
	for _, i := range []int{1, 4} {
		noErr(t, "approve", s.UpdateTransaction(ctx, &store.Transaction{ID: all[i].ID, Status: store.TxApproved}, store.TxPending))
	}
	index := func(txs []*store.Transaction) string {
		var out []string
		for _, tx := range txs {
			for i, a := range all {
				if a.ID == tx.ID {
					out = append(out, fmt.Sprint(i))
				}
			}
		}
		return strings.Join(out, ",")
	}
	c1, c2, o1, o2 := g1.client.ID, g2.client.ID, g1.owner.ID, g2.owner.ID
	for _, tc := range []struct {
		name string
		f    *store.TransactionFilter
		want string
	}{
		{"nil", nil, "5,4,3,2,1,0"},
		{"all", &store.TransactionFilter{}, "5,4,3,2,1,0"},
		{"client", &store.TransactionFilter{ClientID: c1}, "4,2,0"},
		{"other client", &store.TransactionFilter{ClientID: c2}, "5,3,1"},
		{"owner", &store.TransactionFilter{OwnerID: o1}, "2,1,0"},
		{"other owner", &store.TransactionFilter{OwnerID: o2}, "5,4,3"},
		{"status", &store.TransactionFilter{Status: store.TxApproved}, "4,1"},
		{"client and status", &store.TransactionFilter{ClientID: c1, Status: store.TxPending}, "2,0"},
		{"owner and status", &store.TransactionFilter{OwnerID: o2, Status: store.TxApproved}, "4"},
		{"client and owner", &store.TransactionFilter{ClientID: c2, OwnerID: o1}, "1"},
		{"limit", &store.TransactionFilter{Limit: 2}, "5,4"},
		{"none", &store.TransactionFilter{ClientID: "nobody"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListTransactions(ctx, tc.f)
			noErr(t, "ListTransactions", err)
			if g := index(got); g != tc.want {
				t.Errorf("ListTransactions(%+v) = %s, want %s (newest first)", tc.f, g, tc.want)
			}
		})
	}
	if got, err := s.ListTransactions(ctx, &store.TransactionFilter{OwnerID: o1}); err != nil || got[0].Status != store.TxPending ||
		got[1].Status != store.TxApproved || !bytes.Equal(got[0].Documents, all[2].Documents) {
		t.Fatalf("ListTransactions rows: %v", err)
	}

	// Created at the same time: the later one first.
	g3 := putSigner(t, s)
	at := time.Now().UTC()
	var tied []string
	for i := 0; i < 3; i++ {
		tx := g3.newTx(t)
		tx.CreatedAt = at
		_, _, err := s.CreateTransaction(ctx, tx)
		noErr(t, "CreateTransaction", err)
		tied = append([]string{tx.ID}, tied...)
	}
	got, err := s.ListTransactions(ctx, &store.TransactionFilter{ClientID: g3.client.ID})
	noErr(t, "ListTransactions tied", err)
	var ids []string
	for _, tx := range got {
		ids = append(ids, tx.ID)
	}
	if strings.Join(ids, ",") != strings.Join(tied, ",") {
		t.Fatalf("transactions created at one time listed %v, want %v (last stored first)", ids, tied)
	}

	// No limit means 100.
	g4 := putSigner(t, s)
	for i := 0; i < 105; i++ {
		g4.createTx(t, s)
	}
	got, err = s.ListTransactions(ctx, &store.TransactionFilter{OwnerID: g4.owner.ID})
	noErr(t, "ListTransactions default limit", err)
	if len(got) != 100 {
		t.Fatalf("ListTransactions without a limit: %d, want 100", len(got))
	}
	got, err = s.ListTransactions(ctx, &store.TransactionFilter{OwnerID: g4.owner.ID, Limit: 1000})
	noErr(t, "ListTransactions limit 1000", err)
	if len(got) != 105 {
		t.Fatalf("ListTransactions limit 1000: %d, want 105", len(got))
	}
	for _, f := range []*store.TransactionFilter{{Limit: 1001}, {Limit: -1}, {Status: "done"}, {ClientID: strings.Repeat("c", 129)}, {OwnerID: "o\x00"}} {
		_, err := s.ListTransactions(ctx, f)
		wantErr(t, fmt.Sprintf("ListTransactions(%+v)", f), err, store.ErrInvalid)
	}
}

func equalActivation(t testing.TB, got, want *store.Activation) {
	t.Helper()
	if !bytes.Equal(got.SADHash, want.SADHash) || got.ID != want.ID || got.ClientID != want.ClientID ||
		got.CredentialID != want.CredentialID || got.TransactionID != want.TransactionID || got.ReceiptID != want.ReceiptID ||
		got.HashAlgorithm != want.HashAlgorithm || len(got.Hashes) != len(want.Hashes) || got.Remaining != want.Remaining {
		t.Fatalf("activation = %+v\nwant %+v", got, want)
	}
	for i := range want.Hashes {
		if !bytes.Equal(got.Hashes[i], want.Hashes[i]) {
			t.Fatalf("activation hash %d = %x, want %x (order kept)", i, got.Hashes[i], want.Hashes[i])
		}
	}
	sameTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	if got.CreatedAt.IsZero() || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("activation CreatedAt %v not set or not UTC", got.CreatedAt)
	}
}

func testActivation(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g := putSigner(t, s)
	tx := g.createTx(t, s)
	now := time.Now()
	a := newActivation(t, g.cred.ID, 3, 3, now.Add(5*time.Minute))
	a.TransactionID, a.ReceiptID = tx.ID, newID(t, "rcp")
	_, err := s.GetActivation(ctx, a.SADHash)
	wantErr(t, "GetActivation unknown", err, store.ErrNotFound)
	noErr(t, "PutActivation", s.PutActivation(ctx, a))
	wantErr(t, "PutActivation again", s.PutActivation(ctx, a), store.ErrExists)
	got, err := s.GetActivation(ctx, a.SADHash)
	noErr(t, "GetActivation", err)
	equalActivation(t, got, a)

	remaining := func(want int) {
		t.Helper()
		got, err := s.GetActivation(ctx, a.SADHash)
		noErr(t, "GetActivation", err)
		if got.Remaining != want {
			t.Fatalf("Remaining = %d, want %d", got.Remaining, want)
		}
	}
	noErr(t, "use 2 of 3", s.UseActivation(ctx, a.SADHash, 2, now))
	remaining(1)
	wantErr(t, "use 2 of 1", s.UseActivation(ctx, a.SADHash, 2, now), store.ErrReplay)
	remaining(1)
	// The audit events come in the same transaction as the use: recorded
	// when the use is taken, not when it is refused.
	audit, ok := s.(interface {
		ListAudit(ctx context.Context, after int64, limit int) ([]*store.AuditEvent, error)
	})
	if !ok {
		t.Fatalf("%T has no ListAudit: RunSigning needs the whole store", s)
	}
	before, err := audit.ListAudit(ctx, 0, 10000)
	noErr(t, "ListAudit", err)
	last := int64(0)
	if len(before) > 0 {
		last = before[len(before)-1].ID
	}
	begun := func(digest string) *store.AuditEvent {
		return &store.AuditEvent{Time: now, Actor: "client-1", Action: "signature.create", Subject: g.cred.ID, Outcome: "intent", Details: []byte(`{"digest":"` + digest + `"}`)}
	}
	used := begun("used")
	noErr(t, "use 1 of 1 with an audit event", s.UseActivation(ctx, a.SADHash, 1, now, used))
	remaining(0)
	if used.ID <= last {
		t.Fatalf("the audit event of a use got ID %d, want one after %d", used.ID, last)
	}
	wantErr(t, "use 1 of 0 with an audit event", s.UseActivation(ctx, a.SADHash, 1, now, begun("replayed")), store.ErrReplay)
	remaining(0)
	wantErr(t, "use unknown with an audit event", s.UseActivation(ctx, randomBytes(t, 32), 1, now, begun("unknown")), store.ErrNotFound)
	after, err := audit.ListAudit(ctx, last, 10000)
	noErr(t, "ListAudit", err)
	if len(after) != 1 || after[0].ID != used.ID || after[0].Outcome != "intent" || !strings.Contains(string(after[0].Details), `"used"`) {
		t.Fatalf("audit events after the uses: %d, want the one event of the use taken (ID %d)", len(after), used.ID)
	}

	// SCAL1, or a CSC explicit authorisation: no hashes, no transaction.
	b := newActivation(t, g.cred.ID, 0, 1, now.Add(time.Minute))
	b.ClientID = "" // a caller in the process, acting for no client
	noErr(t, "PutActivation without hashes", s.PutActivation(ctx, b))
	got, err = s.GetActivation(ctx, b.SADHash)
	noErr(t, "GetActivation without hashes", err)
	equalActivation(t, got, b)
	if got.Hashes != nil || got.TransactionID != "" || got.HashAlgorithm != "" {
		t.Fatalf("activation without hashes = %+v", got)
	}

	// As many hashes as allowed, each as long as allowed, in order.
	big := newActivation(t, g.cred.ID, 0, 1000, now.Add(time.Minute))
	big.HashAlgorithm = "2.16.840.1.101.3.4.2.3"
	for i := 0; i < 1000; i++ {
		big.Hashes = append(big.Hashes, randomBytes(t, 64))
	}
	noErr(t, "PutActivation 1000 hashes", s.PutActivation(ctx, big))
	got, err = s.GetActivation(ctx, big.SADHash)
	noErr(t, "GetActivation 1000 hashes", err)
	equalActivation(t, got, big)

	wantErr(t, "UseActivation unknown", s.UseActivation(ctx, randomBytes(t, 32), 1, now), store.ErrNotFound)
	unknownCred := newActivation(t, "nobody", 1, 1, now.Add(time.Minute))
	wantErr(t, "PutActivation unknown credential", s.PutActivation(ctx, unknownCred), store.ErrNotFound)
	unknownTx := newActivation(t, g.cred.ID, 1, 1, now.Add(time.Minute))
	unknownTx.TransactionID = "nobody"
	wantErr(t, "PutActivation unknown transaction", s.PutActivation(ctx, unknownTx), store.ErrNotFound)
	for _, sad := range [][]byte{unknownCred.SADHash, unknownTx.SADHash} {
		_, err := s.GetActivation(ctx, sad)
		wantErr(t, "refused activation", err, store.ErrNotFound)
	}

	for _, tc := range []struct {
		name   string
		change func(a *store.Activation)
	}{
		{"nil hash list entry", func(a *store.Activation) { a.Hashes[1] = nil }},
		{"hash over 64 bytes", func(a *store.Activation) { a.Hashes[0] = make([]byte, 65) }},
		{"1001 hashes", func(a *store.Activation) {
			for len(a.Hashes) < 1001 {
				a.Hashes = append(a.Hashes, randomBytes(t, 32))
			}
		}},
		{"hashes without algorithm", func(a *store.Activation) { a.HashAlgorithm = "" }},
		{"algorithm not an OID", func(a *store.Activation) { a.HashAlgorithm = "sha256" }},
		{"algorithm with an empty arc", func(a *store.Activation) { a.HashAlgorithm = "2.16..1" }},
		{"no uses", func(a *store.Activation) { a.Remaining = 0 }},
		{"1001 uses", func(a *store.Activation) { a.Remaining = 1001 }},
		{"no expiry", func(a *store.Activation) { a.ExpiresAt = time.Time{} }},
		{"SAD hash 31 bytes", func(a *store.Activation) { a.SADHash = a.SADHash[:31] }},
		{"no credential", func(a *store.Activation) { a.CredentialID = "" }},
		{"no activation ID", func(a *store.Activation) { a.ID = "" }},
		{"activation ID over 128 bytes", func(a *store.Activation) { a.ID = strings.Repeat("a", 129) }},
		{"client ID over 128 bytes", func(a *store.Activation) { a.ClientID = strings.Repeat("c", 129) }},
		{"client ID with NUL", func(a *store.Activation) { a.ClientID = "portal\x00" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := newActivation(t, g.cred.ID, 3, 3, now.Add(time.Minute))
			tc.change(bad)
			wantErr(t, "PutActivation", s.PutActivation(ctx, bad), store.ErrInvalid)
		})
	}
	wantErr(t, "PutActivation nil", s.PutActivation(ctx, nil), store.ErrInvalid)
	wantErr(t, "use 0", s.UseActivation(ctx, b.SADHash, 0, now), store.ErrInvalid)
	wantErr(t, "use -1", s.UseActivation(ctx, b.SADHash, -1, now), store.ErrInvalid)
	wantErr(t, "use with a short hash", s.UseActivation(ctx, b.SADHash[:16], 1, now), store.ErrInvalid)
	_, err = s.GetActivation(ctx, nil)
	wantErr(t, "GetActivation nil", err, store.ErrInvalid)
}

func testActivationExpiry(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g := putSigner(t, s)
	expires := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	a := newActivation(t, g.cred.ID, 2, 2, expires)
	noErr(t, "PutActivation", s.PutActivation(ctx, a))
	noErr(t, "use a microsecond before expiry", s.UseActivation(ctx, a.SADHash, 1, expires.Add(-time.Microsecond)))
	wantErr(t, "use at expiry", s.UseActivation(ctx, a.SADHash, 1, expires), store.ErrNotFound)
	wantErr(t, "use after expiry", s.UseActivation(ctx, a.SADHash, 1, expires.Add(time.Hour)), store.ErrNotFound)
	// Expired data is still there to read, its unused use untaken.
	got, err := s.GetActivation(ctx, a.SADHash)
	noErr(t, "GetActivation expired", err)
	if got.Remaining != 1 {
		t.Fatalf("Remaining after refused uses = %d, want 1", got.Remaining)
	}
	// Used up and expired: expired.
	noErr(t, "use the last", s.UseActivation(ctx, a.SADHash, 1, expires.Add(-time.Second)))
	wantErr(t, "used up, then expired", s.UseActivation(ctx, a.SADHash, 1, expires.Add(time.Second)), store.ErrNotFound)
	wantErr(t, "used up, not expired", s.UseActivation(ctx, a.SADHash, 1, expires.Add(-time.Second)), store.ErrReplay)
	// A zero now is the store's clock: this activation expired long ago.
	wantErr(t, "zero now", s.UseActivation(ctx, newActivationPut(t, s, g.cred.ID, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), 1, time.Time{}), store.ErrNotFound)
}

// newActivationPut stores an activation with one hash and two uses
// expiring at expires and returns its SAD hash.
func newActivationPut(t testing.TB, s store.Signing, credID string, expires time.Time) []byte {
	t.Helper()
	a := newActivation(t, credID, 1, 2, expires)
	noErr(t, "PutActivation", s.PutActivation(context.Background(), a))
	return a.SADHash
}

func testToken(t *testing.T, s store.Signing) {
	ctx := context.Background()
	now := time.Now()
	tok := &store.Token{Hash: randomBytes(t, 32), Kind: "client", Subject: "portal", Scope: "signing transactions:read",
		ExpiresAt: now.Add(time.Hour)}
	_, err := s.GetToken(ctx, tok.Hash, now)
	wantErr(t, "GetToken unknown", err, store.ErrNotFound)
	noErr(t, "PutToken", s.PutToken(ctx, tok))
	wantErr(t, "PutToken again", s.PutToken(ctx, tok), store.ErrExists)
	other := &store.Token{Hash: randomBytes(t, 32), Kind: "owner", Subject: "owner-1", ExpiresAt: now.Add(time.Hour)}
	noErr(t, "PutToken other", s.PutToken(ctx, other))

	got, err := s.GetToken(ctx, tok.Hash, now)
	noErr(t, "GetToken", err)
	if !bytes.Equal(got.Hash, tok.Hash) || got.Kind != tok.Kind || got.Subject != tok.Subject || got.Scope != tok.Scope {
		t.Fatalf("GetToken = %+v, want %+v", got, tok)
	}
	sameTime(t, "ExpiresAt", got.ExpiresAt, tok.ExpiresAt)
	_, err = s.GetToken(ctx, tok.Hash, got.ExpiresAt.Add(-time.Microsecond))
	noErr(t, "GetToken a microsecond before expiry", err)
	_, err = s.GetToken(ctx, tok.Hash, got.ExpiresAt)
	wantErr(t, "GetToken at expiry", err, store.ErrNotFound)
	_, err = s.GetToken(ctx, tok.Hash, now.Add(2*time.Hour))
	wantErr(t, "GetToken after expiry", err, store.ErrNotFound)

	if got.CertSHA256 != nil {
		t.Fatalf("a bearer token came back bound to a certificate: %x", got.CertSHA256)
	}
	// A token obtained by mutual TLS keeps the certificate's SHA-256
	// (RFC 8705 section 3).
	bound := &store.Token{Hash: randomBytes(t, 32), Kind: "client", Subject: "portal", Scope: "service",
		ExpiresAt: now.Add(time.Hour), CertSHA256: randomBytes(t, 32)}
	noErr(t, "PutToken bound", s.PutToken(ctx, bound))
	gotBound, err := s.GetToken(ctx, bound.Hash, now)
	noErr(t, "GetToken bound", err)
	if !bytes.Equal(gotBound.CertSHA256, bound.CertSHA256) {
		t.Fatalf("GetToken bound: certificate hash %x, want %x", gotBound.CertSHA256, bound.CertSHA256)
	}

	noErr(t, "DeleteToken", s.DeleteToken(ctx, tok.Hash))
	_, err = s.GetToken(ctx, tok.Hash, now)
	wantErr(t, "GetToken deleted", err, store.ErrNotFound)
	noErr(t, "DeleteToken again", s.DeleteToken(ctx, tok.Hash))
	if _, err := s.GetToken(ctx, other.Hash, now); err != nil {
		t.Fatalf("deleting one token removed another: %v", err)
	}
	// A zero now is the store's clock.
	old := &store.Token{Hash: randomBytes(t, 32), Kind: "owner", Subject: "owner-1", ExpiresAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	noErr(t, "PutToken expired", s.PutToken(ctx, old))
	_, err = s.GetToken(ctx, old.Hash, time.Time{})
	wantErr(t, "GetToken zero now", err, store.ErrNotFound)

	for _, tc := range []struct {
		name string
		tok  *store.Token
	}{
		{"nil", nil},
		{"no hash", &store.Token{Kind: "client", Subject: "a", ExpiresAt: now}},
		{"hash over 64 bytes", &store.Token{Hash: make([]byte, 65), Kind: "client", Subject: "a", ExpiresAt: now}},
		{"bad kind", &store.Token{Hash: randomBytes(t, 32), Kind: "admin", Subject: "a", ExpiresAt: now}},
		{"no subject", &store.Token{Hash: randomBytes(t, 32), Kind: "client", ExpiresAt: now}},
		{"no expiry", &store.Token{Hash: randomBytes(t, 32), Kind: "client", Subject: "a"}},
		{"scope over 1024", &store.Token{Hash: randomBytes(t, 32), Kind: "client", Subject: "a", Scope: strings.Repeat("s", 1025), ExpiresAt: now}},
		{"certificate hash 31 bytes", &store.Token{Hash: randomBytes(t, 32), Kind: "client", Subject: "a", ExpiresAt: now, CertSHA256: make([]byte, 31)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "PutToken", s.PutToken(ctx, tc.tok), store.ErrInvalid)
		})
	}
	_, err = s.GetToken(ctx, nil, now)
	wantErr(t, "GetToken no hash", err, store.ErrInvalid)
	wantErr(t, "DeleteToken no hash", s.DeleteToken(ctx, nil), store.ErrInvalid)
}

// claimIDs claims webhooks and returns their IDs, comma-separated.
func claimIDs(t testing.TB, s store.Signing, now time.Time, lease time.Duration, limit int) ([]*store.Webhook, string) {
	t.Helper()
	ws, err := s.ClaimWebhooks(context.Background(), now, lease, limit)
	noErr(t, "ClaimWebhooks", err)
	var ids []string
	for _, w := range ws {
		ids = append(ids, fmt.Sprint(w.ID))
	}
	return ws, strings.Join(ids, ",")
}

func ids(ws ...*store.Webhook) string {
	var out []string
	for _, w := range ws {
		out = append(out, fmt.Sprint(w.ID))
	}
	return strings.Join(out, ",")
}

func testWebhook(t *testing.T, s store.Signing) {
	ctx := context.Background()
	c := putClient(t, s)
	enqueue := func(next time.Time) *store.Webhook {
		t.Helper()
		w := &store.Webhook{ClientID: c.ID, URL: c.WebhookURL, Body: []byte(`{"transaction":"` + newID(t, "tx") + `","status":"signed"}`), NextAttempt: next,
			Trace: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
		noErr(t, "EnqueueWebhook", s.EnqueueWebhook(ctx, w))
		if w.ID < 1 {
			t.Fatalf("EnqueueWebhook set ID %d", w.ID)
		}
		return w
	}
	backlog := func() int64 {
		t.Helper()
		n, err := s.CountUndelivered(ctx)
		noErr(t, "CountUndelivered", err)
		return n
	}
	base := backlog()
	// A zero NextAttempt is due now, by the store's clock.
	w0 := enqueue(time.Time{})
	if n := backlog(); n != base+1 {
		t.Fatalf("CountUndelivered = %d after one was queued, want %d", n, base+1)
	}
	ws, got := claimIDs(t, s, time.Now().Add(time.Second), time.Minute, 10)
	if got != ids(w0) {
		t.Fatalf("claimed %s, want %s", got, ids(w0))
	}
	if w := ws[0]; w.ClientID != c.ID || w.URL != c.WebhookURL || !bytes.Equal(w.Body, w0.Body) || w.Attempts != 0 || w.LastError != "" || w.Trace != w0.Trace {
		t.Fatalf("claimed %+v, want %+v", w, w0)
	}
	noErr(t, "FinishWebhook delivered", s.FinishWebhook(ctx, w0.ID, true, time.Time{}, ""))
	wantErr(t, "FinishWebhook delivered again", s.FinishWebhook(ctx, w0.ID, true, time.Time{}, ""), store.ErrConflict)

	t0 := time.Now().UTC().Truncate(time.Microsecond).Add(time.Hour)
	w1, w2, w3 := enqueue(t0.Add(-time.Minute)), enqueue(t0), enqueue(t0.Add(time.Minute))
	if !(w0.ID < w1.ID && w1.ID < w2.ID && w2.ID < w3.ID) {
		t.Fatalf("webhook IDs %d, %d, %d, %d not increasing", w0.ID, w1.ID, w2.ID, w3.ID)
	}
	if _, got := claimIDs(t, s, t0.Add(-2*time.Minute), time.Minute, 10); got != "" {
		t.Fatalf("claimed %s before anything was due", got)
	}
	const lease = 30 * time.Second
	ws, got = claimIDs(t, s, t0, lease, 10)
	if got != ids(w1, w2) {
		t.Fatalf("claimed %s at t0, want %s (due at or before now)", got, ids(w1, w2))
	}
	for _, w := range ws {
		sameTime(t, "claimed NextAttempt", w.NextAttempt, t0.Add(lease))
	}
	if _, got := claimIDs(t, s, t0, lease, 10); got != "" {
		t.Fatalf("claimed %s again while leased", got)
	}
	// A replica that claimed and never finished: the lease runs out.
	if _, got := claimIDs(t, s, t0.Add(lease+time.Second), lease, 10); got != ids(w1, w2) {
		t.Fatalf("claimed %s after the lease, want %s", got, ids(w1, w2))
	}
	noErr(t, "FinishWebhook w1 delivered", s.FinishWebhook(ctx, w1.ID, true, time.Time{}, ""))
	noErr(t, "FinishWebhook w2 failed", s.FinishWebhook(ctx, w2.ID, false, t0.Add(5*time.Minute), "HTTP 503"))
	if _, got := claimIDs(t, s, t0.Add(2*time.Minute), lease, 10); got != ids(w3) {
		t.Fatalf("claimed %s at t0+2m, want %s", got, ids(w3))
	}
	noErr(t, "FinishWebhook w3 given up", s.FinishWebhook(ctx, w3.ID, false, time.Time{}, "HTTP 410"))
	if n := backlog(); n != base+1 {
		t.Fatalf("CountUndelivered = %d with one delivered, one given up and one to retry (and one delivered before), want %d", n, base+1)
	}
	ws, got = claimIDs(t, s, t0.Add(5*time.Minute), lease, 10)
	if got != ids(w2) || ws[0].Attempts != 1 || ws[0].LastError != "HTTP 503" {
		t.Fatalf("claimed %s (%+v) at the retry time, want %s with 1 attempt and its error", got, ws, ids(w2))
	}
	// Delivered and given-up webhooks are never due again.
	if _, got := claimIDs(t, s, t0.Add(24*time.Hour), lease, 10); got != ids(w2) {
		t.Fatalf("claimed %s a day later, want %s alone", got, ids(w2))
	}

	// The limit takes the earliest due first.
	var more []*store.Webhook
	for i := 0; i < 4; i++ {
		more = append(more, enqueue(t0.Add(time.Duration(4-i)*time.Second)))
	}
	if _, got := claimIDs(t, s, t0.Add(48*time.Hour), time.Hour, 2); got != ids(more[3], more[2]) && got != ids(more[2], more[3]) {
		t.Fatalf("claimed %s with limit 2, want the two due first: %s", got, ids(more[2], more[3]))
	}
	if _, got := claimIDs(t, s, t0.Add(48*time.Hour), time.Hour, 1000); got != ids(w2, more[0], more[1]) {
		t.Fatalf("claimed %s, want the rest in ID order: %s", got, ids(w2, more[0], more[1]))
	}

	wantErr(t, "FinishWebhook unknown", s.FinishWebhook(ctx, more[3].ID+1000, true, time.Time{}, ""), store.ErrNotFound)
	wantErr(t, "FinishWebhook ID 0", s.FinishWebhook(ctx, 0, true, time.Time{}, ""), store.ErrInvalid)
	wantErr(t, "FinishWebhook long error", s.FinishWebhook(ctx, w2.ID, false, t0, strings.Repeat("e", 4097)), store.ErrInvalid)
	wantErr(t, "EnqueueWebhook with a trace over 128 bytes", s.EnqueueWebhook(ctx, &store.Webhook{ClientID: c.ID, URL: "https://x.example/", Body: []byte("{}"),
		Trace: strings.Repeat("0", 129)}), store.ErrInvalid)
	wantErr(t, "EnqueueWebhook unknown client", s.EnqueueWebhook(ctx, &store.Webhook{ClientID: "nobody", URL: "https://x.example/", Body: []byte("{}")}), store.ErrNotFound)
	for _, tc := range []struct {
		name  string
		lease time.Duration
		limit int
	}{
		{"lease 0", 0, 10}, {"negative lease", -time.Second, 10}, {"limit 0", time.Minute, 0}, {"limit 1001", time.Minute, 1001},
	} {
		_, err := s.ClaimWebhooks(ctx, t0, tc.lease, tc.limit)
		wantErr(t, "ClaimWebhooks "+tc.name, err, store.ErrInvalid)
	}
}

// testSigningTimes: every time goes in in any zone, with nanoseconds, and
// comes out in UTC to the microsecond.
func testSigningTimes(t *testing.T, s store.Signing) {
	ctx := context.Background()
	hcm := time.FixedZone("ICT", 7*3600)
	at := func(min int) time.Time { return time.Date(2026, 3, 4, 5, min, 7, 123456789, hcm) }

	c := &store.Client{ID: "portal", Name: "p", CreatedAt: at(1)}
	noErr(t, "PutClient", s.PutClient(ctx, c))
	gc, err := s.GetClient(ctx, c.ID)
	noErr(t, "GetClient", err)
	sameTime(t, "client CreatedAt", gc.CreatedAt, at(1))

	o := newOwner(t)
	o.CreatedAt, o.LockedUntil = at(2), at(3)
	noErr(t, "PutOwner", s.PutOwner(ctx, o))
	gotOwner, err := s.GetOwner(ctx, o.ID)
	noErr(t, "GetOwner", err)
	sameTime(t, "owner CreatedAt", gotOwner.CreatedAt, at(2))
	sameTime(t, "owner LockedUntil", gotOwner.LockedUntil, at(3))
	// Durations with nanoseconds too: truncated, never rounded.
	noErr(t, "ReleaseAttempts", s.ReleaseAttempts(ctx, o.ID))
	locked, err := s.ReserveAttempt(ctx, o.ID, 1, time.Minute+999, at(4))
	noErr(t, "ReserveAttempt", err)
	sameTime(t, "LockedUntil after the last attempt", locked.LockedUntil, at(5).Add(999))

	cr := newCredential(t, o.ID)
	cr.CreatedAt = at(6)
	noErr(t, "PutCredential", s.PutCredential(ctx, cr))
	gotCred, err := s.GetCredential(ctx, cr.ID)
	noErr(t, "GetCredential", err)
	sameTime(t, "credential CreatedAt", gotCred.CreatedAt, at(6))

	g := signer{c, o, cr}
	tx := g.newTx(t)
	tx.CreatedAt, tx.UpdatedAt, tx.ExpiresAt = at(7), at(8), at(9)
	created, _, err := s.CreateTransaction(ctx, tx)
	noErr(t, "CreateTransaction", err)
	gotTx, err := s.GetTransaction(ctx, tx.ID)
	noErr(t, "GetTransaction", err)
	for _, tx := range []*store.Transaction{created, gotTx} {
		sameTime(t, "transaction CreatedAt", tx.CreatedAt, at(7))
		sameTime(t, "transaction UpdatedAt", tx.UpdatedAt, at(8))
		sameTime(t, "transaction ExpiresAt", tx.ExpiresAt, at(9))
	}
	noErr(t, "UpdateTransaction", s.UpdateTransaction(ctx, &store.Transaction{ID: tx.ID, Status: store.TxApproved, UpdatedAt: at(10)}, store.TxPending))
	gotTx, err = s.GetTransaction(ctx, tx.ID)
	noErr(t, "GetTransaction", err)
	sameTime(t, "transaction UpdatedAt after update", gotTx.UpdatedAt, at(10))

	a := newActivation(t, cr.ID, 1, 1, at(11))
	a.CreatedAt = at(12)
	noErr(t, "PutActivation", s.PutActivation(ctx, a))
	gotAct, err := s.GetActivation(ctx, a.SADHash)
	noErr(t, "GetActivation", err)
	sameTime(t, "activation ExpiresAt", gotAct.ExpiresAt, at(11))
	sameTime(t, "activation CreatedAt", gotAct.CreatedAt, at(12))

	tok := &store.Token{Hash: randomBytes(t, 32), Kind: "owner", Subject: o.ID, ExpiresAt: at(13)}
	noErr(t, "PutToken", s.PutToken(ctx, tok))
	gotTok, err := s.GetToken(ctx, tok.Hash, at(0))
	noErr(t, "GetToken", err)
	sameTime(t, "token ExpiresAt", gotTok.ExpiresAt, at(13))

	w := &store.Webhook{ClientID: c.ID, URL: "https://p.example/", Body: []byte("{}"), NextAttempt: at(14)}
	noErr(t, "EnqueueWebhook", s.EnqueueWebhook(ctx, w))
	ws, err := s.ClaimWebhooks(ctx, at(14), 90*time.Second+999, 1)
	noErr(t, "ClaimWebhooks", err)
	if len(ws) != 1 {
		t.Fatalf("ClaimWebhooks at the due time: %d webhooks, want 1", len(ws))
	}
	sameTime(t, "webhook lease", ws[0].NextAttempt, at(14).Add(90*time.Second+999))
	// The lease ends when the result said: not due a microsecond before.
	if ws, err := s.ClaimWebhooks(ctx, ws[0].NextAttempt.Add(-time.Microsecond), time.Minute, 1); err != nil || len(ws) != 0 {
		t.Fatalf("ClaimWebhooks before the lease ends = %d, %v; want none", len(ws), err)
	}
	if ws, err := s.ClaimWebhooks(ctx, at(14).Add(90*time.Second+999), time.Minute, 1); err != nil || len(ws) != 1 {
		t.Fatalf("ClaimWebhooks when the lease ends = %d, %v; want 1", len(ws), err)
	}
}

func testSigningBounds(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g := putSigner(t, s)
	long := func(n int) string { return strings.Repeat("x", n) }
	create := func(change func(tx *store.Transaction)) func() error {
		return func() error {
			tx := g.newTx(t)
			change(tx)
			_, _, err := s.CreateTransaction(ctx, tx)
			return err
		}
	}
	owner := func(change func(o *store.Owner)) func() error {
		return func() error {
			o := newOwner(t)
			change(o)
			return s.PutOwner(ctx, o)
		}
	}
	credential := func(change func(c *store.Credential)) func() error {
		return func() error {
			c := newCredential(t, g.owner.ID)
			change(c)
			return s.PutCredential(ctx, c)
		}
	}
	webhook := func(change func(w *store.Webhook)) func() error {
		return func() error {
			w := &store.Webhook{ClientID: g.client.ID, URL: "https://p.example/", Body: []byte("{}")}
			change(w)
			return s.EnqueueWebhook(ctx, w)
		}
	}
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"client nil", func() error { return s.PutClient(ctx, nil) }},
		{"client no ID", func() error { return s.PutClient(ctx, &store.Client{Name: "n"}) }},
		{"client ID over 128", func() error { return s.PutClient(ctx, &store.Client{ID: long(129), Name: "n"}) }},
		{"client ID NUL", func() error { return s.PutClient(ctx, &store.Client{ID: "a\x00b", Name: "n"}) }},
		{"client ID bad UTF-8", func() error { return s.PutClient(ctx, &store.Client{ID: "a\xffb", Name: "n"}) }},
		{"client no name", func() error { return s.PutClient(ctx, &store.Client{ID: "c"}) }},
		{"client webhook secret over 1024", func() error {
			return s.PutClient(ctx, &store.Client{ID: "c", Name: "n", WebhookSecret: make([]byte, 1025)})
		}},
		{"client webhook URL over 2048", func() error { return s.PutClient(ctx, &store.Client{ID: "c", Name: "n", WebhookURL: long(2049)}) }},
		{"owner nil", func() error { return s.PutOwner(ctx, nil) }},
		{"owner no national ID", owner(func(o *store.Owner) { o.NationalID = "" })},
		{"owner national ID over 64", owner(func(o *store.Owner) { o.NationalID = long(65) })},
		{"owner no name", owner(func(o *store.Owner) { o.Name = "" })},
		{"owner email over 254", owner(func(o *store.Owner) { o.Email = long(255) })},
		{"owner negative failures", owner(func(o *store.Owner) { o.PINFailures = -1 })},
		{"owner negative TOTP step", owner(func(o *store.Owner) { o.TOTPLastStep = -1 })},
		{"owner TOTP secret over 1024", owner(func(o *store.Owner) { o.TOTPSecret = make([]byte, 1025) })},
		{"credential nil", func() error { return s.PutCredential(ctx, nil) }},
		{"credential no key URI", credential(func(c *store.Credential) { c.KeyURI = "" })},
		{"credential no algorithm", credential(func(c *store.Credential) { c.Algorithm = "" })},
		{"credential bad status", credential(func(c *store.Credential) { c.Status = "revoked" })},
		{"credential serial leading zero", credential(func(c *store.Credential) { c.CertSerial = []byte{0, 1} })},
		{"credential serial without issuer", credential(func(c *store.Credential) { c.CertIssuer = "" })},
		{"credential wrapped key over 16 KiB", credential(func(c *store.Credential) { c.WrappedKey = make([]byte, 16<<10+1) })},
		{"transaction nil", func() error { _, _, err := s.CreateTransaction(ctx, nil); return err }},
		{"transaction no ID", create(func(tx *store.Transaction) { tx.ID = "" })},
		{"transaction ID over 128", create(func(tx *store.Transaction) { tx.ID = long(129) })},
		{"transaction no client reference", create(func(tx *store.Transaction) { tx.ClientRef = "" })},
		{"transaction client reference over 128", create(func(tx *store.Transaction) { tx.ClientRef = long(129) })},
		{"transaction description over 500 characters", create(func(tx *store.Transaction) { tx.Description = strings.Repeat("ễ", 501) })},
		{"transaction description NUL", create(func(tx *store.Transaction) { tx.Description = "a\x00" })},
		{"transaction no documents", create(func(tx *store.Transaction) { tx.Documents = nil })},
		{"transaction documents not JSON", create(func(tx *store.Transaction) { tx.Documents = []byte(`[{"id":`) })},
		{"transaction documents not a list", create(func(tx *store.Transaction) { tx.Documents = []byte(`{"id":"doc-1"}`) })},
		{"transaction documents over 64 MiB", create(func(tx *store.Transaction) {
			tx.Documents = make([]byte, 64<<20+1)
			tx.Documents[0] = '['
		})},
		{"transaction bad status", create(func(tx *store.Transaction) { tx.Status = "done" })},
		{"transaction result not JSON", create(func(tx *store.Transaction) { tx.Result = []byte("MIIB") })},
		{"transaction error over 4096", create(func(tx *store.Transaction) { tx.Error = long(4097) })},
		{"transaction no expiry", create(func(tx *store.Transaction) { tx.ExpiresAt = time.Time{} })},
		{"webhook nil", func() error { return s.EnqueueWebhook(ctx, nil) }},
		{"webhook no URL", webhook(func(w *store.Webhook) { w.URL = "" })},
		{"webhook no body", webhook(func(w *store.Webhook) { w.Body = nil })},
		{"webhook body over 1 MiB", webhook(func(w *store.Webhook) { w.Body = make([]byte, 1<<20+1) })},
		{"webhook no client", webhook(func(w *store.Webhook) { w.ClientID = "" })},
		{"webhook negative attempts", webhook(func(w *store.Webhook) { w.Attempts = -1 })},
		{"TOTP step no owner", func() error { return s.UseTOTPStep(ctx, "", 1) }},
		{"attempt owner over 128", func() error {
			_, err := s.ReserveAttempt(ctx, long(129), 3, time.Minute, time.Now())
			return err
		}},
		{"attempt limit over 1000", func() error {
			_, err := s.ReserveAttempt(ctx, g.owner.ID, 1001, time.Minute, time.Now())
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name, tc.do(), store.ErrInvalid)
		})
	}
	// Nothing refused was stored.
	if txs, err := s.ListTransactions(ctx, nil); err != nil || len(txs) != 0 {
		t.Fatalf("refused transactions stored: %d, %v", len(txs), err)
	}
	if ws, err := s.ClaimWebhooks(ctx, time.Now().Add(time.Hour), time.Minute, 1000); err != nil || len(ws) != 0 {
		t.Fatalf("refused webhooks stored: %d, %v", len(ws), err)
	}
	if cs, err := s.ListCredentials(ctx, g.owner.ID); err != nil || len(cs) != 1 {
		t.Fatalf("refused credentials stored: %d, %v", len(cs), err)
	}
	// At the bounds, accepted.
	noErr(t, "client ID of 128", s.PutClient(ctx, &store.Client{ID: long(128), Name: "n", WebhookSecret: make([]byte, 1024)}))
	tx := g.newTx(t)
	tx.ID, tx.ClientRef, tx.Error = long(128), long(128), long(4096)
	_, _, err := s.CreateTransaction(ctx, tx)
	noErr(t, "transaction at the bounds", err)
	noErr(t, "webhook body of 1 MiB", s.EnqueueWebhook(ctx, &store.Webhook{ClientID: g.client.ID, URL: "https://p.example/", Body: make([]byte, 1<<20)}))
}

// testConcurrentTOTPStep: many requests presenting the same code at once,
// as a phished code replayed in parallel would be; one is accepted.
func testConcurrentTOTPStep(t *testing.T, s store.Signing) {
	ctx := context.Background()
	o := putOwner(t, s)
	for round := int64(1); round <= 5; round++ {
		step := 59000000 + round
		won := count(t, "UseTOTPStep", race(20, func(int) error { return s.UseTOTPStep(ctx, o.ID, step) }), store.ErrReplay)
		if won != 1 {
			t.Fatalf("round %d: %d goroutines used step %d, want exactly 1", round, won, step)
		}
	}
	// Different steps at once: the largest always ends last.
	errs := race(20, func(i int) error { return s.UseTOTPStep(ctx, o.ID, 59000100+int64(i)) })
	if won := count(t, "UseTOTPStep distinct steps", errs, store.ErrReplay); won < 1 {
		t.Fatal("no distinct step was accepted")
	}
	if errs[19] != nil {
		t.Fatalf("the largest step was refused: %v", errs[19])
	}
	got, err := s.GetOwner(ctx, o.ID)
	noErr(t, "GetOwner", err)
	if got.TOTPLastStep != 59000119 {
		t.Fatalf("TOTPLastStep = %d, want 59000119", got.TOTPLastStep)
	}
}

// testConcurrentUseActivation: activation data approved for k uses is used
// k times, however many signing requests present it at once.
func testConcurrentUseActivation(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g := putSigner(t, s)
	now := time.Now()
	for _, tc := range []struct{ uses, n, want, left int }{
		{5, 1, 5, 0},
		{7, 2, 3, 1},
		{1, 1, 1, 0},
	} {
		a := newActivation(t, g.cred.ID, tc.uses, tc.uses, now.Add(time.Minute))
		noErr(t, "PutActivation", s.PutActivation(ctx, a))
		won := count(t, "UseActivation", race(20, func(int) error { return s.UseActivation(ctx, a.SADHash, tc.n, now) }), store.ErrReplay)
		if won != tc.want {
			t.Fatalf("%d goroutines took %d of %d uses, want exactly %d", won, tc.n, tc.uses, tc.want)
		}
		got, err := s.GetActivation(ctx, a.SADHash)
		noErr(t, "GetActivation", err)
		if got.Remaining != tc.left {
			t.Fatalf("Remaining after the race = %d, want %d", got.Remaining, tc.left)
		}
	}
}

// testConcurrentCreateTransaction: a relying party retrying a submission
// in parallel (a timeout, a double click, two replicas of its portal) gets
// one transaction.
func testConcurrentCreateTransaction(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g := putSigner(t, s)
	for round := 0; round < 3; round++ {
		ref := newID(t, "ref")
		txs := make([]*store.Transaction, 20)
		got := make([]*store.Transaction, 20)
		created := make([]bool, 20)
		for i := range txs {
			txs[i] = g.newTx(t)
			txs[i].ClientRef = ref
		}
		errs := race(20, func(i int) error {
			var err error
			got[i], created[i], err = s.CreateTransaction(ctx, txs[i])
			return err
		})
		winner := -1
		for i, err := range errs {
			noErr(t, "CreateTransaction", err)
			if created[i] {
				if winner >= 0 {
					t.Fatalf("goroutines %d and %d both created reference %s", winner, i, ref)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("no goroutine created reference %s", ref)
		}
		for i := range got {
			if got[i].ID != txs[winner].ID || got[i].ClientRef != ref || !bytes.Equal(got[i].Documents, txs[winner].Documents) {
				t.Fatalf("goroutine %d got transaction %s, want the winner's %s", i, got[i].ID, txs[winner].ID)
			}
		}
	}
	list, err := s.ListTransactions(ctx, &store.TransactionFilter{ClientID: g.client.ID})
	noErr(t, "ListTransactions", err)
	if len(list) != 3 {
		t.Fatalf("%d transactions stored for 3 references", len(list))
	}
}

// testConcurrentUpdateTransaction: approvals, rejections and signings
// racing on one transaction; it changes state once.
func testConcurrentUpdateTransaction(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g := putSigner(t, s)
	for round := 0; round < 3; round++ {
		tx := g.createTx(t, s)
		won := count(t, "UpdateTransaction", race(10, func(int) error {
			return s.UpdateTransaction(ctx, &store.Transaction{ID: tx.ID, Status: store.TxApproved}, store.TxPending)
		}), store.ErrConflict)
		if won != 1 {
			t.Fatalf("%d goroutines approved transaction %s, want exactly 1", won, tx.ID)
		}
	}
	// Half approve, half reject: one wins, and the status is its.
	tx := g.createTx(t, s)
	targets := []store.TransactionStatus{store.TxApproved, store.TxRejected}
	errs := race(10, func(i int) error {
		return s.UpdateTransaction(ctx, &store.Transaction{ID: tx.ID, Status: targets[i%2]}, store.TxPending)
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("goroutines %d and %d both moved %s from pending", winner, i, tx.ID)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("UpdateTransaction: %v, want nil or ErrConflict", err)
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine moved the transaction from pending")
	}
	got, err := s.GetTransaction(ctx, tx.ID)
	noErr(t, "GetTransaction", err)
	if got.Status != targets[winner%2] {
		t.Fatalf("status = %s, want the winner's %s", got.Status, targets[winner%2])
	}
}

// testConcurrentClaimWebhooks: replicas draining the outbox at once each
// get their own rows; every due webhook is claimed exactly once.
func testConcurrentClaimWebhooks(t *testing.T, s store.Signing) {
	ctx := context.Background()
	c := putClient(t, s)
	now := time.Now().UTC().Add(time.Hour)
	for _, claimers := range []int{2, 4} {
		want := map[int64]bool{}
		for i := 0; i < 50; i++ {
			w := &store.Webhook{ClientID: c.ID, URL: c.WebhookURL, Body: []byte(fmt.Sprintf(`{"n":%d}`, i)),
				NextAttempt: now.Add(-time.Duration(i) * time.Millisecond)}
			noErr(t, "EnqueueWebhook", s.EnqueueWebhook(ctx, w))
			want[w.ID] = true
		}
		got := make([][]int64, claimers)
		errs := race(claimers, func(i int) error {
			for {
				ws, err := s.ClaimWebhooks(ctx, now, time.Hour, 5)
				if err != nil || len(ws) == 0 {
					return err
				}
				for _, w := range ws {
					got[i] = append(got[i], w.ID)
				}
			}
		})
		claimed := map[int64]int{}
		for i, err := range errs {
			noErr(t, "ClaimWebhooks", err)
			for _, id := range got[i] {
				if claimed[id]++; claimed[id] > 1 {
					t.Fatalf("%d claimers: webhook %d claimed twice", claimers, id)
				}
				if !want[id] {
					t.Fatalf("%d claimers: claimed webhook %d, not one of this round's", claimers, id)
				}
			}
		}
		if len(claimed) != len(want) {
			t.Fatalf("%d claimers claimed %d webhooks, want all %d", claimers, len(claimed), len(want))
		}
		busy := 0
		for _, mine := range got {
			if len(mine) > 0 {
				busy++
			}
		}
		t.Logf("%d claimers: %d claimed some", claimers, busy)
		if ws, err := s.ClaimWebhooks(ctx, now, time.Hour, 1000); err != nil || len(ws) != 0 {
			t.Fatalf("after the race: %d webhooks still due, %v", len(ws), err)
		}
	}
}

// testConcurrentAttempts: guesses sent all at once (to several replicas)
// are reserved one by one: at most the limit are granted in each lock
// period, every granted one is counted, and the owner ends locked.
func testConcurrentAttempts(t *testing.T, s store.Signing) {
	ctx := context.Background()
	o := putOwner(t, s)
	now := time.Now()
	const n, limit, lockFor = 150, 5, time.Minute
	for round := range 2 {
		at := now.Add(time.Duration(round) * lockFor)
		attempts := make([]*store.Attempt, n)
		noErr(t, "race", errors.Join(race(n, func(i int) error {
			var err error
			attempts[i], err = s.ReserveAttempt(ctx, o.ID, limit, lockFor, at)
			return err
		})...))
		granted, counts := 0, map[int]bool{}
		for _, a := range attempts {
			if a.Granted {
				granted++
				counts[a.Count] = true
			}
			if !a.LockedUntil.IsZero() && !a.LockedUntil.After(at) {
				t.Fatalf("round %d: lock %v not in force", round, a.LockedUntil)
			}
		}
		if granted != limit || len(counts) != limit {
			t.Fatalf("round %d: %d of %d concurrent attempts granted with counts %v, want %d with distinct counts", round, granted, n, counts, limit)
		}
		got, err := s.GetOwner(ctx, o.ID)
		noErr(t, "GetOwner", err)
		if got.PINFailures != limit || !got.LockedUntil.After(at) {
			t.Fatalf("round %d: owner after the race: %d attempts, locked until %v; want %d and locked", round, got.PINFailures, got.LockedUntil, limit)
		}
		t.Logf("round %d: %d concurrent reservations, %d granted, locked until %v", round, n, granted, got.LockedUntil)
	}
}

// testConcurrentPutOwner: enrolling one national ID twice at once, at two
// officers' desks, makes one owner.
func testConcurrentPutOwner(t *testing.T, s store.Signing) {
	ctx := context.Background()
	nid := "CCCD:079203001234"
	won := count(t, "PutOwner", race(20, func(int) error {
		o := newOwner(t)
		o.NationalID = nid
		return s.PutOwner(ctx, o)
	}), store.ErrExists)
	if won != 1 {
		t.Fatalf("%d owners stored for national ID %s, want exactly 1", won, nid)
	}
	if _, err := s.GetOwnerByNationalID(ctx, nid); err != nil {
		t.Fatalf("GetOwnerByNationalID: %v", err)
	}
}

// testTransactionLookups: a client's transaction by its own reference,
// and the overdue sweep, longest overdue first, pending only.
func testTransactionLookups(t *testing.T, s store.Signing) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	g := putSigner(t, s)
	var txs []*store.Transaction
	for _, exp := range []time.Duration{-time.Minute, -time.Hour, time.Hour, -2 * time.Hour} {
		tx := g.newTx(t)
		tx.ExpiresAt = now.Add(exp)
		got, _, err := s.CreateTransaction(ctx, tx)
		noErr(t, "CreateTransaction", err)
		txs = append(txs, got)
	}
	got, err := s.GetTransactionByRef(ctx, g.client.ID, txs[2].ClientRef)
	if err != nil || got.ID != txs[2].ID {
		t.Fatalf("GetTransactionByRef: %v %+v", err, got)
	}
	other := putClient(t, s)
	if _, err := s.GetTransactionByRef(ctx, other.ID, txs[2].ClientRef); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another client's reference: %v", err)
	}
	done := *txs[3]
	done.Status, done.UpdatedAt = store.TxRejected, now
	noErr(t, "UpdateTransaction", s.UpdateTransaction(ctx, &done, store.TxPending))
	over, err := s.ListOverdue(ctx, now, 10)
	noErr(t, "ListOverdue", err)
	var ids []string
	for _, o := range over {
		ids = append(ids, o.ID)
	}
	if want := []string{txs[1].ID, txs[0].ID}; strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("ListOverdue = %v, want %v (longest overdue first, pending only)", ids, want)
	}
	if _, err := s.ListOverdue(ctx, now, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("limit 0: %v", err)
	}
}

// testClientCert: a client bound to a TLS certificate is found by its
// fingerprint; a fingerprint is bound to one client.
func testClientCert(t *testing.T, s store.Signing) {
	ctx := context.Background()
	fp := randomBytes(t, 32)
	c := &store.Client{ID: newID(t, "mtls"), Name: "Cổng mTLS", SecretHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", CertSHA256: fp}
	noErr(t, "PutClient", s.PutClient(ctx, c))
	got, err := s.GetClientByCert(ctx, fp)
	if err != nil || got.ID != c.ID || !bytes.Equal(got.CertSHA256, fp) {
		t.Fatalf("GetClientByCert: %v %+v", err, got)
	}
	if _, err := s.GetClientByCert(ctx, randomBytes(t, 32)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown fingerprint: %v", err)
	}
	if _, err := s.GetClientByCert(ctx, []byte{1}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a short fingerprint: %v", err)
	}
	dup := &store.Client{ID: newID(t, "mtls"), Name: "Another", SecretHash: c.SecretHash, CertSHA256: fp}
	if err := s.PutClient(ctx, dup); err == nil {
		t.Error("two clients bound to one certificate")
	}
	plain := putClient(t, s)
	if got, err := s.GetClient(ctx, plain.ID); err != nil || got.CertSHA256 != nil || got.Role != store.RoleRelyingParty {
		t.Errorf("a client without a certificate or role: %v %x %q", err, got.CertSHA256, got.Role)
	}
	officer := &store.Client{ID: newID(t, "officer"), Name: "Công an phường", SecretHash: c.SecretHash, Role: store.RoleOfficer}
	noErr(t, "PutClient", s.PutClient(ctx, officer))
	if got, err := s.GetClient(ctx, officer.ID); err != nil || got.Role != store.RoleOfficer {
		t.Errorf("an officer's client: %v %+v", err, got)
	}
	if err := s.PutClient(ctx, &store.Client{ID: newID(t, "x"), Name: "x", Role: "admin"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("an unknown role: %v", err)
	}
}

// testAuthCode: a client's redirect URIs come back in order; an
// authorisation code is taken once, whoever asks at the same time; an
// expired one is taken by nobody; a code of an unknown client is refused.
func testAuthCode(t *testing.T, s store.Signing) {
	ctx := context.Background()
	uris := []string{"https://portal.example/cb", "http://127.0.0.1:8080/cb?x=1"}
	c := &store.Client{ID: newID(t, "portal"), Name: "Cổng", RedirectURIs: uris}
	noErr(t, "PutClient", s.PutClient(ctx, c))
	got, err := s.GetClient(ctx, c.ID)
	noErr(t, "GetClient", err)
	if strings.Join(got.RedirectURIs, " ") != strings.Join(uris, " ") {
		t.Fatalf("RedirectURIs = %q, want %q", got.RedirectURIs, uris)
	}
	if plain := putClient(t, s); plain.RedirectURIs != nil {
		t.Fatalf("a client with no redirect URI reads %q", plain.RedirectURIs)
	} else if got, _ := s.GetClient(ctx, plain.ID); got.RedirectURIs != nil {
		t.Fatalf("a client with no redirect URI reads back %q", got.RedirectURIs)
	}
	wantErr(t, "PutClient with a line break in a URI", s.PutClient(ctx, &store.Client{ID: newID(t, "portal"), Name: "x",
		RedirectURIs: []string{"https://a.example/\nhttps://b.example/"}}), store.ErrInvalid)

	now := time.Now()
	code := &store.AuthCode{Hash: randomBytes(t, 32), ClientID: c.ID, Request: []byte(`{"scope":"service"}`), ExpiresAt: now.Add(time.Minute)}
	noErr(t, "PutAuthCode", s.PutAuthCode(ctx, code, nil))
	wantErr(t, "PutAuthCode again", s.PutAuthCode(ctx, code, nil), store.ErrExists)
	wantErr(t, "PutAuthCode unknown client", s.PutAuthCode(ctx, &store.AuthCode{Hash: randomBytes(t, 32), ClientID: "nobody",
		Request: []byte("{}"), ExpiresAt: now.Add(time.Minute)}, nil), store.ErrNotFound)
	wantErr(t, "PutAuthCode no request", s.PutAuthCode(ctx, &store.AuthCode{Hash: randomBytes(t, 32), ClientID: c.ID,
		ExpiresAt: now.Add(time.Minute)}, nil), store.ErrInvalid)
	var taken atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.TakeAuthCode(ctx, code.Hash, now)
			switch {
			case err == nil:
				taken.Add(1)
				if got.ClientID != c.ID || string(got.Request) != string(code.Request) {
					t.Errorf("TakeAuthCode = %+v, want %+v", got, code)
				}
				sameTime(t, "ExpiresAt", got.ExpiresAt, code.ExpiresAt)
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("concurrent TakeAuthCode: %v", err)
			}
		}()
	}
	wg.Wait()
	if taken.Load() != 1 {
		t.Fatalf("%d of 8 concurrent TakeAuthCode took the code, want 1", taken.Load())
	}
	old := &store.AuthCode{Hash: randomBytes(t, 32), ClientID: c.ID, Request: []byte("{}"), ExpiresAt: now.Add(time.Second)}
	noErr(t, "PutAuthCode", s.PutAuthCode(ctx, old, nil))
	_, err = s.TakeAuthCode(ctx, old.Hash, now.Add(2*time.Second))
	wantErr(t, "TakeAuthCode expired", err, store.ErrNotFound)
	_, err = s.TakeAuthCode(ctx, old.Hash, now)
	wantErr(t, "TakeAuthCode after expiry", err, store.ErrNotFound)
	_, err = s.TakeAuthCode(ctx, []byte("short"), now)
	wantErr(t, "TakeAuthCode short hash", err, store.ErrInvalid)
}
