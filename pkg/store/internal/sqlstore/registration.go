package sqlstore

import (
	"context"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

const registrationColumns = `id, national_id, name, province, ward, phone, email, pin_hash, claim_hash, consent_text, consent_at,
	status, created_at, expires_at, lease_until, decided_by, decided_at, evidence_kind, evidence_ref, reason, owner_id, credential_id, claimed_at,
	claim_until, replaced_claim_hash`

func scanRegistration(row Row) (*store.Registration, error) {
	r := &store.Registration{}
	return r, row.Scan(&r.ID, &r.NationalID, &r.Name, &r.Province, &r.Ward, &r.Phone, &r.Email, &r.PINHash, &r.ClaimHash,
		&r.ConsentText, Time{&r.ConsentAt}, &r.Status, Time{&r.CreatedAt}, Time{&r.ExpiresAt}, Time{&r.LeaseUntil},
		&r.DecidedBy, Time{&r.DecidedAt}, &r.EvidenceKind, &r.EvidenceRef, &r.Reason, &r.OwnerID, &r.CredentialID, Time{&r.ClaimedAt},
		Time{&r.ClaimUntil}, &r.ReplacedClaimHash)
}

// errRegistrationOpen: the national ID has an open registration.
var errRegistrationOpen = fmt.Errorf("a registration of this national ID is waiting already: %w", store.ErrConflict)

// PutRegistration inserts a pending registration; the partial unique
// index registrations_open, not a count read before, keeps one open per
// national ID.
func (s *Store) PutRegistration(ctx context.Context, r *store.Registration, audit ...*store.AuditEvent) error {
	if err := check.Registration(r); err != nil {
		return s.invalid("storing a registration", err)
	}
	return s.writeAudited(ctx, fmt.Sprintf("storing registration %q", r.ID), audit, func(c Conn) error {
		status := r.Status
		if status == "" {
			status = store.RegistrationPending
		}
		n, err := c.Exec(ctx, `INSERT INTO registrations (id, national_id, name, province, ward, phone, email, pin_hash, claim_hash,
			consent_text, consent_at, status, created_at, expires_at, decided_by, decided_at, evidence_kind, evidence_ref, owner_id, credential_id,
			claim_until)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) ON CONFLICT DO NOTHING`,
			r.ID, r.NationalID, r.Name, r.Province, r.Ward, r.Phone, r.Email, r.PINHash, r.ClaimHash, r.ConsentText,
			s.time(r.ConsentAt), status, s.time(s.clock(r.CreatedAt)), s.time(r.ExpiresAt), r.DecidedBy, s.nullTime(r.DecidedAt),
			r.EvidenceKind, r.EvidenceRef, r.OwnerID, r.CredentialID, s.nullTime(r.ClaimUntil))
		return inserted(n, err, errRegistrationOpen)
	})
}

// GetRegistration reads a registration by its primary key.
func (s *Store) GetRegistration(ctx context.Context, id string) (*store.Registration, error) {
	r, err := scanRegistration(s.r.QueryRow(ctx, `SELECT `+registrationColumns+` FROM registrations WHERE id = $1`, id))
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading registration %q", id), s.notFound(err))
	}
	return r, nil
}

// ListRegistrations reads registrations_status.
func (s *Store) ListRegistrations(ctx context.Context, status string, limit int) ([]*store.Registration, error) {
	rows, err := s.r.Query(ctx, `SELECT `+registrationColumns+` FROM registrations WHERE status = $1 ORDER BY created_at, id LIMIT $2`,
		status, check.Limit(limit))
	out, err := collect(rows, err, scanRegistration)
	if err != nil {
		return nil, s.fail("listing registrations", err)
	}
	return out, nil
}

// sqlRegistrationEnrolment reads enrolment_records_registration; its
// second condition is the index's own, so that a plan for any parameter
// may use the partial index.
const sqlRegistrationEnrolment = `SELECT ` + enrolmentRecordColumns + ` FROM enrolment_records WHERE registration_id = $1 AND registration_id <> ''`

// RegistrationEnrolment reads enrolment_records_registration.
func (s *Store) RegistrationEnrolment(ctx context.Context, id string) (*store.EnrolmentRecord, error) {
	if id == "" { // every other enrolment's
		return nil, store.ErrNotFound
	}
	r, err := scanEnrolmentRecord(s.r.QueryRow(ctx, sqlRegistrationEnrolment, id))
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading the enrolment of registration %q", id), s.notFound(err))
	}
	return r, nil
}

// MoveRegistration is one conditional UPDATE per move, with its events.
func (s *Store) MoveRegistration(ctx context.Context, m *store.RegistrationMove, audit ...*store.AuditEvent) error {
	if m == nil || m.ID == "" {
		return s.invalid("moving a registration", check.Invalid("no registration"))
	}
	at := s.time(s.clock(m.At))
	var q string
	var args []any
	switch {
	case m.From == store.RegistrationPending && m.To == store.RegistrationApproving:
		if m.LeaseUntil.IsZero() {
			return s.invalid("moving a registration", check.Invalid("an approval's lease needs its end"))
		}
		q = `UPDATE registrations SET status = 'approving', lease_until = $1
			WHERE id = $2 AND (status = 'pending' OR (status = 'approving' AND lease_until < $3))`
		args = []any{s.time(m.LeaseUntil), m.ID, at}
	case m.From == store.RegistrationApproving && m.To == store.RegistrationApproved:
		if m.OwnerID == "" || m.CredentialID == "" {
			return s.invalid("moving a registration", check.Invalid("an approval names the owner and credential enrolled"))
		}
		q = `UPDATE registrations SET status = 'approved', lease_until = NULL, pin_hash = '', decided_by = $1, decided_at = $2,
			evidence_kind = $3, evidence_ref = $4, owner_id = $5, credential_id = $6, claim_until = $7 WHERE id = $8 AND status = 'approving'`
		args = []any{m.By, at, m.EvidenceKind, m.EvidenceRef, m.OwnerID, m.CredentialID, s.nullTime(m.ClaimUntil), m.ID}
	case m.From == store.RegistrationApproving && m.To == store.RegistrationPending:
		q = `UPDATE registrations SET status = 'pending', lease_until = NULL WHERE id = $1 AND status = 'approving'`
		args = []any{m.ID}
	case m.From == store.RegistrationPending && (m.To == store.RegistrationRefused || m.To == store.RegistrationExpired):
		q = `UPDATE registrations SET status = $1, pin_hash = '', decided_by = $2, decided_at = $3, reason = $4
			WHERE id = $5 AND status = 'pending'`
		args = []any{m.To, m.By, at, m.Reason, m.ID}
	case m.From == store.RegistrationApproved && m.To == store.RegistrationClaimed:
		q = `UPDATE registrations SET status = 'claimed', claimed_at = $1 WHERE id = $2 AND status = 'approved' AND claim_hash = $3
			AND (claim_until IS NULL OR claim_until > $4)`
		args = []any{at, m.ID, m.ClaimHash, at}
	case m.From == m.To && (m.From == store.RegistrationPending || m.From == store.RegistrationApproved):
		if len(m.NewClaimHash) != 32 {
			return s.invalid("moving a registration", check.Invalid("a reissued claim's hash is a SHA-256"))
		}
		// A pending registration's link has no end of its own (the
		// registration's does); an approved one's starts again.
		q = `UPDATE registrations SET replaced_claim_hash = claim_hash, claim_hash = $1,
			claim_until = CASE WHEN status = 'approved' THEN $2 ELSE claim_until END WHERE id = $3 AND status = $4`
		args = []any{m.NewClaimHash, s.nullTime(m.ClaimUntil), m.ID, m.From}
	default:
		return s.invalid("moving a registration", check.Invalid("a registration does not move from %q to %q", m.From, m.To))
	}
	for _, f := range []struct{ name, v string }{{"decided by", m.By}, {"evidence reference", m.EvidenceRef}, {"reason", m.Reason}} {
		if err := check.String("registration "+f.name, f.v, check.MaxText, false); err != nil {
			return s.invalid("moving a registration", err)
		}
	}
	return s.writeAudited(ctx, fmt.Sprintf("moving registration %q from %s to %s", m.ID, m.From, m.To), audit, func(c Conn) error {
		n, err := c.Exec(ctx, q, args...)
		if err != nil || n > 0 {
			return err
		}
		var exists bool
		if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM registrations WHERE id = $1)`, m.ID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return store.ErrNotFound
		}
		return fmt.Errorf("registration %q is not %s: %w", m.ID, m.From, store.ErrConflict)
	})
}
