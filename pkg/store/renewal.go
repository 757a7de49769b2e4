package store

import (
	"context"
	"time"
)

// Renewals keeps the renewals of credentials' certificates and the
// notices of their expiry (issue 18, migration 0020).
type Renewals interface {
	// RequestRenewal records an operator's request that the owner renew
	// r.CredentialID's certificate r.FromSerial, with its audit events;
	// ErrExists when that certificate has a renewal row already.
	RequestRenewal(ctx context.Context, r *Renewal, audit ...*AuditEvent) error
	// ClaimRenewal marks the renewal of r.FromSerial issuing until
	// r.ClaimedUntil, for the caller alone: a new row, or a requested
	// one, or one whose claim ended before now (its claimer died).
	// ErrConflict when another holds it or it is done.
	ClaimRenewal(ctx context.Context, r *Renewal, now time.Time) error
	// FinishRenewal records a claimed renewal done: the credential cred
	// takes its new key and certificate (only if it still names
	// r.FromSerial), the row is done with r.NewSerial and r.Metered, the
	// credential's unspent activation data is used up (approved for the
	// old certificate), and the audit events, in one write. ErrConflict
	// when the credential or the row moved on.
	FinishRenewal(ctx context.Context, r *Renewal, cred *Credential, audit ...*AuditEvent) error
	// GetRenewal returns the renewal row of a credential's certificate,
	// or ErrNotFound.
	GetRenewal(ctx context.Context, credentialID string, fromSerial []byte) (*Renewal, error)
	// CountRenewals counts the renewals done in [from, to), per owner
	// (one owner when ownerID is set), free and metered.
	CountRenewals(ctx context.Context, from, to time.Time, ownerID string) ([]*RenewalCount, error)

	// ListExpiring lists up to limit active credentials whose good
	// certificate ends after from and no later than to, with no notice
	// of days sent for that certificate yet, soonest first.
	ListExpiring(ctx context.Context, from, to time.Time, days, limit int) ([]*Expiring, error)
	// CredentialClients lists the clients that hold the credential: every
	// client with a transaction or activation data of it.
	CredentialClients(ctx context.Context, credentialID string) ([]string, error)
	// PutExpiryNotice records a notice with its webhooks and audit events
	// in one write; ErrExists, and nothing written, when the notice was
	// sent already.
	PutExpiryNotice(ctx context.Context, n *ExpiryNotice, hooks []*Webhook, audit ...*AuditEvent) error
}

// Renewal states.
const (
	RenewalRequested = "requested" // an operator asked; the owner approves in the app
	RenewalIssuing   = "issuing"   // the owner approved; the key and certificate are being made
	RenewalDone      = "done"
)

// Renewal is the renewal of one certificate of a credential.
type Renewal struct {
	CredentialID string
	// FromSerial is the certificate renewed (the credential's issuer).
	FromSerial  []byte
	OwnerID     string
	Status      string
	RequestedBy string
	RequestedAt time.Time
	// ClaimedUntil ends an issuing claim.
	ClaimedUntil time.Time
	// NewSerial is the certificate made (done).
	NewSerial []byte
	// Metered marks a renewal the provider charges for (its policy).
	Metered bool
	DoneAt  time.Time
}

// RenewalCount is one owner's renewals done in a period.
type RenewalCount struct {
	OwnerID, NationalID string
	Free, Metered       int64
}

// Expiring is a credential whose certificate ends soon.
type Expiring struct {
	CredentialID, OwnerID string
	Serial                []byte
	NotAfter              time.Time
}

// ExpiryNotice is a notice that a credential's certificate ends in Days
// (30 or 7) days.
type ExpiryNotice struct {
	CredentialID string
	Serial       []byte
	Days         int
	SentAt       time.Time
}
