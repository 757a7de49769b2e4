package signing_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// register registers a new citizen online and returns the request and
// what the citizen was shown.
func (e *env) register(t *testing.T) (*signing.RegisterRequest, *signing.Registered) {
	t.Helper()
	req := &signing.RegisterRequest{CCCD: "0792030" + pad5(cccdSeq.Add(1)), Name: "Trần Thị Bích", Province: "Hồ Chí Minh",
		Ward: "Phường Bến Thành", Phone: "0901 234 567", PIN: "271828", Consent: "Tôi đồng ý", Actor: "app:192.0.2.1"}
	got, err := e.svc.Register(context.Background(), req)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	return req, got
}

// flip changes a secret's first character.
func flip(s string) string {
	if s[0] == 'a' {
		return "b" + s[1:]
	}
	return "a" + s[1:]
}

func (e *env) actions(t *testing.T, subject string) []string {
	t.Helper()
	es, err := e.p.Store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range es {
		if strings.HasPrefix(ev.Action, "registration.") && (subject == "" || ev.Subject == subject) {
			out = append(out, ev.Action+":"+ev.Outcome)
		}
	}
	return out
}

// TestRegistration: a citizen registers online; nothing is enrolled until
// an officer approves with the evidence checked; the approval enrols
// through Enrol (channel online, no staff, the ward and consent time the
// citizen gave, the PIN they chose); the officer never sees the second
// factor; the citizen claims it once with the claim secret (a wrong
// secret, or another registration's, is not found), and logs in with the
// PIN and a code from it. Each move is audited.
func TestRegistration(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	req, reg := e.register(t)
	nid := "CCCD:" + req.CCCD
	if len(reg.ClaimSecret) < 26 || reg.ID == "" || !reg.ExpiresAt.After(e.clock.Now()) {
		t.Fatalf("Registered = %+v", reg)
	}
	if _, err := e.p.Store.GetOwnerByNationalID(ctx, nid); err == nil {
		t.Fatal("an owner exists before the approval")
	}
	list, err := e.svc.Registrations(ctx, "", 0)
	if err != nil || len(list) != 1 || list[0].ID != reg.ID || list[0].PINHash != "" || list[0].ClaimHash != nil || list[0].Ward != req.Ward {
		t.Fatalf("Registrations = %+v, %v", list, err)
	}
	// The claim before the approval is refused, and so is the approval
	// without evidence.
	if _, err := e.svc.ClaimRegistration(ctx, reg.ID, reg.ClaimSecret, "app:x"); !isCode(err, signing.KindConflict) {
		t.Fatalf("claim before approval: %v", err)
	}
	if _, err := e.svc.ApproveRegistration(ctx, &signing.ApproveRegistrationRequest{ID: reg.ID, Actor: "officer:o1"}); !isCode(err, signing.KindInvalid) {
		t.Fatalf("approval without evidence: %v", err)
	}
	e.clock.Advance(time.Hour)
	got, err := e.svc.ApproveRegistration(ctx, &signing.ApproveRegistrationRequest{ID: reg.ID, Actor: "officer:o1",
		EvidenceKind: signing.EvidenceCCCDCard, EvidenceRef: "video call 2026-12-07 #17"})
	if err != nil {
		t.Fatalf("ApproveRegistration: %v", err)
	}
	if got.Status != store.RegistrationApproved || got.CredentialID == "" || got.DecidedBy != "officer:o1" {
		t.Fatalf("approved = %+v", got)
	}
	rec, err := e.svc.EnrolmentRecord(ctx, got.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Channel != store.ChannelOnline || rec.StaffID != "" || rec.Ward != req.Ward || rec.EvidenceKind != signing.EvidenceCCCDCard ||
		!rec.ConsentAt.Equal(list[0].ConsentAt) {
		t.Errorf("enrolment record = %+v", rec)
	}
	// Another registration's secret, and a wrong one, open nothing.
	_, other := e.register(t)
	for _, secret := range []string{other.ClaimSecret, flip(reg.ClaimSecret), ""} {
		if _, err := e.svc.ClaimRegistration(ctx, reg.ID, secret, "app:x"); !isCode(err, signing.KindNotFound) {
			t.Fatalf("claim with secret %q: %v", secret, err)
		}
	}
	// Spaces, dashes and capitals as the citizen may type them are fine.
	typed := strings.ToUpper(reg.ClaimSecret[:4] + " " + reg.ClaimSecret[4:8] + "-" + reg.ClaimSecret[8:])
	c, err := e.svc.ClaimRegistration(ctx, reg.ID, typed, "app:x")
	if err != nil {
		t.Fatalf("ClaimRegistration: %v", err)
	}
	if c.OwnerID != got.OwnerID || !strings.HasPrefix(c.TOTPURI, "otpauth://totp/") {
		t.Fatalf("Claimed = %+v", c)
	}
	if _, err := e.svc.ClaimRegistration(ctx, reg.ID, reg.ClaimSecret, "app:x"); !isCode(err, signing.KindConflict) {
		t.Fatalf("second claim: %v", err)
	}
	code, err := signing.TOTPCode(c.TOTPURI, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.OwnerLogin(ctx, nid, req.PIN, code); err != nil {
		t.Fatalf("login with the chosen PIN and the claimed factor: %v", err)
	}
	// The approval without evidence never began: no event.
	want := "registration.create:ok registration.approve:intent registration.approve:ok registration.claim:ok"
	if got := strings.Join(e.actions(t, nid), " "); got != want {
		t.Errorf("audited %q, want %q", got, want)
	}
	if n := len(e.actions(t, "")); n < 7 { // and the refused claims, the other registration
		t.Errorf("%d registration events, want the refused claims audited too", n)
	}
}

// TestRegistrationRefusals: bad details are refused at once; one open
// registration per CCCD; a refused registration cannot be approved or
// refused again; one left pending past its lifetime expires (audited)
// and cannot be approved; a CCCD enrolled already is refused at the
// approval with Enrol's words, and the registration waits again.
func TestRegistrationRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	good := signing.RegisterRequest{CCCD: "079203099991", Name: "Lê Văn Tám", Province: "Hà Nội", Email: "tam@example.vn",
		PIN: "271828", Consent: "Tôi đồng ý"}
	for name, mod := range map[string]func(r *signing.RegisterRequest){
		"bad CCCD":         func(r *signing.RegisterRequest) { r.CCCD = "12345" },
		"trivial PIN":      func(r *signing.RegisterRequest) { r.PIN = "123456" },
		"merged province":  func(r *signing.RegisterRequest) { r.Province = "Bình Dương" },
		"no contact":       func(r *signing.RegisterRequest) { r.Email = "" },
		"no consent":       func(r *signing.RegisterRequest) { r.Consent = " " },
		"bidi in the ward": func(r *signing.RegisterRequest) { r.Ward = "Phường \u202eA" },
		"long ward":        func(r *signing.RegisterRequest) { r.Ward = strings.Repeat("x", 129) },
	} {
		r := good
		mod(&r)
		if _, err := e.svc.Register(ctx, &r); !isCode(err, signing.KindInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	first, err := e.svc.Register(ctx, &good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Register(ctx, &good); !isCode(err, signing.KindConflict) {
		t.Fatalf("a second open registration of one CCCD: %v", err)
	}
	if _, err := e.svc.RefuseRegistration(ctx, first.ID, "officer:o1", ""); !isCode(err, signing.KindInvalid) {
		t.Fatalf("a refusal without reason: %v", err)
	}
	if _, err := e.svc.RefuseRegistration(ctx, first.ID, "officer:o1", "<b>Ảnh không khớp</b>"); err != nil {
		t.Fatal(err)
	}
	approve := func(id string) error {
		_, err := e.svc.ApproveRegistration(ctx, &signing.ApproveRegistrationRequest{ID: id, Actor: "officer:o2", EvidenceKind: signing.EvidenceVNeID})
		return err
	}
	if err := approve(first.ID); !isCode(err, signing.KindConflict) {
		t.Fatalf("approving a refused registration: %v", err)
	}
	if _, err := e.svc.RefuseRegistration(ctx, first.ID, "officer:o1", "again"); !isCode(err, signing.KindConflict) {
		t.Fatalf("refusing twice: %v", err)
	}
	st, err := e.svc.RegistrationStatus(ctx, first.ID, first.ClaimSecret)
	if err != nil || st.Status != store.RegistrationRefused || st.Reason != "<b>Ảnh không khớp</b>" {
		t.Fatalf("the citizen's view of a refusal: %+v, %v", st, err)
	}
	if err := approve("no-such"); !isCode(err, signing.KindNotFound) {
		t.Fatalf("approving an unknown registration: %v", err)
	}

	// Expiry.
	late, err := e.svc.Register(ctx, &good)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(signing.DefaultRegistrationLifetime + time.Second)
	if list, err := e.svc.Registrations(ctx, "", 0); err != nil || len(list) != 0 {
		t.Fatalf("pending after the lifetime: %+v, %v", list, err)
	}
	if err := approve(late.ID); !isCode(err, signing.KindExpired) {
		t.Fatalf("approving an expired registration: %v", err)
	}
	if acts := strings.Join(e.actions(t, "CCCD:"+good.CCCD), " "); !strings.Contains(acts, "registration.expire:ok") {
		t.Errorf("expiry not audited: %s", acts)
	}

	// Enrolled already: Enrol's refusal, and the registration waits.
	en := e.enrol(t, "")
	dup := good
	dup.CCCD = strings.TrimPrefix(en.NationalID, "CCCD:")
	reg, err := e.svc.Register(ctx, &dup)
	if err != nil {
		t.Fatal(err)
	}
	err = approve(reg.ID)
	if !isCode(err, signing.KindConflict) || !strings.Contains(err.Error(), "already enrolled") {
		t.Fatalf("approving a CCCD enrolled already: %v", err)
	}
	if r, err := e.svc.Registration(ctx, reg.ID); err != nil || r.Status != store.RegistrationPending {
		t.Fatalf("after a refused enrolment: %+v, %v", r, err)
	}
	if _, err := e.svc.RefuseRegistration(ctx, reg.ID, "officer:o2", "đã có chữ ký số"); err != nil {
		t.Fatal(err)
	}
}

// TestRegistrationConcurrentApprovals: eight officers approve one
// registration at once: one enrolment, the others a conflict.
func TestRegistrationConcurrentApprovals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	req, reg := e.register(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.ApproveRegistration(ctx, &signing.ApproveRegistrationRequest{ID: reg.ID, Actor: "officer:o" + itoa(int64(i)),
				EvidenceKind: signing.EvidenceCCCDChip, EvidenceRef: "chip"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !isCode(err, signing.KindConflict):
			t.Errorf("a losing approval: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d approvals won, want 1", won)
	}
	certs, err := e.p.Store.ListCertificates(ctx, &store.CertificateFilter{NationalID: "CCCD:" + req.CCCD})
	if err != nil || len(certs) != 1 {
		t.Fatalf("%d certificates issued, want 1 (%v)", len(certs), err)
	}
}
