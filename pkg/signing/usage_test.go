package signing_test

import (
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
)

// TestUsage: signatures through a public-service portal are free in the
// citizen's free period and metered after it; through a commercial portal
// they are metered always. Both paths count: a SmartCA-style transaction
// (Submit, Approve) and a CSC authorisation with signHash. Refused and
// rejected requests count nothing.
func TestUsage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	other := e.enrol(t, hsm.ECDSAP256)
	cert, err := e.p.Store.GetCertificate(ctx, ca.IssuingName, en.Certificate.SerialNumber.Bytes())
	if err != nil || !cert.Campaign {
		t.Fatalf("the citizen's certificate is not a campaign certificate: %+v %v", cert, err)
	}
	pub, err := e.svc.CreateClient(ctx, "Cổng dịch vụ công quốc gia", "", "test", signing.InCategory(store.CategoryPublicService))
	if err != nil {
		t.Fatal(err)
	}
	com, err := e.svc.CreateClient(ctx, "Ứng dụng hợp đồng", "", "test") // commercial, the default
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateClient(ctx, "x", "", "test", signing.InCategory("free")); !isCode(err, signing.KindInvalid) {
		t.Errorf("an unknown category: %v", err)
	}
	ref := 0
	transaction := func(client string, who *signing.Enrolment, docs int, approve bool) {
		t.Helper()
		ref++
		ds := make([]signing.Document, docs)
		for i := range ds {
			ds[i] = signing.Document{DocID: "doc-" + itoa(int64(i)) + ".pdf", Hash: digest(client + itoa(int64(ref*10+i)))}
		}
		tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: client, ClientRef: "ref-" + itoa(int64(ref)), CredentialID: who.CredentialID, Documents: ds})
		if err != nil {
			t.Fatal(err)
		}
		if !approve {
			if err := e.svc.Reject(ctx, who.OwnerID, tx.ID); err != nil {
				t.Fatal(err)
			}
			return
		}
		if done, err := e.svc.Approve(ctx, who.OwnerID, tx.ID, "271828", e.next(t, who)); err != nil || done.Status != store.TxSigned {
			t.Fatalf("approve: %v %+v", err, done)
		}
	}
	signHash := func(client string, who *signing.Enrolment, n int) {
		t.Helper()
		hs := make([][]byte, n)
		for i := range hs {
			hs[i] = digest(client + itoa(int64(i)))
		}
		sad, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{ClientID: client, CredentialID: who.CredentialID, NumSignatures: n, Hashes: hs,
			HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.next(t, who), Actor: client})
		if err != nil {
			t.Fatal(err)
		}
		req := &signing.SignHashRequest{ClientID: client, CredentialID: who.CredentialID, SAD: sad, Hashes: hs, HashAlgorithm: crypto.SHA256, Actor: client}
		if sigs, err := e.svc.SignHash(ctx, req); err != nil || len(sigs) != n {
			t.Fatalf("signHash: %v", err)
		}
		if _, err := e.svc.SignHash(ctx, req); err == nil { // a replay: refused, not counted
			t.Fatal("a replayed SAD signed")
		}
		req.ClientID = pub.ID + com.ID // another client with the SAD: refused, not counted
		if _, err := e.svc.SignHash(ctx, req); err == nil {
			t.Fatal("another client's SAD signed")
		}
	}
	transaction(pub.ID, en, 2, true)
	transaction(pub.ID, en, 1, false)
	signHash(pub.ID, en, 3)
	transaction(com.ID, en, 1, true)
	signHash(com.ID, en, 2)
	signHash(pub.ID, other, 1)
	today := e.clock.Now().UTC().Format(time.DateOnly)

	type line struct {
		cccd, client, category string
		signing.UsageCount
	}
	check := func(day string, q signing.UsageQuery, want ...line) {
		t.Helper()
		q.From, q.To = day, day
		u, err := e.svc.Usage(ctx, &q)
		if err != nil {
			t.Fatalf("Usage %+v: %v", q, err)
		}
		var got []line
		for _, l := range u.Lines {
			got = append(got, line{l.NationalID, l.ClientID, l.Category, l.UsageCount})
		}
		if len(got) != len(want) {
			t.Fatalf("Usage %+v = %+v, want %+v", q, got, want)
		}
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("Usage %+v = %+v, lacks %+v", q, got, w)
			}
		}
	}
	check(today, signing.UsageQuery{CCCD: en.NationalID[len("CCCD:"):]},
		line{en.NationalID, pub.ID, store.CategoryPublicService, signing.UsageCount{Free: 5}},
		line{en.NationalID, com.ID, store.CategoryCommercial, signing.UsageCount{Metered: 3}})
	check(today, signing.UsageQuery{ClientID: pub.ID},
		line{en.NationalID, pub.ID, store.CategoryPublicService, signing.UsageCount{Free: 5}},
		line{other.NationalID, pub.ID, store.CategoryPublicService, signing.UsageCount{Free: 1}})

	// Past the free period: public-service signing is metered too.
	e.clock.Set(cert.NotBefore.AddDate(0, signing.DefaultFreeMonths, 1))
	later := e.clock.Now().UTC().Format(time.DateOnly)
	transaction(pub.ID, en, 1, true)
	signHash(pub.ID, en, 2)
	signHash(com.ID, en, 1)
	check(later, signing.UsageQuery{CCCD: en.NationalID[len("CCCD:"):]},
		line{en.NationalID, pub.ID, store.CategoryPublicService, signing.UsageCount{Metered: 3}},
		line{en.NationalID, com.ID, store.CategoryCommercial, signing.UsageCount{Metered: 1}})
	u, err := e.svc.Usage(ctx, &signing.UsageQuery{From: today, To: today})
	if err != nil || len(u.Portals) != 2 || len(u.Citizens) != 2 {
		t.Fatalf("Usage totals: %v %+v", err, u)
	}
	for _, p := range u.Portals {
		if p.ID == pub.ID && p.ByCategory[store.CategoryPublicService] != (signing.UsageCount{Free: 6}) {
			t.Errorf("the public-service portal's total: %+v", p.ByCategory)
		}
	}

	for name, q := range map[string]signing.UsageQuery{
		"no dates":      {},
		"a bad date":    {From: "2026-02-30", To: "2026-03-01"},
		"a time":        {From: "2026-03-01T00:00:00Z", To: "2026-03-01"},
		"reversed":      {From: "2026-03-02", To: "2026-03-01"},
		"over a year":   {From: "2025-01-01", To: "2026-03-01"},
		"a bad CCCD":    {From: today, To: today, CCCD: "12345"},
		"a long client": {From: today, To: today, ClientID: string(make([]byte, 300))},
	} {
		if _, err := e.svc.Usage(ctx, &q); !isCode(err, signing.KindInvalid) {
			t.Errorf("Usage with %s: %v, want invalid_request", name, err)
		}
	}
	for name, q := range map[string]signing.UsageQuery{
		"an unknown CCCD":   {From: today, To: today, CCCD: "079203099999"},
		"an unknown client": {From: today, To: today, ClientID: "nobody"},
	} {
		if _, err := e.svc.Usage(ctx, &q); !isCode(err, signing.KindNotFound) {
			t.Errorf("Usage with %s: %v, want not found", name, err)
		}
	}
}

// TestSetClientCategory: a portal moves between the categories, each move
// audited with the category before and after; a move to the category it
// has is no error and no event; an officer's system, an unknown client
// and an unknown category are refused.
func TestSetClientCategory(t *testing.T) {
	ctx := context.Background()
	se := signingtest.New(t, nil)
	svc := se.Service
	portal, _ := svc.CreateClient(ctx, "Ứng dụng hợp đồng", "", "test")
	officer, _ := svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	if err := svc.SetClientCategory(ctx, portal.ID, store.CategoryPublicService, "operator:test"); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetClientCategory(ctx, portal.ID, store.CategoryPublicService, "operator:test"); err != nil {
		t.Errorf("the same category again: %v", err)
	}
	if c, err := se.PKI.Store.GetClient(ctx, portal.ID); err != nil || c.Category != store.CategoryPublicService {
		t.Errorf("after the move: %+v %v", c, err)
	}
	evs, err := se.PKI.Store.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var moves []string
	for _, ev := range evs {
		if ev.Action == "client.category" && ev.Subject == portal.ID {
			moves = append(moves, ev.Actor+" "+string(ev.Details))
		}
	}
	if len(moves) != 1 || !strings.Contains(moves[0], `"from":"commercial"`) || !strings.Contains(moves[0], `"to":"public-service"`) || !strings.HasPrefix(moves[0], "operator:test") {
		t.Errorf("audit: %q, want one client.category event from commercial to public-service", moves)
	}
	for _, c := range []struct{ id, category, says string }{
		{officer.ID, store.CategoryCommercial, "registration officer"},
		{"nobody", store.CategoryCommercial, "no such client"},
		{portal.ID, "free", "not public-service or commercial"},
		{portal.ID, "", "public-service or commercial"},
	} {
		if err := svc.SetClientCategory(ctx, c.id, c.category, "operator:test"); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s → %q: %v, want an error saying %q", c.id, c.category, err, c.says)
		}
	}
}

// TestSetClientCategoryPostgres: the conditional update on PostgreSQL:
// a move, the same move again (ErrConflict, which the service takes as
// no change), an unknown client.
func TestSetClientCategoryPostgres(t *testing.T) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, testenv.NewPostgres(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutClient(ctx, &store.Client{ID: "portal-1", Name: "Cổng", SecretHash: "x", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetClientCategory(ctx, "portal-1", store.CategoryPublicService); err != nil {
		t.Fatal(err)
	}
	if err := st.SetClientCategory(ctx, "portal-1", store.CategoryPublicService); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the same again: %v, want ErrConflict", err)
	}
	if c, _ := st.GetClient(ctx, "portal-1"); c == nil || c.Category != store.CategoryPublicService {
		t.Errorf("after: %+v", c)
	}
	if err := st.SetClientCategory(ctx, "nobody", store.CategoryCommercial); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown client: %v, want ErrNotFound", err)
	}
}
