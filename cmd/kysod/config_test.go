package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/httpedge"
)

// TestConfigPrecedence: a flag beats KYSO_…, which beats the YAML file,
// which beats the default.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kysod.yaml")
	os.WriteFile(file, []byte("data: /from/file\nlisten: 10.0.0.1:443\nhttp: 10.0.0.1:80\nlog_level: warn\nshutdown_timeout: 45s\nsigning:\n  pin_attempts: 3\n  sad_lifetime: 2m\n  signer_check_max_age: -1s\n"), 0o600)
	env := map[string]string{"KYSO_CONFIG": file, "KYSO_LISTEN": "10.0.0.2:8443", "KYSO_HTTP": "10.0.0.2:8080"}
	c, _, err := loadConfig([]string{"--http", "10.0.0.3:8080"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config{Data: "/from/file", Listen: "10.0.0.2:8443", HTTP: "10.0.0.3:8080", LogLevel: "warn", ShutdownTimeout: 45 * time.Second}
	want.Signing.PINAttempts, want.Signing.SADLifetime, want.Signing.SignerCheckMaxAge = 3, 2*time.Minute, -time.Second
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("config %+v\nwant   %+v", *c, want)
	}
	c, _, err = loadConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.Data != "./kyso-data" || c.Listen != "127.0.0.1:8443" || c.HTTP != "127.0.0.1:8080" || c.LogLevel != "info" || c.ShutdownTimeout != 30*time.Second {
		t.Errorf("defaults: %v %+v", err, c)
	}
	os.WriteFile(file, []byte("listne: 1.2.3.4:1\n"), 0o600)
	if _, _, err := loadConfig([]string{"--config", file}, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "listne") {
		t.Errorf("a misspelt key: %v", err)
	}
	if _, _, err := loadConfig([]string{"stray"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("a stray argument was accepted")
	}
}

// TestConfigRateLimits: rate_limits in the YAML file, their defaults, a
// negative rate turning a limit off, and what a limit cannot be.
func TestConfigRateLimits(t *testing.T) {
	load := yamlLoader(t)
	c, err := load("rate_limits:\n  per_source: {rate: 5, burst: 7}\n  per_client: {rate: -1}\n  hold: 250ms\nsigning: {argon2_concurrency: 3, argon2_wait: 500ms}\n")
	if err != nil {
		t.Fatal(err)
	}
	l := c.RateLimits.limits()
	if l.Source.Rate() != (httpedge.Rate{PerSecond: 5, Burst: 7}) || l.Client != nil || l.Hold != 250*time.Millisecond {
		t.Errorf("limits %+v, %+v; want 5/s bursts of 7 per source, none per client", l.Source.Rate(), l.Client.Rate())
	}
	if c.Signing.Argon2Concurrency != 3 || c.Signing.Argon2Wait != 500*time.Millisecond {
		t.Errorf("signing %+v", c.Signing)
	}
	c, err = load("rate_limits: {per_source: {burst: 10}}\n")
	if err != nil {
		t.Fatal(err)
	}
	l = c.RateLimits.limits()
	if l.Source.Rate() != (httpedge.Rate{PerSecond: defaultPerSource.Rate, Burst: 10}) || l.Client.Rate() != (httpedge.Rate{PerSecond: defaultPerClient.Rate, Burst: defaultPerClient.Burst}) || l.Hold != defaultHold {
		t.Errorf("defaults: %+v, %+v", l.Source.Rate(), l.Client.Rate())
	}
	for _, bad := range []string{"rate_limits: {per_source: {burst: -1}}", "rate_limits: {per_client: {rate: .nan}}", "rate_limits: {per_client: {rate: .inf}}",
		"signing: {argon2_concurrency: -2}", "rate_limits: {per_source: {rte: 3}}"} {
		if _, err := load(bad + "\n"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// TestConfigApp: the app section in the YAML file, and what it cannot be.
func TestConfigApp(t *testing.T) {
	load := yamlLoader(t)
	c, err := load("app:\n  idle_timeout: 5m\n  session_lifetime: 30m\n  render_workers: 1\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.App != (appConfig{IdleTimeout: 5 * time.Minute, SessionLifetime: 30 * time.Minute, RenderWorkers: 1}) {
		t.Errorf("app %+v", c.App)
	}
	if got := c.passkeyOrigin(); got != "https://localhost:8443" {
		t.Errorf("the default passkey origin %q", got)
	}
	if c, err = load("app:\n  public_url: https://kyso.example.vn/\n"); err != nil || c.passkeyOrigin() != "https://kyso.example.vn" {
		t.Errorf("public_url gives the passkey origin %q (%v)", c.passkeyOrigin(), err)
	}
	for _, bad := range []string{"app: {idle_timeout: -1s}", "app: {render_workers: -1}", "app: {badge_lifetime: -1h}", "app: {idle: 5m}"} {
		if _, err := load(bad + "\n"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// TestConfigRecovery: the approval lease and the dispatcher's settings in
// the YAML file; negative ones refused.
func TestConfigRecovery(t *testing.T) {
	load := yamlLoader(t)
	c, err := load("signing: {approval_lease: 90s}\nwebhooks: {interval: 2s, timeout: 3s, batch: 7}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Signing.ApprovalLease != 90*time.Second || c.Webhooks != (webhooksConfig{Interval: 2 * time.Second, Timeout: 3 * time.Second, Batch: 7}) {
		t.Errorf("approval lease %v, webhooks %+v", c.Signing.ApprovalLease, c.Webhooks)
	}
	for _, bad := range []string{"signing: {approval_lease: -1s}", "webhooks: {interval: -1s}", "webhooks: {batch: -1}", "webhooks: {retries: 3}"} {
		if _, err := load(bad + "\n"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// TestConfigCampaign: campaign.free_months in the YAML file; a negative or
// an absurd one refused.
func TestConfigCampaign(t *testing.T) {
	load := yamlLoader(t)
	if c, err := load("campaign: {free_months: 18}\n"); err != nil || c.Campaign.FreeMonths != 18 {
		t.Errorf("free_months 18: %+v %v", c, err)
	}
	for _, bad := range []string{"campaign: {free_months: -1}", "campaign: {free_months: 1000}", "campaign: {free: 12}",
		"campaign: {registry_sync: -1s}", "serve_registry: true", "registry: {members: x}"} {
		if _, err := load(bad + "\n"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	if c, err := load("serve_registry: true\nregistry: {members_file: /etc/kyso/members.yaml}\ncampaign: {registry_sync: 30s}\n"); err != nil ||
		!c.ServeRegistry || c.Registry.MembersFile != "/etc/kyso/members.yaml" || c.Campaign.RegistrySync != 30*time.Second {
		t.Errorf("serving the registry: %+v %v", c, err)
	}
	// --registry and KYSO_REGISTRY, each needing the members file.
	for _, args := range [][]string{{"--registry"}, {}} {
		env := func(k string) string {
			if k == "KYSO_REGISTRY" {
				return "true"
			}
			return ""
		}
		if _, _, err := loadConfig(args, env, io.Discard); err == nil || !strings.Contains(err.Error(), "members_file") {
			t.Errorf("%v without a members file: %v", args, err)
		}
	}
}

// TestConfigPopulation: campaign.population_file is read whole at start;
// a missing, malformed or oversized table stops kysod with its path and
// what is wrong.
func TestConfigPopulation(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "adults.csv")
	os.WriteFile(good, []byte("province,adults,source\nHuế,900000,Cục Thống kê 2025\n"), 0o600)
	if p, err := readPopulation(good); err != nil || p["Huế"].Adults != 900000 {
		t.Errorf("a good table: %v %v", p, err)
	}
	if p, err := readPopulation(""); err != nil || p != nil {
		t.Errorf("none: %v %v", p, err)
	}
	bad := filepath.Join(dir, "bad.csv")
	for _, c := range []struct{ name, body, says string }{
		{"no header", "Huế,1,x\n", "header"},
		{"oversized", "province,adults,source\n" + strings.Repeat("x", 2<<20), "bytes"},
	} {
		os.WriteFile(bad, []byte(c.body), 0o600)
		if _, err := readPopulation(bad); err == nil || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "population_file") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := readPopulation(filepath.Join(dir, "missing.csv")); err == nil || !strings.Contains(err.Error(), "population_file") {
		t.Errorf("a missing table: %v", err)
	}
}

// TestConfigTracing: tracing is off by default; the file's endpoint gets
// /v1/traces; the standard OTEL_… variables override the file;
// OTEL_SDK_DISABLED turns it off; what cannot be is refused.
func TestConfigTracing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kysod.yaml")
	settings := func(yaml string, env map[string]string) (tracingSettings, error) {
		t.Helper()
		os.WriteFile(file, []byte(yaml), 0o600)
		c, _, err := loadConfig([]string{"--config", file}, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return c.Tracing.settings(func(k string) string { return env[k] })
	}
	if s, err := settings("", nil); err != nil || s.endpoint != "" {
		t.Errorf("default: %+v %v, want off", s, err)
	}
	s, err := settings("tracing: {endpoint: 'http://10.0.0.9:4318/', sample_ratio: 0.25, service_name: kysod-hn}\n", nil)
	if want := (tracingSettings{endpoint: "http://10.0.0.9:4318/v1/traces", service: "kysod-hn", ratio: 0.25}); err != nil || s != want {
		t.Errorf("from the file: %+v %v, want %+v", s, err, want)
	}
	s, err = settings("tracing: {endpoint: 'http://10.0.0.9:4318', sample_ratio: 0.25}\n",
		map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example.vn", "OTEL_SERVICE_NAME": "kysod-2", "OTEL_TRACES_SAMPLER_ARG": "0.5"})
	if want := (tracingSettings{endpoint: "https://otel.example.vn", service: "kysod-2", ratio: 0.5, fromEnv: true}); err != nil || s != want {
		t.Errorf("from the environment: %+v %v, want %+v", s, err, want)
	}
	if s, err := settings("tracing: {endpoint: 'http://10.0.0.9:4318'}\n", map[string]string{"OTEL_SDK_DISABLED": "true"}); err != nil || s.endpoint != "" {
		t.Errorf("OTEL_SDK_DISABLED=true: %+v %v, want off", s, err)
	}
	if s, err := settings("tracing: {endpoint: 'http://10.0.0.9:4318'}\n", nil); err != nil || s.ratio != 1 || s.service != "kysod" {
		t.Errorf("defaults: %+v %v, want every trace, service kysod", s, err)
	}
	for _, bad := range []string{
		"tracing: {endpoint: 'http://10.0.0.9:4318', sample_ratio: 1.5}\n",
		"tracing: {endpoint: 'http://10.0.0.9:4318', sample_ratio: -0.1}\n",
		"tracing: {endpoint: '10.0.0.9:4318'}\n",
		"tracing: {endpoint: 'ftp://10.0.0.9'}\n",
		"tracing: {endpoint: 'http://user:secret@10.0.0.9:4318'}\n",
		"tracing: {endpoint: 'http://10.0.0.9:4318?token=x'}\n",
	} {
		if _, err := settings(bad, nil); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, err := settings("tracing: {endpoint: 'http://10.0.0.9:4318'}\n", map[string]string{"OTEL_TRACES_SAMPLER_ARG": "all"}); err == nil {
		t.Error("accepted OTEL_TRACES_SAMPLER_ARG=all")
	}
}

// TestConfigOCSP: ocsp.cache_bytes and the pre-signing settings in the
// YAML file, zero when absent; negative ones, and a validity outside 1m to
// 168h, refused.
func TestConfigOCSP(t *testing.T) {
	load := yamlLoader(t)
	if c, err := load("ocsp: {cache_bytes: 16777216}\n"); err != nil || c.OCSP.CacheBytes != 16<<20 || c.OCSP.Presign || c.OCSP.Validity != 0 || c.OCSP.PresignInterval != 0 {
		t.Errorf("cache_bytes 16 MiB: %+v %v", c, err)
	}
	if c, err := load("ocsp: {presign: true, validity: 12h, presign_interval: 5m}\n"); err != nil || !c.OCSP.Presign || c.OCSP.Validity != 12*time.Hour || c.OCSP.PresignInterval != 5*time.Minute {
		t.Errorf("presign, validity 12h, interval 5m: %+v %v", c, err)
	}
	for _, bad := range []string{"ocsp: {cache_bytes: -1}", "ocsp: {cache_bytes: 64MiB}", "ocsp: {cache_size: 1000}",
		"ocsp: {validity: -1h}", "ocsp: {validity: 30s}", "ocsp: {validity: 169h}", "ocsp: {presign_interval: -1m}", "ocsp: {presign: sometimes}"} {
		if _, err := load(bad + "\n"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// yamlLoader returns a function that loads a configuration from the YAML
// text it is given, written to a file of t's, with no flags and no
// environment.
func yamlLoader(t *testing.T) func(yaml string) (*config, error) {
	file := filepath.Join(t.TempDir(), "kysod.yaml")
	return func(yaml string) (*config, error) {
		os.WriteFile(file, []byte(yaml), 0o600)
		c, _, err := loadConfig([]string{"--config", file}, func(string) string { return "" }, io.Discard)
		return c, err
	}
}

// TestConfigTrustedProxies: trusted_proxies takes CIDR prefixes and single
// addresses; anything else is refused at start, named; so are negative
// claim link lifetimes.
func TestConfigTrustedProxies(t *testing.T) {
	load := yamlLoader(t)
	c, err := load("trusted_proxies: [10.0.0.0/8, 192.0.2.7, \"2001:db8::/32\"]\ncampaign: {claim_lifetime: 240h, visit_claim_lifetime: 48h}\n")
	if err != nil || len(c.TrustedProxies) != 3 || c.Campaign.ClaimLifetime != 240*time.Hour || c.Campaign.VisitClaimLifetime != 48*time.Hour {
		t.Fatalf("config %+v, %v", c, err)
	}
	for _, bad := range []string{"trusted_proxies: [lb.example.vn]\n", "trusted_proxies: [10.0.0.0/40]\n", "campaign: {claim_lifetime: -1h}\n"} {
		if _, err := load(bad); err == nil || !strings.Contains(err.Error(), strings.SplitN(strings.TrimPrefix(bad, "campaign: {"), ":", 2)[0]) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
