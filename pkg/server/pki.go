// Package server assembles kyso's HTTP listeners from the packages that do
// the work. Its first part is the public PKI listener: CA certificates,
// CRLs and OCSP, served without authentication over plain HTTP as RFC 5280
// and RFC 6960 relying parties expect (the URLs are written into every
// certificate), and the RFC 3161 time-stamping authority.
package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/metrics"
	"github.com/kyso-pki/kyso/pkg/ocsp"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// PKI serves the unauthenticated PKI routes, listed explicitly:
//
//	GET  /ca/{name}.crt      the CA certificate, DER (RFC 2585 application/pkix-cert)
//	GET  /crl/{name}.crl     the CA's latest CRL, DER (RFC 2585 application/pkix-crl)
//	GET  /crl/{name}-{n}.crl the latest CRL of the CA's shard n (ca.ShardURL), DER
//	GET  /ocsp/{request}     OCSP, RFC 6960 appendix A.1
//	POST /ocsp               OCSP
//	POST /tsa                RFC 3161 time-stamping (application/timestamp-query)
//
// It keeps the CRLs and the OCSP responder fresh with Maintain.
type PKI struct {
	ca    *ca.Authority
	st    Store
	log   *slog.Logger
	now   func() time.Time
	ocsp  *ocsp.Responder
	tsa   *tsa.Server
	mux   *http.ServeMux
	mu    sync.Mutex
	audit int64 // last audit event seen by Maintain
	// revocationEvent and crlEvent are the IDs of the latest revocation
	// (suspension, release) and CRL events Maintain has seen in the audit
	// log, by CRL shard: a revocation after its shard's latest CRL is not
	// in any CRL yet.
	revocationEvent, crlEvent map[crlScope]int64
	// counted is when Tick last counted the certificates (the metric
	// kyso_certificates), at most once a CountInterval.
	counted time.Time
	// holder names this PKI in the upkeep lease; lease is how long a
	// claim lasts.
	holder string
	lease  time.Duration
	// presign is the OCSP pre-signing's state; nil when it is off.
	presign *presigner
	// settleAfter is PKIOptions.SettleAfter.
	settleAfter time.Duration
}

// CountInterval is how often Tick counts the certificates by status for
// the metrics: a count reads the whole table.
const CountInterval = time.Minute

// PKIOptions configure NewPKI.
type PKIOptions struct {
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OCSPValidity is the validity of OCSP responses; zero means the
	// responder's default.
	OCSPValidity time.Duration
	// TSAPolicy is the time-stamping policy OID (RFC 3161 section 2.4.2);
	// nil means tsa.PlaceholderPolicy. WARNING: a provider must set its
	// registered TSA policy.
	TSAPolicy asn1.ObjectIdentifier
	// TSARSAPKCS1v15 makes an RSA TSA key sign tokens with PKCS#1 v1.5
	// instead of RSASSA-PSS (tsa.Config.RSAPKCS1v15). WARNING: for legacy
	// relying parties only.
	TSARSAPKCS1v15 bool
	// OCSPCacheBytes bounds the memory of the cached OCSP responses
	// (ocsp.Config.CacheBytes); zero means ocsp.DefaultCacheBytes.
	OCSPCacheBytes int64
	// OCSPRSAPKCS1v15 makes an RSA OCSP signing key sign responses with
	// PKCS#1 v1.5 instead of RSASSA-PSS (ocsp.Config.RSAPKCS1v15).
	// WARNING: for legacy relying parties only.
	OCSPRSAPKCS1v15 bool
	// UpkeepLease is how long a Tick's claim on the upkeep lasts (CRLs,
	// the renewal of the OCSP and consent-receipt certificates), which
	// one replica of those sharing the database does for all, extending
	// its lease at each tick; another takes over once it ends. Zero
	// means DefaultUpkeepLease; keep it a few Maintain intervals long.
	UpkeepLease time.Duration
	// OCSPPresign turns on OCSP pre-signing (issue 19): the replica
	// holding the upkeep lease signs every valid certificate's answer
	// ahead and keeps it in the database (PresignPass), and the
	// responder serves a stored answer on a cache miss before signing
	// one. False, the zero value, signs answers when first asked.
	OCSPPresign bool
	// OCSPPresignInterval is how often a pre-signing pass runs; zero
	// means DefaultPresignInterval. Answers due before the next pass
	// (half their validity, OCSPValidity) are signed again in this one.
	OCSPPresignInterval time.Duration
	// SettleAfter is how old a serial reservation that no certificate
	// followed must be before the upkeep settles it as abandoned
	// (ca.Authority.SettleReservations); zero means ca.DefaultSettleAfter.
	// Keep it longer than any issuance can take: an issuance that
	// outlasts it is refused its certificate.
	SettleAfter time.Duration
}

// DefaultUpkeepLease is PKIOptions.UpkeepLease's default: six of kysod's
// 5-second ticks, so a replica that dies leaves the CRLs to another
// within half a minute.
const DefaultUpkeepLease = 30 * time.Second

// upkeepLease names the PKI's lease in store.Upkeep.
const upkeepLease = "pki"

// Store is what the PKI routes read from the database: CA records and
// their latest CRLs, the time-stamp serial counter, and the audit log
// (tailed for revocations made by other processes). Every store.Store is
// one.
type Store interface {
	GetCA(ctx context.Context, name string) (*store.CA, error)
	ListCAs(ctx context.Context) ([]*store.CA, error)
	LatestCRL(ctx context.Context, issuer string, shard int) (*store.CRL, error)
	CRLShards(ctx context.Context, issuer string) ([]int, error)
	ClaimUpkeep(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	NextSequence(ctx context.Context, name string) (int64, error)
	ListAudit(ctx context.Context, after int64, limit int) ([]*store.AuditEvent, error)
	AuditHead(ctx context.Context) (int64, []byte, error)
	CountCertificates(ctx context.Context) (map[string]int64, error)
	PruneCRLs(ctx context.Context, issuer string, shard, keep int) (int64, error)
	store.OCSPAnswers
}

// CRLHistory is how many CRLs of each CA's CRL shard the store keeps: the newest, and
// a few before it for whoever must show what was published when. The rest
// are pruned when a new one is made, so the table does not grow with the
// revocations.
const CRLHistory = 16

var _ Store = store.Store(nil)

// tsaSerialSequence names the database counter behind time-stamp serials.
const tsaSerialSequence = "tsa-serial"

// dbSerials draws RFC 3161 serial numbers from the database, so replicas
// sharing it never issue one twice.
type dbSerials struct{ st Store }

// Next implements tsa.SerialSource.
func (d dbSerials) Next(ctx context.Context) (*big.Int, error) {
	n, err := d.st.NextSequence(ctx, tsaSerialSequence)
	if err != nil {
		return nil, err
	}
	return big.NewInt(n), nil
}

// NewPKI builds the PKI routes for the authority's issuing CA. The
// hierarchy must exist (ca.Authority.Init or ImportSubordinate).
func NewPKI(ctx context.Context, a *ca.Authority, st Store, opts *PKIOptions) (*PKI, error) {
	if opts == nil {
		opts = &PKIOptions{}
	}
	p := &PKI{ca: a, st: st, log: opts.Logger, now: opts.Now, mux: http.NewServeMux(),
		revocationEvent: map[crlScope]int64{}, crlEvent: map[crlScope]int64{}, holder: rand.Text(), lease: opts.UpkeepLease}
	if p.lease <= 0 {
		p.lease = DefaultUpkeepLease
	}
	if p.settleAfter = opts.SettleAfter; p.settleAfter <= 0 {
		p.settleAfter = ca.DefaultSettleAfter
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	h, err := a.Hierarchy(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: loading the CA hierarchy: %w", err)
	}
	ocspCert, ocspKey, err := a.OCSPSigner(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: loading the OCSP signer: %w", err)
	}
	cfg := ocsp.Config{
		Issuer: h.Issuing, Signer: ocspKey, SignerCert: ocspCert,
		Source: &caSource{a: a}, Logger: p.log, Now: p.now, Validity: opts.OCSPValidity,
		RSAPKCS1v15: opts.OCSPRSAPKCS1v15, CacheBytes: opts.OCSPCacheBytes,
	}
	if opts.OCSPPresign {
		if opts.OCSPPresignInterval < 0 {
			return nil, errors.New("server: a negative OCSP pre-signing interval")
		}
		p.presign = &presigner{interval: cmp.Or(opts.OCSPPresignInterval, DefaultPresignInterval)}
		cfg.Presigned = storedAnswers{st}
	}
	p.ocsp, err = ocsp.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	tsaCert, tsaKey, err := a.TSASigner(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: loading the TSA signer: %w", err)
	}
	policy := opts.TSAPolicy
	if policy == nil {
		policy = tsa.PlaceholderPolicy
		p.log.Warn("no TSA policy OID configured; time-stamps carry the placeholder", "policy", policy.String())
	}
	chain := []*x509.Certificate{h.Issuing}
	if h.Root != nil {
		chain = append(chain, h.Root)
	}
	p.tsa, err = tsa.New(tsa.Config{Certificate: tsaCert, Chain: chain, Signer: tsaKey, Policy: policy,
		Serials: dbSerials{st}, Now: p.now, Logger: p.log, RSAPKCS1v15: opts.TSARSAPKCS1v15})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	// Revocations made before this process started are in the store; start
	// tailing the audit trail from its end, found by one read of the
	// chain's head, however long the trail (issue 19).
	if p.audit, _, err = st.AuditHead(ctx); err != nil {
		return nil, fmt.Errorf("server: reading the audit trail's head: %w", err)
	}
	p.mux.HandleFunc("GET /ca/{file}", p.caCert)
	p.mux.HandleFunc("GET /crl/{file}", p.crl)
	p.mux.Handle("/tsa", p.tsa)
	return p, nil
}

// TSA returns the time-stamping authority the PKI serves at /tsa, for
// other front ends (CSC signatures/timestamp) to share.
func (p *PKI) TSA() *tsa.Server { return p.tsa }

// ServeHTTP serves the PKI routes. OCSP requests go to the responder
// without passing through http.ServeMux, which would clean the "//" that
// base64 GET requests (RFC 6960 appendix A.1) may hold and redirect them.
func (p *PKI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ocsp" || strings.HasPrefix(r.URL.Path, "/ocsp/") {
		p.ocsp.ServeHTTP(w, r)
		return
	}
	p.mux.ServeHTTP(w, r)
}

func (p *PKI) caCert(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".crt")
	if !ok {
		http.NotFound(w, r)
		return
	}
	rec, err := p.st.GetCA(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		p.log.Error("serving a CA certificate", "ca", name, "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-cert")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(rec.CertDER)
}

func (p *PKI) crl(w http.ResponseWriter, r *http.Request) {
	sc, err := p.crlFile(r.Context(), r.PathValue("file"))
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	var c *store.CRL
	if err == nil {
		c, err = p.st.LatestCRL(r.Context(), sc.issuer, sc.shard)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && !p.now().Before(c.NextUpdate)) {
		c, err = p.regenerate(r.Context(), sc)
	}
	if err != nil {
		p.log.Error("serving a CRL", "ca", sc.issuer, "shard", sc.shard, "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	maxAge := int(c.NextUpdate.Sub(p.now()).Seconds() / 2)
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", max(maxAge, 0)))
	w.Header().Set("Last-Modified", c.ThisUpdate.UTC().Format(http.TimeFormat))
	w.Write(c.DER)
}

// crlScope names one CRL: a CA's original CRL (shard 0) or one of its
// shards (ca.Options.CRLShards).
type crlScope struct {
	issuer string
	shard  int
}

// crlFile reads the CRL a /crl/ file name asks for: "<ca>.crl", or
// "<ca>-<n>.crl" for a shard the CA's certificates were issued into
// (ca.ShardURL). A shard no certificate names is not found
// (store.ErrNotFound), so that requests cannot make CRLs for shards that
// do not exist.
func (p *PKI) crlFile(ctx context.Context, file string) (crlScope, error) {
	base, ok := strings.CutSuffix(file, ".crl")
	if !ok {
		return crlScope{}, store.ErrNotFound
	}
	_, err := p.st.GetCA(ctx, base)
	if !errors.Is(err, store.ErrNotFound) {
		return crlScope{issuer: base}, err
	}
	i := strings.LastIndexByte(base, '-')
	if i < 1 {
		return crlScope{}, store.ErrNotFound
	}
	name, num := base[:i], base[i+1:]
	shard, err := strconv.Atoi(num)
	if err != nil || shard < 1 || num != strconv.Itoa(shard) {
		return crlScope{}, store.ErrNotFound
	}
	shards, err := p.st.CRLShards(ctx, name)
	if err != nil {
		return crlScope{}, err
	}
	if !slices.Contains(shards, shard) {
		return crlScope{}, store.ErrNotFound
	}
	return crlScope{issuer: name, shard: shard}, nil
}

// regenerate signs a new CRL for sc, prunes sc's old ones and returns it.
func (p *PKI) regenerate(ctx context.Context, sc crlScope) (*store.CRL, error) {
	c, err := p.ca.GenerateShardCRL(ctx, sc.issuer, sc.shard)
	if err != nil {
		return nil, err
	}
	if _, err := p.st.PruneCRLs(ctx, c.Issuer, c.Shard, CRLHistory); err != nil {
		p.log.ErrorContext(ctx, "pruning old CRLs", "issuer", c.Issuer, "shard", c.Shard, "err", err)
	}
	return c, nil
}

// Maintain runs until ctx ends: every interval it drops cached OCSP
// responses for certificates revoked, suspended or resumed since (by any process sharing the
// store: it tails the audit trail), renews the OCSP and consent-receipt
// certificates at half their life, and regenerates CRLs past half their
// validity or, once ca.Options.CRLBatch has passed, when a revocation is
// newer than the latest; it keeps CRLHistory CRLs of each CA.
func (p *PKI) Maintain(ctx context.Context, interval time.Duration) {
	if p.presign != nil {
		go p.presignLoop(ctx)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := p.Tick(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("PKI maintenance", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick does one round of Maintain's work.
func (p *PKI) Tick(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for {
		evs, err := p.st.ListAudit(ctx, p.audit, 1000)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			p.audit = e.ID
			if e.Action == ca.ActionCRL && e.Outcome == "ok" {
				p.crlEvent[crlScope{e.Subject, eventShard(e)}] = e.ID
			}
			if (e.Action != ca.ActionRevoke && e.Action != ca.ActionSuspend && e.Action != ca.ActionResume) || e.Outcome != "ok" {
				continue
			}
			issuer, hex, _ := strings.Cut(e.Subject, "/")
			p.revocationEvent[crlScope{issuer, eventShard(e)}] = e.ID
			if serial, err := ca.ParseSerial(hex); err == nil {
				p.ocsp.Invalidate(new(big.Int).SetBytes(serial))
			}

		}
	}
	// The upkeep — renewing the service certificates, signing CRLs — is
	// one replica's, whichever holds the lease: replicas ticking at the
	// same moment would each sign the same CRL and renew the same
	// certificate.
	upkeep, err := p.st.ClaimUpkeep(ctx, upkeepLease, p.holder, p.now(), p.now().Add(p.lease))
	if err != nil {
		errs = append(errs, err)
	}
	// The current responder certificate: renewed here, or by another
	// replica sharing the database, which this one takes up at its next
	// tick; otherwise it would sign with the old one to its end, and
	// past it fail every request.
	if err := p.takeUpOCSP(ctx, upkeep); err != nil {
		errs = append(errs, err)
	}
	_, cached := p.ocsp.CacheUse()
	metrics.OCSPCacheBytes.Set(float64(cached))
	if t, ok := p.ocsp.Oldest(); ok {
		metrics.OCSPCacheOldest.Set(p.now().Sub(t).Seconds())
	} else {
		metrics.OCSPCacheOldest.Set(0)
	}
	if now := p.now(); now.Sub(p.counted) >= CountInterval {
		if n, err := p.st.CountCertificates(ctx); err != nil {
			errs = append(errs, err)
		} else {
			p.counted = now
			for _, st := range []string{store.StatusGood, store.StatusRevoked, store.StatusHold} {
				metrics.Certificates.WithLabelValues(st).Set(float64(n[st]))
			}
		}
	}
	if !upkeep {
		return errors.Join(errs...)
	}
	// The consent receipts' certificate (pkg/signing signs with it),
	// made and renewed as the OCSP responder's is.
	if cert, renewed, err := p.ca.RenewReceipt(ctx); err != nil {
		errs = append(errs, err)
	} else if renewed {
		p.log.Info("made the consent-receipt certificate", "serial", ca.FormatSerialInt(cert.SerialNumber), "not_after", cert.NotAfter)
	}
	// Issuances a crash cut short: their reservations settled as
	// abandoned, a batch a tick.
	if n, err := p.ca.SettleReservations(ctx, p.now().Add(-p.settleAfter)); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		metrics.IssuancesAbandoned.Add(float64(n))
	}
	cas, err := p.st.ListCAs(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, c := range cas {
		scopes, err := p.ca.CRLScopes(ctx, c.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, shard := range scopes {
			if err := p.tickCRL(ctx, crlScope{c.Name, shard}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// takeUpOCSP has the responder sign with the current OCSP responder
// certificate, renewing it first when upkeep is this replica's.
func (p *PKI) takeUpOCSP(ctx context.Context, upkeep bool) error {
	var renewed bool
	if upkeep {
		var err error
		if _, renewed, err = p.ca.RenewOCSP(ctx); err != nil {
			return err
		}
	}
	// The pair as the database holds it now (a replica may have
	// renewed meanwhile).
	cert, key, err := p.ca.OCSPSigner(ctx)
	if err != nil || bytes.Equal(p.ocsp.SignerCertificate(), cert.Raw) {
		return err
	}
	if err := p.ocsp.SetSigner(key, cert); err != nil {
		return err
	}
	if renewed {
		p.log.Info("renewed the OCSP responder certificate", "serial", ca.FormatSerialInt(cert.SerialNumber), "not_after", cert.NotAfter)
	} else {
		p.log.Info("signing OCSP responses with the responder certificate another replica renewed", "serial", ca.FormatSerialInt(cert.SerialNumber), "not_after", cert.NotAfter)
	}
	return nil
}

// tickCRL regenerates sc's CRL when it is missing, past half its life, or
// older than a revocation in sc by ca.Options.CRLBatch: only the shards
// whose revocations changed are signed again.
func (p *PKI) tickCRL(ctx context.Context, sc crlScope) error {
	latest, err := p.st.LatestCRL(ctx, sc.issuer, sc.shard)
	if err == nil {
		// Half its life left and nothing revoked since it was made:
		// it stands. A revocation whose CRL was never stored (the
		// process making it stopped) is listed at the next Tick.
		// A revocation after the latest CRL waits for the batch
		// (ca.Options.CRLBatch; none: the next tick).
		half := latest.ThisUpdate.Add(latest.NextUpdate.Sub(latest.ThisUpdate) / 2)
		pending := p.revocationEvent[sc] > 0 && p.revocationEvent[sc] > p.crlEvent[sc]
		batchDue := pending && !p.now().Before(latest.ThisUpdate.Add(p.ca.CRLBatch()))
		if p.now().Before(half) && !batchDue {
			return nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, err = p.regenerate(ctx, sc)
	return err
}

// eventShard is the CRL shard an audit event of a revocation or a CRL
// names in its details ("crl_shard", "shard"; absent: 0).
func eventShard(e *store.AuditEvent) int {
	var d struct {
		CRLShard int `json:"crl_shard"`
		Shard    int `json:"shard"`
	}
	if json.Unmarshal(e.Details, &d) != nil {
		return 0
	}
	return max(d.CRLShard, d.Shard)
}

// caSource adapts the CA's certificate records to the OCSP responder.
type caSource struct{ a *ca.Authority }

// Status implements ocsp.Source.
func (s *caSource) Status(ctx context.Context, serial *big.Int) (ocsp.Status, error) {
	st, err := s.a.OCSPStatus(ctx, ca.IssuingName, serial)
	if err != nil {
		return ocsp.Status{}, err
	}
	return ocsp.Status{Known: st.Known, Revoked: st.Revoked && !st.OnHold, OnHold: st.OnHold, RevokedAt: st.RevokedAt, Reason: st.Reason}, nil
}
