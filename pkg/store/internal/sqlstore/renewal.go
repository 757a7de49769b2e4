package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

// errRenewalTaken: the certificate's renewal is claimed by another or
// done.
var errRenewalTaken = fmt.Errorf("the certificate's renewal is under way or done: %w", store.ErrConflict)

func checkRenewal(r *store.Renewal) error {
	switch {
	case r == nil:
		return check.Invalid("no renewal")
	case r.CredentialID == "" || len(r.CredentialID) > 128 || r.OwnerID == "" || len(r.OwnerID) > 128:
		return check.Invalid("a renewal needs its credential and owner")
	case len(r.FromSerial) == 0 || len(r.FromSerial) > 20:
		return check.Invalid("a renewal needs the serial it renews")
	case len(r.RequestedBy) > 256:
		return check.Invalid("requested_by is longer than 256 bytes")
	}
	return nil
}

// RequestRenewal records an operator's renewal request.
func (s *Store) RequestRenewal(ctx context.Context, r *store.Renewal, audit ...*store.AuditEvent) error {
	if err := checkRenewal(r); err != nil {
		return s.invalid("requesting a renewal", err)
	}
	return s.writeAudited(ctx, fmt.Sprintf("requesting the renewal of credential %q", r.CredentialID), audit, func(c Conn) error {
		n, err := c.Exec(ctx, `INSERT INTO renewals (credential_id, from_serial, owner_id, status, requested_by, requested_at, metered)
			VALUES ($1, $2, $3, 'requested', $4, $5, 0) ON CONFLICT (credential_id, from_serial) DO NOTHING`,
			r.CredentialID, r.FromSerial, r.OwnerID, r.RequestedBy, s.time(s.clock(r.RequestedAt)))
		return inserted(n, s.missingParent(err, fmt.Sprintf("credential %q", r.CredentialID)), store.ErrExists)
	})
}

// ClaimRenewal claims a renewal in one upsert: the row's primary key, not
// a read before the write, decides which of two approvals issues.
func (s *Store) ClaimRenewal(ctx context.Context, r *store.Renewal, now time.Time) error {
	if err := checkRenewal(r); err != nil {
		return s.invalid("claiming a renewal", err)
	}
	if !r.ClaimedUntil.After(now) {
		return s.invalid("claiming a renewal", check.Invalid("the claim ends before it begins"))
	}
	return s.write(ctx, fmt.Sprintf("claiming the renewal of credential %q", r.CredentialID), true, func(c Conn) error {
		n, err := c.Exec(ctx, `INSERT INTO renewals (credential_id, from_serial, owner_id, status, requested_by, requested_at, claimed_until, metered)
			VALUES ($1, $2, $3, 'issuing', $4, $5, $6, 0)
			ON CONFLICT (credential_id, from_serial) DO UPDATE SET status = 'issuing', claimed_until = $6
			WHERE renewals.status = 'requested' OR (renewals.status = 'issuing' AND renewals.claimed_until < $7)`,
			r.CredentialID, r.FromSerial, r.OwnerID, r.RequestedBy, s.time(s.clock(r.RequestedAt)), s.time(r.ClaimedUntil), s.time(now))
		return inserted(n, s.missingParent(err, fmt.Sprintf("credential %q", r.CredentialID)), errRenewalTaken)
	})
}

// FinishRenewal records a renewal done, with the credential's new key and
// certificate, in one write.
func (s *Store) FinishRenewal(ctx context.Context, r *store.Renewal, cred *store.Credential, audit ...*store.AuditEvent) error {
	if err := checkRenewal(r); err != nil {
		return s.invalid("finishing a renewal", err)
	}
	if err := check.Credential(cred); err != nil {
		return s.invalid("finishing a renewal", err)
	}
	if cred.ID != r.CredentialID || len(r.NewSerial) == 0 {
		return s.invalid("finishing a renewal", check.Invalid("the renewal names another credential, or no new certificate"))
	}
	metered := 0
	if r.Metered {
		metered = 1
	}
	return s.writeAudited(ctx, fmt.Sprintf("finishing the renewal of credential %q", r.CredentialID), audit, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE renewals SET status = 'done', new_serial = $1, metered = $2, done_at = $3, claimed_until = NULL
			WHERE credential_id = $4 AND from_serial = $5 AND status = 'issuing'`,
			r.NewSerial, metered, s.time(s.clock(r.DoneAt)), r.CredentialID, r.FromSerial)
		if err = inserted(n, err, errRenewalTaken); err != nil {
			return err
		}
		n, err = c.Exec(ctx, `UPDATE credentials SET key_uri = $1, wrapped_key = $2, algorithm = $3, cert_issuer = $4, cert_serial = $5
			WHERE id = $6 AND owner_id = $7 AND cert_serial = $8 AND status = 'active'`,
			cred.KeyURI, nullBytes(cred.WrappedKey), cred.Algorithm, cred.CertIssuer, cred.CertSerial, cred.ID, r.OwnerID, r.FromSerial)
		if err = inserted(n, err, errRenewalTaken); err != nil {
			return err
		}
		if err := s.moveRecord(ctx, c, cred.ID, cred.CertIssuer, cred.CertSerial); err != nil {
			return err
		}
		// Activation data approved before: a portal built what it signs
		// over the old certificate, and must ask again.
		_, err = c.Exec(ctx, `UPDATE activations SET remaining = 0 WHERE credential_id = $1 AND remaining > 0`, cred.ID)
		return err
	})
}

// GetRenewal returns a renewal row.
func (s *Store) GetRenewal(ctx context.Context, credentialID string, fromSerial []byte) (*store.Renewal, error) {
	r := &store.Renewal{}
	var metered int
	err := s.r.QueryRow(ctx, `SELECT credential_id, from_serial, owner_id, status, requested_by, requested_at, claimed_until,
		new_serial, metered, done_at FROM renewals WHERE credential_id = $1 AND from_serial = $2`, credentialID, fromSerial).
		Scan(&r.CredentialID, &r.FromSerial, &r.OwnerID, &r.Status, &r.RequestedBy, Time{&r.RequestedAt}, Time{&r.ClaimedUntil},
			&r.NewSerial, &metered, Time{&r.DoneAt})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading the renewal of credential %q", credentialID), s.notFound(err))
	}
	r.Metered = metered == 1
	return r, nil
}

// CountRenewals counts renewals done in [from, to) through renewals_done.
func (s *Store) CountRenewals(ctx context.Context, from, to time.Time, ownerID string) ([]*store.RenewalCount, error) {
	q := `SELECT r.owner_id, COALESCE(o.national_id, ''),
		CAST(SUM(CASE WHEN r.metered = 0 THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(r.metered) AS BIGINT)
		FROM renewals r LEFT JOIN owners o ON o.id = r.owner_id
		WHERE r.status = 'done' AND r.done_at >= $1 AND r.done_at < $2`
	args := []any{s.time(from), s.time(to)}
	if ownerID != "" {
		q += ` AND r.owner_id = $3`
		args = append(args, ownerID)
	}
	q += ` GROUP BY r.owner_id, o.national_id ORDER BY r.owner_id LIMIT 10001`
	rows, err := s.r.Query(ctx, q, args...)
	out, err := collect(rows, err, func(row Row) (*store.RenewalCount, error) {
		c := &store.RenewalCount{}
		return c, row.Scan(&c.OwnerID, &c.NationalID, &c.Free, &c.Metered)
	})
	if err != nil {
		return nil, s.fail("counting renewals", err)
	}
	return out, nil
}

// ListExpiring finds the certificates through certificates_expiring.
func (s *Store) ListExpiring(ctx context.Context, from, to time.Time, days, limit int) ([]*store.Expiring, error) {
	if days != 7 && days != 30 {
		return nil, s.invalid("listing expiring credentials", check.Invalid("notices are sent 30 and 7 days before"))
	}
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := s.r.Query(ctx, `SELECT cr.id, cr.owner_id, c.serial, c.not_after FROM certificates c
		JOIN credentials cr ON cr.cert_issuer = c.issuer AND cr.cert_serial = c.serial
		WHERE c.status = 'good' AND c.not_after > $1 AND c.not_after <= $2 AND cr.status = 'active'
		AND NOT EXISTS (SELECT 1 FROM expiry_notices n WHERE n.credential_id = cr.id AND n.serial = c.serial AND n.days = $3)
		ORDER BY c.not_after LIMIT $4`, s.time(from), s.time(to), days, limit)
	out, err := collect(rows, err, func(row Row) (*store.Expiring, error) {
		e := &store.Expiring{}
		return e, row.Scan(&e.CredentialID, &e.OwnerID, &e.Serial, Time{&e.NotAfter})
	})
	if err != nil {
		return nil, s.fail("listing expiring credentials", err)
	}
	return out, nil
}

// CredentialClients lists the clients holding a credential.
func (s *Store) CredentialClients(ctx context.Context, credentialID string) ([]string, error) {
	rows, err := s.r.Query(ctx, `SELECT client_id FROM transactions WHERE credential_id = $1
		UNION SELECT client_id FROM activations WHERE credential_id = $1 AND client_id <> '' ORDER BY 1`, credentialID)
	out, err := collect(rows, err, func(row Row) (string, error) {
		var id string
		return id, row.Scan(&id)
	})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("listing the clients of credential %q", credentialID), err)
	}
	return out, nil
}

// PutExpiryNotice records a notice once, with its webhooks and events.
func (s *Store) PutExpiryNotice(ctx context.Context, n *store.ExpiryNotice, hooks []*store.Webhook, audit ...*store.AuditEvent) error {
	if n == nil || n.CredentialID == "" || len(n.Serial) == 0 || (n.Days != 7 && n.Days != 30) {
		return s.invalid("recording an expiry notice", check.Invalid("a notice needs a credential, a serial and 30 or 7 days"))
	}
	for _, w := range hooks {
		if err := check.Webhook(w); err != nil {
			return s.invalid("recording an expiry notice", err)
		}
	}
	err := s.writeAudited(ctx, fmt.Sprintf("recording the %d-day notice of credential %q", n.Days, n.CredentialID), audit, func(c Conn) error {
		k, err := c.Exec(ctx, `INSERT INTO expiry_notices (credential_id, serial, days, sent_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (credential_id, serial, days) DO NOTHING`, n.CredentialID, n.Serial, n.Days, s.time(s.clock(n.SentAt)))
		if err = inserted(k, err, store.ErrExists); err != nil {
			return err
		}
		for _, w := range hooks {
			if w.ID, err = s.insertWebhook(ctx, c, w); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrExists) {
		return store.ErrExists
	}
	return err
}
