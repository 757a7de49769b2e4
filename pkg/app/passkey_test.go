package app_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

var optionsAttr = regexp.MustCompile(`data-options="([^"]+)"`)

// TestPasskeyForms: the passkey pages' guards, without a browser. Adding
// a passkey needs a session, the CSRF token and fresh factors; an answer
// posted without its step-up is refused (and audited); a passkey of
// another owner cannot be removed; without passkeys the request page
// offers none; with one, the request page's challenge approves that
// request through the form (a soft authenticator on the app's origin).
func TestPasskeyForms(t *testing.T) {
	e := newEnvOn(t, nil, "https://localhost")
	ctx := context.Background()
	anon := e.browser(t)
	anon.get("/app/login")
	if status, _, _ := anon.post("/app/passkeys/begin", url.Values{"csrf": {anon.csrf()}, "name": {"x"}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}}); status != http.StatusUnauthorized {
		t.Errorf("adding a passkey without a session: HTTP %d", status)
	}

	b := e.browser(t)
	b.login(e.citizen)
	tx := e.submitHash(t, e.citizen, "pf-1", "Tờ khai", "a.xml")
	if _, body := b.get("/app/requests/" + tx); strings.Contains(body, "data-passkey") {
		t.Error("a request page offers a passkey to an owner who has none")
	}
	b.get("/app/passkeys")
	if status, _, _ := b.post("/app/passkeys/begin", url.Values{"csrf": {"forged"}, "name": {"x"}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}}); status != http.StatusForbidden {
		t.Errorf("adding a passkey with a forged CSRF token: HTTP %d", status)
	}
	soft := signingtest.NewAuthenticator("https://localhost")
	// An answer to a challenge the owner never earned with PIN and code:
	// one issued to the neighbour.
	opts, err := e.svc.BeginPasskeyRegistration(ctx, e.neighbor.OwnerID, signing.PINAndCode(pin, e.otp(t, e.neighbor)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := soft.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	b.get("/app/passkeys")
	status, _, body := b.post("/app/passkeys/finish", url.Values{"csrf": {b.csrf()}, "name": {"x"}, "credential": {string(resp)}})
	if status != http.StatusForbidden || !strings.Contains(body, "không được chấp nhận") {
		t.Errorf("a registration without its step-up: HTTP %d\n%s", status, body)
	}
	if keys, _ := e.svc.Passkeys(ctx, e.citizen.OwnerID); len(keys) != 0 {
		t.Fatalf("the owner has %d passkeys after a refused registration", len(keys))
	}

	// The step-up, then the authenticator, through the forms.
	b.get("/app/passkeys")
	status, _, body = b.post("/app/passkeys/begin", url.Values{"csrf": {b.csrf()}, "name": {"Điện thoại"}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}})
	m := optionsAttr.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		t.Fatalf("the step-up: HTTP %d\n%s", status, body)
	}
	if resp, err = soft.Create([]byte(htmlUnescape(m[1]))); err != nil {
		t.Fatal(err)
	}
	if status, _, body := b.post("/app/passkeys/finish", url.Values{"csrf": {b.csrf()}, "name": {"Điện thoại"}, "credential": {string(resp)}}); status != http.StatusOK || !strings.Contains(body, "Đã thêm khóa truy cập") {
		t.Fatalf("finishing the registration: HTTP %d\n%s", status, body)
	}
	keys, err := e.svc.Passkeys(ctx, e.citizen.OwnerID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("Passkeys = %v, %v", keys, err)
	}

	// The request page's challenge approves that request.
	_, body = b.get("/app/requests/" + tx)
	m = optionsAttr.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no passkey form on the request page of an owner with a passkey:\n%s", body)
	}
	answer, err := soft.Get([]byte(htmlUnescape(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := b.post("/app/requests/"+tx+"/approve", url.Values{"csrf": {b.csrf()}, "credential": {string(answer)}}); status != http.StatusOK || !strings.Contains(body, "đã được ký") {
		t.Fatalf("approving with the passkey: HTTP %d\n%s", status, body)
	}

	// The neighbour cannot remove the citizen's passkey.
	nb := e.browser(t)
	nb.login(e.neighbor)
	nb.get("/app/passkeys")
	if status, _, _ := nb.post("/app/passkeys/remove", url.Values{"csrf": {nb.csrf()}, "id": {keys[0].ID}}); status != http.StatusNotFound {
		t.Errorf("another owner removing the passkey: HTTP %d", status)
	}
	b.get("/app/passkeys")
	if status, _, body := b.post("/app/passkeys/remove", url.Values{"csrf": {b.csrf()}, "id": {keys[0].ID}}); status != http.StatusOK || !strings.Contains(body, "Đã xóa") {
		t.Errorf("removing the passkey: HTTP %d", status)
	}
}
