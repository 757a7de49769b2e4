package smartca_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/owner"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/smartca"
	"github.com/kyso-pki/kyso/pkg/store"
)

// delivery is one request the webhook receiver got.
type delivery struct {
	method string
	path   string
	header http.Header
	body   []byte
	status int
}

// receiver is a relying party's webhook endpoint: it answers with the
// statuses queued in fail, then 200.
type receiver struct {
	mu   sync.Mutex
	got  []delivery
	fail []int
	srv  *httptest.Server
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	status := http.StatusOK
	if len(rc.fail) > 0 {
		status, rc.fail = rc.fail[0], rc.fail[1:]
	}
	rc.got = append(rc.got, delivery{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body, status: status})
	if status == http.StatusFound {
		http.Redirect(w, r, "/elsewhere", status)
		return
	}
	w.WriteHeader(status)
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// party is a relying party: its credentials, and its webhook key.
type party struct {
	id, secret string
	key        []byte
}

type env struct {
	p        *catest.PKI
	pki      *servertest.Served
	svc      *signing.Service
	st       store.Signing
	clock    *signingtest.Clock
	srv      *httptest.Server
	rcv      *receiver
	disp     *signing.Dispatcher
	portal   *party // with a webhook to rcv
	other    *party // polling only
	citizen  *signing.Enrolment
	neighbor *signing.Enrolment
}

// newEnv serves the SmartCA dialect and the owner API for a throwaway CA
// with two enrolled citizens and two relying parties, one of them with a
// webhook.
func newEnv(t testing.TB, alg hsm.Algorithm) *env {
	t.Helper()
	ctx := context.Background()
	p := signingtest.NewPKI(t)
	st := p.Store
	e := &env{p: p, st: st, clock: signingtest.NewClock(time.Now()), rcv: &receiver{}}
	// The pre-signing check, for real: OCSP from the CA served in-process,
	// judged by the wall clock its answers carry.
	var check *signercheck.Config
	e.pki, check = signingtest.ServePKI(t, p)
	check.Now = time.Now
	cfg := signingtest.Config(e.clock)
	cfg.SkipSignerCheck, cfg.SignerCheck = false, check
	cfg.Notification = smartca.EncodeNotification
	e.svc = signingtest.NewService(t, p, cfg)
	mux := http.NewServeMux()
	mux.Handle("/smartca/v1/", smartca.NewHandler(e.svc, &smartca.Options{Now: e.clock.Now}))
	mux.Handle("/owner/v1/", owner.NewHandler(e.svc, nil))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.rcv.srv = httptest.NewServer(e.rcv)
	t.Cleanup(e.rcv.srv.Close)
	e.disp = &signing.Dispatcher{Service: e.svc, Store: st, HTTPClient: e.rcv.srv.Client(), Now: e.clock.Now, Timeout: 5 * time.Second}

	e.portal = e.party(t, "Cổng dịch vụ công", e.rcv.srv.URL+"/hook?token=portal")
	e.other = e.party(t, "Cổng thuế", "")
	for i, en := range []**signing.Enrolment{&e.citizen, &e.neighbor} {
		var err error
		*en, err = e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: []string{"079203001234", "001198004321"}[i],
			Name: "Nguyễn Văn Đức", Province: "Hà Nội", PIN: "246810", Algorithm: alg, Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) party(t testing.TB, name, webhook string, opts ...signing.ClientOption) *party {
	t.Helper()
	ctx := context.Background()
	cl, err := e.svc.CreateClient(ctx, name, webhook, "test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.Client(ctx, cl.ID)
	if err != nil {
		t.Fatal(err)
	}
	key, err := e.svc.WebhookKey(c)
	if err != nil {
		t.Fatal(err)
	}
	return &party{id: cl.ID, secret: cl.Secret, key: key}
}

// post sends a JSON body (a value, or raw bytes as they are) and returns
// the HTTP status and the body.
func (e *env) post(t testing.TB, path, contentType string, body any, header ...string) (int, []byte) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.do(t, req)
}

func (e *env) do(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// envelope is an answer with its data left raw.
type envelope struct {
	StatusCode int             `json:"status_code"`
	Message    string          `json:"message"`
	Data       json.RawMessage `json:"data"`
}

// call posts a SmartCA request as p and decodes the envelope into data; it
// fails the test unless the HTTP status is want and equals status_code.
func (e *env) call(t testing.TB, p *party, path string, req map[string]any, want int, data any) envelope {
	t.Helper()
	body := map[string]any{"sp_id": p.id, "sp_password": p.secret}
	for k, v := range req {
		body[k] = v
	}
	status, raw := e.post(t, path, "application/json", body)
	return checkEnvelope(t, status, raw, want, data)
}

func checkEnvelope(t testing.TB, status int, raw []byte, want int, data any) envelope {
	t.Helper()
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("HTTP %d, not an envelope: %v: %s", status, err, raw)
	}
	if status != want || env.StatusCode != status {
		t.Fatalf("HTTP %d, status_code %d, want %d: %s", status, env.StatusCode, want, raw)
	}
	if status != http.StatusOK && string(env.Data) != "null" {
		t.Errorf("an error with data: %s", raw)
	}
	if data != nil {
		if err := json.Unmarshal(env.Data, data); err != nil {
			t.Fatalf("data: %v: %s", err, raw)
		}
	}
	return env
}

// file is a sign_files entry for content.
func file(docID, content string) map[string]any {
	h := sha256.Sum256([]byte(content))
	return map[string]any{"doc_id": docID, "file_type": "pdf", "sign_type": "hash", "data_to_be_signed": hex.EncodeToString(h[:])}
}

// submit asks the citizen to sign files as p and returns the tran_code.
func (e *env) submit(t testing.TB, p *party, ref string, files ...map[string]any) string {
	t.Helper()
	var d smartca.SignData
	e.call(t, p, "/smartca/v1/signatures/sign", map[string]any{"user_id": "079203001234", "transaction_id": ref,
		"transaction_desc": "Đăng ký khai sinh", "sign_files": files}, http.StatusOK, &d)
	if d.TransactionID != ref || d.TranCode == "" {
		t.Fatalf("sign answered %+v", d)
	}
	return d.TranCode
}

// status polls a transaction as p.
func (e *env) status(t testing.TB, p *party, code string) (*smartca.StatusData, []byte) {
	t.Helper()
	status, raw := e.post(t, "/smartca/v1/signatures/sign/"+code+"/status", "application/json",
		map[string]any{"sp_id": p.id, "sp_password": p.secret})
	var d smartca.StatusData
	checkEnvelope(t, status, raw, http.StatusOK, &d)
	return &d, raw
}

// otp is a fresh one-time code of en: the clock moves to the next step
// first, as an owner waiting for a new code does.
func (e *env) otp(t testing.TB, en *signing.Enrolment) string {
	t.Helper()
	e.clock.Advance(30 * time.Second)
	return signingtest.Code(t, en, e.clock.Now())
}

// ownerCall sends an owner API request with a bearer token and decodes a
// 2xx answer into out; it returns the status and the body.
func (e *env) ownerCall(t testing.TB, method, path, token string, body any, out any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	status, raw := e.do(t, req)
	if out != nil && status/100 == 2 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return status, raw
}

// login logs en in through the owner API.
func (e *env) login(t testing.TB, en *signing.Enrolment) string {
	t.Helper()
	var lr owner.LoginResponse
	status, raw := e.ownerCall(t, http.MethodPost, "/owner/v1/login", "",
		owner.LoginRequest{NationalID: strings.TrimPrefix(en.NationalID, "CCCD:"), PIN: "246810", OTP: e.otp(t, en)}, &lr)
	if status != http.StatusOK || lr.AccessToken == "" || lr.TokenType != "Bearer" {
		t.Fatalf("login: HTTP %d %s", status, raw)
	}
	return lr.AccessToken
}

// decide approves (with fresh factors) or rejects a transaction as en.
func (e *env) decide(t testing.TB, en *signing.Enrolment, token, id string, approve bool) (int, []byte) {
	t.Helper()
	if approve {
		return e.ownerCall(t, http.MethodPost, "/owner/v1/transactions/"+id+"/approve", token,
			owner.ApproveRequest{PIN: "246810", OTP: e.otp(t, en)}, nil)
	}
	return e.ownerCall(t, http.MethodPost, "/owner/v1/transactions/"+id+"/reject", token, nil, nil)
}

// once runs one dispatcher round and returns how many webhooks it tried.
func (e *env) once(t testing.TB) int {
	t.Helper()
	n, err := e.disp.Once(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkDelivery checks a webhook's headers and signature against p's key
// and returns its body decoded.
func checkDelivery(t testing.TB, d delivery, p *party) *smartca.Notification {
	t.Helper()
	if d.method != http.MethodPost || d.path != "/hook" {
		t.Errorf("webhook %s %s, want POST /hook", d.method, d.path)
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("webhook Content-Type %q", ct)
	}
	if d.header.Get(signing.HeaderDelivery) == "" {
		t.Error("webhook without a delivery ID")
	}
	mac := hmac.New(sha256.New, p.key)
	mac.Write(d.body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := d.header.Get(signing.HeaderSignature); !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("webhook signature %q, want %q", got, want)
	}
	var n smartca.Notification
	if err := json.Unmarshal(d.body, &n); err != nil {
		t.Fatalf("webhook body: %v: %s", err, d.body)
	}
	if n.StatusCode != http.StatusOK || n.Data == nil {
		t.Fatalf("webhook body: %s", d.body)
	}
	if key := n.Data.TranCode + ":" + n.Data.Status; n.Data.IdempotencyKey != key || d.header.Get(signing.HeaderIdempotency) != key {
		t.Errorf("webhook idempotency key %q in the body, %q in the header; want %q", n.Data.IdempotencyKey, d.header.Get(signing.HeaderIdempotency), key)
	}
	return &n
}
