package csc_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Attack tests (issue 13), written as a relying party holding its own
// client credentials would try its luck with another's SAD or token.

// auditEvent is one audit event with its details decoded.
type auditEvent struct {
	*store.AuditEvent
	d map[string]any
}

func (ev auditEvent) String() string {
	return ev.Action + " by " + ev.Actor + " " + ev.Outcome + " " + string(ev.Details)
}

// audit returns the audit events after id with action, oldest first.
func (e *env) audit(t *testing.T, after int64, action string) []auditEvent {
	t.Helper()
	evs, err := e.p.Store.ListAudit(context.Background(), after, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []auditEvent
	for _, ev := range evs {
		if ev.Action != action {
			continue
		}
		x := auditEvent{AuditEvent: ev}
		if err := json.Unmarshal(ev.Details, &x.d); err != nil {
			t.Fatalf("audit event %d: details %s: %v", ev.ID, ev.Details, err)
		}
		out = append(out, x)
	}
	return out
}

// lastAudit is the ID of the newest audit event.
func (e *env) lastAudit(t *testing.T) int64 {
	t.Helper()
	evs, err := e.p.Store.ListAudit(context.Background(), 0, 100000)
	if err != nil || len(evs) == 0 {
		t.Fatalf("audit: %v (%d events)", err, len(evs))
	}
	return evs[len(evs)-1].ID
}

// secondClient registers another relying party and returns its CSC
// client.
func (e *env) secondClient(t *testing.T, name string) *csc.Client {
	t.Helper()
	cl, err := e.svc.CreateClient(context.Background(), name, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	return &csc.Client{BaseURL: e.ts.URL + "/csc/v2", ClientID: cl.ID, ClientSecret: cl.Secret, HTTPClient: e.ts.Client()}
}

// TestSADBelongsToItsClient: client B sends client A's SAD, with A's very
// hashes, to signHash and to signDoc: refused as an invalid SAD, and the
// SAD stays usable by A. The authorisation (under A), B's refused attempt
// and A's signature carry one activation ID in the audit log, so they can
// be joined.
func TestSADBelongsToItsClient(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	ctx := context.Background()
	a, b := e.client, e.secondClient(t, "Cổng của kẻ khác")
	since := e.lastAudit(t)

	sum := sha256.Sum256([]byte("hợp đồng của A"))
	hashes := [][]byte{sum[:]}
	pin, otp, err := e.factors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sad, err := a.Authorize(ctx, e.cred.CredentialID, hashes, crypto.SHA256, pin, otp)
	if err != nil {
		t.Fatal(err)
	}
	var ae *csc.APIError
	if sigs, err := b.SignHash(ctx, e.cred.CredentialID, sad, hashes, crypto.SHA256, ""); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Body.Error != "invalid_request" {
		t.Fatalf("client B spent client A's SAD: %d signatures, err %v", len(sigs), err)
	}
	// The answer is the one an unknown SAD gets: B learns nothing of A's.
	if ae.Body.Description != "invalid SAD" {
		t.Errorf("B's refusal says %q, want %q", ae.Body.Description, "invalid SAD")
	}
	sigs, err := a.SignHash(ctx, e.cred.CredentialID, sad, hashes, crypto.SHA256, "")
	if err != nil {
		t.Fatalf("client A's own SAD after B's attempt: %v", err)
	}
	if !ecdsa.VerifyASN1(e.cred.Certificate.PublicKey.(*ecdsa.PublicKey), sum[:], sigs[0]) {
		t.Fatal("A's signature does not verify")
	}

	auth := e.audit(t, since, "credential.authorize")
	refused := e.audit(t, since, "signature.refuse")
	signed := e.audit(t, since, "signature.create")
	if len(auth) != 1 || len(refused) != 1 || len(signed) != 1 {
		t.Fatalf("audit: %d authorisations, %d refusals, %d signatures; want 1 each", len(auth), len(refused), len(signed))
	}
	id, _ := auth[0].d["activation"].(string)
	if id == "" || auth[0].Actor != "client:"+a.ClientID {
		t.Fatalf("credential.authorize by %s names no activation: %s", auth[0].Actor, auth[0].Details)
	}
	if refused[0].Actor != "client:"+b.ClientID || refused[0].d["activation"] != id || refused[0].d["refusal"] != "client" {
		t.Errorf("B's refusal: actor %s, details %s; want client %s, activation %s, refusal client", refused[0].Actor, refused[0].Details, b.ClientID, id)
	}
	if signed[0].Actor != "client:"+a.ClientID || signed[0].d["activation"] != id {
		t.Errorf("A's signature: actor %s, details %s; want activation %s", signed[0].Actor, signed[0].Details, id)
	}
	for _, ev := range append(append(auth, refused...), signed...) {
		if strings.Contains(string(ev.Details), sad) {
			t.Fatalf("the SAD itself is in the audit log: %s", ev.Details)
		}
	}

	// signDoc takes the same path to the key.
	pdf := testpdf.Minimal("Hop dong")
	ds := sha256.Sum256(pdf)
	if pin, otp, err = e.factors(ctx); err != nil {
		t.Fatal(err)
	}
	if sad, err = a.Authorize(ctx, e.cred.CredentialID, [][]byte{ds[:]}, crypto.SHA256, pin, otp); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SignDoc(ctx, e.cred.CredentialID, sad, [][]byte{pdf}, "AdES-B-B"); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("client B signed a document with client A's SAD: %v", err)
	}
	if _, err := a.SignDoc(ctx, e.cred.CredentialID, sad, [][]byte{pdf}, "AdES-B-B"); err != nil {
		t.Fatalf("client A's own SAD for signDoc after B's attempt: %v", err)
	}
}

// TestRevokeOnlyOwnToken: RFC 7009 section 2.1 lets a client revoke only
// the tokens issued to it. Client B revoking client A's token by its
// value is refused and A's token keeps working; A revokes its own.
func TestRevokeOnlyOwnToken(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	ctx := context.Background()
	a, b := e.client, e.secondClient(t, "Cổng của kẻ khác")
	tokA, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tokB, err := b.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	revoke := func(bearer, token string) (int, string) {
		body, _ := json.Marshal(csc.RevokeRequest{Token: token})
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/csc/v2/oauth2/revoke", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String()
	}
	if st, body := revoke(tokB, tokA); st != http.StatusForbidden || !strings.Contains(body, `"access_denied"`) {
		t.Errorf("B revoking A's token: %d %s, want 403 access_denied", st, body)
	}
	if _, err := a.CredentialInfo(ctx, e.cred.CredentialID); err != nil {
		t.Fatalf("A's token after B tried to revoke it: %v", err)
	}
	if !e.tokenWorks(t, tokB) {
		t.Fatal("B's own token stopped working after its refused revocation")
	}
	// An unknown token: success, as RFC 7009 section 2.2 says.
	if st, body := revoke(tokB, "no-such-token"); st != http.StatusNoContent {
		t.Errorf("revoking an unknown token: %d %s, want 204", st, body)
	}
	if st, body := revoke(tokA, tokA); st != http.StatusNoContent {
		t.Fatalf("A revoking its own token: %d %s", st, body)
	}
	if e.tokenWorks(t, tokA) {
		t.Error("A's token works after A revoked it")
	}
	refused := e.audit(t, 0, "token.revoke")
	if len(refused) != 2 || refused[0].Outcome != "error" || refused[0].Actor != "client:"+b.ClientID || refused[1].Outcome != "ok" {
		t.Errorf("token.revoke audit: %+v", refused)
	}
}

// tokenWorks reports whether credentials/info takes token.
func (e *env) tokenWorks(t *testing.T, token string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/csc/v2/credentials/info", strings.NewReader(`{"credentialID":"`+e.cred.CredentialID+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// newClientCert makes a self-signed TLS client certificate.
func newClientCert(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestMutualTLSTokenBound: a token obtained by mutual TLS is bound to the
// certificate (RFC 8705 section 3): the answer says so (cnf, x5t#S256),
// and the token is refused on a connection without that certificate or
// with another one, as one stolen from the portal's logs would be used.
func TestMutualTLSTokenBound(t *testing.T) {
	m := newMTLS(t)
	e, ts, client, good, other := m.env, m.ts, m.http, m.good, m.other
	resp, err := client(good).Post(ts.URL+"/csc/v2/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials&client_id="+m.clientID))
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		csc.TokenResponse
		Cnf map[string]string `json:"cnf"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("token by mutual TLS: %d %v", resp.StatusCode, err)
	}
	sum := sha256.Sum256(good.Certificate[0])
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); tr.Cnf["x5t#S256"] != want {
		t.Errorf("cnf %v, want x5t#S256 %s", tr.Cnf, want)
	}
	info := func(c *http.Client) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/csc/v2/credentials/info", strings.NewReader(`{"credentialID":"`+e.cred.CredentialID+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()[:min(b.Len(), 120)]
	}
	for _, c := range []struct {
		name   string
		client *http.Client
	}{{"no certificate", client()}, {"another certificate", client(other)}} {
		if st, body := info(c.client); st != http.StatusUnauthorized || !strings.Contains(body, `"invalid_token"`) {
			t.Errorf("the bound token with %s: %d %s, want 401 invalid_token", c.name, st, body)
		}
	}
	if st, body := info(client(good)); st != http.StatusOK {
		t.Errorf("the bound token with its certificate: %d %s", st, body)
	}
	if evs := e.audit(t, 0, "token.refuse"); len(evs) != 2 || evs[0].Actor != "client:"+m.clientID {
		t.Errorf("token.refuse audit: %d events, want 2 by client:%s", len(evs), m.clientID)
	}
	// A token obtained with the secret stays a bearer token.
	if _, err := e.client.CredentialInfo(context.Background(), e.cred.CredentialID); err != nil {
		t.Errorf("a secret's token without a certificate: %v", err)
	}
}

// TestCredentialInfoStatus: credentials/info tells the truth about the
// certificate (CSC API v2 section 11.5): suspended, valid again once
// resumed, revoked, expired — and the key "disabled" whenever it cannot
// sign.
func TestCredentialInfoStatus(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	ctx := context.Background()
	second, err := e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "079203005678", Name: "Trần Thị Lan", Province: "Hà Nội", PIN: "975318", Algorithm: hsm.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	serial := e.cred.Certificate.SerialNumber.Bytes()
	check := func(step, credID, key, cert string) {
		t.Helper()
		// The service's clock, a minute on: the CA dates a revocation by
		// the wall clock, to the second.
		e.clock.Advance(time.Minute)
		info, err := e.client.CredentialInfo(ctx, credID)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if info.Key.Status != key || info.Cert.Status != cert {
			t.Errorf("%s: key.status %q, cert.status %q; want %q, %q", step, info.Key.Status, info.Cert.Status, key, cert)
		}
	}
	check("issued", e.cred.CredentialID, "enabled", "valid")
	if err := e.p.CA.Suspend(ctx, serial, time.Time{}); err != nil {
		t.Fatal(err)
	}
	check("suspended", e.cred.CredentialID, "disabled", "suspended")
	if err := e.p.CA.Resume(ctx, serial); err != nil {
		t.Fatal(err)
	}
	check("resumed", e.cred.CredentialID, "enabled", "valid")
	if err := e.p.CA.Revoke(ctx, serial, 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	check("revoked", e.cred.CredentialID, "disabled", "revoked")
	check("the other citizen's", second.CredentialID, "enabled", "valid")

	// Past the end of its validity, with a token issued then.
	e.clock.Set(second.Certificate.NotAfter.Add(time.Hour))
	e.client = &csc.Client{BaseURL: e.client.BaseURL, ClientID: e.client.ClientID, ClientSecret: e.client.ClientSecret, HTTPClient: e.client.HTTPClient}
	check("expired", second.CredentialID, "disabled", "expired")
	check("revoked and expired", e.cred.CredentialID, "disabled", "revoked")
}
