package owner_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/kyso-pki/kyso/pkg/owner"
)

// TestClient walks the owner's path with owner.Client against the real
// handler and signing service: a refused login is an APIError with the
// handler's code; login, the list, approve, reject and logout carry the
// handler's own types; after logout the token is gone; a locked owner's
// refusal carries Retry-After.
func TestClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	approveID := e.submit(t, e.citizen, "hd-c1")
	rejectID := e.submit(t, e.citizen, "hd-c2")
	c := &owner.Client{BaseURL: e.srv.URL + "/owner/v1/", HTTPClient: e.srv.Client()}

	_, err := c.Login(ctx, &owner.LoginRequest{NationalID: e.citizen.NationalID, PIN: "000000", OTP: e.otp(t, e.citizen)})
	var ae *owner.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Body.Error != "access_denied" || c.Token != "" {
		t.Fatalf("a wrong PIN: %v, token %q", err, c.Token)
	}
	lr, err := c.Login(ctx, &owner.LoginRequest{NationalID: "079203001234", PIN: "135790", OTP: e.otp(t, e.citizen)})
	if err != nil || lr.TokenType != "Bearer" || lr.ExpiresIn <= 0 || c.Token != lr.AccessToken {
		t.Fatalf("login: %+v, %v", lr, err)
	}
	list, err := c.Transactions(ctx)
	if err != nil || len(list.Transactions) != 2 {
		t.Fatalf("transactions: %+v, %v", list, err)
	}
	for _, x := range list.Transactions {
		if x.Status != "pending" || x.ClientName != "Cổng dịch vụ công" || len(x.Documents) != 1 || len(x.Documents[0].Hash) != 64 {
			t.Errorf("listed %+v", x)
		}
	}
	d, err := c.Approve(ctx, approveID, &owner.ApproveRequest{PIN: "135790", OTP: e.otp(t, e.citizen)})
	if err != nil || d.ID != approveID || d.Status != "signed" {
		t.Fatalf("approve: %+v, %v", d, err)
	}
	d, err = c.Reject(ctx, rejectID)
	if err != nil || d.ID != rejectID || d.Status != "rejected" {
		t.Fatalf("reject: %+v, %v", d, err)
	}
	if _, err := c.Reject(ctx, approveID); !errors.As(err, &ae) || ae.Status != http.StatusConflict || ae.Body.Error != "conflict" {
		t.Errorf("rejecting a signed transaction: %v", err)
	}
	if _, err := c.Approve(ctx, "no/such?transaction", &owner.ApproveRequest{PIN: "135790", OTP: e.otp(t, e.citizen)}); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("an unknown transaction, its ID escaped in the path: %v", err)
	}
	if list, err := c.Transactions(ctx); err != nil || len(list.Transactions) != 0 {
		t.Errorf("after the decisions: %+v, %v", list, err)
	}
	tok := c.Token
	if err := c.Logout(ctx); err != nil || c.Token != "" {
		t.Fatalf("logout: %v, token %q", err, c.Token)
	}
	c.Token = tok
	if _, err := c.Transactions(ctx); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Body.Error != "invalid_token" {
		t.Errorf("the token after logout: %v", err)
	}
	// A locked owner's answer says when to try again.
	n := &owner.Client{BaseURL: c.BaseURL, HTTPClient: c.HTTPClient}
	for i := 0; ; i++ {
		_, err := n.Login(ctx, &owner.LoginRequest{NationalID: "001198004321", PIN: "000000", OTP: e.otp(t, e.neighbor)})
		if !errors.As(err, &ae) {
			t.Fatalf("wrong PIN %d: %v", i+1, err)
		}
		if ae.Status == http.StatusTooManyRequests {
			if ae.Body.Error != "account_locked" || ae.RetryAfter <= 0 {
				t.Errorf("locked: %v, Retry-After %v", err, ae.RetryAfter)
			}
			break
		}
		if i == 10 {
			t.Fatalf("no lock after %d wrong PINs: %v", i+1, err)
		}
	}
}
