package main

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// jaeger is a Jaeger v2 all-in-one (testenv.Jaeger) on loopback with
// in-memory storage: an OTLP/HTTP receiver and the query API.
type jaeger struct {
	otlp, query string
	out         *bytes.Buffer
}

// freePorts returns n loopback ports free a moment ago. Jaeger's
// listeners cannot be told to report ports picked by the kernel, so these
// are chosen here; another process taking one first fails the start.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// startJaeger starts Jaeger with a configuration written here: OTLP over
// HTTP only, traces kept in memory, the query API, a health check, and
// no listener on a fixed port (its own metrics off).
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := testenv.Jaeger(t)
	p := freePorts(t, 4)
	cfg := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%d
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, p[0], p[1], p[2], p[3])
	path := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	j := &jaeger{otlp: fmt.Sprintf("http://127.0.0.1:%d", p[3]), query: fmt.Sprintf("http://127.0.0.1:%d", p[1]), out: &bytes.Buffer{}}
	cmd := exec.Command(bin, "--config", path)
	cmd.Stdout, cmd.Stderr = j.out, j.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	for deadline := time.Now().Add(60 * time.Second); ; {
		select {
		case <-exited:
			t.Fatalf("jaeger exited:\n%s", j.out)
		default:
		}
		if resp, err := http.Get(j.query + "/api/services"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if resp, err := http.Post(j.otlp+"/v1/traces", "application/json", strings.NewReader(`{}`)); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						return j
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger not ready in 60s:\n%s", j.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jaegerSpan is a span as Jaeger's query API (/api/traces) gives it.
type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	ProcessID string `json:"processID"`
}

// tag is the value of the span's tag key, as text; "" when it has none.
func (s *jaegerSpan) tag(key string) string {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

// parent is the span's CHILD_OF parent, "" for a root.
func (s *jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// jaegerTrace is one trace: its spans and their processes' tags.
type jaegerTrace struct {
	TraceID   string       `json:"traceID"`
	Spans     []jaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
		Tags        []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"processes"`
}

// named returns the trace's spans called name.
func (tr *jaegerTrace) named(name string) []*jaegerSpan {
	var out []*jaegerSpan
	for i := range tr.Spans {
		if tr.Spans[i].OperationName == name {
			out = append(out, &tr.Spans[i])
		}
	}
	return out
}

// under reports whether span s descends from the span with ID ancestor.
func (tr *jaegerTrace) under(s *jaegerSpan, ancestor string) bool {
	byID := map[string]*jaegerSpan{}
	for i := range tr.Spans {
		byID[tr.Spans[i].SpanID] = &tr.Spans[i]
	}
	for p := s.parent(); p != ""; {
		if p == ancestor {
			return true
		}
		ps, ok := byID[p]
		if !ok {
			return false
		}
		p = ps.parent()
	}
	return false
}

// traces asks Jaeger's query API for path's traces.
func (j *jaeger) traces(t *testing.T, path string) []jaegerTrace {
	t.Helper()
	resp, err := http.Get(j.query + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data []jaegerTrace `json:"data"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: HTTP %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return out.Data
}

// trace waits up to 30 seconds for trace id to hold a span named want,
// and returns it.
func (j *jaeger) trace(t *testing.T, id, want string) *jaegerTrace {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if trs := j.traces(t, "/api/traces/"+id); len(trs) == 1 && len(trs[0].named(want)) > 0 {
			return &trs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger has no span %q in trace %s", want, id)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTracingToJaeger runs kysod with tracing pointed at a real Jaeger and
// reads the spans back from Jaeger's query API: a CSC authorize and
// signHash continuing the portal's traceparent, a SmartCA transaction
// approved by the owner, its webhook carrying the delivery span's
// traceparent. It checks the server span per route (named by the
// pattern, never an ID), the key store's sign span and a database span
// below the right request, argon2's spans below the authorisation, the
// trace_id in kysod's log line of a request, the flush at shutdown (the
// batch delay is longer than the test), and that no attribute anywhere
// holds the PIN, the one-time codes, the SAD, the access token, the
// client secret or the national ID used.
func TestTracingToJaeger(t *testing.T) {
	kysod, kyso := binaries(t)
	j := startJaeger(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	service := "kysod-trace-test"
	config := filepath.Join(dir, "kysod.yaml")
	// The endpoint from the file; the service name from the standard
	// variable, which overrides the file's.
	os.WriteFile(config, []byte("tracing:\n  endpoint: "+j.otlp+"\n  sample_ratio: 1\n  service_name: overridden\nwebhooks: {interval: 1s}\n"), 0o600)
	d := startKysod(t, kysod, data, "KYSO_CONFIG="+config, "KYSO_LOG_LEVEL=debug", "OTEL_SERVICE_NAME="+service,
		// Nothing leaves before shutdown: the spans in Jaeger are the
		// shutdown's flush.
		"OTEL_BSP_SCHEDULE_DELAY=600000", "OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=", "OTEL_SDK_DISABLED=")
	if !strings.Contains(d.out.String(), "tracing         OpenTelemetry over OTLP/HTTP to "+j.otlp+"/v1/traces, service "+service) {
		t.Errorf("kysod does not say where traces go:\n%s", d.out.String())
	}
	root := filepath.Join(dir, "root.pem")
	fetchPEM(t, "http://"+d.pk+"/ca/root.crt", root)
	public := httpsClient(root)

	var hooksMu sync.Mutex
	var hooks []http.Header
	// The portal's receiver fails the first attempt: a failed delivery
	// is traced, and its log line names its trace.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hooksMu.Lock()
		defer hooksMu.Unlock()
		hooks = append(hooks, r.Header.Clone())
		if len(hooks) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer receiver.Close()
	const cccd, pin = "079203008888", "642135"
	var en struct {
		CredentialID string `json:"credential_id"`
		OTPAuth      string `json:"otpauth_uri"`
	}
	json.Unmarshal([]byte(runKyso(t, kyso, data, nil, "enroll", "--cccd", cccd, "--name", "Trần Văn Ơn", "--province", "Hà Nội", "--pin", pin, "--output", "json")), &en)
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal([]byte(runKyso(t, kyso, data, nil, "client", "create", "--name", "Cổng thử", "--webhook", receiver.URL+"/hook", "--output", "json")), &cl)
	if en.CredentialID == "" || cl.ID == "" {
		t.Fatal("enroll or client create printed no IDs")
	}

	// post sends a JSON body (or a form) with the portal's headers.
	post := func(path, token, tp, requestID string, body any) (int, []byte) {
		t.Helper()
		var req *http.Request
		if form, ok := body.(url.Values); ok {
			req, _ = http.NewRequest(http.MethodPost, "https://"+d.https+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			b, _ := json.Marshal(body)
			req, _ = http.NewRequest(http.MethodPost, "https://"+d.https+path, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if tp != "" {
			req.Header.Set("traceparent", tp)
		}
		if requestID != "" {
			req.Header.Set("X-Request-ID", requestID)
		}
		resp, err := public.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// CSC: a token, an authorisation with PIN and code, a signHash.
	code, b := post("/csc/v2/oauth2/token", "", "", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID}, "client_secret": {cl.Secret}})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(b, &tok); code != 200 || tok.AccessToken == "" {
		t.Fatalf("oauth2/token: %d %s", code, b)
	}
	// The owner's codes: the authorisation takes the previous step's
	// (within the service's skew), leaving now and later to kyso approve.
	if time.Now().Unix()%30 > 25 {
		time.Sleep(6 * time.Second)
	}
	otp, err := signing.TOTPCode(en.OTPAuth, time.Now().Add(-30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("Hợp đồng thử"))
	hashB64 := base64.StdEncoding.EncodeToString(digest[:])
	authTP, authTrace, authParent := traceparent()
	code, b = post("/csc/v2/credentials/authorize", tok.AccessToken, authTP, "", map[string]any{"credentialID": en.CredentialID, "numSignatures": 1,
		"hashes": []string{hashB64}, "hashAlgorithmOID": algid.HashOID(crypto.SHA256).String(),
		"authData": []map[string]string{{"id": "PIN", "value": pin}, {"id": "OTP", "value": otp}}})
	var auth struct {
		SAD string `json:"SAD"`
	}
	if json.Unmarshal(b, &auth); code != 200 || auth.SAD == "" {
		t.Fatalf("credentials/authorize: %d %s", code, b)
	}
	signTP, signTrace, signParent := traceparent()
	code, b = post("/csc/v2/signatures/signHash", tok.AccessToken, signTP, "trace-signhash-1", map[string]any{"credentialID": en.CredentialID, "SAD": auth.SAD,
		"hashes": []string{hashB64}, "hashAlgorithmOID": algid.HashOID(crypto.SHA256).String(), "signAlgo": algid.ECDSAWithSHA256.String()})
	if code != 200 {
		t.Fatalf("signHash: %d %s", code, b)
	}
	// The same SAD again: refused, and the refusal logged in the
	// request's context.
	refusedTP, refusedTrace, _ := traceparent()
	if code, b = post("/csc/v2/signatures/signHash", tok.AccessToken, refusedTP, "trace-refused-1", map[string]any{"credentialID": en.CredentialID, "SAD": auth.SAD,
		"hashes": []string{hashB64}, "hashAlgorithmOID": algid.HashOID(crypto.SHA256).String(), "signAlgo": algid.ECDSAWithSHA256.String()}); code < 400 {
		t.Fatalf("signHash with a spent SAD: %d %s", code, b)
	}

	// SmartCA: a transaction, approved by the owner (kyso approve, the
	// owners' API), its webhook delivered.
	const tranID = "trace-tran-0001"
	code, b = post("/smartca/v1/signatures/sign", "", "", "", map[string]any{"sp_id": cl.ID, "sp_password": cl.Secret, "user_id": cccd, "transaction_id": tranID,
		"sign_files": []map[string]string{{"doc_id": "hop-dong.pdf", "file_type": "pdf", "sign_type": "hash", "data_to_be_signed": hex.EncodeToString(digest[:])}}})
	var tx struct {
		Data struct {
			TranCode string `json:"tran_code"`
		} `json:"data"`
	}
	if json.Unmarshal(b, &tx); code != 200 || tx.Data.TranCode == "" {
		t.Fatalf("smartca sign: %d %s", code, b)
	}
	runKyso(t, kyso, data, []string{"OWNER_PIN=" + pin, "OWNER_OTPAUTH=" + en.OTPAuth}, "approve", "--url", "https://"+d.https, "--national-id", "CCCD:"+cccd,
		"--pin-source", "env:OWNER_PIN", "--otpauth-source", "env:OWNER_OTPAUTH", "--ca-file", root, "--all")
	code, b = post("/smartca/v1/signatures/sign/"+tx.Data.TranCode+"/status", "", "", "", map[string]any{"sp_id": cl.ID, "sp_password": cl.Secret})
	if code != 200 {
		t.Fatalf("smartca status: %d %s", code, b)
	}
	var failed, hook http.Header
	for deadline := time.Now().Add(60 * time.Second); hook == nil; {
		hooksMu.Lock()
		if len(hooks) > 1 {
			failed, hook = hooks[0], hooks[1]
		}
		hooksMu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("no webhook delivered again within 60s of the approval")
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.stop(t)

	// The portal's traces, continued: one server span per route, named
	// by its pattern, a child of the portal's span.
	tr := j.trace(t, authTrace, "POST /csc/v2/credentials/authorize")
	authSpan := tr.named("POST /csc/v2/credentials/authorize")[0]
	if authSpan.parent() != authParent || authSpan.tag("span.kind") != "server" || authSpan.tag("http.route") != "POST /csc/v2/credentials/authorize" ||
		authSpan.tag("http.response.status_code") != "200" {
		t.Errorf("authorize's span: parent %s (want the portal's %s), tags %v", authSpan.parent(), authParent, authSpan.Tags)
	}
	if p := tr.Processes[authSpan.ProcessID]; p.ServiceName != service {
		t.Errorf("service %q, want %q (OTEL_SERVICE_NAME)", p.ServiceName, service)
	}
	for _, name := range []string{"argon2.wait", "argon2.evaluate", "db.write"} {
		spans := tr.named(name)
		if len(spans) == 0 || !tr.under(spans[0], authSpan.SpanID) {
			t.Errorf("no %s span below authorize's (trace %s)", name, authTrace)
		}
	}
	tr = j.trace(t, signTrace, "keystore.sign")
	signSpan := tr.named("POST /csc/v2/signatures/signHash")
	if len(signSpan) != 1 || signSpan[0].parent() != signParent || signSpan[0].tag("kyso.request_id") != "trace-signhash-1" {
		t.Fatalf("signHash's server span: %+v", signSpan)
	}
	ks := tr.named("keystore.sign")[0]
	if !tr.under(ks, signSpan[0].SpanID) || ks.tag("kyso.credential_id") != en.CredentialID || ks.tag("kyso.signatures") != "1" || ks.tag("kyso.api") != "signHash" {
		t.Errorf("keystore.sign: under signHash %v, tags %v", tr.under(ks, signSpan[0].SpanID), ks.Tags)
	}
	if w := tr.named("db.write"); len(w) == 0 || !tr.under(w[0], signSpan[0].SpanID) || w[0].tag("db.system.name") != "sqlite" {
		t.Errorf("no db.write (sqlite) below signHash's span")
	}
	tr = j.trace(t, refusedTrace, "POST /csc/v2/signatures/signHash")
	refused := tr.named("POST /csc/v2/signatures/signHash")[0]
	if c, _ := strconv.Atoi(refused.tag("http.response.status_code")); c < 400 || len(tr.named("keystore.sign")) != 0 {
		t.Errorf("the refused signHash: tags %v, %d keystore.sign spans", refused.Tags, len(tr.named("keystore.sign")))
	}

	// The trace's IDs in the log line of the refused request, beside its
	// request_id.
	var logged bool
	for _, l := range strings.Split(d.logged(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["request_id"] != "trace-refused-1" {
			continue
		}
		logged = true
		if m["trace_id"] != refusedTrace || m["span_id"] != refused.SpanID {
			t.Errorf("log line of the refused request: trace_id %v span_id %v, want %s %s: %s", m["trace_id"], m["span_id"], refusedTrace, refused.SpanID, l)
		}
	}
	if !logged {
		t.Errorf("no log line names request_id trace-refused-1:\n%s", d.logged())
	}

	// The SmartCA transaction: its routes by pattern, its signature below
	// the owner's approval.
	all := j.traces(t, "/api/traces?service="+service+"&limit=1000&lookback=1h")
	var approve, status, smartSign, txSign *jaegerSpan
	var txTrace *jaegerTrace
	for i := range all {
		for k := range all[i].Spans {
			s := &all[i].Spans[k]
			switch s.OperationName {
			case "POST /owner/v1/transactions/{id}/approve":
				approve = s
			case "POST /smartca/v1/signatures/sign/{tran_code}/status":
				status = s
			case "POST /smartca/v1/signatures/sign":
				smartSign = s
			case "keystore.sign":
				if s.tag("kyso.api") == "transaction" {
					txSign, txTrace = s, &all[i]
				}
			}
		}
	}
	if approve == nil || status == nil || smartSign == nil || txSign == nil {
		t.Fatalf("missing spans: approve %v, status %v, sign %v, keystore.sign of the transaction %v", approve != nil, status != nil, smartSign != nil, txSign != nil)
	}
	if !txTrace.under(txSign, approve.SpanID) {
		t.Errorf("the transaction's keystore.sign is not below the owner's approval")
	}

	// The webhook: each attempt's traceparent names its delivery span in
	// Jaeger; the failed one is marked failed by its error's type only,
	// and the log line of the failure names its trace.
	traceOf := func(h http.Header, status string, attempt int) *jaegerSpan {
		t.Helper()
		m := regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$`).FindStringSubmatch(h.Get("traceparent"))
		if m == nil {
			t.Fatalf("the webhook's traceparent %q", h.Get("traceparent"))
		}
		tr := j.trace(t, m[1], "webhook.deliver")
		del := tr.named("webhook.deliver")[0]
		if del.SpanID != m[2] || del.tag("span.kind") != "client" || del.tag("kyso.client_id") != cl.ID || del.tag("http.response.status_code") != status ||
			del.tag("kyso.webhook.attempt") != strconv.Itoa(attempt) {
			t.Errorf("webhook.deliver %s (traceparent's %s), tags %v", del.SpanID, m[2], del.Tags)
		}
		return del
	}
	good := traceOf(hook, "200", 2)
	bad := traceOf(failed, "503", 1)
	// Each attempt's span, the root of its own trace, links back to a
	// span of the owner's approval that queued the notification.
	for _, del := range []*jaegerSpan{good, bad} {
		linked := false
		for _, r := range del.References {
			if r.RefType != "FOLLOWS_FROM" || r.TraceID != approve.TraceID {
				continue
			}
			for _, s := range txTrace.Spans {
				linked = linked || s.SpanID == r.SpanID
			}
		}
		if !linked || del.parent() != "" {
			t.Errorf("webhook.deliver %s (attempt %s): references %+v, want a root linked (FOLLOWS_FROM) to a span of the approval's trace %s",
				del.SpanID, del.tag("kyso.webhook.attempt"), del.References, approve.TraceID)
		}
	}
	if bad.tag("otel.status_code") != "ERROR" || bad.tag("error.type") == "" || bad.tag("otel.status_description") != "" {
		t.Errorf("the failed delivery's span: tags %v, want status ERROR, error.type and no message", bad.Tags)
	}
	if !regexp.MustCompile(`"msg":"signing: webhook attempt failed".*"trace_id":"` + bad.TraceID + `","span_id":"` + bad.SpanID + `"`).MatchString(d.logged()) {
		t.Errorf("no log line of the failed delivery names its trace %s:\n%s", bad.TraceID, d.logged())
	}

	// No span's name or attribute holds a secret or a personal datum,
	// nor a path's ID.
	secrets := map[string]string{"PIN": pin, "OTP": otp, "SAD": auth.SAD, "access token": tok.AccessToken, "client secret": cl.Secret,
		"national ID": cccd, "document hash (hex)": hex.EncodeToString(digest[:]), "document hash (base64)": hashB64}
	spans := 0
	for _, tr := range all {
		for _, s := range tr.Spans {
			spans++
			texts := []string{s.OperationName}
			for _, tg := range s.Tags {
				texts = append(texts, fmt.Sprint(tg.Value))
			}
			for _, p := range tr.Processes {
				for _, tg := range p.Tags {
					texts = append(texts, fmt.Sprint(tg.Value))
				}
			}
			for _, text := range texts {
				for what, v := range secrets {
					if strings.Contains(text, v) {
						t.Errorf("span %s holds the %s: %q", s.OperationName, what, text)
					}
				}
				if strings.Contains(text, tx.Data.TranCode) {
					t.Errorf("span %s holds the transaction's code %q: %q", s.OperationName, tx.Data.TranCode, text)
				}
			}
		}
	}
	t.Logf("%d traces, %d spans of service %s in Jaeger", len(all), spans, service)
}
