package owner_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/kyso-pki/kyso/pkg/owner"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

// TestReceipt: approving through the owners' API answers the receipt's
// ID; the owner downloads the receipt, which openssl verifies against the
// root and which names the device the API saw; the neighbour, a client
// without a token and a guessed ID get nothing.
func TestReceipt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.submit(t, e.citizen, "hd-1")
	c := &owner.Client{BaseURL: e.srv.URL + "/owner/v1", HTTPClient: e.srv.Client()}
	lr, err := c.Login(ctx, &owner.LoginRequest{NationalID: e.citizen.NationalID, PIN: "135790", OTP: e.otp(t, e.citizen)})
	if err != nil {
		t.Fatal(err)
	}
	c.Token = lr.AccessToken
	d, err := c.Approve(ctx, id, &owner.ApproveRequest{PIN: "135790", OTP: e.otp(t, e.citizen)})
	if err != nil || d.ReceiptID == "" {
		t.Fatalf("approve: %+v, %v", d, err)
	}
	der, err := c.Receipt(ctx, d.ReceiptID)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := signingtest.OpenReceipt(t, e.root, der)
	if r.ID != d.ReceiptID || r.TransactionID != id || r.Owner.NationalID != e.citizen.NationalID ||
		r.Device.UserAgent != "Go-http-client/1.1" || r.Device.Address != "127.0.0.1" || r.Documents[0].Shown != "hash" {
		t.Errorf("receipt %+v", r)
	}
	status, raw := e.do(t, http.MethodGet, "/owner/v1/receipts/"+d.ReceiptID, lr.AccessToken, "", nil)
	if status != http.StatusOK || string(raw) != string(der) {
		t.Errorf("GET receipts/{id}: HTTP %d", status)
	}

	n := &owner.Client{BaseURL: c.BaseURL, HTTPClient: c.HTTPClient}
	nlr, err := n.Login(ctx, &owner.LoginRequest{NationalID: e.neighbor.NationalID, PIN: "135790", OTP: e.otp(t, e.neighbor)})
	if err != nil {
		t.Fatal(err)
	}
	n.Token = nlr.AccessToken
	var ae *owner.APIError
	if _, err := n.Receipt(ctx, d.ReceiptID); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("the neighbour downloading the citizen's receipt: %v", err)
	}
	if _, err := c.Receipt(ctx, "guessed"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("a guessed ID: %v", err)
	}
	status, raw = e.do(t, http.MethodGet, "/owner/v1/receipts/"+d.ReceiptID, "", "", nil)
	expect(t, "without a token", status, raw, http.StatusUnauthorized, "invalid_token")
}
