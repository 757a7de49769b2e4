// Command kysod is kyso's daemon. With no configuration it starts on the
// embedded defaults — data under ./kyso-data, keys in passphrase-encrypted
// files (softkey) with a passphrase generated on first start, HTTPS on
// 127.0.0.1:8443 — and prints every default, so nobody mistakes a laptop
// setup for production.
//
// Beside HTTPS it serves the public PKI routes — CA certificates, CRLs and
// OCSP — without authentication on a plain-HTTP listener (--http, default
// 127.0.0.1:8080), as revocation URLs are http:// by convention. On embedded
// defaults it creates a development CA hierarchy on first start, whose
// certificates name that listener's address in their URLs (recorded as
// base_url in kyso.json, kept on later starts); a configured data
// directory needs `kyso ca init` first. Over HTTPS it
// serves the CSC API v2 under /csc/v2/, the SmartCA-style dialect under
// /smartca/v1/, the owners' API under /owner/v1/ and the registration
// officers' under /admin/v1/, the public validation API at /verify/v1,
// and delivers webhooks.
//
// Settings come from flags, then KYSO_… environment variables, then a
// YAML file (--config or KYSO_CONFIG), then defaults (see config.go).
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/keystore"
	"github.com/kyso-pki/kyso/internal/version"
	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/audit"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/campaignreg"
	"github.com/kyso-pki/kyso/pkg/clientaddr"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/owner"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/render"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/smartca"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
	"github.com/kyso-pki/kyso/pkg/trust"
	"github.com/kyso-pki/kyso/pkg/verifyapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "kysod: %v\n", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, done, err := loadConfig(args, os.Getenv, stderr)
	if errors.Is(err, errVersion) {
		fmt.Fprintf(stderr, "kysod %s\n", version.String())
		return nil
	}
	if err != nil || done {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	// A line logged in a request's context names its X-Request-ID, and
	// its trace_id and span_id when tracing is on.
	log := slog.New(httpedge.LogHandler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})))
	tracing, err := cfg.Tracing.settings(os.Getenv)
	if err != nil {
		return err
	}
	// Installed before anything makes a span; stopped last, after the
	// servers' shutdown, so that the last requests' spans are flushed.
	stopTracing, err := startTracing(ctx, tracing, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := stopTracing(context.WithoutCancel(ctx)); err != nil {
			log.Warn("tracing: stopping", "err", err)
		}
	}()

	// Listen first: a taken port fails before anything is created, and a
	// development CA made on first start writes the PKI listener's real
	// address into its certificates.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	pkiLn, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.HTTP, err)
	}
	defer pkiLn.Close()
	pkiAddr := pkiLn.Addr().String()
	var metricsLn net.Listener
	if cfg.Metrics != "" {
		if metricsLn, err = net.Listen("tcp", cfg.Metrics); err != nil {
			return fmt.Errorf("listening on %s (metrics): %w", cfg.Metrics, err)
		}
		defer metricsLn.Close()
	}

	// First-start creation (passphrase, secrets key, development CA, TLS
	// key and certificate) under the data directory's lock, so that
	// processes started together on a fresh directory make each once.
	unlock, err := datadir.Lock(ctx, cfg.Data, log)
	if err != nil {
		return err
	}
	defer unlock()
	dir, err := datadir.Load(cfg.Data)
	if err != nil {
		return err
	}
	if cfg.Keystore != "" {
		if err := dir.UseKeystore(cfg.Keystore); err != nil {
			return err
		}
	}
	if cfg.DB != "" {
		dir.Config.DB = cfg.DB
	}
	development := dir.Development
	crlBatch := cfg.CRLBatch
	if crlBatch == 0 {
		crlBatch = time.Minute
	}
	opened, err := dir.Open(ctx, &datadir.Options{Logger: log, Actor: "kysod", DevelopmentBaseURL: developmentBaseURL(pkiAddr), CRLBatch: crlBatch})
	if err != nil {
		return err
	}
	defer opened.Close()
	ks := opened.Keys
	ksURI, _ := hsm.ParseURI(dir.Config.Keystore)
	installFaults(ctx, ks, log)
	if _, err := opened.CA.Hierarchy(ctx); errors.Is(err, ca.ErrNoHierarchy) {
		if !development {
			return fmt.Errorf("no CA hierarchy in %s: run `kyso ca init --data %s` first", dir.Path, dir.Path)
		}
		log.Warn("creating a DEVELOPMENT CA hierarchy on first start", "data", dir.Path, "base_url", dir.Config.BaseURL)
		if _, err := opened.CA.Init(ctx, &ca.InitRequest{Actor: "kysod"}); err != nil {
			return fmt.Errorf("creating the development CA: %w", err)
		}
	} else if err != nil {
		return err
	}
	if !servesBaseURL(dir.Config.BaseURL, pkiAddr) {
		log.Warn(fmt.Sprintf("the certificates of %s name %s for OCSP, CRLs and CA certificates, but kysod serves them on %s: nothing answers there, so revocation checks of these certificates fail; start kysod with --http %s, or set the URL for new certificates with `kyso ca init --base-url` (a development directory may be started afresh, empty)",
			dir.Path, dir.Config.BaseURL, pkiAddr, baseURLHost(dir.Config.BaseURL)), "base_url", dir.Config.BaseURL, "pki", pkiAddr)
	}
	// The audit chain's checkpoints (pkg/audit): the audit key is made in
	// the key store on first start, like the CA's service keys; the first
	// checkpoint, now, seals every event before it (those written before
	// the chain existed too), then one every audit.checkpoint_interval and
	// one after the last request at shutdown.
	auditKey, err := audit.OpenKey(ctx, ks)
	if err != nil {
		return err
	}
	checkpoints, err := audit.NewCheckpointer(opened.Store, auditKey, nil, log)
	if err != nil {
		return err
	}
	if _, err := checkpoints.Checkpoint(ctx); err != nil {
		return err
	}
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	auditDone := make(chan struct{})
	go func() {
		defer close(auditDone)
		checkpoints.Run(auditCtx, cfg.Audit.CheckpointInterval)
	}()
	defer func() {
		stopAudit()
		<-auditDone
	}()
	pkiOpts := &server.PKIOptions{Logger: log, TSARSAPKCS1v15: dir.Config.RSAPKCS1v15, OCSPRSAPKCS1v15: dir.Config.RSAPKCS1v15,
		OCSPCacheBytes: cfg.OCSP.CacheBytes, OCSPValidity: cfg.OCSP.Validity,
		OCSPPresign: cfg.OCSP.Presign, OCSPPresignInterval: cfg.OCSP.PresignInterval, SettleAfter: cfg.SettleAfter}
	if dir.Config.TSAPolicyOID != "" {
		if pkiOpts.TSAPolicy, err = datadir.ParseOID(dir.Config.TSAPolicyOID); err != nil {
			return fmt.Errorf("kyso.json tsa_policy_oid: %w", err)
		}
	}
	pki, err := server.NewPKI(ctx, opened.CA, opened.Store, pkiOpts)
	if err != nil {
		return err
	}
	if err := pki.Tick(ctx); err != nil {
		log.Error("PKI maintenance", "err", err)
	}
	go pki.Maintain(ctx, 5*time.Second)

	tlsCert, tlsLeaf, err := serverCertificate(ctx, opened.CA, ks, cfg.Listen)
	if err != nil {
		return err
	}
	tlsLabel := ""
	if u, err := hsm.ParseURI(certKeyURI(ctx, opened.CA, tlsLeaf)); err == nil {
		tlsLabel = u.Path[keystore.KeyAttr(u.Scheme)]
	}
	printDefaults(stderr, cfg, dir, ksURI, development, tlsLeaf, pkiAddr)
	printTracing(stderr, tracing)

	local, err := pki.LocalClient(dir.Config.BaseURL)
	if err != nil {
		return err
	}
	// The trust store (kyso trust list): the provider's root and the CAs
	// the operator added. Every signature is checked against it first
	// (Circular 15/2025 Art. 5), read afresh for each check so that `kyso
	// trust add|remove` counts while kysod runs, and its evidence goes
	// into B-LT PDFs, the default level.
	anchors := trust.New(opened.Store)
	roots, err := anchors.Pool(ctx)
	if err != nil {
		return err
	}
	fetcher := &revocation.Fetcher{Client: local}
	// The campaign registry (one campaign signature per citizen across
	// providers): a shared one when kyso.json names its URL, else the
	// embedded one in this database, which --registry also serves.
	campaignReg, err := opened.CampaignRegistry(ctx, dir, log)
	if err != nil {
		return err
	}
	if cfg.ServeRegistry && dir.Config.CampaignRegistry != nil && dir.Config.CampaignRegistry.URL != "" {
		return fmt.Errorf("--registry serves the campaign registry from this database, so this provider uses it directly: remove campaign_registry.url from %s", filepath.Join(dir.Path, datadir.ConfigFile))
	}
	printRegistry(stderr, cfg, dir, campaignReg)
	svc, err := opened.SigningWith(dir, signing.Config{Logger: log, PINAttempts: cfg.Signing.PINAttempts, PINLockout: cfg.Signing.PINLockout,
		SADLifetime: cfg.Signing.SADLifetime, TransactionLifetime: cfg.Signing.TransactionLifetime, TokenLifetime: cfg.Signing.TokenLifetime,
		ApprovalLease:     cfg.Signing.ApprovalLease,
		SignerCheckMaxAge: cfg.Signing.SignerCheckMaxAge,
		HashConcurrency:   cfg.Signing.Argon2Concurrency,
		HashWait:          cfg.Signing.Argon2Wait,
		PasskeyOrigin:     cfg.passkeyOrigin(),
		Timestamp:         pades.TSAServer(pki.TSA()),
		LTV:               &pades.LTVOptions{Roots: roots, Revocation: fetcher},
		SignerCheck:       &signercheck.Config{Anchors: anchors.Pool, Revocation: fetcher},
		// Webhooks speak the SmartCA dialect, the one with asynchronous
		// transactions.
		Notification:       smartca.EncodeNotification,
		OperatorClient:     cfg.Signing.OperatorClient,
		FreeMonths:         cfg.Campaign.FreeMonths,
		RenewalPolicy:      cfg.Campaign.Renewal,
		ClaimLifetime:      cfg.Campaign.ClaimLifetime,
		VisitClaimLifetime: cfg.Campaign.VisitClaimLifetime,
		CampaignRegistry:   campaignReg})
	if err != nil {
		return err
	}
	if id := cfg.Signing.OperatorClient; id != "" {
		// A dispute nobody hears of is a suspended citizen nobody calls.
		if c, err := svc.Client(ctx, id); err != nil || c.WebhookURL == "" || c.Disabled {
			return fmt.Errorf("signing.operator_client: %q is not a client with a webhook URL (kyso client create --webhook): the operators would not hear of owners' disputes", id)
		}
	}
	// The staff registry and its badges (pkg/staff): the badge key is
	// made in the key store on first start, as the audit key; badges link
	// to the app's public URL.
	badgeKey, err := staff.OpenKey(ctx, ks)
	if err != nil {
		return err
	}
	staffSvc, err := staff.New(staff.Config{Store: opened.Store, Key: badgeKey, AppURL: cfg.passkeyOrigin(), BadgeLifetime: cfg.App.BadgeLifetime})
	if err != nil {
		return err
	}
	// Everything a first start makes exists now (SigningWith made the
	// secrets key): other processes may go on.
	unlock()
	// One set of rate limits for the process: a source address or a
	// client has one budget across the APIs.
	limits := cfg.RateLimits.limits()
	printLimits(stderr, svc, limits)
	mux := http.NewServeMux()
	// Authenticated APIs: each checks its own bearer tokens or client
	// credentials.
	// CSC oauth2code sends the owner's browser to the app's consent page:
	// offered when the app is served.
	consent := ""
	if !cfg.App.Disabled {
		consent = app.ConsentPath
	}
	// Each API is timed per route (kyso_http_request_duration_seconds).
	mux.Handle("/csc/v2/", httpedge.Measure("csc", "other", csc.NewHandler(svc, &csc.Options{TSA: pki.TSA(), Logger: log, Limits: limits, ConsentURL: consent})))
	mux.Handle("/smartca/v1/", httpedge.Measure("smartca", "other", smartca.NewHandler(svc, &smartca.Options{Logger: log, Limits: limits})))
	mux.Handle("/owner/v1/", httpedge.Measure("owner", "other", owner.NewHandler(svc, &owner.Options{Logger: log, Limits: limits})))
	population, err := readPopulation(cfg.Campaign.PopulationFile)
	if err != nil {
		return err
	}
	officers := admin.NewHandler(svc, log).WithStaff(staffSvc).WithCampaign(opened.ProviderName(ctx), population)
	mux.Handle("/admin/v1/", httpedge.Measure("admin", "other", officers))
	if cfg.ServeRegistry {
		// The shared campaign registry: members authenticate by their
		// pinned TLS client key and sign every request (pkg/campaignreg).
		regHandler, err := campaignreg.NewHandler(&campaignreg.HandlerOptions{
			Book: campaignreg.NewBook(opened.Store, nil, log), MembersFile: cfg.Registry.MembersFile, Logger: log})
		if err != nil {
			return err
		}
		// Per source address, before anything is read or audited: a
		// stranger's refused requests cannot flood the registry's log.
		mux.Handle(campaignreg.Path, httpedge.Measure("registry", "other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !limits.AllowSource(w, r) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"error":"rate_limited","message":"too many requests from this address; retry after the Retry-After seconds"}`+"\n")
				return
			}
			regHandler.ServeHTTP(w, r)
		})))
	}
	// Public: anyone holding a signed PDF may validate it. Trust anchors:
	// the trust store (`kyso trust`), read for each validation, so an
	// anchor added while kysod runs counts at once. Revocation data is
	// fetched only from this CA's own PKI, in process: an uploaded
	// certificate's URLs are never requested.
	verifyAPI, err := verifyapi.NewHandler(&verifyapi.Options{
		Roots:   anchors.Pool,
		Fetcher: &revocation.Fetcher{Client: local},
		Logger:  log,
	})
	if err != nil {
		return err
	}
	mux.Handle("/verify/v1", httpedge.Measure("verify", "/verify/v1", verifyAPI))
	// The citizen's app: its sessions are owner tokens in the shared
	// database, in cookies sealed under the secrets key every replica
	// has; its check page runs the validation API's engine and bounds.
	if !cfg.App.Disabled {
		secrets, err := dir.SecretsKey()
		if err != nil {
			return err
		}
		workers := cfg.App.RenderWorkers
		if workers == 0 {
			workers = 2
		}
		citizenApp, err := app.New(svc, &app.Options{SecretsKey: secrets, IdleTimeout: cfg.App.IdleTimeout, SessionLifetime: cfg.App.SessionLifetime,
			Checker: verifyAPI, Render: &render.Options{Workers: workers}, Limits: limits, Logger: log,
			Staff: staffSvc, BadgeReport: app.BadgeReport{Phone: cfg.App.BadgeReportPhone, URL: cfg.App.BadgeReportURL}, Admin: officers})
		if err != nil {
			return err
		}
		defer citizenApp.Close()
		// PDFium is compiled when the app is first used (a citizen's
		// first request, usually the login page), in the background:
		// a replica no citizen reaches never pays its memory.
		mux.Handle(app.Path, httpedge.Measure("app", "other", citizenApp))
	}
	// The webhook outbox, the expiry sweep and the recovery of
	// transactions abandoned while being signed (by a replica that died):
	// every replica runs it, from start-up on; the database leases each
	// delivery and each abandoned transaction to one.
	dispatcher := &signing.Dispatcher{Service: svc, Store: opened.Store, Logger: log,
		Interval: cfg.Webhooks.Interval, Timeout: cfg.Webhooks.Timeout, Batch: cfg.Webhooks.Batch}
	go dispatcher.Run(ctx)
	// Citizens who moved to another provider: their campaign
	// certificates here are revoked, superseded (at least once: the
	// registry keeps a release until it is acknowledged).
	go syncRegistry(ctx, svc, cfg.Campaign.RegistrySync, log)
	mux.Handle("GET /openapi.json", server.OpenAPIHandler())
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		cctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		// The key store answers and still holds kysod's own TLS key, the
		// one its certificate names: a token re-initialised, or restored
		// from another copy, holds no such key even when a key of that
		// label was made again.
		pub, err := ks.PublicKey(cctx, &hsm.PublicKeyRequest{Label: tlsLabel})
		if err == nil && !hsm.SamePublicKey(pub, tlsLeaf.PublicKey) {
			err = fmt.Errorf("%w: the key labelled %q is not the key of kysod's TLS certificate", hsm.ErrKeyNotFound, tlsLabel)
		}
		if err != nil {
			log.Error("readiness: key store unreachable, or its keys are gone", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "key store unreachable, or its keys are gone\n")
			return
		}
		if err := opened.Store.Ping(cctx); err != nil {
			log.Error("readiness: database unreachable", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "database unreachable\n")
			return
		}
		io.WriteString(w, "ok\n")
	})
	proxies, err := clientaddr.Parse(cfg.TrustedProxies)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              cfg.Listen,
		Handler:           proxies.Handler(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		// Relying parties may authenticate with a client certificate
		// bound at registration (RFC 8705); it is asked for, not required.
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{tlsCert}, ClientAuth: tls.RequestClientCert},
		ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	pkiSrv := &http.Server{
		Addr:              cfg.HTTP,
		Handler:           httpedge.Measure("pki", "pki", http.MaxBytesHandler(pki, 64<<10)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serving := []any{"version", version.String(), "addr", "https://" + ln.Addr().String(), "pki", "http://" + pkiAddr}
	if metricsLn != nil {
		serving = append(serving, "metrics", "http://"+metricsLn.Addr().String()+"/metrics")
	}
	log.Info("kysod serving", serving...)
	metricsSrv := metricsServer(log)
	errc := make(chan error, 3)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	go func() { errc <- pkiSrv.Serve(pkiLn) }()
	if metricsLn != nil {
		go func() { errc <- metricsSrv.Serve(metricsLn) }()
	}
	select {
	case err := <-errc:
		srv.Close()
		pkiSrv.Close()
		metricsSrv.Close()
		return err
	case <-ctx.Done():
	}
	log.Info("kysod shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(srv.Shutdown(sctx), pkiSrv.Shutdown(sctx), metricsSrv.Shutdown(sctx))
}

func printDefaults(w io.Writer, cfg *config, dir *datadir.Dir, ks *hsm.URI, development bool, tlsLeaf *x509.Certificate, pkiAddr string) {
	fmt.Fprintf(w, "kysod %s\n", version.String())
	fmt.Fprintf(w, "  data directory  %s\n", cfg.Data)
	fmt.Fprintf(w, "  key store       %s\n", ks.Redacted())
	fmt.Fprintf(w, "  database        %s\n", storeopen.Redact(dir.Config.DB))
	fmt.Fprintf(w, "  PKI (no auth)   http://%s/ca/{root,issuing}.crt, /crl/{root,issuing}.crl, /ocsp, /tsa\n", pkiAddr)
	fmt.Fprintf(w, "  URLs in certs   %s\n", dir.Config.BaseURL)
	fmt.Fprintf(w, "  HTTPS           https://%s (TLS 1.2+, certificate %s from the issuing CA, until %s)\n", cfg.Listen, ca.FormatSerialInt(tlsLeaf.SerialNumber), tlsLeaf.NotAfter.UTC().Format(time.DateOnly))
	fmt.Fprintf(w, "  health          https://%s/livez, /readyz\n", cfg.Listen)
	if cfg.Metrics != "" {
		fmt.Fprintf(w, "  metrics         http://%s/metrics (Prometheus; keep it private)\n", cfg.Metrics)
	}
	fmt.Fprintf(w, "  APIs            https://%s/csc/v2, /smartca/v1, /owner/v1, /admin/v1, /verify/v1 (described at /openapi.json)\n", cfg.Listen)
	if !cfg.App.Disabled {
		fmt.Fprintf(w, "  citizen's app   https://%s/app/ (passkeys for %s)\n", cfg.Listen, cfg.passkeyOrigin())
	}
	every := cfg.Audit.CheckpointInterval
	if every <= 0 {
		every = audit.DefaultInterval
	}
	fmt.Fprintf(w, "  audit log       one hash chain; checkpoints signed by key %s every %v and at shutdown (kyso audit verify)\n", audit.KeyLabel, every)
	if development {
		fmt.Fprintln(w, "  WARNING: embedded development defaults — software keys protected by a generated passphrase")
		fmt.Fprintln(w, "           stored beside them. Use --keystore pkcs11:… or vault:… in production.")
	}
}

// printRegistry prints which campaign registry kysod consults, and
// whether it serves one.
func printRegistry(w io.Writer, cfg *config, dir *datadir.Dir, reg campaignreg.Registry) {
	p := reg.Provider()
	where := "embedded (this database)"
	if c := dir.Config.CampaignRegistry; c != nil && c.URL != "" {
		where = c.URL + " (mutual TLS, signed requests)"
	}
	fmt.Fprintf(w, "  campaign        one signature per citizen: registry %s, as provider %s (%s)\n", where, p.ID, display.Escape(p.Name))
	if cfg.ServeRegistry {
		fmt.Fprintf(w, "  registry        https://%s%s for the providers in %s\n", cfg.Listen, campaignreg.Path, cfg.Registry.MembersFile)
	}
}

// syncRegistry runs signing.Service.SyncCampaignRegistry at start and
// every interval (default 1m) until ctx ends.
func syncRegistry(ctx context.Context, svc *signing.Service, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := svc.SyncCampaignRegistry(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("campaign registry sync", "err", err)
		}
		if n > 0 {
			log.Info("campaign registry sync: certificates superseded by a switch of provider", "holdings", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// printLimits prints what bounds the cost of requests.
func printLimits(w io.Writer, svc *signing.Service, l *httpedge.Limits) {
	rate := func(r httpedge.Rate) string {
		if r.PerSecond <= 0 {
			return "no limit"
		}
		return fmt.Sprintf("%g/s, bursts of %d", r.PerSecond, r.Burst)
	}
	fmt.Fprintf(w, "  limits          argon2id PIN checks %d at once; per source address %s; per client %s; refusals held up to %v\n",
		svc.HashConcurrency(), rate(l.Source.Rate()), rate(l.Client.Rate()), l.Hold)
}

// tlsKeyPrefix starts the key store labels of the daemon's TLS keys; a
// timestamp and a random suffix follow, as each certificate gets a fresh
// key (Decree 23/2025: a key is certified once) and replicas on several
// machines sharing a key store may make theirs in the same second.
const tlsKeyPrefix = "kysod-tls-"

// tlsRenewBefore is how long before expiry a TLS certificate is replaced at
// start.
const tlsRenewBefore = 30 * 24 * time.Hour

// serverCertificate returns the daemon's TLS certificate, issued by its own
// issuing CA for localhost, the loopback addresses and the listen host: the
// newest stored one when it covers those names and is not near expiry, else
// a new one with a new key in the key store. The chain sent is the leaf
// and the CAs below the root.
func serverCertificate(ctx context.Context, a *ca.Authority, ks hsm.KeyStore, listen string) (tls.Certificate, *x509.Certificate, error) {
	dns, ips := []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsUnspecified() && !ip.IsLoopback() {
				ips = append(ips, ip)
			}
		} else if host != "localhost" {
			dns = append(dns, host)
		}
	}
	chain, err := a.Chain(ctx)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	var inter [][]byte
	for _, c := range chain {
		if c.CheckSignatureFrom(c) != nil { // not a self-signed root
			inter = append(inter, c.Raw)
		}
	}
	recs, err := a.List(ctx, &store.CertificateFilter{Profile: ca.ProfileTLS, Status: store.StatusGood, Limit: 20})
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	for _, r := range recs {
		c, err := x509.ParseCertificate(r.DER)
		if err != nil || time.Until(c.NotAfter) < tlsRenewBefore || !covers(c, dns, ips) {
			continue
		}
		u, err := hsm.ParseURI(r.KeyURI)
		if err != nil {
			continue
		}
		signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: u.Path[keystore.KeyAttr(u.Scheme)]})
		if err != nil || !hsm.SamePublicKey(signer.Public(), c.PublicKey) {
			continue
		}
		return tls.Certificate{Certificate: append([][]byte{c.Raw}, inter...), PrivateKey: signer, Leaf: c}, c, nil
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	label := tlsKeyPrefix + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(suffix)
	c, err := a.IssueTLSServer(ctx, &ca.TLSServerRequest{DNSNames: dns, IPs: ips, KeyLabel: label, KeyAlgorithm: hsm.ECDSAP256, Actor: "kysod"})
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("issuing the HTTPS certificate: %w", err)
	}
	signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("HTTPS key: %w", err)
	}
	return tls.Certificate{Certificate: append([][]byte{c.Raw}, inter...), PrivateKey: signer, Leaf: c}, c, nil
}

// covers reports whether c names every one of dns and ips.
func covers(c *x509.Certificate, dns []string, ips []net.IP) bool {
	for _, n := range dns {
		if c.VerifyHostname(n) != nil {
			return false
		}
	}
	for _, ip := range ips {
		if c.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}

// certKeyURI returns the key URI recorded for certificate c.
func certKeyURI(ctx context.Context, a *ca.Authority, c *x509.Certificate) string {
	rec, err := a.Certificate(ctx, c.SerialNumber.Bytes())
	if err != nil {
		return ""
	}
	return rec.KeyURI
}

// readPopulation reads campaign.population_file, the adult population
// table; none when path is empty.
func readPopulation(path string) (signing.Population, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: campaign.population_file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, signing.MaxPopulationFile+1))
	if err != nil {
		return nil, fmt.Errorf("config: campaign.population_file: %w", err)
	}
	p, err := signing.ParsePopulation(b)
	if err != nil {
		return nil, fmt.Errorf("config: campaign.population_file %s: %w", path, err)
	}
	return p, nil
}
