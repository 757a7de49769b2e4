// Package signing is kyso's remote-signing core: owners and their
// credentials, relying parties, signing transactions, the owner's approval
// with two factors (PIN and TOTP), and the activation data (SAD) an approval
// yields. It holds the key store, and the only code that reaches a
// credential's key is Service.signHashes, which first spends activation
// data bound to the credential, the exact ordered hashes, their algorithm,
// a count and an expiry (CSC API v2 SCAL2 rules; DESIGN.md "The main
// flows"). HTTP front ends (CSC, the SmartCA dialect) call this package;
// it knows nothing of HTTP.
package signing

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/campaignreg"
	"github.com/kyso-pki/kyso/pkg/metrics"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Store is what the service keeps and reads: the remote-signing records
// it owns (store.Signing), the certificates and revocations the CA
// recorded, and the audit log. It is the part of store.Store the service
// calls, and every store.Store is one (store.Store says what each method
// promises).
type Store interface {
	store.Signing

	PutCampaignTerms(ctx context.Context, t *store.CampaignTerms) error
	GetCampaignTerms(ctx context.Context, credentialID string) (*store.CampaignTerms, error)
	GetCertificate(ctx context.Context, issuer string, serial []byte) (*store.Certificate, error)
	GetRevocation(ctx context.Context, issuer string, serial []byte) (*store.Revocation, error)
	ListCampaignHolders(ctx context.Context, after string, now time.Time, limit int) ([]*store.CampaignHolder, error)

	AppendAudit(ctx context.Context, es ...*store.AuditEvent) error
	ListOwnerSignatures(ctx context.Context, ownerID string, after int64, limit int) ([]*store.AuditEvent, error)
}

var _ Store = store.Store(nil)

// Config tunes the service. Zero fields take the defaults documented.
type Config struct {
	// SecretsKey is the 32-byte AES key sealing TOTP and webhook secrets in
	// the database; the key of the client secrets' HMAC is derived from it
	// (HKDF). Required.
	SecretsKey []byte
	// Password are the argon2id parameters for PINs; zero means
	// DefaultPasswordParams.
	Password PasswordParams
	// HashConcurrency bounds how many argon2id evaluations (PIN checks and
	// hashing, client secrets stored before kyso checked them by HMAC) run
	// at once, each holding Password.MemoryKiB. kysod runs one Service, so
	// this is its process-wide bound. Zero means a quarter of the memory
	// the process may use (GOMEMLIMIT, else the cgroup's or the machine's)
	// over Password.MemoryKiB, at most twice GOMAXPROCS, at least one.
	HashConcurrency int
	// HashWait is how long an evaluation waits for a place before it is
	// refused with KindBusy; zero means DefaultHashWait.
	HashWait time.Duration
	// PINAttempts is how many attempts at the owner's factors (PIN and
	// one-time code) may be evaluated before one passes; the attempt that
	// reaches it locks the owner for PINLockout, after which the count
	// starts again (DESIGN.md, "Factor attempts"). Attempts are reserved
	// in the database before they are evaluated, so the bound holds for
	// concurrent guesses across replicas. Zero means 5; PINLockout zero
	// means 15 minutes.
	PINAttempts int
	PINLockout  time.Duration
	// SADLifetime is how long activation data stays usable; zero means 5
	// minutes.
	SADLifetime time.Duration
	// TransactionLifetime is how long a transaction waits for approval;
	// zero means 10 minutes.
	TransactionLifetime time.Duration
	// TokenLifetime is the life of an access token; zero means 1 hour.
	TokenLifetime time.Duration
	// ApprovalLease is how long the replica that recorded an approval
	// holds the transaction while it signs: once it ends with the
	// transaction still approved, Recover (the dispatcher's sweep, on
	// any replica) fails it. It must outlast signing MaxHashes hashes;
	// zero means 2 minutes.
	ApprovalLease time.Duration
	// Instance names this replica in the leases it holds; empty means a
	// random name.
	Instance string
	// PasskeyOrigin is the origin of the citizen's app ("https://host"
	// or "https://host:port"; http only for localhost), whose host is the
	// WebAuthn relying party ID of the owners' passkeys (DESIGN.md,
	// "Factor attempts"). Empty turns passkeys off: PIN and one-time code
	// only.
	PasskeyOrigin string
	// TOTPIssuer names the service in authenticator apps; empty means
	// "kyso".
	TOTPIssuer string
	// Timestamp time-stamps the signatures SignDocuments makes at B-T and
	// above; nil offers B-B only.
	Timestamp pades.TimestampFunc
	// LTV gives the trust anchors and revocation source for B-LT and
	// B-LTA; nil offers up to B-T.
	LTV *pades.LTVOptions
	// DefaultLevel is the PAdES level of a PDF whose request names none;
	// zero means B-LT when Timestamp and LTV are set (Circular 15/2025
	// Art. 5: the status evidence of the pre-signing check stays with the
	// document), B-B otherwise.
	DefaultLevel pades.Level
	// SignerCheck is the pre-signing check of a credential's certificate
	// (Circular 15/2025 Art. 5, pkg/signercheck): trust anchors and a
	// revocation source. Required unless SkipSignerCheck.
	SignerCheck *signercheck.Config
	// SignerCheckMaxAge is how long a passed check of a certificate is
	// reused (signercheck.Cache): zero means signercheck.DefaultMaxAge (a
	// minute), negative checks before every signature. A revocation takes
	// effect for signing within it.
	SignerCheckMaxAge time.Duration
	// SkipSignerCheck runs the service without the pre-signing check.
	// WARNING: for tests about something else and offline tools only; a
	// provider must check every certificate before it signs.
	SkipSignerCheck bool
	// Notification writes the webhook body of an ended transaction in the
	// relying parties' dialect (kysod sets smartca.EncodeNotification).
	// Nil queues no webhooks: each transaction that ends for a client with
	// a webhook URL logs an error instead, and the relying party must poll.
	Notification NotificationEncoder
	// OperatorClient is the ID of the client whose webhook tells the
	// provider's operators that an owner disputes a signature
	// (SuspendOwn, "Tôi không thực hiện giao dịch này"): the operators'
	// desk, registered with `kyso client create --webhook`. Its body is a
	// Dispute. Empty: only the log (a warning) and the audit log tell
	// them.
	OperatorClient string
	// FreeMonths is the citizen's free period: signatures through a
	// public-service client with a campaign certificate are free for this
	// many months from its issuance (NotBefore); every other signature is
	// metered (usage.go). Zero means DefaultFreeMonths.
	FreeMonths int
	// CampaignRegistry, when set, is consulted before every enrolment
	// (one campaign signature per citizen across providers, issue 18):
	// campaignreg.Local for one provider's database, campaignreg.Client
	// for a shared registry. Nil: only this provider's own rule (pkg/ca,
	// one active campaign certificate per national ID).
	CampaignRegistry campaignreg.Registry
	// RenewalPolicy is the provider's policy for the campaign's
	// renewals: RenewalFree (empty means it) or RenewalMetered, charged
	// and counted so (renew.go). A renewal's signatures keep the free
	// period of the credential's first campaign certificate whatever it
	// is.
	RenewalPolicy string
	// RegistrationLifetime is how long an online self-registration waits
	// for an officer before it expires (register.go); zero means
	// DefaultRegistrationLifetime.
	RegistrationLifetime time.Duration
	// ClaimLifetime is how long the claim link of an approved online
	// self-registration lasts, from the approval or an officer's reissue;
	// zero means DefaultClaimLifetime (30 days). VisitClaimLifetime is
	// the same for a household visit's link, from the enrolment or a
	// reissue; zero means DefaultVisitClaimLifetime (7 days). An expired
	// link claims nothing; an officer reissues it.
	ClaimLifetime, VisitClaimLifetime time.Duration
	// Now is the clock; nil means time.Now. Rand is the randomness; nil
	// means crypto/rand. Logger receives operational messages, never a
	// secret; nil discards them.
	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
}

// Service is the remote-signing core. It is safe for concurrent use, and
// several replicas may share one database and key store.
type Service struct {
	st     Store
	keys   hsm.KeyStore
	ca     *ca.Authority
	cfg    Config
	sealer *sealer
	// secretKey keys the client secrets' HMAC; gate bounds argon2id.
	secretKey []byte
	gate      *hashGate
	log       *slog.Logger
	// checks reuses passed pre-signing checks (Config.SignerCheckMaxAge).
	checks *signercheck.Cache
	certs  certCache
	// instance names this replica in transaction leases.
	instance string
	// receipts holds the key that signs consent receipts.
	receipts receiptSigner
	// rp is the WebAuthn relying party (Config.PasskeyOrigin); nil when
	// passkeys are off.
	rp *webauthn.WebAuthn
}

// New returns a service over st and keys, issuing certificates with
// authority.
func New(st Store, keys hsm.KeyStore, authority *ca.Authority, cfg Config) (*Service, error) {
	if st == nil || keys == nil || authority == nil {
		return nil, errors.New("signing: a store, a key store and an authority are required")
	}
	if cfg.SignerCheck == nil && !cfg.SkipSignerCheck {
		return nil, errors.New("signing: Config.SignerCheck (trust anchors and a revocation source) is required, or SkipSignerCheck")
	}
	if cfg.SignerCheck != nil && ((cfg.SignerCheck.Roots == nil && cfg.SignerCheck.Anchors == nil) || cfg.SignerCheck.Revocation == nil) {
		return nil, errors.New("signing: Config.SignerCheck needs Roots (or Anchors) and Revocation")
	}
	if cfg.DefaultLevel == "" {
		cfg.DefaultLevel = pades.LevelBB
		if cfg.Timestamp != nil && cfg.LTV != nil {
			cfg.DefaultLevel = pades.LevelBLT
		}
	}
	s, err := newSealer(cfg.SecretsKey)
	if err != nil {
		return nil, err
	}
	if cfg.Password == (PasswordParams{}) {
		cfg.Password = DefaultPasswordParams
	}
	if cfg.HashWait <= 0 {
		cfg.HashWait = DefaultHashWait
	}
	macKey, err := newSecretMACKey(cfg.SecretsKey)
	if err != nil {
		return nil, fmt.Errorf("signing: deriving the client secret key: %w", err)
	}
	if cfg.PINAttempts <= 0 {
		cfg.PINAttempts = 5
	}
	if cfg.PINLockout <= 0 {
		cfg.PINLockout = 15 * time.Minute
	}
	if cfg.SADLifetime <= 0 {
		cfg.SADLifetime = 5 * time.Minute
	}
	if cfg.TransactionLifetime <= 0 {
		cfg.TransactionLifetime = 10 * time.Minute
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.ApprovalLease <= 0 {
		cfg.ApprovalLease = 2 * time.Minute
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "kyso"
	}
	if cfg.RegistrationLifetime <= 0 {
		cfg.RegistrationLifetime = DefaultRegistrationLifetime
	}
	if cfg.ClaimLifetime <= 0 {
		cfg.ClaimLifetime = DefaultClaimLifetime
	}
	if cfg.VisitClaimLifetime <= 0 {
		cfg.VisitClaimLifetime = DefaultVisitClaimLifetime
	}
	if cfg.FreeMonths <= 0 {
		cfg.FreeMonths = DefaultFreeMonths
	}
	switch cfg.RenewalPolicy {
	case "":
		cfg.RenewalPolicy = RenewalFree
	case RenewalFree, RenewalMetered:
	default:
		return nil, fmt.Errorf("signing: renewal policy %q is neither %q nor %q", cfg.RenewalPolicy, RenewalFree, RenewalMetered)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	instance := cfg.Instance
	if instance == "" {
		if instance, err = randomID(rand.Reader, 8); err != nil {
			return nil, err
		}
		instance = "kysod-" + instance
	}
	// The key store's error count is there, at zero, before any error.
	metrics.KeyErrors.WithLabelValues(backendName(keys), "sign")
	rp, err := newRelyingParty(cfg.PasskeyOrigin)
	if err != nil {
		return nil, err
	}
	return &Service{st: st, keys: keys, ca: authority, cfg: cfg, sealer: s, secretKey: macKey, gate: newHashGate(&cfg), log: log,
		checks: &signercheck.Cache{MaxAge: cfg.SignerCheckMaxAge}, instance: instance, rp: rp}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// audit records an event; a failure to audit fails the operation.
func (s *Service) audit(ctx context.Context, actor, action, subject, outcome string, details map[string]any) error {
	e, err := s.auditEvent(actor, action, subject, outcome, details)
	if err != nil {
		return err
	}
	if err := s.st.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("signing: auditing %s: %w", action, err)
	}
	return nil
}

// auditEvent makes the event audit records.
func (s *Service) auditEvent(actor, action, subject, outcome string, details map[string]any) (*store.AuditEvent, error) {
	if actor == "" {
		actor = "kyso"
	}
	if details == nil {
		details = map[string]any{}
	}
	d, err := json.Marshal(details)
	if err != nil {
		return nil, fmt.Errorf("signing: auditing %s: %w", action, err)
	}
	return &store.AuditEvent{Time: s.now(), Actor: actor, Action: action, Subject: subject, Outcome: outcome, Details: d}, nil
}
