package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kyso-pki/kyso/pkg/clientaddr"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/ocsp"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// config is kysod's configuration. Each setting comes from, in order of
// precedence: a command-line flag, a KYSO_… environment variable, the
// YAML file named by --config (or KYSO_CONFIG), and the default.
type config struct {
	// Data is the data directory (its kyso.json holds the key store,
	// database and CA settings).
	Data string `yaml:"data"`
	// Listen is the HTTPS address; HTTP the plain-HTTP PKI address.
	Listen string `yaml:"listen"`
	HTTP   string `yaml:"http"`
	// CRLBatch is how long revocations made through kysod wait for the
	// next CRL (default 1m; key and CA compromises make one at once; OCSP
	// answers every change at once).
	CRLBatch time.Duration `yaml:"crl_batch"`
	// SettleAfter is how old a serial reservation that no certificate
	// followed (an issuance a crash cut short) must be before the PKI's
	// upkeep settles it as abandoned (default 10m: far longer than any
	// issuance takes; one that outlasts it is refused its certificate).
	SettleAfter time.Duration `yaml:"settle_after"`
	// Metrics is the address of the Prometheus listener (/metrics, plain
	// HTTP, no authentication: keep it off the public network); empty:
	// none.
	Metrics string `yaml:"metrics"`
	// Tracing sends OpenTelemetry traces to an OTLP/HTTP receiver; off
	// by default (tracing.go).
	Tracing tracingConfig `yaml:"tracing"`
	// Keystore and DB override the data directory's kyso.json.
	Keystore string `yaml:"keystore"`
	DB       string `yaml:"db"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Signing tunes the remote-signing core; zero values keep its
	// defaults.
	Signing signingConfig `yaml:"signing"`
	// RateLimits are the token buckets of the requests an attacker could
	// flood: CSC oauth2/token, auth/login and credentials/authorize, every
	// SmartCA call, the owners' login, approve and reject.
	RateLimits rateLimitsConfig `yaml:"rate_limits"`
	// App is the citizen's web app at /app/ (pkg/app).
	App appConfig `yaml:"app"`
	// Webhooks tunes the outbox's dispatcher, whose rounds also expire
	// overdue transactions and fail abandoned ones.
	Webhooks webhooksConfig `yaml:"webhooks"`
	// Audit tunes the audit chain's checkpoints (pkg/audit).
	Audit auditConfig `yaml:"audit"`
	// Campaign holds the free campaign's terms.
	Campaign campaignConfig `yaml:"campaign"`
	// Registry configures the shared campaign registry kysod serves with
	// --registry (pkg/campaignreg).
	Registry registryConfig `yaml:"registry"`
	// ServeRegistry is --registry: serve the shared campaign registry at
	// /registry/v1/ from this database, beside being a provider.
	ServeRegistry bool `yaml:"serve_registry"`
	// OCSP tunes the OCSP responder.
	OCSP ocspConfig `yaml:"ocsp"`
	// TrustedProxies are the load balancers and proxies in front of the
	// HTTPS listener (CIDR prefixes or single addresses). Only a request
	// whose TCP peer is one of them has its client address taken from
	// X-Forwarded-For — the rightmost entry not itself a trusted proxy —
	// for every per-source rate limit, audit record and consent receipt
	// (pkg/clientaddr); from any other peer the header is ignored. Empty
	// (the default): every address is the TCP peer's. WARNING: trust only
	// proxies that set or append X-Forwarded-For themselves; a prefix
	// that also holds clients lets them choose their own address.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// ocspConfig tunes the OCSP responder.
type ocspConfig struct {
	// CacheBytes bounds the memory of the signed responses kept for
	// reuse (default ocsp.DefaultCacheBytes, 64 MiB); the least recently
	// used are dropped first and signed again when asked.
	CacheBytes int64 `yaml:"cache_bytes"`
	// Validity is an answer's nextUpdate − thisUpdate (default
	// ocsp.DefaultValidity, 24h; at most 7 days); answers are signed
	// again at half of it.
	Validity time.Duration `yaml:"validity"`
	// Presign signs every valid certificate's answer ahead and keeps it
	// in the database (the replica holding the PKI's upkeep does it),
	// served on a cache miss instead of signing; false, the default,
	// signs an answer when first asked.
	Presign bool `yaml:"presign"`
	// PresignInterval is how often a pre-signing pass runs (default
	// server.DefaultPresignInterval, 1m): each signs the certificates
	// issued, revoked, held or released since the last, and the answers
	// due before the next.
	PresignInterval time.Duration `yaml:"presign_interval"`
}

// registryConfig is the served campaign registry's.
type registryConfig struct {
	// MembersFile lists the providers the registry accepts (YAML,
	// `members:`, each entry as `kyso registry member` prints it); it is
	// read again whenever it changes. Required with --registry.
	MembersFile string `yaml:"members_file"`
}

// campaignConfig holds the free campaign's terms.
type campaignConfig struct {
	// FreeMonths is the citizen's free period: public-service signing is
	// free for this many months from the campaign certificate's issuance
	// (0: signing.DefaultFreeMonths, 12).
	FreeMonths int `yaml:"free_months"`
	// PopulationFile is the adult population table (CSV:
	// province,adults,source) the officers' campaign report sets its
	// counts against; empty: the report counts without shares.
	PopulationFile string `yaml:"population_file"`
	// RegistrySync is how often kysod asks the campaign registry which
	// of its citizens moved to another provider, to revoke their
	// campaign certificates (superseded); default 1m.
	RegistrySync time.Duration `yaml:"registry_sync"`
	// Renewal is the provider's renewal policy for the campaign's
	// certificates: free (the default) or metered, counted so in `kyso
	// usage` (signing.Config.RenewalPolicy).
	Renewal string `yaml:"renewal"`
	// ClaimLifetime is how long the claim link of an approved online
	// self-registration lasts (0: signing.DefaultClaimLifetime, 30
	// days); VisitClaimLifetime a household visit's (0:
	// signing.DefaultVisitClaimLifetime, 7 days). An officer reissues an
	// expired or lost one (kyso registration reissue).
	ClaimLifetime      time.Duration `yaml:"claim_lifetime"`
	VisitClaimLifetime time.Duration `yaml:"visit_claim_lifetime"`
}

// auditConfig tunes the audit chain's checkpoints.
type auditConfig struct {
	// CheckpointInterval is how often the audit key signs the chain's
	// head (default 1m); kysod also signs one at start and at shutdown.
	// Events after the last checkpoint are chained but not yet sealed.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
}

// appConfig tunes the citizen's app; zero values keep its defaults.
type appConfig struct {
	// Disabled leaves /app/ out.
	Disabled bool `yaml:"disabled"`
	// IdleTimeout ends a session unused this long (default 10m);
	// SessionLifetime any session this long after login (default 1h,
	// and never beyond signing.token_lifetime).
	IdleTimeout     time.Duration `yaml:"idle_timeout"`
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	// RenderWorkers bounds the PDF pages drawn at once, each in a PDFium
	// sandbox of up to 512 MiB (default 2).
	RenderWorkers int `yaml:"render_workers"`
	// PublicURL is the app's origin as citizens open it
	// ("https://kyso.example.vn", no path): its host is the WebAuthn
	// relying party ID of the owners' passkeys, which work on that host
	// only (signing.Config.PasskeyOrigin). Default: https://localhost and
	// the port of listen.
	PublicURL string `yaml:"public_url"`
	// BadgeReportPhone and BadgeReportURL are how the staff badge check
	// page (/app/badge) tells a citizen to report a badge it refuses.
	BadgeReportPhone string `yaml:"badge_report_phone"`
	BadgeReportURL   string `yaml:"badge_report_url"`
	// BadgeLifetime is how long a staff badge's token is good for
	// (default 24h); the registry is read at every check regardless.
	BadgeLifetime time.Duration `yaml:"badge_lifetime"`
}

// passkeyOrigin is the app's origin for passkeys (appConfig.PublicURL or
// its default); empty when the app is not served.
func (c *config) passkeyOrigin() string {
	if c.App.Disabled {
		return ""
	}
	if c.App.PublicURL != "" {
		return strings.TrimSuffix(c.App.PublicURL, "/")
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil || port == "" || port == "443" {
		return "https://localhost"
	}
	return "https://localhost:" + port
}

// webhooksConfig is the dispatcher's (signing.Dispatcher); zero values keep
// its defaults.
type webhooksConfig struct {
	// Interval is the pause between rounds when nothing is due (default
	// 5s): it bounds how late an abandoned transaction is failed after
	// its lease ends.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one delivery attempt (default 10s); Batch is how
	// many webhooks a round claims (default 20). A claimed batch is
	// leased for (batch+1)×timeout: a replica that dies while sending
	// leaves its batch to be sent again after that.
	Timeout time.Duration `yaml:"timeout"`
	Batch   int           `yaml:"batch"`
}

// rateLimitsConfig are kysod's rate limits. Each replica counts on its
// own (httpedge.Limiter): N replicas let N times the rate through. The
// source address is the TCP peer's, or behind a proxy listed in
// trusted_proxies the client it names (pkg/clientaddr).
type rateLimitsConfig struct {
	// PerSource applies to each source address (an IPv6 /64 as one),
	// over all the limited requests together; zero values mean
	// defaultPerSource.
	PerSource rateConfig `yaml:"per_source"`
	// PerClient applies to each relying party (its token requests,
	// authorizations and SmartCA calls, status polls included) and each
	// owner (logins, approvals); zero values mean defaultPerClient. A
	// claimed client_id or national ID is counted only once its secret or
	// factors prove it.
	PerClient rateConfig `yaml:"per_client"`
	// Hold is the longest a refusal is held back before its 429, no
	// longer than the wait it announces (httpedge.Limits.Hold): a flood
	// that does not wait then sleeps instead of spinning kysod's CPUs.
	// Zero means defaultHold; negative answers at once.
	Hold time.Duration `yaml:"hold"`
}

// rateConfig is one token bucket.
type rateConfig struct {
	// Rate is how many requests a second on average; negative turns the
	// limit off.
	Rate float64 `yaml:"rate"`
	// Burst is how many requests at once.
	Burst int `yaml:"burst"`
}

// The default rate limits: generous for a portal polling many
// transactions from one address, tight enough that a flood from one
// address is answered 429 within its first 100 requests.
var (
	defaultPerSource = rateConfig{Rate: 50, Burst: 100}
	defaultPerClient = rateConfig{Rate: 50, Burst: 100}
)

// defaultHold is how long a refusal is held by default: without it, 500
// connections flooding one kysod from one address kept its CPUs busy
// answering 429 and a legitimate signHash's p99 went from 7ms to 600ms
// (kyso bench csc, flood row, 2 CPUs); with it, unchanged.
const defaultHold = time.Second

// rate returns c with def for its zero fields, as an httpedge.Rate (no
// limit when c.Rate is negative).
func (c rateConfig) rate(def rateConfig) httpedge.Rate {
	if c.Rate == 0 {
		c.Rate = def.Rate
	}
	if c.Burst == 0 {
		c.Burst = def.Burst
	}
	if c.Rate < 0 {
		return httpedge.Rate{}
	}
	return httpedge.Rate{PerSecond: c.Rate, Burst: c.Burst}
}

// limits makes the rate limiters c asks for.
func (c rateLimitsConfig) limits() *httpedge.Limits {
	hold := c.Hold
	switch {
	case hold == 0:
		hold = defaultHold
	case hold < 0:
		hold = 0
	}
	return &httpedge.Limits{
		Source: httpedge.NewLimiter(c.PerSource.rate(defaultPerSource), nil),
		Client: httpedge.NewLimiter(c.PerClient.rate(defaultPerClient), nil),
		Hold:   hold,
	}
}

// check refuses what a limit cannot be.
func (c rateLimitsConfig) check() error {
	for _, r := range []struct {
		name string
		rateConfig
	}{{"per_source", c.PerSource}, {"per_client", c.PerClient}} {
		if math.IsNaN(r.Rate) || math.IsInf(r.Rate, 0) || r.Burst < 0 {
			return fmt.Errorf("config: rate_limits.%s: rate must be a number (negative: no limit) and burst at least 0, not %v and %d", r.name, r.Rate, r.Burst)
		}
	}
	return nil
}

type signingConfig struct {
	PINAttempts         int           `yaml:"pin_attempts"`
	PINLockout          time.Duration `yaml:"pin_lockout"`
	SADLifetime         time.Duration `yaml:"sad_lifetime"`
	TransactionLifetime time.Duration `yaml:"transaction_lifetime"`
	TokenLifetime       time.Duration `yaml:"token_lifetime"`
	// ApprovalLease is how long a replica holds an approved transaction
	// while it signs it (default 2m); a transaction still approved when
	// it ends is failed by the next sweep, on any replica.
	ApprovalLease time.Duration `yaml:"approval_lease"`
	// SignerCheckMaxAge is how long a passed pre-signing check of a
	// certificate is reused (default 1m; negative: before every
	// signature). Revocations by kyso's own CA refuse at once regardless.
	SignerCheckMaxAge time.Duration `yaml:"signer_check_max_age"`
	// Argon2Concurrency is how many PIN checks (argon2id, 19 MiB each)
	// run at once; 0 sizes it to the memory (signing.Config.
	// HashConcurrency). Argon2Wait is how long one waits for its turn
	// before it is answered 503 (default 2s).
	Argon2Concurrency int           `yaml:"argon2_concurrency"`
	Argon2Wait        time.Duration `yaml:"argon2_wait"`
	// OperatorClient is the client ID of the operators' desk: its
	// webhook receives an owner's dispute ("Tôi không thực hiện giao
	// dịch này", signing.Dispute). It must exist and have a webhook URL.
	OperatorClient string `yaml:"operator_client"`
}

// maxConfigFile bounds the YAML file.
const maxConfigFile = 1 << 20

// setting is one flag with its environment variable and default.
type setting struct {
	name, env, def, usage string
	dst                   *string
}

// loadConfig parses args and the environment (getenv) into a config.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, bool, error) {
	c := &config{}
	fs := flag.NewFlagSet("kysod", flag.ContinueOnError)
	fs.SetOutput(stderr)
	settings := []setting{
		{"data", "KYSO_DATA", "./kyso-data", "data directory", &c.Data},
		{"listen", "KYSO_LISTEN", "127.0.0.1:8443", "HTTPS listen address", &c.Listen},
		{"http", "KYSO_HTTP", "127.0.0.1:8080", "plain-HTTP listen address of the PKI routes: CA certificates, CRLs, OCSP, TSA; a development CA made on first start writes it into its certificates", &c.HTTP},
		{"metrics", "KYSO_METRICS", "", "listen address of the Prometheus metrics (/metrics, plain HTTP, no authentication: a private address); default: none", &c.Metrics},
		{"keystore", "KYSO_KEYSTORE", "", "key store URI; default: the data directory's kyso.json, else softkey files in it", &c.Keystore},
		{"db", "KYSO_DB", "", "database, sqlite:PATH or postgres://…; default: kyso.json, else DIR/kyso.db", &c.DB},
		{"log-level", "KYSO_LOG_LEVEL", "info", "log level: debug, info, warn or error", &c.LogLevel},
	}
	flagVals := make([]*string, len(settings))
	for i, s := range settings {
		flagVals[i] = fs.String(s.name, "", fmt.Sprintf("%s (env %s; default %q)", s.usage, s.env, s.def))
	}
	configFile := fs.String("config", "", "YAML configuration file (env KYSO_CONFIG); flags and KYSO_… variables override it")
	showVersion := fs.Bool("version", false, "print the version and exit")
	serveRegistry := fs.Bool("registry", false, "also serve the shared campaign registry at /registry/v1/ (env KYSO_REGISTRY=true; registry.members_file lists the providers)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, true, nil
		}
		return nil, false, err
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *showVersion {
		return nil, true, errVersion
	}
	path := *configFile
	if path == "" {
		path = getenv("KYSO_CONFIG")
	}
	if path != "" {
		if err := readConfigFile(path, c); err != nil {
			return nil, false, err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for i, s := range settings {
		switch {
		case set[s.name]:
			*s.dst = *flagVals[i]
		case getenv(s.env) != "":
			*s.dst = getenv(s.env)
		case *s.dst == "":
			*s.dst = s.def
		}
	}
	if set["registry"] {
		c.ServeRegistry = *serveRegistry
	} else if v := getenv("KYSO_REGISTRY"); v != "" {
		c.ServeRegistry = v == "true" || v == "1"
	}
	if c.ServeRegistry && c.Registry.MembersFile == "" {
		return nil, false, fmt.Errorf("config: --registry needs registry.members_file, the providers it accepts")
	}
	if _, err := clientaddr.Parse(c.TrustedProxies); err != nil {
		return nil, false, fmt.Errorf("config: trusted_proxies: %w", err)
	}
	if c.Campaign.ClaimLifetime < 0 || c.Campaign.VisitClaimLifetime < 0 {
		return nil, false, fmt.Errorf("config: campaign.claim_lifetime and campaign.visit_claim_lifetime must not be negative (0: 30 days and 7 days)")
	}
	if c.Campaign.RegistrySync < 0 {
		return nil, false, fmt.Errorf("config: campaign.registry_sync must not be negative")
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if err := c.RateLimits.check(); err != nil {
		return nil, false, err
	}
	if c.App.IdleTimeout < 0 || c.App.SessionLifetime < 0 || c.App.RenderWorkers < 0 || c.App.BadgeLifetime < 0 {
		return nil, false, fmt.Errorf("config: app.idle_timeout, app.session_lifetime, app.render_workers and app.badge_lifetime must not be negative")
	}
	if c.Signing.ApprovalLease < 0 || c.Webhooks.Interval < 0 || c.Webhooks.Timeout < 0 || c.Webhooks.Batch < 0 {
		return nil, false, fmt.Errorf("config: signing.approval_lease and the webhooks settings must not be negative")
	}
	if c.OCSP.CacheBytes < 0 || c.OCSP.Validity < 0 || c.OCSP.PresignInterval < 0 {
		return nil, false, fmt.Errorf("config: ocsp.cache_bytes, ocsp.validity and ocsp.presign_interval must not be negative")
	}
	if c.OCSP.Validity != 0 && (c.OCSP.Validity < time.Minute || c.OCSP.Validity > ocsp.MaxValidity) {
		return nil, false, fmt.Errorf("config: ocsp.validity %v must be between 1m and %v", c.OCSP.Validity, ocsp.MaxValidity)
	}
	if c.Audit.CheckpointInterval < 0 {
		return nil, false, fmt.Errorf("config: audit.checkpoint_interval must not be negative")
	}
	if c.Signing.Argon2Concurrency < 0 || c.Signing.Argon2Wait < 0 {
		return nil, false, fmt.Errorf("config: signing.argon2_concurrency and signing.argon2_wait must not be negative")
	}
	if c.Campaign.FreeMonths < 0 || c.Campaign.FreeMonths > 120 {
		return nil, false, fmt.Errorf("config: campaign.free_months %d must be between 0 (12) and 120", c.Campaign.FreeMonths)
	}
	if r := c.Campaign.Renewal; r != "" && r != signing.RenewalFree && r != signing.RenewalMetered {
		return nil, false, fmt.Errorf("config: campaign.renewal %q must be %s or %s", r, signing.RenewalFree, signing.RenewalMetered)
	}
	if c.SettleAfter < 0 || c.SettleAfter > 24*time.Hour {
		return nil, false, fmt.Errorf("config: settle_after %v must be between 0 (10m) and 24h", c.SettleAfter)
	}
	if c.CRLBatch < 0 || c.CRLBatch > time.Hour {
		return nil, false, fmt.Errorf("config: crl_batch %v must be between 0 (1m) and 1h", c.CRLBatch)
	}
	return c, false, nil
}

// errVersion asks run to print the version.
var errVersion = errors.New("version")

// readConfigFile reads YAML into c, refusing unknown keys so a typo does
// not silently fall back to a default.
func readConfigFile(path string, c *config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if len(b) > maxConfigFile {
		return fmt.Errorf("config: %s is larger than %d bytes", path, maxConfigFile)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}
