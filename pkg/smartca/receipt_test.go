package smartca_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

// TestReceipt: the portal downloads the consent receipt of its
// transaction by tran_code or its own transaction_id, after the owner
// approved it; openssl verifies it against the root. Another portal,
// wrong credentials and a transaction not yet approved get nothing.
func TestReceipt(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	ctx := context.Background()
	code := e.submit(t, e.portal, "ks-1", file("giay-khai-sinh.pdf", "A"))
	receipt := func(p *party, id, secret string) (int, []byte) {
		return e.post(t, "/smartca/v1/signatures/sign/"+id+"/receipt", "application/json", map[string]any{"sp_id": p.id, "sp_password": secret})
	}
	status, raw := receipt(e.portal, code, e.portal.secret)
	checkEnvelope(t, status, raw, http.StatusNotFound, nil)

	done, err := e.svc.Approve(ctx, e.citizen.OwnerID, code, "246810", e.otp(t, e.citizen))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{code, "ks-1"} {
		status, raw := receipt(e.portal, id, e.portal.secret)
		if status != http.StatusOK {
			t.Fatalf("receipt of %s: HTTP %d: %s", id, status, raw)
		}
		r, _ := signingtest.OpenReceipt(t, e.p.Hierarchy.Root, raw)
		if r.ID != done.ReceiptID || r.TransactionID != code || r.Portal.ClientID != e.portal.id || r.Portal.Name != "Cổng dịch vụ công" ||
			len(r.Documents) != 1 || r.Documents[0].Name != "giay-khai-sinh.pdf" {
			t.Errorf("receipt of %s: %+v", id, r)
		}
	}
	status, raw = receipt(e.other, code, e.other.secret)
	checkEnvelope(t, status, raw, http.StatusNotFound, nil)
	status, raw = receipt(e.portal, code, "wrong")
	checkEnvelope(t, status, raw, http.StatusUnauthorized, nil)
}
