// Package store is kyso's persistence: one interface, implemented once in
// SQL (internal/sqlstore) and run by one behavioural suite on two databases
// — SQLite (pure Go, modernc.org/sqlite), the embedded default, and
// PostgreSQL (pgx v5) for production and for several kysod replicas sharing
// one database. Everything a replica needs to know
// lives here, not in memory.
//
// Uniqueness that matters for security is enforced by the database, not by
// checks in Go that two processes could race: serial numbers (per issuer),
// certified public keys (Decree 23/2025: a key is certified once), and the
// campaign rule (one active campaign certificate per national ID).
package store

import (
	"context"
	"errors"
	"time"
)

// Errors callers test with errors.Is. Implementations wrap them with detail.
var (
	// ErrNotFound: no such record.
	ErrNotFound = errors.New("not found")
	// ErrExists: a record with that name or key already exists.
	ErrExists = errors.New("already exists")
	// ErrDuplicateSerial: the serial number is already reserved for this
	// issuer.
	ErrDuplicateSerial = errors.New("serial number already reserved")
	// ErrDuplicatePublicKey: a certificate for this public key already
	// exists (Decree 23/2025 requires each key to be certified once).
	ErrDuplicatePublicKey = errors.New("public key already certified")
	// ErrCampaignHolder: the national ID already holds an active campaign
	// certificate.
	ErrCampaignHolder = errors.New("national ID already holds an active campaign certificate")
	// ErrNotReserved: a certificate was stored under a serial that was not
	// reserved first, or was reserved for another issuer.
	ErrNotReserved = errors.New("serial number not reserved")
	// ErrSerialSettled: a certificate was stored under a serial whose
	// reservation was settled as abandoned (SettleReservation): the
	// audit log says no certificate was recorded under it, and none is.
	ErrSerialSettled = errors.New("serial number's reservation settled as abandoned")
	// ErrAlreadyRevoked: the certificate is already revoked.
	ErrAlreadyRevoked = errors.New("certificate already revoked")
	// ErrNotOnHold: a hold was to be released from a certificate that is
	// not on hold (it is good).
	ErrNotOnHold = errors.New("certificate is not on hold")
	// ErrUnavailable: the database cannot take the request now — its
	// disk is full, or it is unreachable (restarting, failing over) — and
	// nothing of a write was stored; it may succeed later.
	ErrUnavailable = errors.New("the database cannot take requests now: its disk is full or it is unreachable")
)

// Store is what kyso keeps. Implementations are safe for concurrent use, by
// many goroutines and by several processes sharing one database.
type Store interface {
	// Signing keeps the remote-signing records: clients, owners,
	// credentials, transactions, activation data, tokens, webhooks.
	Signing
	// StaffRegistry keeps the registration officers and field staff.
	StaffRegistry
	// CampaignRegistry keeps who holds each citizen's campaign signature.
	CampaignRegistry
	// Upkeep leases the upkeep one replica does for all.
	Upkeep
	// OCSPAnswers keeps the pre-signed OCSP answers.
	OCSPAnswers

	// PutCA records a CA (root, issuing, or imported subordinate). The name
	// is unique: ErrExists otherwise.
	PutCA(ctx context.Context, ca *CA) error
	// GetCA returns the CA named name, or ErrNotFound.
	GetCA(ctx context.Context, name string) (*CA, error)
	// ListCAs returns every CA, oldest first.
	ListCAs(ctx context.Context) ([]*CA, error)

	// ReserveSerial claims serial for issuer before anything is signed,
	// and appends audit (issuance's intent) in the same transaction, so
	// the serial and the intent are durable together or not at all. A
	// serial already reserved (or issued) under that issuer gives
	// ErrDuplicateSerial and appends nothing.
	ReserveSerial(ctx context.Context, r *SerialReservation, audit ...*AuditEvent) error
	// PutCertificate stores an issued certificate. Its serial must have been
	// reserved for its issuer (ErrNotReserved). Its public key must not be in
	// another certificate (ErrDuplicatePublicKey) unless AllowKeyReuse is set.
	// When Campaign is set, the national ID must not hold another active
	// campaign certificate (ErrCampaignHolder): one that is neither revoked
	// nor expired at NotBefore. A serial whose reservation was settled
	// as abandoned gives ErrSerialSettled. All checks, the insert and the
	// audit events (issuance's outcome), appended after it, are one
	// transaction.
	PutCertificate(ctx context.Context, c *Certificate, audit ...*AuditEvent) error
	// OpenReservations returns the reservations made before before that
	// no certificate followed and that were not settled, oldest first,
	// at most limit (≤ 0: 100), by an index holding only the open ones.
	OpenReservations(ctx context.Context, before time.Time, limit int) ([]*SerialReservation, error)
	// SettleReservation marks r's serial abandoned at at, and appends
	// audit in the same transaction, if it is still open: neither
	// certified nor settled. It reports whether it did; of concurrent
	// settlements one does, and a PutCertificate racing it either
	// certifies first (nothing settled) or finds it settled
	// (ErrSerialSettled).
	SettleReservation(ctx context.Context, r *SerialReservation, at time.Time, audit ...*AuditEvent) (bool, error)
	// GetCertificate returns the certificate with this issuer and serial, or
	// ErrNotFound.
	GetCertificate(ctx context.Context, issuer string, serial []byte) (*Certificate, error)
	// ListCampaignHolders returns the campaign certificates in force at
	// now (good, notAfter not before now), one per national ID, in the
	// order of the national IDs after after, at most limit (≤ 0: 1000):
	// what a provider registers with a shared campaign registry it joins.
	ListCampaignHolders(ctx context.Context, after string, now time.Time, limit int) ([]*CampaignHolder, error)
	// ListCertificates returns the certificates matching f, newest first.
	ListCertificates(ctx context.Context, f *CertificateFilter) ([]*Certificate, error)
	// CountCertificates returns how many certificates there are of each
	// status (StatusGood, StatusRevoked, StatusHold). It reads the whole
	// table: for metrics, at long intervals.
	CountCertificates(ctx context.Context) (map[string]int64, error)
	// Revoke marks a certificate revoked (or on hold) and records why and
	// when. ErrNotFound for an unknown certificate, ErrAlreadyRevoked when it
	// is revoked already (a certificate on hold may be revoked for good).
	Revoke(ctx context.Context, r *Revocation) error
	// ReleaseHold lifts the hold (certificateHold) on the certificate issuer
	// issued with serial: its status becomes good again and its revocation
	// record goes, so ListRevoked and GetRevocation no longer show it
	// (Decree 23/2025: a suspension ends and the certificate is valid
	// again). ErrNotFound for an unknown certificate, ErrAlreadyRevoked
	// for one revoked for good (that is final), ErrNotOnHold for a good
	// one.
	ReleaseHold(ctx context.Context, issuer string, serial []byte) error
	// ListRevoked returns the revocations of issuer's certificates in CRL
	// shard shard (Certificate.CRLShard; 0 is the issuer's original CRL),
	// for that CRL, ordered by serial, but for certificates that expired
	// before expiredBefore (zero: none left out).
	ListRevoked(ctx context.Context, issuer string, shard int, expiredBefore time.Time) ([]*Revocation, error)
	// GetRevocation returns the revocation (or hold) of the certificate
	// issuer issued with serial, or ErrNotFound when there is none. It is
	// one lookup by primary key, whatever the number of issuer's
	// revocations, for answering OCSP (RFC 6960 section 2.2).
	GetRevocation(ctx context.Context, issuer string, serial []byte) (*Revocation, error)
	// PublicKeyCertified reports whether a stored certificate already
	// carries the public key whose SubjectPublicKeyInfo DER has SHA-256
	// spkiSHA256 (Decree 23/2025: a key is certified once), by index
	// lookup. Issuance asks before it reserves a serial or signs; the
	// answer can be stale by the time the certificate is stored, so
	// PutCertificate's ErrDuplicatePublicKey stays the race-proof check. A
	// hash that is not 32 bytes gives ErrInvalid.
	PublicKeyCertified(ctx context.Context, spkiSHA256 []byte) (bool, error)

	// NextCRLNumber returns issuer's next CRL number, starting at 1; each
	// call returns a larger number than the one before, across processes.
	NextCRLNumber(ctx context.Context, issuer string) (int64, error)
	// PutCRL stores a signed CRL.
	PutCRL(ctx context.Context, crl *CRL) error
	// LatestCRL returns the CRL with the highest number of issuer's shard
	// (CRL.Shard), or ErrNotFound.
	LatestCRL(ctx context.Context, issuer string, shard int) (*CRL, error)
	// PruneCRLs deletes the CRLs of issuer's shard but the keep with the
	// highest numbers, and returns how many it deleted.
	PruneCRLs(ctx context.Context, issuer string, shard, keep int) (int64, error)
	// CRLShards returns, in order, the CRL shards above 0 that issuer's
	// stored certificates were issued into (Certificate.CRLShard): the
	// CRLs to make besides shard 0. It reads a small table, not the
	// certificates.
	CRLShards(ctx context.Context, issuer string) ([]int, error)

	// PutTrustAnchor adds a trust anchor (a root or intermediate CA
	// certificate an operator trusts). ErrExists when one with the same
	// SHA256 is there.
	PutTrustAnchor(ctx context.Context, a *TrustAnchor) error
	// ListTrustAnchors returns every trust anchor, oldest first.
	ListTrustAnchors(ctx context.Context) ([]*TrustAnchor, error)
	// DeleteTrustAnchor removes the trust anchor whose certificate has
	// SHA-256 sha256, or returns ErrNotFound.
	DeleteTrustAnchor(ctx context.Context, sha256 []byte) error

	// NextSequence returns the next value of the named counter, starting at
	// 1; each call returns a larger number than any before it, across
	// processes sharing the database (RFC 3161 serial numbers).
	NextSequence(ctx context.Context, name string) (int64, error)

	// AppendAudit records audit events, in one transaction, and fills in
	// their IDs, one more than the last event's, and their chain hashes
	// (PrevHash, Hash): the log is one hash chain in ID order. Events are
	// never changed or removed.
	AppendAudit(ctx context.Context, es ...*AuditEvent) error
	// AuditHead returns the ID and chain hash of the last audit event (0
	// and nil for an empty log), recomputing the hashes of events written
	// before the chain when the last is one of them.
	AuditHead(ctx context.Context) (seq int64, hash []byte, err error)
	// AppendAuditCheckpoint records a signed checkpoint and sets its ID.
	AppendAuditCheckpoint(ctx context.Context, c *AuditCheckpoint) error
	// ListAuditCheckpoints returns the checkpoints in the order they were
	// recorded, after ID after, at most limit (≤ 0: 1000).
	ListAuditCheckpoints(ctx context.Context, after int64, limit int) ([]*AuditCheckpoint, error)
	// ListAudit returns audit events in the order they were appended,
	// starting after ID after, at most limit of them (limit ≤ 0: 1000).
	ListAudit(ctx context.Context, after int64, limit int) ([]*AuditEvent, error)
	// ListOwnerSignatures returns the signature.create events whose
	// details name the owner ownerID ("owner"), in the order they were
	// appended, after ID after, at most limit (≤ 0: 1000), through an
	// index: it costs what the owner's part of the log does.
	ListOwnerSignatures(ctx context.Context, ownerID string, after int64, limit int) ([]*AuditEvent, error)

	// Ping checks the database answers.
	Ping(ctx context.Context) error
	// Close closes the database.
	Close() error
}

// CA is a certificate authority kyso runs or imported.
type CA struct {
	// Name is the CA's handle in kyso ("root", "issuing", or an operator's
	// choice). Unique.
	Name string
	// Kind is "root", "issuing" or "imported-subordinate".
	Kind string
	// KeyURI names the CA's key in its key store.
	KeyURI string
	// CertDER is the CA's certificate.
	CertDER []byte
	// ChainDER holds the certificates above CertDER, nearest first (empty
	// for a root).
	ChainDER [][]byte
	// Created is when the record was made.
	Created time.Time
}

// SerialReservation claims a serial number for an issuer.
type SerialReservation struct {
	// Issuer is the issuing CA's Name.
	Issuer string
	// Serial is the serial number, big-endian, positive, at most 20 octets,
	// without leading zero bytes.
	Serial []byte
	// Reserved is when the reservation was made.
	Reserved time.Time
}

// Certificate statuses.
const (
	StatusGood    = "good"
	StatusRevoked = "revoked"
	StatusHold    = "hold" // certificateHold: suspended, may be released
)

// CampaignHolder is the campaign certificate a national ID holds.
type CampaignHolder struct {
	NationalID, Issuer string
	Serial             []byte
	NotAfter           time.Time
}

// Certificate is an issued certificate with the fields kyso searches by.
type Certificate struct {
	// Issuer is the issuing CA's Name.
	Issuer string
	// Serial is the serial number, big-endian, as reserved.
	Serial []byte
	// DER is the certificate.
	DER []byte
	// Profile is the profile it was issued under: "citizen",
	// "organisation", "ocsp", "tsa", "issuing-ca", "root-ca", "tls".
	Profile string
	// Subject is the subject DN as text (RFC 4514).
	Subject string
	// NationalID is the holder's identifier from the subject UID, with its
	// type prefix ("CCCD:079203001234", "MST:0101234567"); empty if none.
	NationalID string
	// PublicKeySHA256 is SHA-256 over the SubjectPublicKeyInfo DER.
	PublicKeySHA256 []byte
	// KeyURI names the subject's key when kyso holds it; empty otherwise.
	KeyURI string
	// NotBefore and NotAfter are the validity period.
	NotBefore, NotAfter time.Time
	// Status is StatusGood, StatusRevoked or StatusHold.
	Status string
	// CRLShard is the CRL shard whose distribution point the certificate
	// names (RFC 5280 section 5.2.5): 0 for the issuer's original CRL,
	// 1…N for partitioned CRLs. Fixed at issuance.
	CRLShard int
	// Campaign marks a certificate issued under the free campaign, subject
	// to the one-per-national-ID rule.
	Campaign bool
	// Renews is the serial of the certificate (same issuer) this one
	// renews for the same credential: the campaign rule passes the holder
	// on from it instead of refusing a second campaign certificate.
	Renews []byte
	// CampaignFrom is when the free period of a renewed campaign
	// certificate began (its first predecessor's NotBefore); zero for a
	// certificate that renews nothing, whose period begins at NotBefore.
	CampaignFrom time.Time
	// AllowKeyReuse lets PutCertificate certify a public key that another
	// certificate already carries. WARNING: only for re-issuing a CA's own
	// certificate; never for subscribers.
	AllowKeyReuse bool
	// Created is when it was stored.
	Created time.Time
}

// PeriodStart is when c's campaign free period began: CampaignFrom for
// a renewal, else NotBefore.
func (c *Certificate) PeriodStart() time.Time {
	if !c.CampaignFrom.IsZero() {
		return c.CampaignFrom
	}
	return c.NotBefore
}

// CertificateFilter selects certificates. Zero fields match everything.
type CertificateFilter struct {
	// Issuer, NationalID, Profile and Status match exactly when set.
	Issuer, NationalID, Profile, Status string
	// Limit bounds the result (≤ 0: 1000).
	Limit int
}

// Revocation reasons (RFC 5280 section 5.3.1).
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonCertificateHold      = 6
	ReasonRemoveFromCRL        = 8
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

// Revocation records that a certificate was revoked or put on hold.
type Revocation struct {
	// Issuer and Serial name the certificate.
	Issuer string
	Serial []byte
	// Reason is an RFC 5280 reason code; ReasonCertificateHold puts the
	// certificate on hold.
	Reason int
	// RevokedAt is when it takes effect.
	RevokedAt time.Time
}

// MaxCRLShards bounds the number of CRL shards of one issuer
// (Certificate.CRLShard and CRL.Shard are at most this).
const MaxCRLShards = 4096

// CRL is a signed certificate revocation list.
type CRL struct {
	// Issuer is the CA's Name.
	Issuer string
	// Number is the CRL number, from the issuer's one sequence.
	Number int64
	// Shard is the CRL shard it covers (Certificate.CRLShard): 0 for the
	// issuer's original CRL.
	Shard int
	// DER is the signed CRL.
	DER []byte
	// ThisUpdate and NextUpdate are the CRL's times.
	ThisUpdate, NextUpdate time.Time
}

// TrustAnchor is a CA certificate added to the trust store: signing
// checks and validation accept chains ending in it.
type TrustAnchor struct {
	// SHA256 is the SHA-256 of DER, 32 bytes; unique.
	SHA256 []byte
	// DER is the certificate.
	DER []byte
	// Subject is its subject DN as text (RFC 4514), for listing.
	Subject string
	// Source says where it came from (the file an operator added).
	Source string
	// AddedBy is who added it ("cli:root").
	AddedBy string
	// Added is when it was stored; zero means now.
	Added time.Time
}

// AuditEvent is one audited action: an issuance intent or result, a
// revocation, a CA created. Audit events are structured records, separate
// from debug logs, and never hold secrets.
type AuditEvent struct {
	// ID is assigned by AppendAudit, increasing.
	ID int64
	// Time is when it happened.
	Time time.Time
	// Actor is who did it ("cli:root", "officer:…", "kysod").
	Actor string
	// Action names what was done ("cert.issue.intent", "cert.issue",
	// "cert.revoke", "ca.init", ...).
	Action string
	// Subject names what it was done to ("issuing/5f3a…", a national ID).
	Subject string
	// Outcome is "ok", "intent", "error", or "abandoned": an intent
	// settled long after, no outcome having been recorded (a crash; see
	// SettleReservation).
	Outcome string
	// Details is a JSON object with more, never secrets.
	Details []byte
	// PrevHash is the chain hash of the event before it (empty for the
	// first), set by AppendAudit; empty for an event written before the
	// chain (migration 0013), whose hashes a verifier recomputes.
	PrevHash []byte
	// Hash is AuditHash(this event, PrevHash), set by AppendAudit.
	Hash []byte
	// Usage, when set, is a signature the write appending this event
	// counts (the usage_counts table), on the event's UTC day. It is not
	// part of the event's row or hash.
	Usage *Usage
}
