package owner_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/owner"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

type env struct {
	svc      *signing.Service
	srv      *httptest.Server
	clock    *signingtest.Clock
	client   *signing.ClientCredentials
	citizen  *signing.Enrolment
	neighbor *signing.Enrolment
	// root is the test hierarchy's root, which receipts chain to.
	root *x509.Certificate
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	se := signingtest.New(t, nil)
	e := &env{svc: se.Service, clock: se.Clock, root: se.PKI.Hierarchy.Root}
	e.srv = httptest.NewServer(owner.NewHandler(e.svc, nil))
	t.Cleanup(e.srv.Close)
	var err error
	if e.client, err = e.svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test"); err != nil {
		t.Fatal(err)
	}
	for i, en := range []**signing.Enrolment{&e.citizen, &e.neighbor} {
		*en, err = e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: []string{"079203001234", "001198004321"}[i],
			Name: "Trần Thị Mai", Province: "Hà Nội", PIN: "135790", Algorithm: hsm.ECDSAP256, Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// otp moves to the next 30-second step and returns en's code.
func (e *env) otp(t testing.TB, en *signing.Enrolment) string {
	t.Helper()
	e.clock.Advance(30 * time.Second)
	return signingtest.Code(t, en, e.clock.Now())
}

func (e *env) submit(t testing.TB, en *signing.Enrolment, ref string) string {
	t.Helper()
	h := sha256.Sum256([]byte(ref))
	tx, _, err := e.svc.Submit(context.Background(), &signing.SubmitRequest{ClientID: e.client.ID, ClientRef: ref, NationalID: en.NationalID,
		Description: "Ký hợp đồng " + ref, Documents: []signing.Document{{DocID: ref + ".pdf", Hash: h[:]}}})
	if err != nil {
		t.Fatal(err)
	}
	return tx.ID
}

// do sends a request with token, if any, in the Bearer scheme; body is
// marshalled unless it is a string.
func (e *env) do(t testing.TB, method, path, token, contentType string, body any) (int, []byte) {
	t.Helper()
	if token != "" {
		token = "Bearer " + token
	}
	return e.doAuth(t, method, path, token, contentType, body)
}

// doAuth is do with the Authorization header as given; empty leaves it
// out.
func (e *env) doAuth(t testing.TB, method, path, authorization, contentType string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// expect checks an answer's status and, for errors, the error code.
func expect(t testing.TB, what string, status int, raw []byte, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: HTTP %d, want %d: %s", what, status, wantStatus, raw)
	}
	if wantCode == "" {
		return
	}
	var e owner.Error
	if err := json.Unmarshal(raw, &e); err != nil || e.Error != wantCode || e.Description == "" {
		t.Fatalf("%s: %s, want error %q", what, raw, wantCode)
	}
}

// withoutRequestID is an error body without its request_id, which every
// answer has its own of.
func withoutRequestID(t testing.TB, raw []byte) []byte {
	t.Helper()
	var e owner.Error
	if err := json.Unmarshal(raw, &e); err != nil || e.RequestID == "" {
		t.Fatalf("%s: not an error body with a request_id", raw)
	}
	e.RequestID = ""
	out, _ := json.Marshal(e)
	return out
}

func (e *env) login(t testing.TB, en *signing.Enrolment) string {
	t.Helper()
	status, raw := e.do(t, http.MethodPost, "/owner/v1/login", "", "application/json",
		owner.LoginRequest{NationalID: en.NationalID, PIN: "135790", OTP: e.otp(t, en)})
	expect(t, "login", status, raw, http.StatusOK, "")
	var lr owner.LoginResponse
	if err := json.Unmarshal(raw, &lr); err != nil || lr.AccessToken == "" || lr.TokenType != "Bearer" || lr.ExpiresIn <= 0 {
		t.Fatalf("login: %s", raw)
	}
	return lr.AccessToken
}

func (e *env) list(t *testing.T, token string) []owner.Transaction {
	t.Helper()
	status, raw := e.do(t, http.MethodGet, "/owner/v1/transactions", token, "", nil)
	expect(t, "list", status, raw, http.StatusOK, "")
	var l owner.TransactionList
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatal(err)
	}
	return l.Transactions
}

// TestLogin: both factors give a token; a wrong PIN, a wrong code or an
// unknown person do not, and get the same answer (the login does not tell
// who is enrolled); logout ends the token.
func TestLogin(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name       string
		req        owner.LoginRequest
		status     int
		code       string
		needsFresh bool
	}{
		{"wrong PIN", owner.LoginRequest{NationalID: "079203001234", PIN: "000000"}, http.StatusForbidden, "access_denied", true},
		{"wrong code", owner.LoginRequest{NationalID: "079203001234", PIN: "135790", OTP: "000000"}, http.StatusForbidden, "access_denied", false},
		{"unknown person", owner.LoginRequest{NationalID: "079203009999", PIN: "135790"}, http.StatusForbidden, "access_denied", true},
		{"no PIN", owner.LoginRequest{NationalID: "079203001234"}, http.StatusBadRequest, "invalid_request", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.needsFresh {
				c.req.OTP = e.otp(t, e.citizen)
			}
			status, raw := e.do(t, http.MethodPost, "/owner/v1/login", "", "application/json", c.req)
			expect(t, c.name, status, raw, c.status, c.code)
		})
	}
	tok := e.login(t, e.citizen) // the failures above are reset by a success
	if l := e.list(t, tok); len(l) != 0 {
		t.Errorf("%d transactions before any was submitted", len(l))
	}
	status, raw := e.do(t, http.MethodPost, "/owner/v1/logout", tok, "", nil)
	expect(t, "logout", status, raw, http.StatusNoContent, "")
	status, raw = e.do(t, http.MethodGet, "/owner/v1/transactions", tok, "", nil)
	expect(t, "after logout", status, raw, http.StatusUnauthorized, "invalid_token")
}

// TestTokens: the API needs an owner's token; a relying party's is not
// one.
func TestTokens(t *testing.T) {
	e := newEnv(t)
	clientTok, _, err := e.svc.ClientToken(context.Background(), e.client.ID, e.client.Secret, signing.ScopeService)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"none": "", "unknown": "not-a-token", "a relying party's": clientTok} {
		status, raw := e.do(t, http.MethodGet, "/owner/v1/transactions", tok, "", nil)
		expect(t, name, status, raw, http.StatusUnauthorized, "invalid_token")
	}
}

// TestBearerScheme: the owner API reads the Authorization header as
// httpedge.Bearer does: "bearer" and "BEARER" are "Bearer", for the
// pages and for logout.
func TestBearerScheme(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t, e.citizen)
	httpedgetest.Bearer(t, tok, http.StatusOK, func(t *testing.T, authorization string) int {
		status, _ := e.doAuth(t, http.MethodGet, "/owner/v1/transactions", authorization, "", nil)
		return status
	})
	status, raw := e.doAuth(t, http.MethodPost, "/owner/v1/logout", "BEARER "+tok, "", nil)
	expect(t, "logout", status, raw, http.StatusNoContent, "")
	status, raw = e.do(t, http.MethodGet, "/owner/v1/transactions", tok, "", nil)
	expect(t, "after logout", status, raw, http.StatusUnauthorized, "invalid_token")
}

// TestDecisions: each owner sees and decides only their own transactions;
// approving takes both factors; a decided transaction cannot be decided
// again.
func TestDecisions(t *testing.T) {
	e := newEnv(t)
	mine := e.submit(t, e.citizen, "hd-1")
	second := e.submit(t, e.citizen, "hd-2")
	theirs := e.submit(t, e.neighbor, "hd-3")
	tok, ntok := e.login(t, e.citizen), e.login(t, e.neighbor)

	l := e.list(t, tok)
	if len(l) != 2 || l[0].ClientName != "Cổng dịch vụ công" || l[0].Status != "pending" || len(l[0].Documents) != 1 || len(l[0].Documents[0].Hash) != 64 {
		t.Fatalf("the citizen's list: %+v", l)
	}
	for _, x := range l {
		if x.ID == theirs {
			t.Fatal("the neighbour's transaction is in the citizen's list")
		}
	}
	approve := func(tok, id, pin, otp string) (int, []byte) {
		return e.do(t, http.MethodPost, "/owner/v1/transactions/"+id+"/approve", tok, "application/json", owner.ApproveRequest{PIN: pin, OTP: otp})
	}
	status, raw := approve(ntok, mine, "135790", e.otp(t, e.neighbor))
	expect(t, "the neighbour approving the citizen's", status, raw, http.StatusNotFound, "not_found")
	status, raw = e.do(t, http.MethodPost, "/owner/v1/transactions/"+mine+"/reject", ntok, "", nil)
	expect(t, "the neighbour rejecting the citizen's", status, raw, http.StatusNotFound, "not_found")
	// A wrong code and a wrong PIN get one answer, byte for byte but for
	// the request's own ID: no answer tells which factor was right.
	status, wrongCode := approve(tok, mine, "135790", "123456")
	expect(t, "a wrong code", status, wrongCode, http.StatusForbidden, "access_denied")
	status, wrongPIN := approve(tok, mine, "999999", e.otp(t, e.citizen))
	expect(t, "a wrong PIN", status, wrongPIN, http.StatusForbidden, "access_denied")
	if !bytes.Equal(withoutRequestID(t, wrongCode), withoutRequestID(t, wrongPIN)) {
		t.Errorf("a wrong code answers %s, a wrong PIN %s", wrongCode, wrongPIN)
	}
	status, raw = approve(tok, "no-such-transaction", "135790", e.otp(t, e.citizen))
	expect(t, "an unknown transaction", status, raw, http.StatusNotFound, "not_found")

	status, raw = approve(tok, mine, "135790", e.otp(t, e.citizen))
	expect(t, "approve", status, raw, http.StatusOK, "")
	var d owner.Decision
	if json.Unmarshal(raw, &d); d.ID != mine || d.Status != "signed" {
		t.Errorf("approve answered %s", raw)
	}
	status, raw = e.do(t, http.MethodPost, "/owner/v1/transactions/"+second+"/reject", tok, "application/json", "{}")
	expect(t, "reject", status, raw, http.StatusOK, "")
	status, raw = e.do(t, http.MethodPost, "/owner/v1/transactions/"+mine+"/reject", tok, "", nil)
	expect(t, "rejecting a signed transaction", status, raw, http.StatusConflict, "conflict")
	status, raw = approve(tok, second, "135790", e.otp(t, e.citizen))
	expect(t, "approving a rejected transaction", status, raw, http.StatusConflict, "conflict")
	if l := e.list(t, tok); len(l) != 0 {
		t.Errorf("%d still pending", len(l))
	}
	if l := e.list(t, ntok); len(l) != 1 || l[0].ID != theirs {
		t.Errorf("the neighbour's list: %+v", l)
	}
}

// TestBadRequests: bodies the API refuses, with the server still serving.
func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t, e.citizen)
	id := e.submit(t, e.citizen, "hd-9")
	approvePath := "/owner/v1/transactions/" + id + "/approve"
	for _, c := range []struct {
		name, method, path, ct string
		body                   any
		status                 int
	}{
		{"wrong content type", http.MethodPost, approvePath, "text/plain", `{"pin":"1","otp":"2"}`, http.StatusUnsupportedMediaType},
		{"malformed JSON", http.MethodPost, approvePath, "application/json", `{"pin":`, http.StatusBadRequest},
		{"unknown field", http.MethodPost, approvePath, "application/json", `{"pin":"135790","otp":"1","approve_all":true}`, http.StatusBadRequest},
		{"data after the object", http.MethodPost, approvePath, "application/json", `{"pin":"1","otp":"2"} {}`, http.StatusBadRequest},
		{"oversized", http.MethodPost, approvePath, "application/json", `{"pin":"` + strings.Repeat("1", owner.MaxBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"no factors", http.MethodPost, approvePath, "application/json", `{}`, http.StatusBadRequest},
		{"control character in the ID", http.MethodPost, "/owner/v1/transactions/a%01b/reject", "", nil, http.StatusNotFound},
		{"unknown route", http.MethodGet, "/owner/v1/credentials", "", nil, http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, raw := e.do(t, c.method, c.path, tok, c.ct, c.body)
			if status != c.status {
				t.Fatalf("HTTP %d, want %d: %s", status, c.status, raw)
			}
			var er owner.Error
			if err := json.Unmarshal(raw, &er); err != nil || er.Error == "" {
				t.Errorf("not an error body: %s", raw)
			}
		})
	}
	if l := e.list(t, tok); len(l) != 1 {
		t.Errorf("the server stopped serving, or the transaction changed: %+v", l)
	}
}
