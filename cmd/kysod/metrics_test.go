package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/ocsp"

	dto "github.com/prometheus/client_model/go"
)

// metricFamilies are the families /metrics must always carry (issue 16:
// signatures, latencies per route, key store operations and errors, the
// argon2 queue, database commits, OCSP, webhooks, certificates).
var metricFamilies = []string{
	"kyso_signatures_total", "kyso_signature_refusals_total", "kyso_key_operation_duration_seconds", "kyso_key_operation_errors_total",
	"kyso_argon2_waiting", "kyso_argon2_running", "kyso_db_commit_duration_seconds", "kyso_http_request_duration_seconds",
	"kyso_ocsp_responses_total", "kyso_ocsp_cache_oldest_seconds", "kyso_ocsp_cache_bytes", "kyso_certificates", "kyso_issuances_abandoned_total",
	"kyso_webhook_deliveries_total", "kyso_webhook_backlog", "go_goroutines", "process_resident_memory_bytes",
}

// scrape reads kysod's /metrics and returns the sum of the samples of
// family whose labels include every label given (name=value pairs), for
// counters, gauges and histograms (their count).
type scraped map[string]*dto.MetricFamily

func scrape(t *testing.T, u string) scraped {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v", err)
	}
	return fams
}

func (s scraped) sum(family string, labels ...string) float64 {
	f := s[family]
	if f == nil {
		return 0
	}
	total := 0.0
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// TestMetrics: kysod serves /metrics on its own listener (--metrics),
// never on the public port; every family is there from the start, and
// each moves when its work happens: a SmartCA transaction approved and
// signed (signatures, key operations, commits, the route's latency, the
// webhook delivered), a refused signHash, an OCSP request, the
// certificates counted at start.
func TestMetrics(t *testing.T) {
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startKysod(t, kysod, data, "KYSO_METRICS=127.0.0.1:0")
	if !strings.HasPrefix(d.metrics, "http://127.0.0.1:") {
		t.Fatalf("kysod's serving line names no metrics address: %q\n%s", d.metrics, d.out.String())
	}
	root := filepath.Join(dir, "root.pem")
	fetchPEM(t, "http://"+d.pk+"/ca/root.crt", root)
	public := httpsClient(root)
	if resp, err := public.Get("https://" + d.https + "/metrics"); err != nil || resp.StatusCode == 200 {
		t.Errorf("the public port serves /metrics: %v %v", resp.Status, err)
	}
	before := scrape(t, d.metrics)
	// Gauges are there from the start; a family with labels appears
	// with its first series.
	for _, f := range []string{"kyso_argon2_waiting", "kyso_argon2_running", "kyso_ocsp_cache_oldest_seconds", "kyso_ocsp_cache_bytes", "kyso_webhook_backlog",
		"kyso_certificates", "kyso_issuances_abandoned_total", "kyso_key_operation_errors_total", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := before[f]; !ok {
			t.Errorf("family %s is missing at start", f)
		}
	}
	if n := before.sum("kyso_certificates", "status", "good"); n < 3 {
		t.Errorf("kyso_certificates{status=good} = %v at start; the development CA's own certificates are at least 3", n)
	}

	// A SmartCA transaction, approved; its webhook delivered.
	got := make(chan []byte, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	defer receiver.Close()
	var en struct {
		OTPAuth string `json:"otpauth_uri"`
	}
	json.Unmarshal([]byte(runKyso(t, kyso, data, nil, "enroll", "--cccd", "079203007777", "--name", "Võ Thị Sáu", "--province", "Hồ Chí Minh", "--pin", "556677", "--output", "json")), &en)
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal([]byte(runKyso(t, kyso, data, nil, "client", "create", "--name", "Cổng Dịch vụ công", "--webhook", receiver.URL+"/hook", "--output", "json")), &cl)
	digest := sha256.Sum256([]byte("Tờ khai"))
	body, _ := json.Marshal(map[string]any{"sp_id": cl.ID, "sp_password": cl.Secret, "user_id": "079203007777", "transaction_id": "metrics-1",
		"sign_files": []map[string]string{{"doc_id": "to-khai.pdf", "file_type": "pdf", "sign_type": "hash", "data_to_be_signed": hex.EncodeToString(digest[:])}}})
	resp, err := public.Post("https://"+d.https+"/smartca/v1/signatures/sign", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("signatures/sign: %v %v", resp, err)
	}
	resp.Body.Close()
	runKyso(t, kyso, data, []string{"OWNER_PIN=556677", "OWNER_OTPAUTH=" + en.OTPAuth}, "approve", "--url", "https://"+d.https, "--national-id", "CCCD:079203007777",
		"--pin-source", "env:OWNER_PIN", "--otpauth-source", "env:OWNER_OTPAUTH", "--ca-file", root, "--all")
	select {
	case <-got:
	case <-time.After(60 * time.Second):
		t.Fatal("no webhook within 60s of the approval")
	}

	// A signHash whose SAD is unknown: refused before the key.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID}, "client_secret": {cl.Secret}}
	resp, err = public.PostForm("https://"+d.https+"/csc/v2/oauth2/token", form)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("oauth2/token: %v %v", resp, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodPost, "https://"+d.https+"/csc/v2/signatures/signHash", strings.NewReader(
		`{"credentialID":"nope","SAD":"not-a-sad","hashes":["`+strings.Repeat("A", 43)+`="],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1","signAlgo":"1.2.840.10045.4.3.2"}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := public.Do(req); err != nil || resp.StatusCode < 400 {
		t.Fatalf("signHash with an unknown SAD: %v %v", resp, err)
	}

	// An OCSP request for a serial the issuing CA never issued.
	issuing := fetchPEM(t, "http://"+d.pk+"/ca/issuing.crt", filepath.Join(dir, "issuing.pem"))
	ib, _ := os.ReadFile(issuing)
	blk, _ := pem.Decode(ib)
	issuer, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	oreq, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(424242), Issuer: issuer.Subject, RawIssuer: issuer.RawSubject}, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Post("http://"+d.pk+"/ocsp", "application/ocsp-request", bytes.NewReader(oreq)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("OCSP: %v %v", resp, err)
	}

	// The webhook's delivery is recorded after it is sent: wait for it.
	var after scraped
	for deadline := time.Now().Add(30 * time.Second); ; {
		after = scrape(t, d.metrics)
		if after.sum("kyso_webhook_deliveries_total", "outcome", "delivered") >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, c := range []struct {
		family string
		labels []string
	}{
		{"kyso_signatures_total", []string{"api", "transaction", "outcome", "ok", "algorithm", "ecdsa-p256"}},
		{"kyso_key_operation_duration_seconds", []string{"operation", "sign"}},
		{"kyso_signature_refusals_total", []string{"refusal", "unknown_sad"}},
		{"kyso_db_commit_duration_seconds", []string{"db", "sqlite"}},
		{"kyso_http_request_duration_seconds", []string{"api", "smartca", "route", "/smartca/v1/signatures/sign", "method", "POST", "code", "200"}},
		{"kyso_http_request_duration_seconds", []string{"api", "csc", "route", "POST /csc/v2/oauth2/token"}},
		{"kyso_http_request_duration_seconds", []string{"api", "pki"}},
		{"kyso_ocsp_responses_total", []string{"status", "unknown"}},
		{"kyso_webhook_deliveries_total", []string{"outcome", "delivered"}},
	} {
		if a, b := after.sum(c.family, c.labels...), before.sum(c.family, c.labels...); a <= b {
			t.Errorf("%s%v did not move: %v before, %v after", c.family, c.labels, b, a)
		}
	}
	for _, f := range metricFamilies {
		if _, ok := after[f]; !ok {
			t.Errorf("family %s is missing after the work", f)
		}
	}
	// No label carries an ID: every route is a pattern.
	for _, m := range after["kyso_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "route" && (strings.Contains(l.GetValue(), "metrics-1") || strings.Contains(l.GetValue(), cl.ID)) {
				t.Errorf("a route label holds an ID: %q", l.GetValue())
			}
		}
	}
}
