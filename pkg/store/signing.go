package store

import (
	"context"
	"errors"
	"time"
)

// Errors of the remote-signing records.
var (
	// ErrReplay: a one-time value (a TOTP time step, activation data) was
	// already used.
	ErrReplay = errors.New("already used")
	// ErrConflict: the record is not in the state the update expected
	// (another replica changed it first).
	ErrConflict = errors.New("changed concurrently")
)

// Signing keeps what remote signing needs (DESIGN.md, "The main flows"):
// relying parties, owners and their credentials, signing transactions,
// activation data, access tokens and the webhook outbox. Every rule that two
// replicas could race — a TOTP step used once, activation data used at most
// as often as approved, one transaction per relying-party reference, a
// transaction changing state once — is enforced by the database.
type Signing interface {
	// Renewals keeps renewals and expiry notices.
	Renewals
	// Registrations keeps citizens' online self-registrations.
	Registrations

	// PutClient records a relying party; ErrExists when the ID is taken.
	PutClient(ctx context.Context, c *Client) error
	// GetClient returns the client with this ID, or ErrNotFound.
	GetClient(ctx context.Context, id string) (*Client, error)
	// GetClientByCert returns the client whose TLS certificate has this
	// SHA-256 fingerprint (RFC 8705 mutual TLS), or ErrNotFound.
	GetClientByCert(ctx context.Context, certSHA256 []byte) (*Client, error)
	// SetClientSecretHash replaces the client's secret hash by newHash if
	// it is still oldHash (compare-and-swap: two replicas rehashing one
	// secret at once change it once); ErrConflict when it is not,
	// ErrNotFound when there is no such client.
	SetClientSecretHash(ctx context.Context, id, oldHash, newHash string) error
	// SetClientCategory moves the client to category (CategoryPublicService
	// or CategoryCommercial) for the signatures counted from now on;
	// ErrConflict when it is in that category already, ErrNotFound when
	// there is no such client.
	SetClientCategory(ctx context.Context, id, category string) error
	// Usage returns the signature counts f selects, one row per owner,
	// client and category, ordered by owner then client.
	Usage(ctx context.Context, f *UsageFilter) ([]*UsageRow, error)

	// PutOwner records an owner; ErrExists when the ID or the national ID
	// is taken.
	PutOwner(ctx context.Context, o *Owner) error
	// GetOwner returns the owner with this ID, or ErrNotFound.
	GetOwner(ctx context.Context, id string) (*Owner, error)
	// GetOwnerByNationalID returns the owner with this national ID
	// ("CCCD:…", "MST:…"), or ErrNotFound.
	GetOwnerByNationalID(ctx context.Context, nationalID string) (*Owner, error)
	// ReserveAttempt reserves one attempt at the owner's factors before
	// they are evaluated (DESIGN.md, "Factor attempts"), in one statement
	// that two replicas cannot both win: while a lock is in force it
	// reserves nothing (Attempt.Granted false, with the lock); otherwise it
	// counts the attempt and, when the count reaches limit, locks the owner
	// until now+lockFor. Locking never resets the count. A lock that has
	// expired gives a fresh budget: the count starts again at this
	// attempt. So at most limit attempts are granted per lock period,
	// however many are asked for at once. ErrNotFound for an unknown owner.
	ReserveAttempt(ctx context.Context, ownerID string, limit int, lockFor time.Duration, now time.Time) (*Attempt, error)
	// ReserveMiss is ReserveAttempt for a login naming no owner, counted
	// by key (an HMAC of the national ID tried, never the ID), so that
	// an unknown ID is answered with the same writes and the same lock
	// as a known one with wrong factors.
	ReserveMiss(ctx context.Context, key []byte, limit int, lockFor time.Duration, now time.Time) (*Attempt, error)
	// PruneMisses deletes the misses last counted before before whose
	// lock, if any, has ended by now, and returns how many.
	PruneMisses(ctx context.Context, before, now time.Time) (int64, error)
	// ReleaseAttempts is the answer to an attempt whose every factor
	// passed: the count goes to zero and the lock, if any, is lifted.
	ReleaseAttempts(ctx context.Context, ownerID string) error
	// SetPIN replaces the owner's PIN hash and resets failures and lock.
	SetPIN(ctx context.Context, ownerID, pinHash string) error
	// UseTOTPStep records that the owner used TOTP time step step; it
	// returns ErrReplay when step is not greater than the last one used
	// (RFC 6238 section 5.2: a code is accepted once).
	UseTOTPStep(ctx context.Context, ownerID string, step int64) error

	// PutCredential records a credential; ErrExists when the ID is taken.
	PutCredential(ctx context.Context, c *Credential) error
	// PutEnrolment records a new owner, its first credential, how it was
	// enrolled (rec, for that credential) and the audit events of the
	// enrolment in one write: whole or not at all.
	PutEnrolment(ctx context.Context, o *Owner, c *Credential, rec *EnrolmentRecord, audit ...*AuditEvent) error
	// PutReEnrolment records the enrolment of an owner enrolled before
	// (whose every certificate ended: a citizen back from another
	// provider): o's details and factors replace the stored ones, the
	// owner's sessions end, and the credential, its record and the audit
	// events are added, in one write. ErrNotFound when no owner has o's
	// ID and national ID.
	PutReEnrolment(ctx context.Context, o *Owner, c *Credential, rec *EnrolmentRecord, audit ...*AuditEvent) error
	// GetEnrolmentRecord returns how the credential was enrolled, or
	// ErrNotFound (one enrolled before records were kept).
	GetEnrolmentRecord(ctx context.Context, credentialID string) (*EnrolmentRecord, error)
	// CountEnrolments counts the enrolments recorded in f's period, by
	// province, ward and channel, with the state of their certificates
	// at f.At.
	CountEnrolments(ctx context.Context, f *EnrolmentFilter) ([]*EnrolmentCount, error)
	// CountEnrolmentSeries counts the enrolments recorded in f's period,
	// in f's area, by channel in each of the periods bounds cuts it into
	// (SeriesCount.Period: 0 before bounds[0], i after bounds[i-1]): the
	// campaign's monthly series, from the records alone, in one pass.
	CountEnrolmentSeries(ctx context.Context, f *EnrolmentFilter, bounds []time.Time) ([]*SeriesCount, error)
	// GetCredential returns the credential with this ID, or ErrNotFound.
	GetCredential(ctx context.Context, id string) (*Credential, error)
	// ListCredentials returns the owner's credentials, oldest first.
	ListCredentials(ctx context.Context, ownerID string) ([]*Credential, error)

	// CreateTransaction records t unless the client already has a
	// transaction with t.ClientRef: then it returns that one and false
	// (idempotent submission).
	CreateTransaction(ctx context.Context, t *Transaction) (*Transaction, bool, error)
	// GetTransaction returns the transaction with this ID, or ErrNotFound.
	GetTransaction(ctx context.Context, id string) (*Transaction, error)
	// GetTransactionByRef returns the client's transaction with its own
	// reference clientRef, or ErrNotFound.
	GetTransactionByRef(ctx context.Context, clientID, clientRef string) (*Transaction, error)
	// ListOverdue returns pending transactions whose expiry is at or
	// before now, the longest overdue first, at most limit (1 to 1000).
	ListOverdue(ctx context.Context, now time.Time, limit int) ([]*Transaction, error)
	// ListTransactions returns the transactions matching f, newest first.
	ListTransactions(ctx context.Context, f *TransactionFilter) ([]*Transaction, error)
	// UpdateTransaction is TransitionTransaction with no webhook and no
	// audit events.
	UpdateTransaction(ctx context.Context, t *Transaction, from TransactionStatus) error
	// TransitionTransaction changes the transaction's status from `from`
	// to t.Status, with t.Result, t.Error, t.UpdatedAt and its lease
	// (t.LeaseOwner, t.LeaseUntil), and in the same database transaction
	// enqueues w (when not nil; w.ID is set) and appends the audit events:
	// all of it is recorded or none. ErrConflict when its status is not
	// `from` any more (nothing is written); ErrNotFound when there is no
	// such transaction. A state change and the webhook and audit events it
	// causes cannot be separated by a crash.
	TransitionTransaction(ctx context.Context, t *Transaction, from TransactionStatus, w *Webhook, audit ...*AuditEvent) error
	// ApproveTransaction is TransitionTransaction without a webhook that
	// also records r, the approval's consent receipt, in the same
	// database transaction: an approval is recorded with its receipt or
	// not at all. ErrConflict (nothing written) as TransitionTransaction;
	// ErrExists when the receipt's ID, or a receipt of the transaction,
	// is recorded already.
	ApproveTransaction(ctx context.Context, t *Transaction, from TransactionStatus, r *Receipt, audit ...*AuditEvent) error
	// ClaimApproved leases to owner, until now+lease, up to limit
	// approved transactions whose lease has ended at now (the replica
	// that took it died, or outlived it), and returns them. Replicas
	// claiming at once get disjoint sets; the status is unchanged.
	ClaimApproved(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int) ([]*Transaction, error)

	// PutActivation records activation data (the SAD's hash and what it
	// allows).
	PutActivation(ctx context.Context, a *Activation) error
	// GetActivation returns the activation data with this hash, or
	// ErrNotFound.
	GetActivation(ctx context.Context, sadHash []byte) (*Activation, error)
	// UseActivation takes n uses of the activation data, atomically: it
	// returns ErrReplay when fewer than n remain and ErrNotFound when it
	// has expired at now or does not exist. The audit events are appended
	// in the same transaction, so that they are recorded if and only if
	// the uses are taken (a signer audits what it is about to sign with
	// the one durable write that lets it sign).
	UseActivation(ctx context.Context, sadHash []byte, n int, now time.Time, audit ...*AuditEvent) error

	// PutToken records an access token by its hash.
	PutToken(ctx context.Context, t *Token) error
	// GetToken returns the unexpired token with this hash, or ErrNotFound.
	GetToken(ctx context.Context, hash []byte, now time.Time) (*Token, error)
	// DeleteToken removes a token (revocation); no error when absent.
	DeleteToken(ctx context.Context, hash []byte) error

	// PutAuthCode records an OAuth 2.0 authorisation code (CSC
	// oauth2code) by its hash, with the consent receipt r (when not nil)
	// and the audit events, in one database transaction; ErrExists when
	// the hash or the receipt's ID is recorded already, ErrNotFound when
	// its client does not exist.
	PutAuthCode(ctx context.Context, c *AuthCode, r *Receipt, audit ...*AuditEvent) error

	// GetReceipt returns the consent receipt with this ID, or
	// ErrNotFound.
	GetReceipt(ctx context.Context, id string) (*Receipt, error)
	// GetTransactionReceipt returns the consent receipt of the approval
	// of a transaction, or ErrNotFound.
	GetTransactionReceipt(ctx context.Context, transactionID string) (*Receipt, error)
	// TakeAuthCode removes the code with this hash and returns it, in one
	// statement that two replicas cannot both win: a code is exchanged at
	// most once. ErrNotFound when there is none, or it has expired at now
	// (an expired code is removed too).
	TakeAuthCode(ctx context.Context, hash []byte, now time.Time) (*AuthCode, error)

	// PutPasskey records an owner's WebAuthn credential; ErrExists when
	// its credential ID is registered already (to anyone), ErrNotFound
	// when the owner does not exist.
	PutPasskey(ctx context.Context, p *Passkey) error
	// ListPasskeys returns the owner's passkeys, oldest first.
	ListPasskeys(ctx context.Context, ownerID string) ([]*Passkey, error)
	// DeletePasskey removes the owner's passkey with this credential ID;
	// ErrNotFound when the owner has none with it.
	DeletePasskey(ctx context.Context, ownerID string, id []byte) error
	// UsePasskey records a use of the owner's passkey: its signature
	// counter becomes count and its last use now, in one conditional
	// statement that two replicas cannot both win with one count:
	// ErrReplay when count is not above the stored count (unless both are
	// zero: an authenticator that keeps no counter), ErrNotFound when the
	// owner has no such passkey.
	UsePasskey(ctx context.Context, ownerID string, id []byte, count uint32, now time.Time) error
	// PutPasskeyChallenge records a WebAuthn challenge until it is taken
	// or expires; ErrExists when its nonce is recorded already. Expired
	// challenges are removed in the same write.
	PutPasskeyChallenge(ctx context.Context, c *PasskeyChallenge) error
	// TakePasskeyChallenge removes the challenge with this nonce and
	// returns it, in one statement that two replicas cannot both win: a
	// challenge is answered at most once. ErrNotFound when there is none,
	// or it has expired at now (an expired one is removed too).
	TakePasskeyChallenge(ctx context.Context, nonce []byte, now time.Time) (*PasskeyChallenge, error)

	// EnqueueWebhook adds a delivery to the outbox.
	EnqueueWebhook(ctx context.Context, w *Webhook) error
	// ClaimWebhooks returns up to limit undelivered webhooks due at now and
	// leases them until now+lease, so another replica does not send them
	// at the same time.
	ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Webhook, error)
	// FinishWebhook records an attempt: delivered, or failed with the time
	// of the next attempt (a zero next gives up).
	FinishWebhook(ctx context.Context, id int64, delivered bool, next time.Time, lastError string) error
	// CountUndelivered returns how many webhooks are neither delivered
	// nor given up: the outbox's backlog.
	CountUndelivered(ctx context.Context) (int64, error)
}

// Client is a relying party: a portal that submits documents to sign.
type Client struct {
	ID   string
	Name string
	// SecretHash is the stored form of its client secret: the HMAC form
	// pkg/signing makes ("$hmac-sha256$v=1$…"), or an argon2id PHC string
	// kept from before, which pkg/signing replaces at the next right use.
	SecretHash string
	// WebhookURL receives transaction results; empty means polling only.
	WebhookURL string
	// WebhookSecret keys the HMAC of webhook bodies.
	WebhookSecret []byte
	// Role is RoleRelyingParty (empty means it too) or RoleOfficer: a
	// registration officer's system, which may enrol citizens.
	Role string
	// CertSHA256 is the SHA-256 of the DER TLS client certificate the
	// client may authenticate with instead of its secret (RFC 8705
	// self-signed or CA-issued); nil when none. Unique.
	CertSHA256 []byte
	Disabled   bool
	CreatedAt  time.Time
	// RedirectURIs are where CSC oauth2code may send the owner's browser
	// back with a code (RFC 6749 section 3.1.2), compared exactly; none
	// means the client cannot use oauth2code. pkg/signing decides which
	// URIs are acceptable; the store keeps them in order.
	RedirectURIs []string
	// Category is CategoryPublicService or CategoryCommercial (empty means
	// commercial): whether its signatures are free in the owner's free
	// period or metered.
	Category string
	// StaffID binds an officer's client to a staff member of the registry
	// (a field staff member's phone): its enrolments are theirs, channel
	// household. Empty: not bound.
	StaffID string
}

// Client categories.
const (
	CategoryPublicService = "public-service"
	CategoryCommercial    = "commercial"
)

// Usage is a signature to count, carried by its audit event
// (AuditEvent.Usage) so that the count is written in the same database
// write as the event.
type Usage struct {
	OwnerID  string
	ClientID string
	Category string
	// Free: within the owner's free period and through a public-service
	// client; otherwise metered.
	Free bool
}

// UsageFilter selects signature counts: the UTC days From to To, both
// included (dates only), of one owner and/or one client when set.
type UsageFilter struct {
	From, To time.Time
	OwnerID  string
	ClientID string
	// Limit bounds the rows (0: 1000; at most 100000).
	Limit int
}

// UsageRow is the count of one owner's signatures through one client in
// a period.
type UsageRow struct {
	OwnerID    string
	NationalID string
	ClientID   string
	Category   string
	Free       int64
	Metered    int64
}

// EnrolmentRecord is how a credential was enrolled (issue 18): through
// which channel, by which staff member, in which province and ward, on
// which identity evidence, with the citizen's consent at what time.
type EnrolmentRecord struct {
	CredentialID string
	// Channel is ChannelDesk, ChannelEvent, ChannelHousehold,
	// ChannelOnline or ChannelOperator.
	Channel string
	// StaffID names the staff member who enrolled; empty online and by
	// the provider's operator.
	StaffID        string
	Province, Ward string
	// EvidenceKind is how the identity was checked (EvidenceCCCDChip …)
	// and EvidenceRef its reference (a document number, a VNeID
	// transaction): never the document's image.
	EvidenceKind, EvidenceRef string
	ConsentAt, CreatedAt      time.Time
	// RegistrationID names the online self-registration this enrolment
	// approves (channel online; empty otherwise): at most one enrolment
	// names a registration.
	RegistrationID string
}

// EnrolmentFilter selects the enrolments CountEnrolments counts: those
// recorded in [From, To), in Province and Ward when set.
type EnrolmentFilter struct {
	From, To       time.Time
	Province, Ward string
	// At is when the certificates' state is taken (active: good and not
	// expired at At); zero means now.
	At time.Time
}

// EnrolmentCount is one row of CountEnrolments: an area and channel, how
// many enrolments, and their certificates' state.
type EnrolmentCount struct {
	Province   string `json:"province"`
	Ward       string `json:"ward"`
	Channel    string `json:"channel"`
	Enrolments int64  `json:"enrolments"`
	// Active certificates are good and not expired; Expired are good
	// and past their notAfter; Revoked and Suspended as the CA says.
	Active    int64 `json:"active"`
	Expired   int64 `json:"expired"`
	Revoked   int64 `json:"revoked"`
	Suspended int64 `json:"suspended"`
}

// SeriesCount is one row of CountEnrolmentSeries: a period of the series
// (its index), a channel and how many enrolments.
type SeriesCount struct {
	Period     int
	Channel    string
	Enrolments int64
}

// MaxSeriesBounds bounds the cuts of one CountEnrolmentSeries: five
// years of months.
const MaxSeriesBounds = 61

// Enrolment channels.
const (
	ChannelDesk      = "desk"      // a ward or district one-stop desk
	ChannelEvent     = "event"     // a campaign event
	ChannelHousehold = "household" // field staff visiting the household
	ChannelOnline    = "online"    // self-registration in the app, verified by an officer
	ChannelOperator  = "operator"  // the provider's operator (kyso enroll)
)

// Client roles.
const (
	RoleRelyingParty = "relying-party"
	RoleOfficer      = "officer"
)

// Owner is a person (or organisation) who owns credentials and approves
// what is signed with them.
type Owner struct {
	ID string
	// NationalID is the identifier with its type prefix: "CCCD:…",
	// "MST:…". Unique.
	NationalID string
	Name       string
	Province   string
	Phone      string
	Email      string
	// PINHash is the argon2id hash (PHC string) of the PIN.
	PINHash string
	// PINFailures counts the attempts at the owner's factors reserved
	// since the last success or lock expiry (ReserveAttempt);
	// LockedUntil is the end of the lock, zero when none was set.
	PINFailures int
	LockedUntil time.Time
	// TOTPSecret is the RFC 6238 shared secret, sealed (encrypted) by the
	// caller; the store never sees it in the clear.
	TOTPSecret []byte
	// TOTPLastStep is the last time step accepted (replay protection).
	TOTPLastStep int64
	CreatedAt    time.Time
}

// Attempt is what ReserveAttempt did.
type Attempt struct {
	// Granted: the attempt is counted and its factors may be evaluated.
	// False: a lock is in force and nothing was counted.
	Granted bool
	// Count is the number of attempts counted since the last success or
	// the last lock's expiry, this one included when Granted.
	Count int
	// LockedUntil is the lock in force after the reservation (set by this
	// one when Count reached the limit, or the one that refused it); zero
	// when there is none.
	LockedUntil time.Time
}

// Credential is a signing key and its certificate, owned by one owner.
type Credential struct {
	ID      string
	OwnerID string
	// KeyURI names the key in the key store; WrappedKey holds it wrapped
	// under the key store's master key when the key store keeps keys
	// outside the token (hsm.WrappedKeyStore).
	KeyURI     string
	WrappedKey []byte
	// Algorithm is the key's hsm.Algorithm.
	Algorithm string
	// CertIssuer and CertSerial name its certificate in the certificate
	// table.
	CertIssuer string
	CertSerial []byte
	// Status is "active" or "disabled".
	Status    string
	CreatedAt time.Time
}

// TransactionStatus is where a signing transaction is in its life.
type TransactionStatus string

// Transaction states: pending → approved → signed, or pending → rejected
// or expired, or approved → failed (signing failed, or the replica signing
// it died and the recovery sweep found its lease ended). signed, rejected,
// expired and failed are final.
const (
	TxPending  TransactionStatus = "pending"
	TxApproved TransactionStatus = "approved"
	TxSigned   TransactionStatus = "signed"
	TxRejected TransactionStatus = "rejected"
	TxExpired  TransactionStatus = "expired"
	TxFailed   TransactionStatus = "failed"
)

// Transaction is a relying party's request to sign documents with one
// credential, waiting for its owner's approval.
type Transaction struct {
	ID           string
	ClientID     string
	ClientRef    string // the relying party's own transaction ID, unique per client
	CredentialID string
	OwnerID      string
	Description  string
	// Documents is the JSON list of documents (doc IDs, hashes, prepared
	// PDFs) as pkg/signing defines it.
	Documents []byte
	Status    TransactionStatus
	// Result is the JSON result (signatures, signed PDFs) once signed.
	Result    []byte
	Error     string
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
	// LeaseOwner names the replica signing an approved transaction, and
	// LeaseUntil is when another may take it over (ClaimApproved); empty
	// and zero when no one holds it.
	LeaseOwner string
	LeaseUntil time.Time
}

// TransactionFilter selects transactions; empty fields match all.
type TransactionFilter struct {
	ClientID string
	OwnerID  string
	Status   TransactionStatus
	Limit    int // zero means 100
}

// Activation is the activation data an approval yields (the SAD's record):
// bound to one credential, the exact ordered hashes, their algorithm, a
// number of uses and an expiry.
type Activation struct {
	// SADHash is the SHA-256 of the SAD handed out; the SAD itself is
	// never stored.
	SADHash []byte
	// ID names the activation in audit events (the authorisation and the
	// signatures it allowed carry it, so they can be joined); it is not a
	// secret and does not unlock anything. Required.
	ID string
	// ClientID is the relying party the SAD was handed to: only it may
	// spend it. Empty for a caller in the same process that acts for no
	// client (and for rows from before client binding).
	ClientID      string
	CredentialID  string
	TransactionID string // empty for a CSC explicit authorisation
	// ReceiptID names the consent receipt of the owner's approval that
	// made it (a transaction's, or an oauth2code consent's); empty for a
	// CSC explicit authorisation, whose factors the portal collected.
	ReceiptID string
	// HashAlgorithm is the OID, dotted, of the hash algorithm.
	HashAlgorithm string
	// Hashes is the ordered list of hashes approved; empty only at SCAL1.
	Hashes    [][]byte
	Remaining int
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Receipt is a consent receipt: the service's signed statement of what an
// owner approved (pkg/signing writes and signs it), kept for the owner and
// the relying party to download.
type Receipt struct {
	ID       string
	OwnerID  string
	ClientID string
	// TransactionID is the transaction approved; empty for an oauth2code
	// consent.
	TransactionID string
	// ActivationID names the activation data the approval yields (for
	// oauth2code, made when the code is exchanged; empty for scope
	// service).
	ActivationID string
	// CMS is the receipt: a DER CMS SignedData carrying its JSON.
	CMS       []byte
	CreatedAt time.Time
}

// Token is an access token, kept by its hash.
type Token struct {
	Hash []byte
	// Kind is "client" (OAuth2 client credentials) or "owner".
	Kind      string
	Subject   string // client or owner ID
	Scope     string
	ExpiresAt time.Time
	// CertSHA256 is the SHA-256 of the DER TLS client certificate the
	// token is bound to (RFC 8705 section 3, x5t#S256): it is good only on
	// a connection presenting that certificate. Nil for a bearer token.
	CertSHA256 []byte
	// OwnerID is the owner a client's token acts for: set on the token
	// of an owner's CSC oauth2code consent with scope service; empty for
	// every other token.
	OwnerID string
}

// AuthCode is an OAuth 2.0 authorisation code an owner's consent yields
// (CSC API v2 section 8.3.2, oauth2code), kept by its hash until it is
// exchanged once at oauth2/token or expires.
type AuthCode struct {
	// Hash is the SHA-256 of the code handed out; the code itself is
	// never stored.
	Hash     []byte
	ClientID string
	// Request is what the owner approved, as pkg/signing writes it.
	Request   []byte
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Passkey is a WebAuthn credential (a passkey) an owner registered in
// the citizen's app: with user verification it is both of the owner's
// factors at once (DESIGN.md, "Factor attempts").
type Passkey struct {
	// ID is the credential ID the authenticator chose (1 to 1023 bytes).
	// Unique across owners.
	ID      []byte
	OwnerID string
	// PublicKey is the credential's public key, COSE_Key encoded.
	PublicKey []byte
	// SignCount is the authenticator's signature counter at the last use
	// (zero for one that keeps none).
	SignCount uint32
	// AAGUID names the authenticator's model (16 bytes; zeros when it
	// does not say).
	AAGUID []byte
	// Flags are the authenticator data flags at registration (WebAuthn
	// section 6.1: UP, UV, BE, BS…).
	Flags byte
	// Transports are how the browser reaches the authenticator
	// ("internal", "usb", "hybrid"…), as it reported them.
	Transports []string
	// Name is the owner's name for it.
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// PasskeyChallenge is a WebAuthn challenge the service issued, kept until
// it is answered once or expires. The challenge the authenticator signs is
// Nonce followed by Binding, so an answer is good only for what it was
// issued for.
type PasskeyChallenge struct {
	// Nonce is the random part (32 bytes); the key.
	Nonce []byte
	// OwnerID is whose passkey must answer; empty for a login with a
	// discoverable credential, where the answer says whose it is.
	OwnerID string
	// Purpose is what the answer may be used for: "login", "register",
	// "approve".
	Purpose string
	// Binding is the SHA-256 of what is approved (pkg/signing's
	// bindings): a transaction and its hashes, an oauth2code request.
	Binding   []byte
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Webhook is one delivery in the outbox.
type Webhook struct {
	ID       int64
	ClientID string
	URL      string
	Body     []byte
	// IdempotencyKey is what a receiver de-duplicates deliveries by
	// (sent as the Idempotency-Key header): the same on every retry, and
	// for every webhook of one notification.
	IdempotencyKey string
	Attempts       int
	NextAttempt    time.Time
	DeliveredAt    time.Time
	LastError      string
	// Trace is the W3C traceparent of the span that queued the webhook,
	// for its deliveries' spans to link to; empty when none.
	Trace string
}
