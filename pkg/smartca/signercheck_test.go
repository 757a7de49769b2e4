package smartca_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/owner"
)

// TestSignerCheckRefuses: a citizen whose certificate was suspended after
// a portal asked for a signature cannot approve it: the approval answers
// with the pre-signing check's reason in Vietnamese and English, nothing
// is signed, and the portal sees the transaction failed; once the
// certificate is resumed, a new transaction is approved and signed.
func TestSignerCheckRefuses(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, hsm.ECDSAP256)
	code := e.submit(t, e.portal, "portal-suspended", file("to-khai.pdf", "tờ khai"))
	serial := e.citizen.Certificate.SerialNumber.Bytes()
	if err := e.p.CA.Suspend(ctx, serial, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := e.pki.PKI.Tick(ctx); err != nil { // as kysod's maintenance loop does
		t.Fatal(err)
	}
	tok := e.login(t, e.citizen)
	status, raw := e.decide(t, e.citizen, tok, code, true)
	if status/100 == 2 || !strings.Contains(string(raw), "chứng thư số đang bị tạm dừng") || !strings.Contains(string(raw), "certificate suspended") {
		t.Fatalf("approving with a suspended certificate: HTTP %d %s; want a refusal in Vietnamese and English", status, raw)
	}
	if st, _ := e.status(t, e.portal, code); st.Status != "failed" || len(st.Signatures) != 0 {
		t.Fatalf("after the refusal: %+v", st)
	}

	if err := e.p.CA.Resume(ctx, serial); err != nil {
		t.Fatal(err)
	}
	if err := e.pki.PKI.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	code = e.submit(t, e.portal, "portal-resumed", file("to-khai.pdf", "tờ khai"))
	status, raw = e.decide(t, e.citizen, tok, code, true)
	var dec owner.Decision
	if json.Unmarshal(raw, &dec); status != http.StatusOK || dec.Status != "signed" {
		t.Fatalf("approving after the resume: HTTP %d %s", status, raw)
	}
	if st, _ := e.status(t, e.portal, code); st.Status != "signed" || len(st.Signatures) != 1 {
		t.Fatalf("after the approval: %+v", st)
	}
}
