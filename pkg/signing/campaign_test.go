package signing_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/campaignreg"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// TestFreeMonthsAfter: the campaign's deduction, and its edges.
func TestFreeMonthsAfter(t *testing.T) {
	for _, c := range []struct{ free, used, want int }{{12, 3, 9}, {12, 0, 12}, {12, 12, 0}, {12, 15, 0}, {12, -1, 12}, {24, 3, 21}} {
		if got := signing.FreeMonthsAfter(c.free, c.used); got != c.want {
			t.Errorf("FreeMonthsAfter(%d, %d) = %d, want %d", c.free, c.used, got, c.want)
		}
	}
}

// sharedRegistry is a registry book in a database of its own, as the
// authority's, and returns how a provider joins it.
func sharedRegistry(t *testing.T, now func() time.Time) func(id, name string) campaignreg.Registry {
	t.Helper()
	regStore, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "registry.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { regStore.Close() })
	book := campaignreg.NewBook(regStore, now, nil)
	return func(id, name string) campaignreg.Registry {
		l, err := campaignreg.NewLocal(book, campaignreg.Provider{ID: id, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
}

// TestCampaignAcrossProviders: two providers (two services, each its own
// CA and database) share one registry: the second refuses a citizen the
// first holds, naming it; a switch with the citizen's consent moves the
// holding, the first revokes its certificate superseded when it syncs,
// and the second's free period is 12 less the 3 whole months used.
func TestCampaignAcrossProviders(t *testing.T) {
	ctx := context.Background()
	var a, b *env
	local := sharedRegistry(t, func() time.Time { return a.clock.Now() })
	regA, regB := local("prov-a", "Nhà cung cấp A"), local("prov-b", "Nhà cung cấp B")
	a = newEnvWith(t, func(c *signing.Config) { c.CampaignRegistry = regA })
	b = newEnvWith(t, func(c *signing.Config) { c.CampaignRegistry = regB })
	start := a.clock.Now()
	b.clock.Set(start)

	const cccd = "079203004242"
	nid := "CCCD:" + cccd
	req := func() *signing.EnrolRequest {
		return &signing.EnrolRequest{CCCD: cccd, Name: "Trần Thị Bích", Province: "Hồ Chí Minh", PIN: "271828", Actor: "officer"}
	}
	// A crash at A between registering and issuing: A registers again.
	if _, err := regA.Register(ctx, nid, ""); err != nil {
		t.Fatal(err)
	}
	atA, err := a.svc.Enrol(ctx, req())
	if err != nil {
		t.Fatalf("A enrols after its own interrupted registration: %v", err)
	}
	if h, _ := regA.Lookup(ctx, nid); h == nil || h.Serial != ca.FormatSerialInt(atA.Certificate.SerialNumber) {
		t.Fatalf("the registry's holding %+v lacks A's serial", h)
	}
	_, err = b.svc.Enrol(ctx, req())
	var se *signing.Error
	if !errors.As(err, &se) || se.Kind != signing.KindConflict || !strings.Contains(se.Description, "Nhà cung cấp A") {
		t.Fatalf("B enrols a citizen A holds: %v, want a conflict naming Nhà cung cấp A", err)
	}
	// A failed enrolment at B releases the holding it took.
	other := req()
	other.CCCD, other.Name = "079203004243", "Nguyễn Văn 3"
	if _, err := b.svc.Enrol(ctx, other); err == nil {
		t.Fatal("a name with a digit enrolled")
	}
	if !hasEvent(t, b, "campaign.release") {
		t.Fatal("B's failed enrolment released nothing")
	}
	if _, err := regA.Lookup(ctx, "CCCD:079203004243"); !errors.Is(err, campaignreg.ErrNotHeld) {
		t.Fatalf("B's failed enrolment still holds the citizen: %v", err)
	}

	// Three months and some days later the citizen moves to B.
	later := start.AddDate(0, 3, 4)
	a.clock.Set(later)
	b.clock.Set(later)
	sw := req()
	sw.Switch = &campaignreg.Consent{Kind: "cccd-chip", Ref: "NFC-" + cccd, At: later}
	atB, err := b.svc.Enrol(ctx, sw)
	if err != nil {
		t.Fatalf("B enrols with a switch: %v", err)
	}
	if n, err := a.svc.SyncCampaignRegistry(ctx); err != nil || n != 1 {
		t.Fatalf("A syncs: %d, %v", n, err)
	}
	rev, err := a.p.Store.GetRevocation(ctx, ca.IssuingName, atA.Certificate.SerialNumber.Bytes())
	if err != nil || rev.Reason != store.ReasonSuperseded {
		t.Fatalf("A's certificate after the switch: %+v, %v; want revoked superseded", rev, err)
	}
	if n, err := a.svc.SyncCampaignRegistry(ctx); err != nil || n != 0 {
		t.Fatalf("A syncs again: %d, %v (acknowledged releases come back)", n, err)
	}
	if n, err := b.svc.SyncCampaignRegistry(ctx); err != nil || n != 0 {
		t.Fatalf("B syncs: %d, %v", n, err)
	}
	for _, w := range []struct {
		e      *env
		action string
	}{{a, "campaign.register"}, {b, "campaign.refuse"}, {b, "campaign.switch"}, {a, "campaign.superseded"}} {
		if !hasEvent(t, w.e, w.action) {
			t.Errorf("no %s event", w.action)
		}
	}

	// B's free period: 9 months from its certificate.
	pub, err := b.svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test", signing.InCategory(store.CategoryPublicService))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := b.p.Store.GetCertificate(ctx, ca.IssuingName, atB.Certificate.SerialNumber.Bytes())
	sign := func(at time.Time) signing.UsageCount {
		t.Helper()
		b.clock.Set(at)
		hs := [][]byte{digest(at.String())}
		sad, _, err := b.svc.Authorize(ctx, &signing.AuthorizeRequest{ClientID: pub.ID, CredentialID: atB.CredentialID, NumSignatures: 1, Hashes: hs,
			HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: b.next(t, atB), Actor: pub.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.SignHash(ctx, &signing.SignHashRequest{ClientID: pub.ID, CredentialID: atB.CredentialID, SAD: sad, Hashes: hs,
			HashAlgorithm: crypto.SHA256, Actor: pub.ID}); err != nil {
			t.Fatal(err)
		}
		day := at.UTC().Format(time.DateOnly)
		u, err := b.svc.Usage(ctx, &signing.UsageQuery{From: day, To: day, CCCD: cccd})
		if err != nil || len(u.Lines) != 1 {
			t.Fatalf("usage: %v %+v", err, u)
		}
		return u.Lines[0].UsageCount
	}
	if got := sign(cert.NotBefore.AddDate(0, 9, -2)); got != (signing.UsageCount{Free: 1}) {
		t.Errorf("B, 9 months less 2 days after issuance: %+v, want free", got)
	}
	if got := sign(cert.NotBefore.AddDate(0, 9, 2)); got != (signing.UsageCount{Metered: 1}) {
		t.Errorf("B, 9 months and 2 days after issuance: %+v, want metered (3 months used at A)", got)
	}

	// And back to A. A still keeps the citizen's owner record, with a
	// session from before; the switch back enrols them again under the
	// same owner, with a new credential and new factors, and ends the
	// old session.
	a.clock.Set(b.clock.Now())
	oldSession, _, err := a.svc.OwnerLogin(ctx, nid, "271828", a.next(t, atA))
	if err != nil {
		t.Fatalf("the citizen logs in at A before switching back: %v", err)
	}
	if _, err := a.svc.Enrol(ctx, req()); !isCode(err, signing.KindConflict) {
		t.Fatalf("A enrols again without the citizen's consent to switch: %v, want a conflict (B holds them)", err)
	}
	home := req()
	home.PIN = "864209"
	home.Switch = &campaignreg.Consent{Kind: "cccd-chip", Ref: "NFC-back-" + cccd, At: a.clock.Now()}
	again, err := a.svc.Enrol(ctx, home)
	if err != nil {
		t.Fatalf("A enrols the citizen switching back: %v", err)
	}
	if again.OwnerID != atA.OwnerID || again.CredentialID == atA.CredentialID || again.TOTPURI == "" || again.TOTPURI == atA.TOTPURI {
		t.Fatalf("switching back: owner %s (was %s), credential %s (was %s), new TOTP %t; want the same owner, a new credential and new factors",
			again.OwnerID, atA.OwnerID, again.CredentialID, atA.CredentialID, again.TOTPURI != atA.TOTPURI)
	}
	if again.SwitchedFrom != "Nhà cung cấp B" {
		t.Errorf("switching back: from %q, want Nhà cung cấp B", again.SwitchedFrom)
	}
	if _, err := a.svc.Authenticate(ctx, oldSession, nil); err == nil {
		t.Error("the session from before the re-enrolment still works")
	}
	if _, _, err := a.svc.OwnerLogin(ctx, nid, "271828", a.next(t, atA)); err == nil {
		t.Error("the old PIN and authenticator still log in after the re-enrolment")
	}
	if _, _, err := a.svc.OwnerLogin(ctx, nid, "864209", a.next(t, again)); err != nil {
		t.Errorf("the new PIN and authenticator: %v", err)
	}
	if n, err := b.svc.SyncCampaignRegistry(ctx); err != nil || n != 1 {
		t.Fatalf("B syncs after the switch back: %d, %v", n, err)
	}
	if rev, err := b.p.Store.GetRevocation(ctx, ca.IssuingName, atB.Certificate.SerialNumber.Bytes()); err != nil || rev.Reason != store.ReasonSuperseded {
		t.Fatalf("B's certificate after the switch back: %+v, %v; want revoked superseded", rev, err)
	}
	// Holding a certificate in force, the citizen is not enrolled a
	// third time at A: they renew.
	if _, err := a.svc.Enrol(ctx, req()); !isCode(err, signing.KindConflict) || !strings.Contains(err.Error(), again.CredentialID) {
		t.Fatalf("A enrols a citizen holding credential %s: %v, want a conflict naming it", again.CredentialID, err)
	}
}

func hasEvent(t *testing.T, e *env, action string) bool {
	t.Helper()
	es, err := e.p.Store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range es {
		if ev.Action == action {
			var d map[string]any
			if json.Unmarshal(ev.Details, &d) != nil {
				t.Errorf("%s details %s", action, ev.Details)
			}
			return true
		}
	}
	return false
}

// TestBackfillCampaignRegistry: a provider that issued before joining a
// shared registry registers its campaign certificates in force — not a
// revoked one — once; a citizen another provider holds is listed, not
// taken; a dry run registers nothing; a second run finds them held.
func TestBackfillCampaignRegistry(t *testing.T) {
	ctx := context.Background()
	a := newEnvWith(t, nil) // no registry yet
	local := sharedRegistry(t, a.clock.Now)
	var ens []*signing.Enrolment
	for range 4 {
		ens = append(ens, a.enrol(t, hsm.ECDSAP256))
	}
	if err := a.p.CA.Revoke(ctx, ens[3].Certificate.SerialNumber.Bytes(), store.ReasonCessationOfOperation, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// B, already in the registry, holds the second citizen too.
	regB := local("prov-b", "Nhà cung cấp B")
	if _, err := regB.Register(ctx, ens[1].NationalID, ""); err != nil {
		t.Fatal(err)
	}
	cfg := signingtest.Config(a.clock)
	cfg.CampaignRegistry = local("prov-a", "Nhà cung cấp A")
	joined := signingtest.NewService(t, a.p, cfg)

	dry, err := joined.BackfillCampaignRegistry(ctx, "operator", true)
	if err != nil || dry.Registered != 2 || dry.Held != 0 || dry.HeldElsewhere != 1 || !dry.DryRun {
		t.Fatalf("dry run: %+v, %v; want 2 to register, 1 elsewhere", dry, err)
	}
	if _, err := cfg.CampaignRegistry.Lookup(ctx, ens[0].NationalID); !errors.Is(err, campaignreg.ErrNotHeld) {
		t.Fatalf("the dry run registered %s: %v", ens[0].NationalID, err)
	}
	got, err := joined.BackfillCampaignRegistry(ctx, "operator", false)
	if err != nil || got.Registered != 2 || got.Held != 0 || len(got.Elsewhere) != 1 ||
		got.Elsewhere[0].ProviderID != "prov-b" || got.Elsewhere[0].NationalID != ens[1].NationalID {
		t.Fatalf("backfill: %+v, %v; want 2 registered and %s elsewhere (prov-b)", got, err, ens[1].NationalID)
	}
	for _, i := range []int{0, 2} {
		h, err := cfg.CampaignRegistry.Lookup(ctx, ens[i].NationalID)
		if err != nil || h.ProviderID != "prov-a" || h.Serial != ca.FormatSerialInt(ens[i].Certificate.SerialNumber) {
			t.Errorf("after the backfill %s is held as %+v, %v", ens[i].NationalID, h, err)
		}
	}
	if _, err := cfg.CampaignRegistry.Lookup(ctx, ens[3].NationalID); !errors.Is(err, campaignreg.ErrNotHeld) {
		t.Errorf("the revoked certificate's citizen was registered: %v", err)
	}
	again, err := joined.BackfillCampaignRegistry(ctx, "operator", false)
	if err != nil || again.Registered != 0 || again.Held != 2 || len(again.Elsewhere) != 1 {
		t.Fatalf("backfill again: %+v, %v; want 2 held", again, err)
	}
	if !hasEvent(t, a, "campaign.backfill") {
		t.Error("the backfill was not audited")
	}
	if _, err := a.svc.BackfillCampaignRegistry(ctx, "operator", false); !isCode(err, signing.KindInvalid) {
		t.Errorf("a backfill without a registry: %v", err)
	}
}
