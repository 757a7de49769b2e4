package signing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestEnrolmentChannel: an enrolment records its channel, staff member,
// province (as the certificate says it), ward, identity evidence and the
// citizen's consent, and its audit event names them; a channel, evidence
// or staff member that does not fit is refused before anything is made.
func TestEnrolmentChannel(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	consent := e.clock.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	en, err := e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "0792030" + pad5(cccdSeq.Add(1)), Name: "Ngô Thị Lan", Province: "hồ chí minh",
		PIN: "271828", Algorithm: hsm.ECDSAP256, Actor: "officer:desk-1", Channel: store.ChannelHousehold, StaffID: "staff-42",
		Ward: "Phường Bến Thành", EvidenceKind: signing.EvidenceCCCDChip, EvidenceRef: "079203001111", ConsentAt: consent})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.p.Store.GetEnrolmentRecord(ctx, en.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Channel != store.ChannelHousehold || r.StaffID != "staff-42" || r.Ward != "Phường Bến Thành" || r.Province != "Hồ Chí Minh" ||
		r.EvidenceKind != signing.EvidenceCCCDChip || r.EvidenceRef != "079203001111" || !r.ConsentAt.Equal(consent) {
		t.Errorf("record %+v", r)
	}
	if !audited(t, e, "owner.enrol", en.NationalID) {
		t.Error("no owner.enrol event")
	}
	// The operator's default: channel operator, consent now.
	op := e.enrol(t, hsm.ECDSAP256)
	if r, err := e.p.Store.GetEnrolmentRecord(ctx, op.CredentialID); err != nil || r.Channel != store.ChannelOperator || r.ConsentAt.IsZero() {
		t.Errorf("the operator's enrolment: %+v, %v", r, err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*signing.EnrolRequest)
		want string
	}{
		{"an unknown channel", func(r *signing.EnrolRequest) { r.Channel = "telepathy" }, "channel"},
		{"staff online", func(r *signing.EnrolRequest) { r.Channel, r.StaffID = store.ChannelOnline, "staff-1" }, "names no staff"},
		{"unknown evidence", func(r *signing.EnrolRequest) { r.EvidenceKind = "selfie" }, "identity evidence"},
		{"a reference without its kind", func(r *signing.EnrolRequest) { r.EvidenceRef = "123" }, "needs its kind"},
		{"an image as reference", func(r *signing.EnrolRequest) {
			r.EvidenceKind, r.EvidenceRef = signing.EvidenceCCCDCard, "data:image/png;base64,"+strings.Repeat("A", 4000)
		}, "never a document's image"},
		{"a hidden character in the ward", func(r *signing.EnrolRequest) { r.Ward = "Phường\u202eBến Thành" }, "ward"},
		{"consent in the future", func(r *signing.EnrolRequest) { r.ConsentAt = e.clock.Now().Add(time.Hour) }, "future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cccd := "0792030" + pad5(cccdSeq.Add(1))
			req := &signing.EnrolRequest{CCCD: cccd, Name: "Ngô Thị Lan", Province: "Huế", PIN: "271828", Algorithm: hsm.ECDSAP256, Actor: "test",
				Channel: store.ChannelDesk}
			tc.mod(req)
			_, err := e.svc.Enrol(ctx, req)
			if !isCode(err, signing.KindInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want invalid, saying %q", err, tc.want)
			}
			if cs, err := e.svc.Credentials(ctx, cccd); err == nil && len(cs) > 0 {
				t.Errorf("a refused enrolment left a credential")
			}
		})
	}
}

// TestCountEnrolments: the report counts a period's enrolments by area
// and channel, with their certificates' state: active, suspended,
// revoked; filters by province and ward; refuses a backwards or huge
// period.
func TestCountEnrolments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	start := e.clock.Now().Add(-time.Minute)
	enrol := func(channel, staff, ward string) *signing.Enrolment {
		t.Helper()
		en, err := e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "0792030" + pad5(cccdSeq.Add(1)), Name: "Ngô Thị Lan", Province: "Huế",
			PIN: "271828", Algorithm: hsm.ECDSAP256, Actor: "test", Channel: channel, StaffID: staff, Ward: ward})
		if err != nil {
			t.Fatal(err)
		}
		return en
	}
	a1 := enrol(store.ChannelDesk, "staff-1", "Phường Thuận Hóa")
	enrol(store.ChannelDesk, "staff-1", "Phường Thuận Hóa")
	b := enrol(store.ChannelHousehold, "staff-2", "Xã Phú Vang")
	if err := e.svc.SuspendOwn(ctx, a1.OwnerID, a1.CredentialID, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.p.CA.Revoke(ctx, b.Certificate.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	counts, err := e.svc.CountEnrolments(ctx, &store.EnrolmentFilter{From: start, To: e.clock.Now().Add(time.Minute), Province: "Huế", At: time.Now().Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.EnrolmentCount{}
	for _, c := range counts {
		got[c.Ward+"/"+c.Channel] = *c
	}
	if d := got["Phường Thuận Hóa/desk"]; d.Enrolments != 2 || d.Active != 1 || d.Suspended != 1 || d.Revoked != 0 {
		t.Errorf("the desk: %+v", d)
	}
	if h := got["Xã Phú Vang/household"]; h.Enrolments != 1 || h.Revoked != 1 || h.Active != 0 {
		t.Errorf("the household visits: %+v", h)
	}
	if len(got) != 2 {
		t.Errorf("rows %+v", got)
	}
	if only, err := e.svc.CountEnrolments(ctx, &store.EnrolmentFilter{From: start, To: e.clock.Now().Add(time.Minute), Province: "Huế", Ward: "Xã Phú Vang"}); err != nil || len(only) != 1 {
		t.Errorf("one ward: %+v, %v", only, err)
	}
	if none, err := e.svc.CountEnrolments(ctx, &store.EnrolmentFilter{From: start.Add(-48 * time.Hour), To: start.Add(-24 * time.Hour)}); err != nil || len(none) != 0 {
		t.Errorf("a period before them: %+v, %v", none, err)
	}
	for _, f := range []*store.EnrolmentFilter{
		{From: start, To: start.Add(-time.Hour)},
		{From: start, To: start.Add(6 * 366 * 24 * time.Hour)},
		{From: start, To: start.Add(time.Hour), Ward: "Phường\u202eX"},
	} {
		if _, err := e.svc.CountEnrolments(ctx, f); !isCode(err, signing.KindInvalid) {
			t.Errorf("%+v: %v, want invalid", f, err)
		}
	}
}
