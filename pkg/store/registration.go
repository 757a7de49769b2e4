package store

import (
	"context"
	"time"
)

// Registrations keeps citizens' online self-registrations (issue 18,
// migration 0023): requests made in the app that wait for an officer to
// verify the citizen's identity. Each move of a registration's state is
// one conditional write with its audit events, so of two officers
// deciding at once one moves it and the other gets ErrConflict.
type Registrations interface {
	// PutRegistration records a new registration with its audit events:
	// pending, or approved already (a household visit's enrolment, whose
	// second factor waits for its claim; Status RegistrationApproved with
	// the owner and credential, no PIN hash); ErrConflict when a pending
	// one's national ID has an open one (pending or approving) already.
	PutRegistration(ctx context.Context, r *Registration, audit ...*AuditEvent) error
	// GetRegistration returns the registration with this ID, or
	// ErrNotFound.
	GetRegistration(ctx context.Context, id string) (*Registration, error)
	// ListRegistrations returns up to limit registrations in status,
	// oldest first.
	ListRegistrations(ctx context.Context, status string, limit int) ([]*Registration, error)
	// MoveRegistration moves a registration from m.From to m.To, setting
	// what the new state records, with audit events, in one write:
	// ErrConflict when the registration is not in m.From (or, for
	// RegistrationApproving, its lease has not ended; for
	// RegistrationClaimed, m.ClaimHash is not its claim hash),
	// ErrNotFound when there is none. Leaving the open states clears the
	// PIN hash.
	MoveRegistration(ctx context.Context, m *RegistrationMove, audit ...*AuditEvent) error
	// RegistrationEnrolment returns the enrolment record naming
	// registration id (EnrolmentRecord.RegistrationID: written in the
	// approval's enrolment), or ErrNotFound: how an approval that
	// stopped after enrolling is found and completed.
	RegistrationEnrolment(ctx context.Context, id string) (*EnrolmentRecord, error)
}

// Registration states.
const (
	RegistrationPending   = "pending"   // waiting for an officer
	RegistrationApproving = "approving" // an officer's approval is enrolling, until LeaseUntil
	RegistrationApproved  = "approved"  // enrolled; the citizen has yet to claim the second factor
	RegistrationRefused   = "refused"
	RegistrationExpired   = "expired"
	RegistrationClaimed   = "claimed" // the citizen took their second factor
)

// Registration is a citizen's request to be enrolled online.
type Registration struct {
	// ID is the reference the citizen quotes.
	ID string
	// NationalID ("CCCD:…"), Name, Province, Ward, Phone and Email are
	// what the citizen entered.
	NationalID, Name, Province, Ward, Phone, Email string
	// PINHash is the Argon2id hash of the PIN the citizen chose, kept
	// until the decision.
	PINHash string
	// ClaimHash is the SHA-256 of the claim secret the citizen was shown.
	ClaimHash []byte
	// ConsentText is the consent the citizen agreed to, as shown, at
	// ConsentAt.
	ConsentText string
	ConsentAt   time.Time
	Status      string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	LeaseUntil  time.Time
	// DecidedBy and DecidedAt: who approved or refused, and when;
	// EvidenceKind and EvidenceRef, how the identity was checked; Reason,
	// why it was refused.
	DecidedBy                 string
	DecidedAt                 time.Time
	EvidenceKind, EvidenceRef string
	Reason                    string
	// OwnerID and CredentialID are the enrolment's (approved, claimed).
	OwnerID, CredentialID string
	ClaimedAt             time.Time
	// ClaimUntil ends the claim link of an approved registration; zero
	// for one approved before claim links ended (migration 0029), whose
	// end the service reckons from DecidedAt.
	ClaimUntil time.Time
	// ReplacedClaimHash is the SHA-256 of the claim secret an officer's
	// reissue replaced last (nil: none), kept only to tell its holder the
	// link was replaced; it claims nothing.
	ReplacedClaimHash []byte
}

// RegistrationMove is a move of a registration's state.
type RegistrationMove struct {
	ID       string
	From, To string
	At       time.Time
	// LeaseUntil ends an approving lease (To RegistrationApproving).
	LeaseUntil time.Time
	// By, EvidenceKind, EvidenceRef, OwnerID and CredentialID are
	// recorded by an approval; By and Reason by a refusal.
	By, EvidenceKind, EvidenceRef, Reason string
	OwnerID, CredentialID                 string
	// ClaimHash must be the registration's (To RegistrationClaimed).
	ClaimHash []byte
	// ClaimUntil ends the claim link: set by an approval (To
	// RegistrationApproved) and a reissue.
	ClaimUntil time.Time
	// NewClaimHash is a reissue's new claim hash: a move from pending or
	// approved to the same state replaces the claim hash with it (the old
	// one kept as ReplacedClaimHash) and, approved, the link's end with
	// ClaimUntil.
	NewClaimHash []byte
}
