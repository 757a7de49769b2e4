package csc_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestUsageSignHash: signHash over HTTPS through a public-service portal
// counts free (the citizen's campaign certificate is new), through a
// commercial one metered (TestUsage in pkg/signing moves past the free
// period and tries replays).
func TestUsageSignHash(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, hsm.ECDSAP256, false)
	client := func(name string, opts ...signing.ClientOption) *csc.Client {
		cl, err := e.svc.CreateClient(ctx, name, "", "test", opts...)
		if err != nil {
			t.Fatal(err)
		}
		return &csc.Client{BaseURL: e.ts.URL + "/csc/v2", ClientID: cl.ID, ClientSecret: cl.Secret, HTTPClient: e.ts.Client()}
	}
	pub := client("Cổng dịch vụ công quốc gia", signing.InCategory(store.CategoryPublicService))
	com := client("Ứng dụng hợp đồng")
	for i, c := range []*csc.Client{pub, pub, com} {
		s, err := csc.NewSigner(ctx, c, e.cred.CredentialID, e.factors)
		if err != nil {
			t.Fatal(err)
		}
		d := sha256.Sum256([]byte{byte(i)})
		if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			t.Fatalf("signHash through %s: %v", c.ClientID, err)
		}
	}
	day := e.clock.Now().UTC().Format(time.DateOnly)
	u, err := e.svc.Usage(ctx, &signing.UsageQuery{From: day, To: day, CCCD: "079203001234", Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]signing.UsageCount{}
	for _, l := range u.Lines {
		got[l.ClientID+" "+l.Category] = l.UsageCount
	}
	if len(got) != 2 || got[pub.ClientID+" public-service"] != (signing.UsageCount{Free: 2}) || got[com.ClientID+" commercial"] != (signing.UsageCount{Metered: 1}) {
		t.Fatalf("usage: %+v", got)
	}
}
