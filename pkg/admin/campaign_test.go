package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/campaignreg"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// TestEnrolHeldElsewhere: a citizen another provider holds is refused
// 409 naming it; switch_provider needs the consent's evidence, and with
// it moves the citizen here with the months left.
func TestEnrolHeldElsewhere(t *testing.T) {
	ctx := context.Background()
	regStore, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "registry.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { regStore.Close() })
	book := campaignreg.NewBook(regStore, nil, nil)
	other, _ := campaignreg.NewLocal(book, campaignreg.Provider{ID: "prov-a", Name: "Nhà cung cấp <A>"})
	here, _ := campaignreg.NewLocal(book, campaignreg.Provider{ID: "prov-b", Name: "B"})
	cfg := signingtest.Config(nil)
	cfg.CampaignRegistry = here
	svc := signingtest.NewService(t, signingtest.NewPKI(t), cfg)
	ts := httptest.NewServer(admin.NewHandler(svc, nil))
	t.Cleanup(ts.Close)
	officer, _ := svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	tok, _, err := svc.ClientToken(ctx, officer.ID, officer.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Register(ctx, "CCCD:079203006161", "0A"); err != nil {
		t.Fatal(err)
	}
	post := func(extra string) (int, []byte) {
		return call(t, http.MethodPost, ts.URL+"/admin/v1/enrolments", tok, "application/json",
			`{"cccd":"079203006161","name":"Phạm Văn Đồng","province":"Quảng Ngãi","pin":"246802"`+extra+`}`)
	}
	st, raw := post("")
	var e admin.Error
	if st != http.StatusConflict || json.Unmarshal(raw, &e) != nil || e.Error != "conflict" || !strings.Contains(e.Description, "Nhà cung cấp <A>") {
		t.Fatalf("held at A: %d %s, want 409 naming Nhà cung cấp <A>", st, raw)
	}
	if st, raw := post(`,"switch_provider":true`); st != http.StatusBadRequest {
		t.Fatalf("a switch without the consent's evidence: %d %s", st, raw)
	}
	st, raw = post(`,"switch_provider":true,"evidence_kind":"cccd-chip","evidence_ref":"051203006161"`)
	var en admin.Enrolment
	if st != http.StatusCreated || json.Unmarshal(raw, &en) != nil || en.SwitchedFrom != "Nhà cung cấp <A>" || en.FreeMonths != 12 || en.MonthsUsed != 0 {
		t.Fatalf("the switch: %d %s", st, raw)
	}
	if rel, err := other.Released(ctx); err != nil || len(rel) != 1 || rel[0].ReleasedTo != "prov-b" {
		t.Fatalf("A's released holdings: %+v %v", rel, err)
	}
}
