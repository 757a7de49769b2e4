package smartca_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/owner"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestUsageOverTheWire: transactions signed over HTTP through a
// public-service portal are free in the citizen's free period and metered
// after it; through a commercial portal (the default) metered; a rejected
// one counts nothing.
func TestUsageOverTheWire(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, hsm.ECDSAP256)
	pub := e.party(t, "Cổng dịch vụ công quốc gia", "", signing.InCategory(store.CategoryPublicService))
	com := e.other // commercial: the default
	tok := e.login(t, e.citizen)
	ref := 0
	sign := func(p *party, approve bool, files ...map[string]any) {
		t.Helper()
		ref++
		code := e.submit(t, p, "usage-"+string(rune('a'+ref)), files...)
		status, raw := e.decide(t, e.citizen, tok, code, approve)
		var dec owner.Decision
		if json.Unmarshal(raw, &dec); status != http.StatusOK || approve && dec.Status != "signed" {
			t.Fatalf("deciding: HTTP %d %s", status, raw)
		}
	}
	sign(pub, true, file("to-khai.pdf", "tờ khai"), file("phu-luc.pdf", "phụ lục"))
	sign(pub, false, file("don.pdf", "đơn"))
	sign(com, true, file("hop-dong.pdf", "hợp đồng"))
	usage := func() map[string]signing.UsageCount {
		t.Helper()
		day := e.clock.Now().UTC().Format(time.DateOnly)
		u, err := e.svc.Usage(ctx, &signing.UsageQuery{From: day, To: day, CCCD: "079203001234", Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]signing.UsageCount{}
		for _, l := range u.Lines {
			m[l.ClientID+" "+l.Category] = l.UsageCount
		}
		return m
	}
	got := usage()
	if len(got) != 2 || got[pub.id+" public-service"] != (signing.UsageCount{Free: 2}) || got[com.id+" commercial"] != (signing.UsageCount{Metered: 1}) {
		t.Fatalf("usage in the free period: %+v", got)
	}

	cert, err := e.p.Store.GetCertificate(ctx, ca.IssuingName, e.citizen.Certificate.SerialNumber.Bytes())
	if err != nil || !cert.Campaign {
		t.Fatalf("the citizen's certificate: %+v %v", cert, err)
	}
	e.clock.Set(cert.NotBefore.AddDate(0, signing.DefaultFreeMonths, 0).Add(time.Hour))
	tok = e.login(t, e.citizen)
	sign(pub, true, file("to-khai-2.pdf", "tờ khai 2"))
	sign(com, true, file("hop-dong-2.pdf", "hợp đồng 2"))
	got = usage()
	if len(got) != 2 || got[pub.id+" public-service"] != (signing.UsageCount{Metered: 1}) || got[com.id+" commercial"] != (signing.UsageCount{Metered: 1}) {
		t.Fatalf("usage after the free period: %+v", got)
	}
}
