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
